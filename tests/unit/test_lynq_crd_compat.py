"""lynq-bridge's CRDs accept everything Lynq's published CRDs (operator.lynq.sh/v1) accept.

Every field path of Lynq's ``openAPIV3Schema`` (spec and status, nested, arrays' items, maps'
values) must exist in ours with a compatible schema: the same type and format, Lynq's enum values
among ours, the same pattern and default, bounds no stricter, ``listType=map`` with the same keys,
Lynq's CEL validations, nothing required that Lynq leaves optional. Names, scope, the status
subresource and Lynq's printer columns (name, type, JSONPath) must match too. Lynq's CRDs are in
``tests/data/lynq/crd/`` (commit 7584aa26df6d, Apache-2.0). A mismatch names the path and both
schemas; the checker itself is tested against deliberately broken copies of our CRDs.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from lynq_bridge.config.models import LynqNode
from lynq_bridge.core.hubconditions import hub_status_patch, sync_conditions
from lynq_bridge.core.status import compute_node_status
from lynq_bridge.crds import KINDS, build_crd

LYNQ_CRDS = Path(__file__).resolve().parent.parent / "data" / "lynq" / "crd"
KIND_NAMES = ("LynqHub", "LynqForm", "LynqNode")


def _lynq_crd(kind: str) -> dict[str, Any]:
    path = LYNQ_CRDS / f"operator.lynq.sh_{kind.lower()}s.yaml"
    crd: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return crd


def _our_crd(kind: str) -> dict[str, Any]:
    return build_crd(next(s for s in KINDS if s.kind == kind))


def _children(schema: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any] | None, str]]:
    """(path suffix, sub-schema, how to step) of every sub-schema of a schema node."""
    for name in sorted(schema.get("properties") or {}):
        yield f".{name}", schema["properties"][name], "properties"
    if isinstance(schema.get("items"), Mapping):
        yield "[]", schema["items"], "items"
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield "{}", schema["additionalProperties"], "additionalProperties"


def _step(ours: Mapping[str, Any], suffix: str, how: str) -> Mapping[str, Any] | None:
    found = (ours.get("properties") or {}).get(suffix[1:]) if how == "properties" else ours.get(how)
    return found if isinstance(found, Mapping) else None


def _brief(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ("properties", "items", "description")}


def schema_problems(
    theirs: Mapping[str, Any], ours: Mapping[str, Any], path: str = ""
) -> list[str]:
    """Every way in which ``ours`` does not accept what ``theirs`` accepts, as sentences."""
    problems: list[str] = []

    def problem(what: str) -> None:
        problems.append(
            f"{path or '<root>'}: {what} (Lynq: {_brief(theirs)}; ours: {_brief(ours)})"
        )

    if theirs.get("type") != ours.get("type"):
        problem("the type differs")
    for key in ("format", "pattern", "default", "x-kubernetes-list-type"):
        if key in theirs and theirs[key] != ours.get(key):
            problem(f"{key} differs")
    if "x-kubernetes-list-map-keys" in theirs and sorted(theirs["x-kubernetes-list-map-keys"]) != (
        sorted(ours.get("x-kubernetes-list-map-keys") or [])
    ):
        problem("x-kubernetes-list-map-keys differ")
    if theirs.get("x-kubernetes-preserve-unknown-fields") and not ours.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        problem("unknown fields would be pruned")
    if "enum" in theirs and not set(theirs["enum"]) <= set(ours.get("enum") or theirs["enum"]):
        problem(f"enum values {sorted(set(theirs['enum']) - set(ours['enum']))} are missing")
    if "enum" not in theirs and "enum" in ours:
        problem("ours restricts the values with an enum")
    for low in ("minimum", "minLength", "minItems"):
        if low in ours and ours[low] > theirs.get(low, float("-inf")):
            problem(f"{low} is stricter")
    for high in ("maximum", "maxLength", "maxItems"):
        if high in ours and ours[high] < theirs.get(high, float("inf")):
            problem(f"{high} is stricter")
    if "pattern" in ours and "pattern" not in theirs:
        problem("ours restricts the value with a pattern")
    rules = {r["rule"] for r in theirs.get("x-kubernetes-validations") or []}
    missing_rules = rules - {r["rule"] for r in ours.get("x-kubernetes-validations") or []}
    if missing_rules:
        problem(f"validation rules {sorted(missing_rules)} are missing")
    extra_required = set(ours.get("required") or []) - set(theirs.get("required") or [])
    if extra_required:
        problem(f"ours also requires {sorted(extra_required)}")
    for suffix, sub, how in _children(theirs):
        assert sub is not None
        mine = _step(ours, suffix, how)
        if mine is None:
            problems.append(f"{path}{suffix}: missing in ours (Lynq: {_brief(sub)})")
            continue
        problems.extend(schema_problems(sub, mine, path + suffix))
    return problems


def crd_problems(theirs: Mapping[str, Any], ours: Mapping[str, Any]) -> list[str]:
    """Schema problems plus names, scope, subresources and printer columns."""
    problems: list[str] = []
    t_spec, o_spec = theirs["spec"], ours["spec"]
    if t_spec["group"] != o_spec["group"] or t_spec["scope"] != o_spec["scope"]:
        problems.append(f"group/scope differ: Lynq {t_spec['group']}/{t_spec['scope']}")
    for key, value in t_spec["names"].items():
        if isinstance(value, list):
            if not set(value) <= set(o_spec["names"].get(key) or []):
                problems.append(f"names.{key}: Lynq's {value} are not all ours")
        elif o_spec["names"].get(key) != value:
            problems.append(f"names.{key}: Lynq {value!r}, ours {o_spec['names'].get(key)!r}")
    mine = {v["name"]: v for v in o_spec["versions"]}
    for version in t_spec["versions"]:
        name = version["name"]
        if name not in mine:
            problems.append(f"version {name}: missing in ours")
            continue
        ours_v = mine[name]
        for key in ("served", "storage"):
            if version.get(key) != ours_v.get(key):
                problems.append(f"version {name}: {key} differs")
        for sub in version.get("subresources") or {}:
            if sub not in (ours_v.get("subresources") or {}):
                problems.append(f"version {name}: subresource {sub} is missing")
        columns = {
            (c["name"], c["type"], c["jsonPath"])
            for c in ours_v.get("additionalPrinterColumns", [])
        }
        for column in version.get("additionalPrinterColumns") or []:
            if (column["name"], column["type"], column["jsonPath"]) not in columns:
                problems.append(
                    f"version {name}: printer column {column['name']} "
                    f"({column['type']}, {column['jsonPath']}) is missing"
                )
        problems.extend(
            schema_problems(
                version["schema"]["openAPIV3Schema"], ours_v["schema"]["openAPIV3Schema"]
            )
        )
    return problems


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_lynq_field_path_exists_in_our_crd_with_a_compatible_schema(kind: str) -> None:
    problems = crd_problems(_lynq_crd(kind), _our_crd(kind))

    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_the_walk_visits_every_schema_node_of_lynqs_crd(kind: str) -> None:
    # The comparison is only as good as the walk: every typed mapping in Lynq's schema is a
    # schema node, and the walk must reach each one.
    def walked(schema: Mapping[str, Any]) -> int:
        return 1 + sum(walked(sub) for _, sub, _ in _children(schema) if sub is not None)

    def typed(value: Any) -> int:
        if isinstance(value, Mapping):
            own = 1 if isinstance(value.get("type"), str) else 0
            return own + sum(typed(v) for v in value.values())
        if isinstance(value, list):
            return sum(typed(v) for v in value)
        return 0

    root = _lynq_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    assert walked(root) == typed(root) > 20


def test_lynq_and_our_crds_agree_on_the_known_conflicts() -> None:
    hub = _our_crd("LynqHub")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    form = _our_crd("LynqForm")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    status = hub["properties"]["status"]["properties"]
    rollout = form["properties"]["spec"]["properties"]["rollout"]["properties"]

    assert status["referencingTemplates"] == {"type": "integer", "format": "int32"} | {
        "description": status["referencingTemplates"]["description"]
    }
    assert status["referencingTemplateNames"]["items"] == {"type": "string"}
    assert rollout["progressDeadlineSeconds"]["default"] == 600
    assert (
        rollout["progressDeadlineSeconds"]["minimum"],
        rollout["progressDeadlineSeconds"]["maximum"],
    ) == (60, 3600)
    assert "rollout" in form["properties"]["status"]["properties"]


def _schema_at(crd: dict[str, Any], *steps: str) -> dict[str, Any]:
    node: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for step in steps:
        node = node[step] if step in ("items", "additionalProperties") else node["properties"][step]
    return node


def _retype(crd: dict[str, Any]) -> None:
    _schema_at(crd, "status", "referencingTemplates").update(type="array", items={"type": "str"})


def _drop_format(crd: dict[str, Any]) -> None:
    del _schema_at(crd, "status", "desired")["format"]


def _drop_default(crd: dict[str, Any]) -> None:
    del _schema_at(crd, "spec", "source", "syncInterval")["default"]


def _drop_pattern(crd: dict[str, Any]) -> None:
    del _schema_at(crd, "spec", "source", "syncInterval")["pattern"]


def _drop_field(crd: dict[str, Any]) -> None:
    del _schema_at(crd, "spec", "valueMappings")["properties"]["hostOrUrl"]


def _narrow_enum(crd: dict[str, Any]) -> None:
    _schema_at(crd, "status", "conditions", "items", "status")["enum"] = ["True", "False"]


def _tighten_port(crd: dict[str, Any]) -> None:
    _schema_at(crd, "spec", "source", "mysql", "port")["maximum"] = 9999


def _require_more(crd: dict[str, Any]) -> None:
    _schema_at(crd, "spec", "source", "mysql")["required"].append("passwordRef")


def _drop_column(crd: dict[str, Any]) -> None:
    version = crd["spec"]["versions"][0]
    version["additionalPrinterColumns"] = [
        c for c in version["additionalPrinterColumns"] if c["name"] != "Templates"
    ]


def _drop_status(crd: dict[str, Any]) -> None:
    crd["spec"]["versions"][0]["subresources"] = {}


def _rename_kind(crd: dict[str, Any]) -> None:
    crd["spec"]["names"]["listKind"] = "Hubs"


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (_retype, ".status.referencingTemplates: the type differs"),
        (_drop_format, ".status.desired: format differs"),
        (_drop_default, ".spec.source.syncInterval: default differs"),
        (_drop_pattern, ".spec.source.syncInterval: pattern differs"),
        (_drop_field, ".spec.valueMappings.hostOrUrl: missing in ours"),
        (_narrow_enum, ".status.conditions[].status: enum values ['Unknown'] are missing"),
        (_tighten_port, ".spec.source.mysql.port: maximum is stricter"),
        (_require_more, ".spec.source.mysql: ours also requires ['passwordRef']"),
        (_drop_column, "printer column Templates (integer, .status.referencingTemplates)"),
        (_drop_status, "subresource status is missing"),
        (_rename_kind, "names.listKind: Lynq 'LynqHubList', ours 'Hubs'"),
    ],
)
def test_a_hub_crd_broken_on_purpose_is_reported_with_its_path(
    break_it: Callable[[dict[str, Any]], None], expected: str
) -> None:
    broken = copy.deepcopy(_our_crd("LynqHub"))
    break_it(broken)

    problems = crd_problems(_lynq_crd("LynqHub"), broken)

    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("steps", "key", "expected"),
    [
        (("spec", "hubId"), "x-kubernetes-validations", "validation rules ['self == oldSelf']"),
        (("spec", "deployments"), "x-kubernetes-list-type", "x-kubernetes-list-type differs"),
        (("spec", "deployments"), "x-kubernetes-list-map-keys", "list-map-keys differ"),
        (
            ("spec", "deployments", "items", "spec"),
            "x-kubernetes-preserve-unknown-fields",
            "unknown fields would be pruned",
        ),
    ],
)
def test_a_form_crd_without_lynqs_kubernetes_extensions_is_reported(
    steps: tuple[str, ...], key: str, expected: str
) -> None:
    broken = copy.deepcopy(_our_crd("LynqForm"))
    del _schema_at(broken, *steps)[key]

    problems = crd_problems(_lynq_crd("LynqForm"), broken)

    assert any(expected in p for p in problems), problems


def test_a_mismatch_names_the_path_and_both_schemas() -> None:
    broken = copy.deepcopy(_our_crd("LynqHub"))
    _retype(broken)

    (problem,) = schema_problems(
        _schema_at(_lynq_crd("LynqHub"), "status", "referencingTemplates"),
        _schema_at(broken, "status", "referencingTemplates"),
        ".status.referencingTemplates",
    )

    assert problem.startswith(".status.referencingTemplates: the type differs")
    assert "Lynq: {'format': 'int32', 'type': 'integer'}" in problem
    assert "'type': 'array'" in problem


@pytest.mark.parametrize(
    ("failure", "status", "reason"),
    [
        (None, "True", "DatabaseConnected"),
        ("cannot read table nodes of hub sample-hub: refused", "False", "DatabaseConnectionFailed"),
    ],
)
def test_hub_ready_condition_carries_lynqs_reasons_beside_source_ready(
    failure: str | None, status: str, reason: str
) -> None:
    conditions = {c.type: c for c in sync_conditions(failure=failure, held=0, errors=0)}

    assert (conditions["Ready"].status, conditions["Ready"].reason) == (status, reason)
    assert conditions["SourceReady"].status == status
    assert conditions["Ready"].message == conditions["SourceReady"].message


def test_hub_ready_condition_lands_in_lynqs_printer_column() -> None:
    hub = {"status": {}}
    patch = hub_status_patch(
        hub, sync_conditions(failure=None, held=0, errors=0), now=dt.datetime(2030, 1, 1)
    )
    assert patch is not None
    (column,) = [
        c
        for c in _lynq_crd("LynqHub")["spec"]["versions"][0]["additionalPrinterColumns"]
        if c["name"] == "Conditions"
    ]
    wanted = column["jsonPath"].split("'")[1]  # .status.conditions[?(@.type=='Ready')].reason

    assert [c["reason"] for c in patch["conditions"] if c["type"] == wanted] == [
        "DatabaseConnected"
    ]


def test_node_status_lists_skipped_resource_ids_as_lynq_does() -> None:
    def entry(rid: str, kind: str, **fields: Any) -> dict[str, Any]:
        api = "batch/v1" if kind == "Job" else "v1"
        base = {"id": rid, "apiVersion": api, "kind": kind, "namespace": "t", "name": rid}
        return {**base, "hash": "h1", **fields}

    node = LynqNode.model_validate(
        {
            "metadata": {"name": "acme-web", "namespace": "t"},
            "spec": {
                "uid": "acme",
                "templateRef": "web",
                "hubId": "tenants",
                "resources": [
                    entry("migrate", "Job"),
                    entry("app", "ConfigMap", dependIds=["migrate"]),
                    entry("extra", "ConfigMap"),
                ],
            },
        }
    )
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "message": "x"}]}}
    ours = {"metadata": {"labels": {"lynq.sh/node": "acme-web", "lynq.sh/node-namespace": "t"}}}
    live = {"migrate": ours | failed, "extra": ours}

    status = compute_node_status(
        node, generation=1, live=live, previous=None, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    ).status

    assert (status.skippedResources, status.skippedResourceIds) == (1, ["app"])
