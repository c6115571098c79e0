"""Prometheus metrics: Lynq's names, types, help and labels where the meaning is the same, so
Lynq's Grafana dashboard and alert rules keep working, plus the bridge's own ``lynq_bridge_*``.

Kept in one registry object rather than the global default so tests and several daemons in
one process do not share counters. Which part of the daemon knows what:

- the sync (on the replica holding the hub's Lease) knows the desired nodes: ``hub_desired``
  and the ``lynq_bridge_*`` sync series, labelled ``hub`` = ``namespace/name`` as in the logs;
- the status reporter (on the replica holding the reporter's Lease, with
  ``spec.report.enabled``) knows readiness: ``hub_ready``, ``hub_failed`` and the per-node
  ``lynqnode_*`` series, computed at scrape time from the LynqNode statuses it keeps in its
  cache (the same statuses it writes, so ``kubectl get lynqnodes`` and the metrics agree).

A replica that stops holding a Lease drops the gauges it no longer keeps current, so summing
over replicas never counts a hub twice. The sync also knows a form's progressive rollout
(``maxSkew``): Lynq's ``lynqform_rollout_*`` gauges, set whenever a sync steps a rollout and
kept at their last values while the hub is settled. Lynq metrics the bridge has no meaning for
(reconcile durations, apply attempts, conflict counters) are not exported; docs/lynq.md lists
them and why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from lynq_bridge.core import rollout
from lynq_bridge.reporting import Census, Judged, Reporter, ReportResult
from lynq_bridge.sync import HubResult

# Lynq's help strings (internal/metrics/metrics.go): dashboards and alert rules match names
# and labels; the help is kept identical too, so a scrape reads the same.
HUB_DESIRED_HELP = "Number of desired LynqNodes from the hub data source"
HUB_READY_HELP = "Number of ready LynqNodes for a hub"
HUB_FAILED_HELP = "Number of failed LynqNodes for a hub"
NODE_GAUGES = (  # (metric, LynqNode status field, help)
    (
        "lynqnode_resources_desired",
        "desiredResources",
        "Total number of desired resources for a LynqNode",
    ),
    ("lynqnode_resources_ready", "readyResources", "Number of ready resources for a LynqNode"),
    ("lynqnode_resources_failed", "failedResources", "Number of failed resources for a LynqNode"),
    (
        "lynqnode_resources_conflicted",
        "conflictedResources",
        "Number of resources currently in conflict state for a LynqNode",
    ),
)
CONDITION_HELP = "Status of LynqNode conditions (0=False, 1=True, 2=Unknown)"
DEGRADED_HELP = "Indicates if a LynqNode is in degraded state (1=degraded, 0=not degraded)"
# The reasons Lynq resets to 0 when a node is not degraded (internal/status/manager.go).
DEGRADED_REASONS = (
    "ResourceFailures",
    "ResourceConflicts",
    "ResourceFailuresAndConflicts",
    "ResourcesNotReady",
    "TemplateRenderError",
    "DependencyCycle",
    "VariablesBuildError",
)
CONDITION_VALUES = {"True": 1.0, "False": 0.0}  # anything else is Unknown: 2, as in Lynq
OUTCOMES = ("ok", "errors", "failed")
ROLLOUT_UPDATING_HELP = (
    "Number of nodes currently being updated for a LynqForm (updated but not Ready yet)"
)
ROLLOUT_PHASE_HELP = (
    "Current rollout phase for a LynqForm (0=Idle, 1=InProgress, 2=Failed, 3=Complete)"
)
ROLLOUT_PROGRESS_HELP = (
    "Rollout progress percentage for a LynqForm (readyUpdatedNodes/totalNodes * 100)"
)


def split_hub(key: str) -> tuple[str, str]:
    """``namespace/name`` -> (name, namespace), the order of Lynq's ``hub``/``namespace``."""
    namespace, _, name = key.partition("/")
    return name, namespace


def _count(status: Mapping[str, Any], field: str) -> float:
    value = status.get(field)
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else 0.0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


