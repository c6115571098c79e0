"""Config loading and form validation: every problem names file, document, object and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lynq_bridge.config.loading import load_config
from lynq_bridge.core.forms import compile_forms
from lynq_bridge.errors import ConfigError

BRIDGE = {
    "apiVersion": "bridge.lynq.sh/v1alpha1",
    "kind": "BridgeConfig",
    "metadata": {"name": "default"},
    "spec": {"git": {"url": "../remote.git", "path": "lynq"}},
}
HUB = {
    "apiVersion": "operator.lynq.sh/v1",
    "kind": "LynqHub",
    "metadata": {"name": "tenants", "namespace": "default"},
    "spec": {
        "source": {"type": "sqlite", "sqlite": {"path": "t.db", "table": "tenants"}},
        "valueMappings": {"uid": "tenant_id", "activate": "active"},
        "extraValueMappings": {"plan": "plan"},
    },
}


def form(*resources: dict[str, Any], array: str = "manifests") -> dict[str, Any]:
    return {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqForm",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hubId": "tenants", array: list(resources)},
    }


def cm(rid: str, **fields: Any) -> dict[str, Any]:
    entry = {
        "id": rid,
        "spec": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": rid}},
    }
    entry.update(fields)
    return entry


def write(directory: Path, *documents: dict[str, Any], name: str = "all.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return directory


def problems_of(tmp_path: Path, *documents: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "config", *documents))
    return str(caught.value)


def form_problems(tmp_path: Path, document: dict[str, Any], *, strict: bool = False) -> list[str]:
    config = load_config(write(tmp_path / "config", BRIDGE, HUB, document))
    _, problems, warnings = compile_forms(config.forms, strict_secrets=strict)
    return problems + [f"warning: {w}" for w in warnings]


def test_valid_config_loads_with_paths_relative_to_its_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "config", BRIDGE, HUB, form(cm("a"))))
    assert config.bridge.spec.git.url == str((tmp_path / "remote.git").resolve())
    source = config.hubs[0].spec.source.sqlite
    assert source is not None and source.path == str(tmp_path / "config" / "t.db")
    assert [f.metadata.name for f in config.forms_of(config.hubs[0])] == ["web"]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            {"spec": {**HUB["spec"], "colour": "red"}},
            "all.yaml, document 2 (LynqHub tenants): spec.colour: unknown field",
        ),
        (
            {
                "spec": {
                    **HUB["spec"],
                    "source": {"type": "oracle", "sqlite": {"path": "x", "table": "t"}},
                }
            },
            "spec.source.type",
        ),
        (
            {
                "spec": {
                    **HUB["spec"],
                    "source": {
                        "type": "sqlite",
                        "syncInterval": "10x",
                        "sqlite": {"path": "x", "table": "t"},
                    },
                }
            },
            'spec.source.syncInterval: "10x" is not a positive duration',
        ),
        (
            {
                "spec": {
                    **HUB["spec"],
                    "source": {"type": "mysql", "sqlite": {"path": "x", "table": "t"}},
                }
            },
            'exactly the "mysql" block must be set',
        ),
        (
            {
                "spec": {
                    **HUB["spec"],
                    "source": {
                        "type": "sqlite",
                        "sqlite": {"path": "x", "table": "t; DROP TABLE t"},
                    },
                }
            },
            "spec.source.sqlite.table",
        ),
        (
            {"spec": {**HUB["spec"], "valueMappings": {"uid": "id"}}},
            "spec.valueMappings.activate: required field is missing",
        ),
        (
            {"spec": {**HUB["spec"], "extraValueMappings": {"uid": "x"}}},
            'variable "uid" is reserved',
        ),
        (
            {"spec": {**HUB["spec"], "extraValueMappings": {"a-b": "x"}}},
            "not a valid template variable name",
        ),
        ({"metadata": {"name": "Tenants"}}, "metadata.name"),
    ],
)
def test_bad_hub_field_is_named_with_file_and_document(
    tmp_path: Path, patch: dict[str, Any], expected: str
) -> None:
    assert expected in problems_of(tmp_path, BRIDGE, {**HUB, **patch})


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (cm("a", timeoutSeconds=0), "timeoutSeconds"),
        (cm("a", timeoutSeconds=3601), "timeoutSeconds"),
        (cm("a", creationPolicy="Sometimes"), "creationPolicy"),
        (cm("a", deletionPolicy="Keep"), "deletionPolicy"),
        (cm("a", conflictPolicy="Steal"), "conflictPolicy"),
        (cm("a", patchStrategy="json"), "patchStrategy"),
        (cm("a", ignoreFields=["spec.replicas"]), "is not a JSONPath"),
        (cm("a", extra=1), "spec.manifests[0].extra: unknown field"),
        ({"id": "a", "spec": {"kind": "ConfigMap"}}, "the manifest needs a string apiVersion"),
        (cm(""), "spec.manifests[0].id"),
    ],
)
def test_bad_resource_field_is_named(tmp_path: Path, entry: dict[str, Any], expected: str) -> None:
    text = problems_of(tmp_path, BRIDGE, HUB, form(entry))
    assert "(LynqForm web)" in text and expected in text


def test_form_naming_a_missing_hub_is_an_error(tmp_path: Path) -> None:
    document = form(cm("a"))
    document["spec"]["hubId"] = "nope"
    assert 'spec.hubId: hub "nope" does not exist in namespace "default"' in problems_of(
        tmp_path, BRIDGE, HUB, document
    )


def test_missing_bridge_config_is_an_error(tmp_path: Path) -> None:
    assert "expected exactly one BridgeConfig" in problems_of(tmp_path, HUB)


def test_unknown_kind_and_broken_yaml_are_reported_together(tmp_path: Path) -> None:
    directory = write(tmp_path / "config", BRIDGE, HUB, {"kind": "Widget"})
    (directory / "broken.yml").write_text("a: [1,\n")
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    text = str(caught.value)
    assert 'unknown kind "Widget"' in text and "broken.yml: is not valid YAML" in text


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([cm("a"), cm("a")], 'resource "a": duplicate id'),
        ([cm("a", dependIds=["b"])], 'resource "a", dependIds: unknown id "b"'),
        (
            [cm("a", dependIds=["b"]), cm("b", dependIds=["c"]), cm("c", dependIds=["a"])],
            "dependency cycle a -> b -> c -> a",
        ),
        ([cm("a", dependIds=["a"])], "depends on itself"),
        ([cm("a", nameTemplate="{{ uid ")], 'resource "a", nameTemplate: template syntax error'),
        ([cm("a", nameTemplate="{{ uid | nosuch }}")], "nosuch"),
        ([cm("a", nameTemplate="{{ now() }}")], "would change on every sync"),
        ([cm("a", nameTemplate="{{ randAlphaNum(5) }}")], "would change on every sync"),
        ([cm("a", nameTemplate="{{ uid.__class__ }}")], "Python internals"),
        ([cm("a", labelsTemplate={"x": "{{ env('HOME') }}"})], "labelsTemplate.x"),
        ([cm("a", includeWhen="{% include 'x' %}")], "includeWhen"),
    ],
)
def test_form_validation_names_form_resource_and_field(
    tmp_path: Path, entries: list[dict[str, Any]], expected: str
) -> None:
    problems = form_problems(tmp_path, form(*entries))
    assert problems, "expected a validation problem"
    assert any(expected in p and "form web" in p for p in problems), problems


def test_template_in_deep_spec_field_is_located(tmp_path: Path) -> None:
    entry = cm("a")
    entry["spec"]["data"] = {"key": "{{ uid | nosuch }}"}
    problems = form_problems(tmp_path, form(entry))
    assert any("spec.data.key" in p for p in problems), problems


def test_literal_secret_data_warns_and_strict_secrets_makes_it_an_error(tmp_path: Path) -> None:
    secret = {
        "id": "s",
        "spec": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "stringData": {"password": "hunter2"},
        },
    }
    warned = form_problems(tmp_path / "a", form(secret, array="secrets"))
    assert len(warned) == 1 and warned[0].startswith("warning:") and "SealedSecrets" in warned[0]
    strict = form_problems(tmp_path / "b", form(secret, array="secrets"), strict=True)
    assert len(strict) == 1 and not strict[0].startswith("warning:")


def test_validate_command_lists_all_problems_and_exits_2(tmp_path: Path, capsys: Any) -> None:
    from lynq_bridge.cli import main

    document = form(cm("a", dependIds=["zz"]), cm("b", nameTemplate="{{ now() }}"))
    directory = write(tmp_path / "config", BRIDGE, HUB, document)
    assert main(["validate", "--config", str(directory)]) == 2
    err = capsys.readouterr().err
    assert "2 configuration problems" in err
    assert 'unknown id "zz"' in err and "now" in err


@pytest.mark.parametrize("path", ["", "/", ".", "../up", "a/../b", "a b"])
def test_git_path_must_stay_inside_the_repository(tmp_path: Path, path: str) -> None:
    bridge = {**BRIDGE, "spec": {"git": {"url": "r.git", "path": path}}}
    assert "spec.git.path" in problems_of(tmp_path, bridge, HUB)
