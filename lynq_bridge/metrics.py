"""Prometheus metrics, with Lynq's names where the meaning is the same (``hub_desired``, …).

Kept in one registry object rather than the global default so tests and several daemons in
one process do not share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from lynq_bridge.reporter import ReportResult
from lynq_bridge.sync import HubResult


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.hub_desired = Gauge("hub_desired", "Nodes rendered for the hub.", ["hub"], registry=r)
        self.rows_read = Gauge(
            "lynq_bridge_rows_read", "Rows read by the last sync.", ["hub"], registry=r
        )
        self.render_errors = Gauge(
            "lynq_bridge_render_errors",
            "Row and resource render errors of the last sync.",
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

    def observe_report(self, result: ReportResult) -> None:
        self.report_nodes.set(result.nodes)
        self.report_writes.inc(result.writes)
        self.report_errors.inc(result.errors)
        self.report_seconds.observe(result.seconds)

    def observe(self, result: HubResult) -> None:
        hub = result.hub
        self.sync_seconds.labels(hub).observe(result.seconds)
        if result.failure:
            self.syncs.labels(hub, "failed").inc()
            return
        self.syncs.labels(hub, "errors" if result.errors else "ok").inc()
        self.rows_read.labels(hub).set(result.rows)
        self.render_errors.labels(hub).set(len(result.errors))
        self.hub_desired.labels(hub).set(result.nodes)
        if result.commit:
            self.commits.labels(hub).inc()
        if result.held:
            self.guard_trips.labels(hub).inc()
        for notification in result.notifications:
            self.notifications.labels(
                hub, notification.recipient.engine, notification.outcome
            ).inc()
