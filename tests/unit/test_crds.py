"""The CRDs in crds/ are what the config models generate, and they are valid structural CRDs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from lynq_bridge.config.models import (
    HubStatus,
    InventoryEntry,
    PostgreSQLSource,
    ResourceEntry,
    ResourceState,
)
from lynq_bridge.crds import (
    CRD_DIR,
    KINDS,
    SchemaError,
    build_crd,
    main,
    render_crd_files,
    render_crds,
    structural_schema,
)

FORBIDDEN_KEYWORDS = {"title", "$ref", "$defs", "anyOf", "oneOf", "allOf", "const"}


def _walk(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _walk(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _walk(value)


def _crd(kind: str) -> dict[str, Any]:
    spec = next(s for s in KINDS if s.kind == kind)
    return build_crd(spec)


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = _crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_committed_crds_match_the_models() -> None:
    generated = render_crd_files()
    committed = {p.name: p.read_text(encoding="utf-8") for p in CRD_DIR.glob("*.yaml")}

    assert committed.keys() == generated.keys(), "run: python -m lynq_bridge.crds --write"
    for name, text in generated.items():
        assert committed[name] == text, (
            f"crds/{name} drifted; run python -m lynq_bridge.crds --write"
        )


def test_rendered_yaml_parses_back_to_the_built_crds() -> None:
    documents = list(yaml.safe_load_all(render_crds()))

    assert documents == [build_crd(spec) for spec in KINDS]
    assert [d["metadata"]["name"] for d in documents] == [
        "lynqhubs.operator.lynq.sh",
        "lynqforms.operator.lynq.sh",
        "lynqnodes.operator.lynq.sh",
    ]


def test_rendering_is_deterministic() -> None:
    assert render_crds() == render_crds()


@pytest.mark.parametrize("kind", ["LynqHub", "LynqForm", "LynqNode"])
def test_crd_shape(kind: str) -> None:
    crd = _crd(kind)
    spec = crd["spec"]
    (version,) = spec["versions"]

    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert (spec["group"], spec["scope"], spec["names"]["kind"]) == (
        "operator.lynq.sh",
        "Namespaced",
        kind,
    )
    assert spec["names"]["plural"] == kind.lower() + "s"
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert "Age" in columns and "Ready" in columns


@pytest.mark.parametrize("kind", ["LynqHub", "LynqForm", "LynqNode"])
def test_schema_is_structural(kind: str) -> None:
    schema = _schema(kind)

    assert schema["properties"]["metadata"] == {"type": "object"}
    assert {"spec", "status"} <= schema["properties"].keys()
    for node in _walk(schema):
        if "type" not in node and "x-kubernetes-preserve-unknown-fields" not in node:
            continue  # the property maps and "items" containers themselves
        assert not FORBIDDEN_KEYWORDS & node.keys(), node
        assert node.get("additionalProperties") is not False
        if "properties" in node:
            assert "additionalProperties" not in node


@pytest.mark.parametrize(
    ("kind", "path", "model"),
    [
        ("LynqNode", ("spec", "resources", "items"), InventoryEntry),
        ("LynqNode", ("status", "resources", "items"), ResourceState),
        ("LynqForm", ("spec", "deployments", "items"), ResourceEntry),
        ("LynqHub", ("spec", "source", "postgresql"), PostgreSQLSource),
        ("LynqHub", ("status",), HubStatus),
    ],
)
def test_every_model_field_is_in_the_schema(
    kind: str, path: tuple[str, ...], model: type[BaseModel]
) -> None:
    node = _schema(kind)
    for step in path:
        node = node["items"] if step == "items" else node["properties"][step]

    fields = {info.alias or name for name, info in model.model_fields.items()}
    assert set(node["properties"]) == fields


def test_optional_fields_are_nullable_and_required_fields_required() -> None:
    entry = _schema("LynqNode")["properties"]["spec"]["properties"]["resources"]["items"]

    assert entry["properties"]["namespace"] == {
        "type": "string",
        "nullable": True,
        "description": "Absent for cluster-scoped kinds.",
    }
    assert set(entry["required"]) == {"id", "apiVersion", "kind", "name", "hash"}
    assert entry["properties"]["creationPolicy"]["enum"] == ["WhenNeeded", "Once"]


@pytest.mark.parametrize("kind", ["LynqHub", "LynqForm", "LynqNode"])
def test_only_scalar_defaults_under_spec_reach_the_crd(kind: str) -> None:
    schema = _schema(kind)
    spec_defaults = [n["default"] for n in _walk(schema["properties"]["spec"]) if "default" in n]

    assert spec_defaults, "Lynq's defaults (syncInterval, port, timeoutSeconds...) are carried"
    assert all(isinstance(d, str | int) for d in spec_defaults), spec_defaults
    assert not [n for n in _walk(schema["properties"]["status"]) if "default" in n]


def test_a_node_inventory_is_not_defaulted_to_empty() -> None:
    spec = _schema("LynqNode")["properties"]["spec"]["properties"]

    assert "default" not in spec["resources"]
    assert "default" not in spec["hubId"]


def test_free_form_manifest_keeps_unknown_fields() -> None:
    form = _schema("LynqForm")["properties"]["spec"]["properties"]
    manifest = form["manifests"]["items"]["properties"]["spec"]
    labels = form["manifests"]["items"]["properties"]["labelsTemplate"]

    assert manifest == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert labels == {"type": "object", "additionalProperties": {"type": "string"}}


def test_conditions_are_a_map_keyed_by_type() -> None:
    conditions = _schema("LynqNode")["properties"]["status"]["properties"]["conditions"]

    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "type" in conditions["items"]["required"]


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"anyOf": [{"type": "string"}, {"type": "integer"}]}, id="real-union"),
        pytest.param({"description": "no type"}, id="untyped"),
    ],
)
def test_constructs_without_a_structural_equivalent_are_rejected(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        structural_schema(schema, {})


def test_write_flag_rewrites_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--write", "--dir", str(tmp_path)]) == 0

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(render_crd_files())
    assert "lynqnodes.yaml" in capsys.readouterr().out
