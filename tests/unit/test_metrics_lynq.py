"""Lynq's metric names, types, help and labels in the bridge's /metrics (``lynq_bridge.metrics``).

The census is built by hand here (LynqNode and LynqHub objects as the watching reporter caches
them); the real daemon, reporter and API server are in
tests/integration/cluster/test_metrics_scrape.py. The catalogue of Lynq's metrics is data in
tests/lynq_metrics.py.
"""

from __future__ import annotations

import gc
import json
import re
import threading
import time
import weakref
from typing import Any

import pytest
import yaml
from lynq_metrics import (
    EXPORTED,
    LYNQ_HELP,
    LYNQ_METRICS,
    MONITORING,
    OMITTED,
    ROOT,
    metric_names,
    scraped_names,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from lynq_bridge.core import rollout
from lynq_bridge.core.leasing import REPORTER
from lynq_bridge.leases import run_while_held
from lynq_bridge.metrics import DEGRADED_REASONS, Metrics, forgetting_readiness
from lynq_bridge.reporting import Census, ReportResult
from lynq_bridge.rollouts import HubRollout
from lynq_bridge.sync import HubResult


def node(
    name: str,
    *,
    hub: str = "tenants",
    namespace: str = "default",
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqNode",
        "metadata": {"name": name, "namespace": namespace, "labels": {"lynq.sh/hub": hub}},
        "spec": {"hubId": hub, "templateRef": "web"},
        **({"status": status} if status is not None else {}),
    }


def hub(name: str, namespace: str = "default") -> dict[str, Any]:
    return {"kind": "LynqHub", "metadata": {"name": name, "namespace": namespace}}


def conditions(**types: str | tuple[str, str]) -> list[dict[str, Any]]:
    result = []
    for kind, value in types.items():
        status, reason = value if isinstance(value, tuple) else (value, "R")
        result.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": "m.",
                "lastTransitionTime": "2030-01-01T12:00:00Z",
            }
        )
    return result


READY_NODE = {
    "desiredResources": 2,
    "readyResources": 2,
    "failedResources": 0,
    "conflictedResources": 0,
    "conditions": conditions(
        Ready="True", Progressing="False", Degraded=("False", "Healthy"), Conflicted="False"
    ),
}
FAILED_NODE = {
    "desiredResources": 3,
    "readyResources": 1,
    "failedResources": 1,
    "conflictedResources": 1,
    "conditions": conditions(
        Ready=("False", "ResourcesFailedAndConflicted"),
        Stalled="True",
        Degraded=("True", "ResourceFailuresAndConflicts"),
        Conflicted="True",
    ),
}


def families(metrics: Metrics) -> dict[str, Any]:
    """The families of a real text scrape (what ``/metrics`` serves), by name."""
    text = metrics.exposition().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def scraped(metrics: Metrics) -> dict[str, list[Sample]]:
    return {name: family.samples for name, family in families(metrics).items()}


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    found = [
        s.value
        for f in families(metrics).values()
        for s in f.samples
        if s.name == name and s.labels == labels
    ]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def reported(*nodes: dict[str, Any], hubs: tuple[dict[str, Any], ...] = ()) -> Metrics:
    metrics = Metrics()
    census = Census(nodes=tuple(nodes), hubs=hubs)
    metrics.observe_report(
        ReportResult(nodes=len(nodes), writes=0, requests=0, errors=0, census=census)
    )
    metrics.observe(
        HubResult(hub="default/tenants", rows=2, nodes=2, commit="c0ffee", rollout=rolling())
    )
    return metrics


def rolling(ready: int = 0) -> HubRollout:
    """A sync's rollout step of form web: 4 nodes, 2 updated, ``ready`` of them Ready."""
    nodes = rollout.FormNodes(
        settings=rollout.Settings("web", max_skew=2, deadline=600),
        revision="c" * 16,
        pending=["c-web", "d-web"],
        current=["a-web", "b-web"],
        ready=frozenset(["a-web", "b-web"][:ready]),
    )
    record = rollout.Record("web", "c" * 16, started=0)
    return HubRollout(decisions=[rollout.decide(nodes, record, now=1)])