CONDITION_METRIC, DEGRADED_METRIC = "lynqnode_condition_status", "lynqnode_degraded_status"
FAMILIES = (  # the per-node families (name, help), in the order of NodeSeries.lines
    *((name, text) for name, _, text in NODE_GAUGES),
    (CONDITION_METRIC, CONDITION_HELP),
    (DEGRADED_METRIC, DEGRADED_HELP),
)


def _label(value: str) -> str:
    """A label value escaped for the text format (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, labels: Mapping[str, str], value: float) -> str:
    pairs = ",".join(f'{key}="{_label(text)}"' for key, text in labels.items())
    return f"{name}{{{pairs}}} {float(value)!r}\n"


@dataclass(frozen=True)
class NodeSeries:
    """One LynqNode's part of the readiness metrics: its hub's counts and its text lines."""

    key: tuple[str, str]  # (namespace, name)
    hub: str
    ready: bool
    failed: bool
    lines: tuple[tuple[str, ...], ...]  # per family of FAMILIES


def node_series(raw: Mapping[str, Any]) -> NodeSeries:
    """The series of one listed LynqNode, as Lynq's status manager sets them: the four
    resource counts, one ``lynqnode_condition_status`` per condition type, and
    ``lynqnode_degraded_status`` (1 for the current reason, or 0 for each of Lynq's reasons
    when the node is not degraded). Its hub's ready/failed by the rule of the hub roll-up."""
    meta = _mapping(raw.get("metadata"))
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    node = {"lynqnode": name, "namespace": namespace}
    status = _mapping(raw.get("status"))
    lines: list[tuple[str, ...]] = [
        (_line(family, node, _count(status, field)),) for family, field, _ in NODE_GAUGES
    ]
    conditions, degraded_reason = [], None
    for condition in _conditions(status):
        kind, value = str(condition.get("type")), condition.get("status")
        labels = {**node, "type": kind}
        conditions.append(_line(CONDITION_METRIC, labels, CONDITION_VALUES.get(str(value), 2.0)))
        if kind == "Degraded" and value == "True":
            degraded_reason = str(condition.get("reason") or "Unknown")
    lines.append(tuple(conditions))
    if degraded_reason is not None:
        lines.append((_line(DEGRADED_METRIC, {**node, "reason": degraded_reason}, 1.0),))
    else:
        zeros = (_line(DEGRADED_METRIC, {**node, "reason": r}, 0.0) for r in DEGRADED_REASONS)
        lines.append(tuple(zeros))
    summary = Reporter.summary(Judged(raw, None))  # the roll-up's reading of the status
    return NodeSeries((namespace, name), summary.hub, summary.ready, summary.failed, tuple(lines))


