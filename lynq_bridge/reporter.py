"""The status reporter's entry points: one pass (``report_once``) or watching (``watch``).

``report_once`` (``lynq-bridge report``) is one straight-line pass with a fresh connection:
list LynqNodes, list each (kind, namespace) their inventories name, compute, patch what
changed, roll up (``lynq_bridge.reporting``). ``watch`` (the daemon, when
``spec.report.enabled``) lists once and then follows watches (``lynq_bridge.watcher``): a
child's status change reaches its LynqNode in well under a second, and an idle cluster costs
no requests beyond the open watches.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from lynq_bridge.adapters.cluster import ClusterClient
from lynq_bridge.core.watching import backoff_seconds
from lynq_bridge.errors import ClusterUnavailable
from lynq_bridge.reporting import (
    WRITE_WORKERS,
    Clock,
    Reporter,
    ReportResult,
    StatusSink,
    utc_now,
)
from lynq_bridge.watcher import RESYNC_SECONDS, StatusWatcher

__all__ = ["WRITE_WORKERS", "Clock", "ReportResult", "Reporter", "report_once", "watch"]

log = logging.getLogger(__name__)


def report_once(
    *,
    kubeconfig: str | None,
    namespace: str | None,
    now: Clock | None = None,
    status_tables: StatusSink | None = None,
) -> ReportResult:
    """One status pass with a fresh connection (``lynq-bridge report``).

    ``kubeconfig`` None means in-cluster, then ``KUBECONFIG``, then ``~/.kube/config``;
    ``namespace`` None means all namespaces. Raises ``ClusterUnavailable`` when the cluster
    cannot be reached or the LynqNodes cannot be listed; everything else is in the result.
    """
    with ClusterClient(kubeconfig) as client:
        return Reporter(client, status_tables=status_tables).run(namespace=namespace, now=now)


def watch(
    *,
    kubeconfig: str | None,
    namespace: str | None,
    interval_seconds: float,
    stop: threading.Event,
    now: Clock | None = None,
    on_result: Callable[[ReportResult], None] | None = None,
    resync_seconds: float = RESYNC_SECONDS,
    status_tables: StatusSink | None = None,
) -> None:
    """Keep LynqNode status current from watches until ``stop`` is set (then return within
    about a second); never raises for cluster errors.

    ``interval_seconds`` (``spec.report.interval``) no longer paces passes: it caps the
    backoff between retries of a failing list or watch, as the pass interval used to.
    ``resync_seconds`` is the period of a recomputation of every node from the cache (no
    requests). ``on_result`` gets one ``ReportResult`` per round of recomputation.
    """
    failures = 0
    while not stop.is_set():
        try:
            client = ClusterClient(kubeconfig)
        except ClusterUnavailable as exc:
            log.error("status reporter cannot connect: %s", exc)
            failures += 1
            stop.wait(backoff_seconds(failures, cap=interval_seconds))
            continue
        try:
            watcher = StatusWatcher(
                client,
                namespace=namespace,
                now=now or utc_now,
                retry_cap=interval_seconds,
                resync_seconds=resync_seconds,
                on_result=on_result,
                status_tables=status_tables,
            )
            watcher.run(stop)
        finally:
            client.close()