def test_rollout_gauges_are_lynqs_values_of_the_last_rollout_step() -> None:
    metrics = Metrics()
    metrics.observe(HubResult(hub="default/tenants", rollout=rolling(ready=1)))
    labels = {"form": "web", "namespace": "default"}

    # One Ready frees one of two slots: 3 updated, 2 updating, 1 of 4 Ready.
    assert value(metrics, "lynqform_rollout_updating_nodes", **labels) == 2
    assert value(metrics, "lynqform_rollout_phase", **labels) == 1  # InProgress
    assert value(metrics, "lynqform_rollout_progress", **labels) == 25.0
    metrics.forget_hub("default/tenants")
    assert value(metrics, "lynqform_rollout_phase", **labels) is None


# ----------------------------------------------------------------- names, types, labels, help


def test_every_exported_lynq_metric_has_lynqs_type_labels_and_help() -> None:
    found = families(
        reported(node("acme-web", status=READY_NODE), node("beta-web", status=FAILED_NODE))
    )
    for name in sorted(EXPORTED):
        kind, labels = LYNQ_METRICS[name]
        family = found[name]
        assert family.type == kind, name
        assert family.documentation == LYNQ_HELP[name], name
        assert family.samples, f"{name} has no sample"
        for sample in family.samples:
            assert tuple(sorted(sample.labels)) == tuple(sorted(labels)), (name, sample.labels)


def test_no_omitted_lynq_metric_is_exported_under_lynqs_name() -> None:
    text = reported(node("acme-web", status=READY_NODE)).exposition().decode()
    names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    names |= {f.name for f in text_string_to_metric_families(text)}
    assert not {
        n for n in names if n.removesuffix("_total") in {o.removesuffix("_total") for o in OMITTED}
    }


# ------------------------------------------------------------------------------ values


def test_node_series_are_the_lynqnode_status_counts_and_conditions() -> None:
    metrics = reported(node("acme-web", status=READY_NODE), node("beta-web", status=FAILED_NODE))
    beta = {"lynqnode": "beta-web", "namespace": "default"}
    assert value(metrics, "lynqnode_resources_desired", **beta) == 3
    assert value(metrics, "lynqnode_resources_ready", **beta) == 1
    assert value(metrics, "lynqnode_resources_failed", **beta) == 1
    assert value(metrics, "lynqnode_resources_conflicted", **beta) == 1
    assert value(metrics, "lynqnode_condition_status", **beta, type="Ready") == 0
    assert value(metrics, "lynqnode_condition_status", **beta, type="Stalled") == 1
    acme = {"lynqnode": "acme-web", "namespace": "default"}
    assert value(metrics, "lynqnode_condition_status", **acme, type="Ready") == 1
    assert value(metrics, "lynqnode_resources_ready", **acme) == 2


def test_hub_ready_and_failed_count_ready_and_stalled_nodes_of_the_hub() -> None:
    metrics = reported(
        node("acme-web", status=READY_NODE),
        node("beta-web", status=FAILED_NODE),
        node("gamma-web", status={"conditions": conditions(Ready="False")}),
        node("other-web", hub="staging", status=READY_NODE),
        hubs=(hub("tenants"), hub("empty")),
    )
    tenants = {"hub": "tenants", "namespace": "default"}
    assert value(metrics, "hub_ready", **tenants) == 1
    assert value(metrics, "hub_failed", **tenants) == 1  # Stalled, as LynqHub status.failed
    assert value(metrics, "hub_desired", **tenants) == 2  # from the sync, not the cluster
    assert value(metrics, "hub_ready", hub="empty", namespace="default") == 0
    assert value(metrics, "hub_ready", hub="staging", namespace="default") == 1


def test_unknown_condition_status_is_2_as_in_lynq() -> None:
    metrics = reported(node("acme-web", status={"conditions": conditions(Ready="Unknown")}))
    labels = {"lynqnode": "acme-web", "namespace": "default", "type": "Ready"}
    assert value(metrics, "lynqnode_condition_status", **labels) == 2


