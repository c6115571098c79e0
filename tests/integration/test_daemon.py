"""``lynq-bridge run`` as a real process: schedule, endpoints, clean SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bridge_harness import Bridge, SqliteDatabase, free_port, get


def wait_for(predicate: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def daemon_bridge(tmp_path: Path, sqlite_database: Path, create_tenants: Any) -> Bridge:
    """A bridge over one active tenant whose hub syncs every second."""
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": "acme", "active": "1"}])
    bridge = Bridge(tmp_path, db)
    hub = bridge.load_config_document("hub.yaml")
    hub["spec"]["source"]["syncInterval"] = "1s"
    bridge.write("hub.yaml", hub)
    return bridge


def start_daemon(bridge: Bridge, port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "lynq_bridge", "run", "--config", str(bridge.config)]
    return subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_daemon_syncs_on_interval_serves_endpoints_and_stops_on_sigterm(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> None:
    bridge = daemon_bridge(tmp_path, sqlite_database, create_tenants)
    db = SqliteDatabase(sqlite_database)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_daemon(bridge, port)
    try:
        wait_for(lambda: get(f"{base}/readyz")[0] == 200)
        assert get(f"{base}/healthz") == (200, "ok\n")
        assert bridge.nodes() == ["acme-web"]
        db.execute("INSERT INTO tenants (tenant_id, active) VALUES ('beta', '1')")
        wait_for(lambda: bridge.nodes() == ["acme-web", "beta-web"], seconds=10)
        # Metrics are updated right after the push returns: wait for them too.
        desired = 'hub_desired{hub="tenants",namespace="default"} 2.0'  # Lynq's labels
        wait_for(lambda: desired in get(f"{base}/metrics")[1])
        status, metrics = get(f"{base}/metrics")
        assert status == 200
        assert 'lynq_bridge_commits_total{hub="default/tenants"} 2.0' in metrics
        assert get(f"{base}/nope")[0] == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate()
    assert "received SIGTERM" in err
    assert "synced hub default/tenants" in err


def test_daemon_keeps_running_when_a_hub_fails(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> None:
    bridge = daemon_bridge(tmp_path, sqlite_database, create_tenants)
    hub = bridge.load_config_document("hub.yaml")
    hub["spec"]["source"]["sqlite"]["path"] = str(tmp_path / "missing.db")
    bridge.write("hub.yaml", hub)
    port = free_port()
    process = start_daemon(bridge, port)
    try:
        wait_for(lambda: 'outcome="failed"} 3.0' in get(f"http://127.0.0.1:{port}/metrics")[1])
        assert process.poll() is None
        assert bridge.head() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
