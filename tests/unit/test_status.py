"""LynqNode status logic (SPEC §8): per-resource states, clocks, conditions, Events, roll-ups."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lynq_bridge.config.models import InventoryEntry, LynqNode, NodeStatus, ResourceState
from lynq_bridge.core import rollups
from lynq_bridge.core.conditions import (
    DesiredCondition,
    format_time,
    merge_conditions,
    parse_time,
)
from lynq_bridge.core.inventory import Malformed, dependency_order, parse_node
from lynq_bridge.core.status import (
    compute_malformed_status,
    compute_node_status,
    evaluate_resource,
    status_changed,
    status_document,
)

T0 = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
NODE, NS = "acme-web", "tenants"
OURS = {"lynq.sh/node": NODE, "lynq.sh/node-namespace": NS}


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return format_time(at(seconds))


def make_entry(resource_id: str = "cm", kind: str = "ConfigMap", **fields: Any) -> InventoryEntry:
    values: dict[str, Any] = {
        "id": resource_id,
        "apiVersion": {"Deployment": "apps/v1", "Job": "batch/v1"}.get(kind, "v1"),
        "kind": kind,
        "namespace": NS,
        "name": resource_id,
        "hash": "h1",
    }
    values.update(fields)
    return InventoryEntry.model_validate(values)


def make_node(*entries: InventoryEntry) -> LynqNode:
    return LynqNode.model_validate(
        {
            "metadata": {"name": NODE, "namespace": NS},
            "spec": {
                "uid": "acme",
                "templateRef": "web",
                "hubId": "tenants",
                "resources": [e.model_dump() for e in entries],
            },
        }
    )


def obj(labels: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    return {"metadata": {"labels": OURS if labels is None else labels}, **body}


NOT_READY_DEPLOYMENT = {
    "metadata": {"labels": OURS, "generation": 1},
    "spec": {"replicas": 1},
    "status": {},
}
FAILED_JOB = obj(status={"conditions": [{"type": "Failed", "status": "True", "message": "x"}]})


def prev(state: str, since: float | None = 0, hash_: str = "h1") -> ResourceState:
    return ResourceState.model_validate(
        {
            "id": "cm",
            "state": state,
            "since": None if since is None else stamp(since),
            "hash": hash_,
        }
    )


def dep(state: str) -> dict[str, ResourceState]:
    return {"db": ResourceState.model_validate({"id": "db", "state": state})}


# (case, entry fields, live object or None, served, dependency states, previous, now, expected
#  (state, reason, since or None))
RESOURCE_CASES: list[tuple[Any, ...]] = [
    ("missing-first-sight", {}, None, True, {}, None, 0, ("Missing", "NotFound", stamp(0))),
    (
        "missing-clock-carried",
        {},
        None,
        True,
        {},
        prev("Missing", 0),
        299,
        ("Missing", "NotFound", stamp(0)),
    ),
    (
        "missing-times-out",
        {},
        None,
        True,
        {},
        prev("Missing", 0),
        300,
        ("Failed", "Timeout", stamp(0)),
    ),
    (
        "short-timeout",
        {"timeoutSeconds": 5},
        None,
        True,
        {},
        prev("Missing", 0),
        5,
        ("Failed", "Timeout", stamp(0)),
    ),
    (
        "new-content-restarts-clock",
        {"hash": "h2"},
        None,
        True,
        {},
        prev("Missing", 0),
        900,
        ("Missing", "NotFound", stamp(900)),
    ),
    ("exists-and-ours", {}, obj(), True, {}, None, 0, ("Ready", "Ready", stamp(0))),
    (
        "ready-keeps-first-sight",
        {},
        obj(),
        True,
        {},
        prev("NotReady", 10),
        50,
        ("Ready", "Ready", stamp(10)),
    ),
    (
        "someone-elses",
        {},
        obj(labels={"team": "x"}),
        True,
        {},
        None,
        0,
        ("Conflicted", "NotManagedByNode", stamp(0)),
    ),
    (
        "another-nodes",
        {},
        obj(labels={**OURS, "lynq.sh/node": "beta-web"}),
        True,
        {},
        None,
        0,
        ("Conflicted", "NotManagedByNode", stamp(0)),
    ),
    (
        "another-namespaces-node",
        {},
        obj(labels={**OURS, "lynq.sh/node-namespace": "x"}),
        True,
        {},
        None,
        0,
        ("Conflicted", "NotManagedByNode", stamp(0)),
    ),
    (
        "node-label-without-namespace-label",
        {},
        obj(labels={"lynq.sh/node": NODE}),
        True,
        {},
        None,
        0,
        ("Ready", "Ready", stamp(0)),
    ),
    (
        "force-adopts",
        {"conflictPolicy": "Force"},
        obj(labels={}),
        True,
        {},
        None,
        0,
        ("Ready", "Ready", stamp(0)),
    ),
    (
        "wait-for-ready-false",
        {"kind": "Deployment", "waitForReady": False},
        NOT_READY_DEPLOYMENT,
        True,
        {},
        None,
        0,
        ("Ready", "Exists", stamp(0)),
    ),
    (
        "creation-once",
        {"kind": "Deployment", "creationPolicy": "Once"},
        NOT_READY_DEPLOYMENT,
        True,
        {},
        None,
        0,
        ("Ready", "Exists", stamp(0)),
    ),
    (
        "deployment-not-ready",
        {"kind": "Deployment"},
        NOT_READY_DEPLOYMENT,
        True,
        {},
        None,
        0,
        ("NotReady", "GenerationNotObserved", stamp(0)),
    ),
    (
        "lost-readiness-restarts-clock",
        {"kind": "Deployment"},
        NOT_READY_DEPLOYMENT,
        True,
        {},
        prev("Ready", 0),
        1000,
        ("NotReady", "GenerationNotObserved", stamp(1000)),
    ),
    (
        "job-failed",
        {"kind": "Job"},
        FAILED_JOB,
        True,
        {},
        prev("NotReady", 5),
        10,
        ("Failed", "JobFailed", stamp(5)),
    ),
    (
        "recovers-after-timeout",
        {},
        obj(),
        True,
        {},
        prev("Failed", 0),
        1000,
        ("Ready", "Ready", stamp(0)),
    ),
    ("unserved-kind", {}, None, False, {}, None, 0, ("Failed", "UnknownKind", stamp(0))),
    (
        "skip-on-failed-dependency",
        {"dependIds": ["db"]},
        obj(),
        True,
        dep("Failed"),
        prev("Ready", 0),
        10,
        ("Skipped", "DependencyFailed", None),
    ),
    (
        "skip-on-skipped-dependency",
        {"dependIds": ["db"]},
        None,
        True,
        dep("Skipped"),
        None,
        0,
        ("Skipped", "DependencyFailed", None),
    ),
    (
        "skip-on-conflicted-dependency",
        {"dependIds": ["db"]},
        None,
        True,
        dep("Conflicted"),
        None,
        0,
        ("Skipped", "DependencyFailed", None),
    ),
    (
        "proceed-despite-failed-dependency",
        {"dependIds": ["db"], "skipOnDependencyFailure": False},
        obj(),
        True,
        dep("Failed"),
        None,
        0,
        ("Ready", "Ready", stamp(0)),
    ),
    (
        "waiting-dependency-holds-clock",
        {"dependIds": ["db"], "timeoutSeconds": 1},
        None,
        True,
        dep("NotReady"),
        prev("Missing", 0),
        5000,
        ("Missing", "NotFound", None),
    ),
    (
        "ready-despite-waiting-dependency",
        {"dependIds": ["db"]},
        obj(),
        True,
        dep("Missing"),
        None,
        0,
        ("Ready", "Ready", stamp(0)),
    ),
    (
        "dependency-released-starts-clock",
        {"dependIds": ["db"]},
        None,
        True,
        dep("Ready"),
        prev("Missing", None),
        70,
        ("Missing", "NotFound", stamp(70)),
    ),
    (
        "excluded-dependency-is-satisfied",
        {"dependIds": ["gone"]},
        None,
        True,
        {},
        None,
        0,
        ("Missing", "NotFound", stamp(0)),
    ),
]


@pytest.mark.parametrize(
    ("fields", "live", "served", "deps", "previous", "now", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in RESOURCE_CASES],
)
def test_resource_state(
    fields: dict[str, Any],
    live: dict[str, Any] | None,
    served: bool,
    deps: dict[str, ResourceState],
    previous: ResourceState | None,
    now: float,
    expected: tuple[str, str, str | None],
) -> None:
    entry = make_entry(**fields)

    state = evaluate_resource(
        make_node(entry),
        entry,
        obj=live,
        served=served,
        dependencies=deps,
        previous=previous,
        now=at(now),
    )

    assert (state.state, state.reason, state.since) == expected
    assert state.hash == entry.hash
    assert state.message.endswith(".")


def test_waiting_dependent_names_its_dependency() -> None:
    entry = make_entry(dependIds=["db"])

    state = evaluate_resource(
        make_node(entry),
        entry,
        obj=None,
        served=True,
        dependencies=dep("Missing"),
        previous=None,
        now=T0,
    )

    assert state.message.endswith('Waiting for dependency "db".')


# ------------------------------------------------------------------------------ node level

CM_OK, CM_FOREIGN = obj(), obj(labels={})
JOB_FAILED = FAILED_JOB

# (case, {id: live}, {type: (status, reason)}, (ready, failed, skipped, conflicted))
NODE_CASES: list[tuple[Any, ...]] = [
    (
        "all-ready",
        {"a": CM_OK, "b": CM_OK},
        {
            "Ready": ("True", "Reconciled"),
            "Progressing": ("False", "ReconcileComplete"),
            "Degraded": ("False", "Healthy"),
            "Conflicted": ("False", "NoConflict"),
        },
        (2, 0, 0, 0),
    ),
    (
        "waiting",
        {"a": CM_OK, "b": None},
        {
            "Ready": ("False", "NotAllResourcesReady"),
            "Reconciling": ("True", "NotAllResourcesReady"),
            "Progressing": ("True", "Reconciling"),
            "Degraded": ("True", "ResourcesNotReady"),
            "Conflicted": ("False", "NoConflict"),
        },
        (1, 0, 0, 0),
    ),
    (
        "failed",
        {"a": JOB_FAILED, "b": CM_OK},
        {
            "Ready": ("False", "ResourcesFailed"),
            "Stalled": ("True", "ResourcesFailed"),
            "Progressing": ("False", "ReconcileComplete"),
            "Degraded": ("True", "ResourceFailures"),
            "Conflicted": ("False", "NoConflict"),
        },
        (1, 1, 0, 0),
    ),
    (
        "conflicted",
        {"a": CM_OK, "b": CM_FOREIGN},
        {
            "Ready": ("False", "ResourcesConflicted"),
            "Stalled": ("True", "ResourcesConflicted"),
            "Progressing": ("False", "ReconcileComplete"),
            "Degraded": ("True", "ResourceConflicts"),
            "Conflicted": ("True", "ResourceConflict"),
        },
        (1, 0, 0, 1),
    ),
    (
        "failed-and-conflicted",
        {"a": JOB_FAILED, "b": CM_FOREIGN},
        {
            "Ready": ("False", "ResourcesFailedAndConflicted"),
            "Stalled": ("True", "ResourcesFailedAndConflicted"),
            "Progressing": ("False", "ReconcileComplete"),
            "Degraded": ("True", "ResourceFailuresAndConflicts"),
            "Conflicted": ("True", "ResourceConflict"),
        },
        (0, 1, 0, 1),
    ),
    (
        "failed-and-waiting",
        {"a": JOB_FAILED, "b": None},
        {
            "Ready": ("False", "ResourcesFailed"),
            "Reconciling": ("True", "NotAllResourcesReady"),
            "Stalled": ("True", "ResourcesFailed"),
            "Progressing": ("True", "Reconciling"),
            "Degraded": ("True", "ResourceFailures"),
            "Conflicted": ("False", "NoConflict"),
        },
        (0, 1, 0, 0),
    ),
]


def _two(a_kind: str) -> LynqNode:
    return make_node(make_entry("a", a_kind), make_entry("b"))


@pytest.mark.parametrize(
    ("live", "conditions", "counters"),
    [pytest.param(*case[1:], id=case[0]) for case in NODE_CASES],
)
def test_node_conditions_and_counters(
    live: dict[str, Any], conditions: dict[str, tuple[str, str]], counters: tuple[int, ...]
) -> None:
    node = _two("Job" if live["a"] is JOB_FAILED else "ConfigMap")

    status = compute_node_status(node, generation=3, live=live, previous=None, now=T0).status

    assert {c.type: (c.status, c.reason) for c in status.conditions} == conditions
    assert status.conditions[0].type == "Ready"
    assert all(c.observedGeneration == 3 and c.message.endswith(".") for c in status.conditions)
    got = (
        status.readyResources,
        status.failedResources,
        status.skippedResources,
        status.conflictedResources,
    )
    assert got == counters
    assert (status.observedGeneration, status.desiredResources) == (3, 2)


def test_node_without_resources_is_ready() -> None:
    status = compute_node_status(make_node(), generation=1, live={}, previous=None, now=T0).status

    assert (status.conditions[0].type, status.conditions[0].status) == ("Ready", "True")
    assert status.desiredResources == 0


def test_unknown_kind_is_the_stalled_reason() -> None:
    node = make_node(make_entry("g", "Gizmo", apiVersion="example.com/v1"), make_entry("b"))

    status = compute_node_status(
        node, generation=1, live={"b": CM_OK}, unserved=["g"], previous=None, now=T0
    ).status

    stalled = next(c for c in status.conditions if c.type == "Stalled")
    assert stalled.reason == "UnknownKind"


def test_unchanged_world_gives_an_identical_status_later() -> None:
    node = _two("ConfigMap")
    live = {"a": CM_OK, "b": None}
    first = compute_node_status(node, generation=1, live=live, previous=None, now=T0)

    second = compute_node_status(node, generation=1, live=live, previous=first.status, now=at(60))

    assert second.status == first.status
    assert second.events == ()
    assert not status_changed(status_document(first.status), second.status)


def test_last_transition_time_moves_only_when_a_condition_flips() -> None:
    node = _two("ConfigMap")
    first = compute_node_status(
        node, generation=1, live={"a": CM_OK, "b": None}, previous=None, now=T0
    ).status

    second = compute_node_status(
        node, generation=1, live={"a": CM_OK, "b": CM_OK}, previous=first, now=at(60)
    ).status

    times = {c.type: c.lastTransitionTime for c in second.conditions}
    assert times == {
        "Ready": stamp(60),
        "Progressing": stamp(60),
        "Degraded": stamp(60),
        "Conflicted": stamp(0),
    }


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        pytest.param(None, CM_OK, [], id="first-sight-ready-is-quiet"),
        pytest.param(None, None, [], id="first-sight-missing-is-quiet"),
        pytest.param(None, CM_FOREIGN, [("Warning", "ResourceConflict")], id="first-conflict"),
        pytest.param(CM_OK, CM_OK, [], id="no-change"),
        pytest.param("missing", CM_OK, [("Normal", "RolloutComplete")], id="rollout-complete"),
        pytest.param(CM_FOREIGN, CM_OK, [("Normal", "ResourceRecovered")], id="recovered"),
        pytest.param(CM_OK, CM_FOREIGN, [("Warning", "ResourceConflict")], id="conflict"),
    ],
)
def test_events_follow_state_transitions(
    before: Any, after: dict[str, Any] | None, events: list[tuple[str, str]]
) -> None:
    node = make_node(make_entry("b"))
    previous = None
    if before is not None:
        live = {"b": None if before == "missing" else before}
        previous = compute_node_status(node, generation=1, live=live, previous=None, now=T0).status

    outcome = compute_node_status(
        node, generation=1, live={"b": after}, previous=previous, now=at(10)
    )

    assert [(e.type, e.reason) for e in outcome.events] == events


def test_timeout_and_skip_raise_warning_events() -> None:
    node = make_node(make_entry("db", timeoutSeconds=10), make_entry("app", dependIds=["db"]))
    first = compute_node_status(node, generation=1, live={}, previous=None, now=T0)

    later = compute_node_status(node, generation=1, live={}, previous=first.status, now=at(10))

    assert [(e.reason, e.message.split(":")[0]) for e in later.events] == [
        ("ReadinessTimeout", 'Resource "db" (ConfigMap tenants/db)'),
        ("DependencySkipped", 'Resource "app" (ConfigMap tenants/app)'),
    ]


# ------------------------------------------------------------------------- malformed nodes


def _raw(spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": NODE, "namespace": NS}, "spec": spec}


GOOD = {"id": "a", "apiVersion": "v1", "kind": "ConfigMap", "name": "a", "hash": "h"}
BASE = {"uid": "acme", "templateRef": "web", "hubId": "tenants"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param({"metadata": {"name": NODE}}, "InventoryMissing", id="no-spec"),
        pytest.param(_raw(BASE), "InventoryMissing", id="no-resources"),
        pytest.param(
            _raw({**BASE, "resources": [{**GOOD, "hash": None}]}), "InvalidSpec", id="bad-field"
        ),
        pytest.param(
            _raw({**BASE, "resources": [{**GOOD, "surprise": 1}]}),
            "InvalidSpec",
            id="unknown-field",
        ),
        pytest.param(_raw({"resources": []}), "InvalidSpec", id="no-uid"),
        pytest.param(
            _raw({**BASE, "resources": [GOOD, GOOD]}), "DuplicateResourceId", id="duplicate-id"
        ),
        pytest.param(
            _raw(
                {
                    **BASE,
                    "resources": [
                        {**GOOD, "dependIds": ["b"]},
                        {**GOOD, "id": "b", "dependIds": ["a"]},
                    ],
                }
            ),
            "DependencyCycle",
            id="cycle",
        ),
    ],
)
def test_malformed_nodes_are_recognised(raw: dict[str, Any], reason: str) -> None:
    parsed = parse_node(raw)

    assert isinstance(parsed, Malformed)
    assert parsed.reason == reason
    assert parsed.message.endswith(".")


def test_well_formed_node_parses() -> None:
    parsed = parse_node(_raw({**BASE, "resources": [GOOD]}))

    assert isinstance(parsed, LynqNode)
    assert parsed.spec.resources[0].id == "a"


def test_malformed_status_is_stalled_and_warns_once() -> None:
    problem = Malformed("DependencyCycle", "The dependIds of resources a, b form a cycle.")
    first = compute_malformed_status(problem, generation=2, previous=None, now=T0)

    again = compute_malformed_status(problem, generation=2, previous=first.status, now=at(30))

    flags = {c.type: (c.status, c.reason) for c in first.status.conditions}
    assert flags["Ready"] == ("False", "DependencyCycle")
    assert flags["Stalled"] == ("True", "DependencyCycle")
    assert [e.reason for e in first.events] == ["DependencyCycle"]
    assert again.events == ()
    assert again.status == first.status
    assert first.stalled and not first.ready


def test_dependency_order_puts_dependencies_first_and_keeps_inventory_order() -> None:
    entries = [
        make_entry("app", dependIds=["db", "cfg"]),
        make_entry("cfg"),
        make_entry("db", dependIds=["cfg"]),
        make_entry("extra"),
    ]

    assert [e.id for e in dependency_order(entries)] == ["cfg", "extra", "db", "app"]


# ----------------------------------------------------------------------------- changes


@pytest.mark.parametrize(
    ("raw", "changed"),
    [
        pytest.param(None, True, id="no-status-yet"),
        pytest.param({}, True, id="empty-status"),
        pytest.param({"desiredResources": "many"}, True, id="unreadable-status"),
        pytest.param("same", False, id="same-status"),
        pytest.param("same+extra", True, id="stale-extra-key"),
        pytest.param("other-count", True, id="different-count"),
    ],
)
def test_status_changed(raw: Any, changed: bool) -> None:
    status = NodeStatus(desiredResources=1, readyResources=1)
    document = status_document(status)
    if raw == "same":
        raw = document
    elif raw == "same+extra":
        raw = {**document, "legacy": 1}
    elif raw == "other-count":
        raw = {**document, "readyResources": 0}

    assert status_changed(raw, status) is changed


# ------------------------------------------------------------------------------- helpers


def test_times_round_trip_in_utc_whole_seconds() -> None:
    naive = dt.datetime(2030, 1, 1, 12, 0, 0, 999999)

    assert format_time(naive) == "2030-01-01T12:00:00Z"
    assert parse_time("2030-01-01T12:00:00Z") == T0
    assert parse_time("yesterday") is None
    assert parse_time(None) is None


def test_merge_conditions_can_keep_conditions_of_other_writers() -> None:
    theirs = merge_conditions(
        [], [DesiredCondition("Database", "True", "Connected", "Fine.")], now=T0, generation=1
    )

    merged = merge_conditions(
        theirs,
        [DesiredCondition("Applied", "True", "AllNodesReady", "All.")],
        now=at(5),
        generation=1,
        keep_others=True,
    )
    dropped = merge_conditions(
        theirs,
        [DesiredCondition("Applied", "True", "AllNodesReady", "All.")],
        now=at(5),
        generation=1,
    )

    assert [c.type for c in merged] == ["Applied", "Database"]
    assert [c.type for c in dropped] == ["Applied"]


# ------------------------------------------------------------------------------ roll-ups


def _summary(
    name: str,
    *,
    hub: str = "tenants",
    form: str = "web",
    ready: bool = True,
    failed: bool = False,
    namespace: str = NS,
) -> rollups.NodeSummary:
    return rollups.NodeSummary(namespace, name, hub, form, ready, failed)


HUB = {"metadata": {"name": "tenants", "namespace": NS, "generation": 4}, "spec": {}}
NODES = [
    _summary("a"),
    _summary("b", ready=False, failed=True),
    _summary("c", ready=False, form="api"),
    _summary("d", hub="other"),
    _summary("e", namespace="elsewhere"),
]


def test_hub_roll_up_counts_its_nodes_and_forms() -> None:
    forms = [
        {"metadata": {"name": "admin", "namespace": NS}, "spec": {"hubId": "tenants"}},
        {"metadata": {"name": "x", "namespace": NS}, "spec": {"hubId": "other"}},
    ]

    status = rollups.hub_status(HUB, NODES, forms)

    assert status == {
        "desired": 3,
        "ready": 1,
        "failed": 1,
        "referencingTemplates": 3,
        "referencingTemplateNames": ["admin", "api", "web"],
        "observedGeneration": 4,
    }
    assert rollups.hub_status({**HUB, "status": status}, NODES, forms) is None


@pytest.mark.parametrize(
    ("nodes", "hubs", "valid", "applied"),
    [
        pytest.param(
            NODES, {(NS, "tenants")}, "ValidationPassed", "NotAllNodesReady", id="some-ready"
        ),
        pytest.param(
            [_summary("a")], {(NS, "tenants")}, "ValidationPassed", "AllNodesReady", id="all-ready"
        ),
        pytest.param([], {(NS, "tenants")}, "ValidationPassed", "NoNodes", id="no-nodes"),
        pytest.param([], set(), "ValidationFailed", "NoNodes", id="hub-missing"),
    ],
)
def test_form_roll_up_conditions(
    nodes: list[rollups.NodeSummary], hubs: set[tuple[str, str]], valid: str, applied: str
) -> None:
    form = {
        "metadata": {"name": "web", "namespace": NS, "generation": 2},
        "spec": {"hubId": "tenants"},
    }

    status = rollups.form_status(form, nodes, hubs, now=T0)

    assert status is not None
    assert {c["type"]: c["reason"] for c in status["conditions"]} == {
        "Valid": valid,
        "Applied": applied,
    }
    assert rollups.form_status({**form, "status": status}, nodes, hubs, now=at(60)) is None