def test_a_degraded_node_has_one_series_with_its_reason() -> None:
    metrics = reported(node("beta-web", status=FAILED_NODE))
    samples = scraped(metrics)["lynqnode_degraded_status"]
    assert [(s.labels["reason"], s.value) for s in samples] == [
        ("ResourceFailuresAndConflicts", 1.0)
    ]


def test_a_healthy_node_has_lynqs_degraded_reasons_at_zero() -> None:
    metrics = reported(node("acme-web", status=READY_NODE))
    samples = scraped(metrics)["lynqnode_degraded_status"]
    assert sorted(s.labels["reason"] for s in samples) == sorted(DEGRADED_REASONS)
    assert {s.value for s in samples} == {0.0}


@pytest.mark.parametrize(
    "status",
    [
        None,
        {"desiredResources": "3", "readyResources": True, "conditions": "Ready"},
        {"desiredResources": None, "conditions": [None, {"status": "True"}, 7]},
    ],
    ids=["no-status", "wrong-types", "malformed-conditions"],
)
def test_a_node_without_a_readable_status_counts_zero_resources(status: Any) -> None:
    metrics = reported(node("acme-web", status=status))
    labels = {"lynqnode": "acme-web", "namespace": "default"}
    for name in ("desired", "ready", "failed", "conflicted"):
        assert value(metrics, f"lynqnode_resources_{name}", **labels) == 0
    assert scraped(metrics)["lynqnode_condition_status"] == []


def test_a_duplicated_condition_type_counts_once() -> None:
    status = {"conditions": conditions(Ready="True") + conditions(Ready="False")}
    samples = scraped(reported(node("acme-web", status=status)))["lynqnode_condition_status"]
    assert [(s.labels["type"], s.value) for s in samples] == [("Ready", 1.0)]


def test_a_deleted_node_leaves_no_series() -> None:
    metrics = reported(node("acme-web", status=READY_NODE), node("beta-web", status=READY_NODE))
    census = Census(nodes=(node("acme-web", status=READY_NODE),), hubs=())
    metrics.observe_report(ReportResult(nodes=1, writes=0, requests=0, errors=0, census=census))
    names = {s.labels["lynqnode"] for s in scraped(metrics)["lynqnode_resources_ready"]}
    assert names == {"acme-web"}


def test_a_node_whose_status_changed_shows_the_new_values() -> None:
    metrics = reported(node("acme-web", status=READY_NODE))
    labels = {"lynqnode": "acme-web", "namespace": "default"}
    assert value(metrics, "lynqnode_resources_ready", **labels) == 2
    changed = Census(nodes=(node("acme-web", status=FAILED_NODE),), hubs=())
    metrics.observe_report(ReportResult(nodes=1, writes=0, requests=0, errors=0, census=changed))
    assert value(metrics, "lynqnode_resources_ready", **labels) == 1
    assert value(metrics, "hub_failed", hub="tenants", namespace="default") == 1


def test_label_values_from_the_cluster_are_escaped_in_the_exposition() -> None:
    reason = 'Bad"Reason\\with\nnewline'
    status = {"conditions": conditions(Degraded=("True", reason))}
    samples = scraped(reported(node("acme-web", status=status)))["lynqnode_degraded_status"]
    assert [s.labels["reason"] for s in samples] == [reason]


def test_every_family_is_declared_once_in_the_exposition() -> None:
    text = reported(node("acme-web", status=READY_NODE)).exposition().decode()
    declared = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(declared) == len(set(declared))
    assert set(EXPORTED) <= set(declared)


def test_a_round_before_the_nodes_are_listed_keeps_the_last_census() -> None:
    metrics = reported(node("acme-web", status=READY_NODE))
    metrics.observe_report(ReportResult(nodes=0, writes=0, requests=0, errors=1))
    assert value(metrics, "hub_ready", hub="tenants", namespace="default") == 1


