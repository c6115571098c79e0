"""The daemon's metrics without a cluster: a real ``lynq-bridge run`` scraped over HTTP, and the
gauges a replica drops when another holds the hub's Lease.

Real SQLite and a real bare remote. Without ``spec.report.enabled`` the bridge knows the
desired nodes but not their readiness: ``hub_desired`` is there, ``hub_ready`` and the
``lynqnode_*`` series are absent rather than zero. With the reporter and the API server:
tests/integration/cluster/test_metrics_scrape.py.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from bridge_harness import Bridge, SqliteDatabase, free_port, get
from lynq_metrics import MONITORING, metric_names, scraped_names
from prometheus_client.parser import text_string_to_metric_families

from lynq_bridge.config.loading import load_config
from lynq_bridge.daemon import Daemon


class FakeKeeper:
    """Our lease keeper's interface: ``holds`` answers from ``held``; with ``lose_during_sync``
    the next sync loses the hub's Lease while it runs."""

    def __init__(self, *held: str) -> None:
        self.held = set(held)
        self.lose_during_sync = False

    def holds(self, key: str) -> bool:
        return key in self.held

    @contextlib.contextmanager
    def syncing(self, key: str) -> Iterator[None]:
        if self.lose_during_sync:
            self.held.discard(key)
        yield


def tenants_bridge(tmp_path: Path, sqlite_database: Path, create_tenants: Any) -> Bridge:
    db = SqliteDatabase(sqlite_database)
    rows = [{"tenant_id": t, "active": "1"} for t in ("acme", "beta", "gamma")]
    create_tenants(db, [*rows, {"tenant_id": "gone", "active": "0"}])
    bridge = Bridge(tmp_path, db)
    hub = bridge.load_config_document("hub.yaml")
    hub["spec"]["source"]["syncInterval"] = "1s"
    bridge.write("hub.yaml", hub)
    return bridge


def scrape(url: str) -> dict[str, Any]:
    status, text = get(url)
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(text)}


def bridge_expressions() -> list[str]:
    """The dashboard's and the alert rules' expressions that read the bridge's own metrics."""
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    rules = yaml.safe_load((MONITORING / "prometheus-alerts.yaml").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]
    return [e for e in exprs if "lynq_bridge_" in e]


def test_a_daemon_without_the_reporter_exports_desired_nodes_and_its_own_metrics(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> None:
    bridge = tenants_bridge(tmp_path, sqlite_database, create_tenants)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    command = [sys.executable, "-m", "lynq_bridge", "run", "--config", str(bridge.config)]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        families: dict[str, Any] = {}
        while time.monotonic() < deadline and not families:
            with contextlib.suppress(OSError):
                found = scrape(url)
                if found["hub_desired"].samples:
                    families = found
            time.sleep(0.2)
        assert families, "no hub_desired within 30 s"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    [desired] = families["hub_desired"].samples
    assert desired.labels == {"hub": "tenants", "namespace": "default"}
    assert desired.value == 3 == len(bridge.nodes())  # the active rows
    assert "hub_ready" not in families and "lynqnode_resources_ready" not in families
    names = scraped_names(families.values())
    read = {n for e in bridge_expressions() for n in metric_names(e)}
    assert read, "no expression reads a lynq_bridge_ metric"
    assert read - names == set()


def test_a_replica_drops_a_hubs_gauges_when_another_holds_its_lease(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> None:
    bridge = tenants_bridge(tmp_path, sqlite_database, create_tenants)
    daemon = Daemon(load_config(bridge.config))
    keeper = FakeKeeper("default/tenants")
    daemon.leases = keeper  # type: ignore[assignment]
    registry = daemon.metrics.registry
    hub = {"hub": "tenants", "namespace": "default"}
    try:
        daemon._sync(daemon.syncer.compiled.config.hubs[0])
        held = registry.get_sample_value("hub_desired", hub)
        keeper.held.clear()  # another replica took the Lease
        daemon._sync(daemon.syncer.compiled.config.hubs[0])
    finally:
        daemon.close()
    assert held == 3
    assert registry.get_sample_value("hub_desired", hub) is None
    rows = registry.get_sample_value("lynq_bridge_rows_read", {"hub": "default/tenants"})
    assert rows is None
    commits = registry.get_sample_value("lynq_bridge_commits_total", {"hub": "default/tenants"})
    assert commits == 1  # counters stay: rate() over replicas adds them up


def test_a_replica_that_loses_the_lease_during_a_sync_drops_the_hubs_gauges(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> None:
    bridge = tenants_bridge(tmp_path, sqlite_database, create_tenants)
    daemon = Daemon(load_config(bridge.config))
    keeper = FakeKeeper("default/tenants")
    daemon.leases = keeper  # type: ignore[assignment]
    daemon.syncer.may_push = lambda hub: keeper.holds("default/tenants")
    hub = {"hub": "tenants", "namespace": "default"}
    try:
        daemon._sync(daemon.syncer.compiled.config.hubs[0])
        held = daemon.metrics.registry.get_sample_value("hub_desired", hub)
        keeper.lose_during_sync = True
        daemon._sync(daemon.syncer.compiled.config.hubs[0])
    finally:
        daemon.close()
    assert held == 3
    assert daemon.metrics.registry.get_sample_value("hub_desired", hub) is None
