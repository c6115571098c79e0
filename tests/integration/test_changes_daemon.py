"""The daemon syncs a hub when its rows change, not only on its syncInterval.

A real ``Daemon`` over a SQLite file and a bare Git remote, with ``syncInterval: 1h``: only the
change feed can make the second commit appear within seconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from bridge_harness import Bridge, SqliteDatabase

from lynq_bridge.config.loading import load_config
from lynq_bridge.daemon import Daemon

DEPLOYMENT = "lynq/default/tenants/acme-web/deployment_default_acme-app.yaml"


def wait_for(predicate: Any, seconds: float) -> float:
    """Seconds until ``predicate()`` held; AssertionError after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {seconds} s")


def test_an_update_is_pushed_within_seconds_although_sync_interval_is_an_hour(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> None:
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": "acme", "active": "1", "plan": "basic"}])
    bridge = Bridge(tmp_path, db)
    hub = bridge.load_config_document("hub.yaml")
    hub["spec"]["source"]["syncInterval"] = "1h"
    bridge.write("hub.yaml", hub)
    daemon = Daemon(load_config(bridge.config))
    thread = threading.Thread(target=daemon.run, name="daemon under test")
    thread.start()
    try:
        wait_for(lambda: daemon.ready, 30)
        first = bridge.head()
        assert first is not None
        db.execute("UPDATE tenants SET plan = 'gold' WHERE tenant_id = 'acme'")
        took = wait_for(lambda: bridge.head() != first, 3)
        assert "gold" in bridge.show(
            "lynq/default/tenants/acme-web/deployment_default_acme-app.yaml"
        )
        assert took < 3
        second = bridge.head()
        time.sleep(1.5)  # nothing changed: no further commit
        assert bridge.head() == second
        # A change that lands while a sync runs is synced right after it, not an hour later.
        db.execute("UPDATE tenants SET plan = 'silver' WHERE tenant_id = 'acme'")
        time.sleep(0.15)  # the feed noticed (50 ms) and the sync of "silver" is running
        db.execute("UPDATE tenants SET plan = 'platinum' WHERE tenant_id = 'acme'")
        wait_for(lambda: "platinum" in bridge.show(DEPLOYMENT), 3)
    finally:
        daemon.stop.set()
        thread.join(15)
        daemon.close()
    assert not thread.is_alive()