def test_a_replica_that_stops_reporting_drops_the_readiness_series() -> None:
    metrics = reported(node("acme-web", status=READY_NODE))
    metrics.forget_report()
    found = scraped(metrics)
    assert "hub_ready" not in found and "lynqnode_resources_ready" not in found
    assert value(metrics, "hub_desired", hub="tenants", namespace="default") == 2


class Referenced(dict[str, Any]):
    """A node object a weak reference can follow (a plain dict cannot)."""


def test_a_replica_that_stops_reporting_keeps_no_node_objects() -> None:
    raw = Referenced(node("acme-web", status=READY_NODE))
    metrics = reported(raw)
    assert value(metrics, "hub_ready", hub="tenants", namespace="default") == 1
    followed = weakref.ref(raw)
    del raw
    metrics.forget_report()
    gc.collect()
    assert followed() is None


def test_without_a_reporter_no_readiness_series_are_exported() -> None:
    metrics = Metrics()
    metrics.observe(HubResult(hub="default/tenants", rows=1, nodes=1))
    found = scraped(metrics)
    assert "hub_ready" not in found and "lynqnode_condition_status" not in found
    assert [s.labels for s in found["hub_desired"]] == [{"hub": "tenants", "namespace": "default"}]


# ------------------------------------------------------------------- the sync's series


def test_the_first_sync_starts_every_outcome_and_trip_counter_at_zero() -> None:
    metrics = Metrics()
    metrics.observe(HubResult(hub="default/tenants", rows=1, nodes=1))
    hub_label = {"hub": "default/tenants"}
    assert value(metrics, "lynq_bridge_syncs_total", **hub_label, outcome="failed") == 0
    assert value(metrics, "lynq_bridge_syncs_total", **hub_label, outcome="ok") == 1
    assert value(metrics, "lynq_bridge_deletion_guard_trips_total", **hub_label) == 0
    assert value(metrics, "lynq_bridge_commits_total", **hub_label) == 0


def test_a_failed_sync_keeps_the_last_desired_count() -> None:
    metrics = Metrics()
    metrics.observe(HubResult(hub="default/tenants", rows=4, nodes=4))
    metrics.observe(HubResult(hub="default/tenants", failure="database unreachable"))
    assert value(metrics, "hub_desired", hub="tenants", namespace="default") == 4
    last = value(metrics, "lynq_bridge_last_sync_timestamp_seconds", hub="default/tenants")
    assert last is not None and last > 1.7e9


def test_a_replica_that_stops_syncing_a_hub_drops_its_gauges_and_keeps_counters() -> None:
    metrics = Metrics()
    metrics.observe(HubResult(hub="default/tenants", rows=4, nodes=4, commit="c0ffee"))
    metrics.forget_hub("default/tenants")
    found = scraped(metrics)
    for name in ("hub_desired", "lynq_bridge_rows_read", "lynq_bridge_render_errors"):
        assert found[name] == [], name
    assert found["lynq_bridge_last_sync_timestamp_seconds"] == []
    assert value(metrics, "lynq_bridge_commits_total", hub="default/tenants") == 1


# ------------------------------------------------------------------- the PromQL tokenizer


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("sum(hub_desired)", {"hub_desired"}),
        ('lynqnode_condition_status{type="Ready"} == 0', {"lynqnode_condition_status"}),
        (
            'histogram_quantile(0.95, sum by (le, hub) (rate(x_bucket{hub=~"$ns/$hub"}[5m])))',
            {"x_bucket"},
        ),
        ("max(a) by (lynqnode, namespace) > 0 or vector(0)", {"a"}),
        ("time() - max by (hub) (b_seconds) > 3e2", {"b_seconds"}),
        ("a / on (hub) group_left (x) b offset 1h", {"a", "b"}),
        ('count(c{reason!~"x|y"}) without (pod) unless d', {"c", "d"}),
        ("increase(e_total[$__rate_interval]) > bool 0", {"e_total"}),
    ],
)
def test_metric_names_reads_only_the_metrics_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_the_catalogue_splits_lynqs_metrics_into_exported_and_omitted() -> None:
    assert len(LYNQ_METRICS) == 15  # metrics.go registers 15
    assert set(LYNQ_METRICS) == EXPORTED | OMITTED
    assert not EXPORTED & OMITTED