def _conditions(status: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """The conditions with a type, once per type (the first wins, as Lynq's lookup does)."""
    seen: set[str] = set()
    items = status.get("conditions")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and item.get("type") and str(item["type"]) not in seen:
            seen.add(str(item["type"]))
            yield item


def _header(name: str, text: str) -> str:
    return f"# HELP {name} {text}\n# TYPE {name} gauge\n"


def readiness_text(census: Census, series: Iterable[NodeSeries]) -> str:
    """The text exposition of Lynq's readiness metrics: ``hub_ready`` and ``hub_failed`` for
    every LynqHub listed and every hub a node names, then the per-node families."""
    nodes = sorted(series, key=lambda s: s.key)
    hubs: dict[tuple[str, str], list[int]] = {}  # (namespace, name) -> [ready, failed]
    for raw in census.hubs:
        meta = _mapping(raw.get("metadata"))
        hubs[(str(meta.get("namespace", "")), str(meta.get("name", "")))] = [0, 0]
    for node in nodes:
        if node.hub:
            counts = hubs.setdefault((node.key[0], node.hub), [0, 0])
            counts[0] += node.ready
            counts[1] += node.failed
    parts = []
    for index, (name, text) in enumerate(
        [("hub_ready", HUB_READY_HELP), ("hub_failed", HUB_FAILED_HELP)]
    ):
        parts.append(_header(name, text))
        parts += [
            _line(name, {"hub": hub, "namespace": namespace}, counts[index])
            for (namespace, hub), counts in sorted(hubs.items())
        ]
    for index, (name, text) in enumerate(FAMILIES):
        parts.append(_header(name, text))
        parts += [line for node in nodes for line in node.lines[index]]
    return "".join(parts)


class Readiness:
    """The readiness part of ``/metrics``: the latest census, rendered when scraped.

    A census holds references to the reporter's cached objects, which are replaced, never
    changed, when a node changes: a node's series are computed once per object and kept, so
    a scrape after a round that changed a few nodes of thousands costs a join, not a render.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._census: Census | None = None
        self._text = ""
        self._rendered: Census | None = None
        self._memo: dict[int, tuple[Mapping[str, Any], NodeSeries]] = {}

    def update(self, census: Census | None) -> None:
        """Show ``census`` from the next scrape on; ``None``: no readiness series at all."""
        with self._lock:
            self._census = census
            if census is None:
                self._memo, self._text, self._rendered = {}, "", None

    def text(self) -> str:
        with self._lock:
            census = self._census
            if census is None:
                return ""
            if self._rendered is not census:
                memo: dict[int, tuple[Mapping[str, Any], NodeSeries]] = {}
                for raw in census.nodes:
                    # The memo holds its objects, so no other live object can have their ids.
                    memo[id(raw)] = self._memo.get(id(raw)) or (raw, node_series(raw))
                self._memo = memo
                self._text = readiness_text(census, (s for _, s in memo.values()))
                self._rendered = census
            return self._text


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.hub_desired = Gauge("hub_desired", HUB_DESIRED_HELP, ["hub", "namespace"], registry=r)
        form_labels = ["form", "namespace"]  # Lynq's
        self.rollout_updating = Gauge(
            "lynqform_rollout_updating_nodes", ROLLOUT_UPDATING_HELP, form_labels, registry=r
        )
        self.rollout_phase = Gauge(
            "lynqform_rollout_phase", ROLLOUT_PHASE_HELP, form_labels, registry=r
        )
        self.rollout_progress = Gauge(
            "lynqform_rollout_progress", ROLLOUT_PROGRESS_HELP, form_labels, registry=r
        )
        self._rolling: dict[str, set[tuple[str, str]]] = {}  # hub -> (form, namespace) shown
        self.readiness = Readiness()  # not in the registry: rendered by ``exposition``
        self.rows_read = Gauge(
            "lynq_bridge_rows_read", "Rows read by the last sync.", ["hub"], registry=r
        )
        self.render_errors = Gauge(
            "lynq_bridge_render_errors",
            "Row and resource render errors of the last sync.",
            ["hub"],
            registry=r,
        )
        self.last_sync = Gauge(
            "lynq_bridge_last_sync_timestamp_seconds",
            "Unix time at which the last sync of the hub that did not fail ended.",
            ["hub"],
            registry=r,
        )
        self.sync_seconds = Histogram(
            "lynq_bridge_sync_duration_seconds",
            "Duration of one hub sync.",
            ["hub"],
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.syncs = Counter(
            "lynq_bridge_syncs_total", "Hub syncs by outcome.", ["hub", "outcome"], registry=r
        )
        self.commits = Counter("lynq_bridge_commits_total", "Commits pushed.", ["hub"], registry=r)
        self.guard_trips = Counter(
            "lynq_bridge_deletion_guard_trips_total",
            "Syncs whose removals the deletion guard held.",
            ["hub"],
            registry=r,
        )
        self.notifications = Counter(
            "lynq_bridge_notifications_total",
            "Objects annotated after a push to ask an engine to fetch, by outcome (ok, missing: "
            "a node's Application not created yet, failed, skipped after a failure).",
            ["hub", "engine", "outcome"],
            registry=r,
        )

        self.report_nodes = Gauge(
            "lynq_bridge_report_nodes", "LynqNodes seen by the last status pass.", registry=r
        )
        self.report_writes = Counter(
            "lynq_bridge_report_status_writes_total", "LynqNode status patches.", registry=r
        )
        self.report_errors = Counter(
            "lynq_bridge_report_errors_total", "API errors during status passes.", registry=r
        )
        self.report_seconds = Histogram(
            "lynq_bridge_report_duration_seconds",
            "Duration of one status pass.",
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self._seen: set[str] = set()  # hubs whose counters are initialised

    def exposition(self) -> bytes:
        """The body of ``/metrics`` (Prometheus text format): the registry, then readiness.

        Readiness is rendered here rather than through a registry collector: Lynq's per-node
        series are about a dozen per node, and prometheus_client formats a sample in tens of
        microseconds, which for thousands of nodes made a scrape take seconds."""
        return generate_latest(self.registry) + self.readiness.text().encode()

    def observe_report(self, result: ReportResult) -> None:
        self.report_nodes.set(result.nodes)
        self.report_writes.inc(result.writes)
        self.report_errors.inc(result.errors)
        self.report_seconds.observe(result.seconds)
        if result.census is not None:  # None: the LynqNodes are not listed yet; keep the last
            self.readiness.update(result.census)

    def forget_report(self) -> None:
        """This replica stopped running the status reporter: its readiness series go."""
        self.readiness.update(None)
        self.report_nodes.set(0)

    def observe(self, result: HubResult) -> None:
        hub = result.hub
        if hub not in self._seen:
            # Counters start at 0, so increase() and rate() see the first failure or guard trip.
            self._seen.add(hub)
            for outcome in OUTCOMES:
                self.syncs.labels(hub, outcome)
            self.commits.labels(hub)
            self.guard_trips.labels(hub)
        self.sync_seconds.labels(hub).observe(result.seconds)
        if result.failure:
            self.syncs.labels(hub, "failed").inc()
            return
        self.syncs.labels(hub, "errors" if result.errors else "ok").inc()
        self.rows_read.labels(hub).set(result.rows)
        self.render_errors.labels(hub).set(len(result.errors))
        self.hub_desired.labels(*split_hub(hub)).set(result.nodes)
        self.last_sync.labels(hub).set_to_current_time()
        if result.commit:
            self.commits.labels(hub).inc()
        if result.held:
            self.guard_trips.labels(hub).inc()
        if result.rollout is not None:
            _, namespace = split_hub(hub)
            for decision in result.rollout.decisions:
                labels = (decision.form, namespace)
                self._rolling.setdefault(hub, set()).add(labels)
                self.rollout_updating.labels(*labels).set(decision.status["updatingNodes"])
                self.rollout_phase.labels(*labels).set(rollout.PHASE_VALUES[decision.phase])
                self.rollout_progress.labels(*labels).set(rollout.progress_percent(decision.status))
        for notification in result.notifications:
            self.notifications.labels(
                hub, notification.recipient.engine, notification.outcome
            ).inc()

    def forget_hub(self, hub: str) -> None:
        """This replica does not sync ``hub`` (another holds its Lease): drop its gauges, which
        would otherwise stay at this replica's last values beside the holder's."""
        self.hub_desired.remove(*split_hub(hub))
        for labels in self._rolling.pop(hub, set()):
            for rollout_gauge in (self.rollout_updating, self.rollout_phase, self.rollout_progress):
                rollout_gauge.remove(*labels)
        for gauge in (self.rows_read, self.render_errors, self.last_sync):
            gauge.remove(hub)


def forgetting_readiness(
    metrics: Metrics, watch: Callable[[threading.Event], None]
) -> Callable[[threading.Event], None]:
    """``watch`` for ``leases.run_while_held``: when it returns (this replica lost the
    reporter's Lease), the readiness series go; the new holder exports them."""

    def run(own: threading.Event) -> None:
        try:
            watch(own)
        finally:
            metrics.forget_report()

    return run
