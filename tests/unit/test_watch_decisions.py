"""The watching reporter's pure decisions (lynq_bridge.core.watching), table-driven."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lynq_bridge.config.models import LynqNode, NodeStatus
from lynq_bridge.core.watching import (
    backoff_seconds,
    classify,
    is_newer,
    next_deadline,
    plan_groups,
    project,
)

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "app",
        "namespace": "t1",
        "generation": 3,
        "resourceVersion": "42",
        "uid": "u",
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        "labels": {"lynq.sh/node": "acme-web", "lynq.sh/node-namespace": "t1", "app": "x"},
        "annotations": {"big": "x" * 1000},
    },
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a"}]}}},
    "status": {"observedGeneration": 3, "readyReplicas": 2},
}


def test_projection_keeps_what_status_reads_and_drops_the_rest() -> None:
    assert project(DEPLOYMENT) == {
        "metadata": {
            "name": "app",
            "namespace": "t1",
            "generation": 3,
            "labels": {"lynq.sh/node": "acme-web", "lynq.sh/node-namespace": "t1"},
        },
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 3, "readyReplicas": 2},
    }


def test_projection_ignores_a_resource_version_bump() -> None:
    bumped = {**DEPLOYMENT, "metadata": {**DEPLOYMENT["metadata"], "resourceVersion": "43"}}
    assert project(bumped) == project(DEPLOYMENT)


@pytest.mark.parametrize(("rules", "kept"), [([{"host": "a"}, {"host": "b"}], [{}]), ([], [])])
def test_projection_keeps_only_whether_an_ingress_has_rules(
    rules: list[dict[str, str]], kept: list[dict[str, str]]
) -> None:
    ingress = {"metadata": {"name": "i"}, "spec": {"rules": rules, "tls": [{"hosts": ["a"]}]}}
    assert project(ingress)["spec"] == {"rules": kept}


@pytest.mark.parametrize(
    ("event", "step", "version"),
    [
        ({"type": "ADDED", "object": {"metadata": {"resourceVersion": "5"}}}, "apply", "5"),
        ({"type": "MODIFIED", "object": {"metadata": {"resourceVersion": "6"}}}, "apply", "6"),
        ({"type": "DELETED", "object": {"metadata": {"resourceVersion": "7"}}}, "delete", "7"),
        ({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}, "bookmark", "9"),
        (
            {"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}},
            "relist",
            None,
        ),
        ({"type": "ERROR", "object": {"reason": "Expired", "message": "x"}}, "relist", None),
        ({"type": "ERROR", "object": {"code": 500, "message": "etcd down"}}, "retry", None),
        ({"type": "SURPRISE"}, "retry", None),
    ],
)
def test_watch_events_are_classified(event: dict[str, Any], step: str, version: str | None) -> None:
    decision = classify(event)
    assert (decision.step, decision.resource_version) == (step, version)


@pytest.mark.parametrize(
    ("failures", "seconds"), [(0, 0.0), (1, 0.5), (2, 1.0), (4, 4.0), (7, 30.0), (500, 30.0)]
)
def test_backoff_doubles_up_to_its_cap(failures: int, seconds: float) -> None:
    assert backoff_seconds(failures, cap=30.0) == seconds


@pytest.mark.parametrize(
    ("version", "than", "newer"),
    [
        ("10", "9", True),
        ("9", "10", False),
        ("10", "10", True),
        ("abc", "10", True),
        (None, "1", True),
    ],
)
def test_resource_versions_compare_numerically_when_they_are_numbers(
    version: str | None, than: str | None, newer: bool
) -> None:
    assert is_newer(version, than) is newer


def test_a_kind_in_many_namespaces_gets_one_cluster_wide_watch() -> None:
    wanted: dict[str, set[str | None]] = {
        "configmaps": {f"t{i}" for i in range(9)},
        "deployments": {"t1", "t2"},
        "namespaces": {None},
    }
    groups = plan_groups(wanted, cluster_wide=True, threshold=8)
    assert groups == {
        ("configmaps", None),
        ("deployments", "t1"),
        ("deployments", "t2"),
        ("namespaces", None),
    }


def test_a_namespaced_reporter_never_watches_all_namespaces() -> None:
    wanted: dict[str, set[str | None]] = {"configmaps": {f"t{i}" for i in range(9)}}
    groups = plan_groups(wanted, cluster_wide=False, threshold=8)
    assert groups == {("configmaps", f"t{i}") for i in range(9)}


def _node(*timeouts: int) -> LynqNode:
    resources = [
        {
            "id": f"r{i}",
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "namespace": "t1",
            "name": f"r{i}",
            "timeoutSeconds": timeout,
            "hash": "h",
        }
        for i, timeout in enumerate(timeouts)
    ]
    return LynqNode.model_validate(
        {
            "metadata": {"name": "n", "namespace": "t1"},
            "spec": {"uid": "u", "templateRef": "f", "hubId": "h", "resources": resources},
        }
    )


def _status(*states: tuple[str, str | None]) -> NodeStatus:
    return NodeStatus.model_validate(
        {
            "resources": [
                {"id": f"r{i}", "state": state, "reason": "R", "message": "m.", "since": since}
                for i, (state, since) in enumerate(states)
            ]
        }
    )


def test_the_next_deadline_is_the_earliest_timeout_of_a_waiting_resource() -> None:
    node = _node(60, 30, 10, 5)
    status = _status(
        ("NotReady", "2030-01-01T12:00:00Z"),
        ("Missing", "2030-01-01T12:00:10Z"),
        ("Ready", "2030-01-01T12:00:00Z"),  # ready: no clock
        ("NotReady", None),  # waiting on a dependency: no clock
    )
    assert next_deadline(node, status) == dt.datetime(2030, 1, 1, 12, 0, 40, tzinfo=dt.UTC)


def test_a_node_with_nothing_waiting_has_no_deadline() -> None:
    assert next_deadline(_node(60), _status(("Ready", "2030-01-01T12:00:00Z"))) is None