# ------------------------------------------------------------ the reporter's Lease


class FlippingKeeper:
    """Our lease keeper's ``holds``: True until ``lose`` is set."""

    def __init__(self) -> None:
        self.lose = threading.Event()

    def holds(self, key: str) -> bool:
        return not self.lose.is_set()


def test_a_replica_that_loses_the_reporters_lease_drops_the_readiness_series() -> None:
    metrics = Metrics()
    keeper = FlippingKeeper()
    watching = threading.Event()

    def watch(own: threading.Event) -> None:  # the watching reporter, reduced to its results
        census = Census(nodes=(node("acme-web", status=READY_NODE),), hubs=())
        metrics.observe_report(ReportResult(nodes=1, writes=0, requests=0, errors=0, census=census))
        watching.set()
        own.wait(10)

    stop = threading.Event()
    thread = threading.Thread(
        target=run_while_held,
        args=(keeper, REPORTER, forgetting_readiness(metrics, watch), stop),
        kwargs={"poll_seconds": 0.01},
    )
    thread.start()
    try:
        assert watching.wait(10)
        assert value(metrics, "hub_ready", hub="tenants", namespace="default") == 1
        keeper.lose.set()
        deadline = time.monotonic() + 10
        while value(metrics, "hub_ready", hub="tenants", namespace="default") is not None:
            assert time.monotonic() < deadline, "the readiness series stayed"
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(10)
    assert "lynqnode_resources_ready" not in scraped(metrics)


# ------------------------------------------------------------- the shipped examples


def test_the_alert_rules_file_is_a_prometheus_rule_with_complete_rules() -> None:
    document = yaml.safe_load((MONITORING / "prometheus-alerts.yaml").read_text())
    assert (document["apiVersion"], document["kind"]) == (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
    )
    groups = document["spec"]["groups"]
    assert set(document["spec"]) == {"groups"} and groups
    alerts = []
    for group in groups:
        assert set(group) <= {"name", "interval", "rules"} and group["rules"], group.get("name")
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert isinstance(rule["alert"], str) and isinstance(rule["expr"], str), rule
            assert metric_names(rule["expr"]), rule["alert"]
            assert re.fullmatch(r"[0-9]+[smh]", rule.get("for", "0s")), rule["alert"]
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
            alerts.append(rule["alert"])
    assert len(alerts) == len(set(alerts))


def test_the_dashboard_and_alert_rules_read_only_metrics_the_exposition_declares() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    rules = yaml.safe_load((MONITORING / "prometheus-alerts.yaml").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]
    metrics = reported(node("acme-web", status=READY_NODE))
    text = metrics.exposition().decode()
    declared = scraped_names(text_string_to_metric_families(text))
    read = {name for expr in exprs for name in metric_names(expr)}
    assert read - declared == set()
    assert {"hub_desired", "hub_ready", "lynqnode_condition_status"} <= read


def test_docs_name_every_lynq_metric_the_bridge_omits() -> None:
    docs = (ROOT / "docs" / "lynq.md").read_text()
    section = docs.split("## Metrics and dashboards", 1)[1].split("\n## ", 1)[0]
    for name in sorted(OMITTED):
        assert f"`{name}`" in section, name


def test_a_watch_round_has_a_census_only_once_the_nodes_are_listed() -> None:
    from test_watch_cache import NODE, _watcher  # the watcher with fakes of our ClusterClient

    watcher, _ = _watcher()
    assert watcher.round().census is None  # an empty cache is not "no nodes"
    watcher.on_list(watcher.node_informer, [dict(NODE)])
    watcher.on_list(watcher.hub_informer, [hub("tenants", "t1")])
    census = watcher.round().census
    assert census is not None
    assert [n["metadata"]["name"] for n in census.nodes] == ["acme-web"]
    assert [h["metadata"]["name"] for h in census.hubs] == ["tenants"]
