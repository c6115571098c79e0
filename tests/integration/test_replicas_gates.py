"""The two places a replica checks its hub Lease: before a hub sync and right before the push.

Real SQLite and a real bare remote; the lease keeper is replaced by a fake of our own interface
(``holds``/``syncing``), so these run without a cluster. The keeper itself is tested against
the API server in tests/integration/cluster/test_replicas_leases.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bridge_harness import Bridge, SqliteDatabase

from lynq_bridge.config.loading import load_config
from lynq_bridge.daemon import Daemon
from lynq_bridge.sync import Syncer


class FakeKeeper:
    """``holds`` answers from ``held``; ``lose_during_sync`` drops the hub while it syncs."""

    def __init__(self, *held: str, lose_during_sync: bool = False) -> None:
        self.held = set(held)
        self.lose_during_sync = lose_during_sync
        self.synced: list[str] = []

    def holds(self, key: str) -> bool:
        return key in self.held

    @contextlib.contextmanager
    def syncing(self, key: str) -> Iterator[None]:
        self.synced.append(key)
        if self.lose_during_sync:
            self.held.discard(key)
        yield


@pytest.fixture
def bridge(tmp_path: Path, sqlite_database: Path, create_tenants: Any) -> Bridge:
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": "acme", "active": "1"}])
    return Bridge(tmp_path, db)


def test_a_replica_that_lost_the_lease_before_the_push_pushes_nothing(bridge: Bridge) -> None:
    syncer = Syncer(load_config(bridge.config))
    asked: list[str] = []

    def may_push(hub: Any) -> bool:
        asked.append(hub.metadata.name)
        return False

    syncer.may_push = may_push
    try:
        result = syncer.sync_hub(syncer.compiled.config.hubs[0])
    finally:
        syncer.close()
    assert asked == ["tenants"]
    assert result.failure is not None and "lost the hub's Lease before the push" in result.failure
    assert result.commit is None
    assert bridge.head() is None


def test_a_replica_that_holds_the_lease_pushes(bridge: Bridge) -> None:
    syncer = Syncer(load_config(bridge.config))
    syncer.may_push = lambda hub: True
    try:
        result = syncer.sync_hub(syncer.compiled.config.hubs[0])
    finally:
        syncer.close()
    assert result.failure is None and result.commit == bridge.head()


def test_the_daemon_skips_a_hub_whose_lease_another_replica_holds(bridge: Bridge) -> None:
    daemon = Daemon(load_config(bridge.config))
    keeper = FakeKeeper()
    daemon.leases = keeper  # type: ignore[assignment]
    try:
        daemon._sync(daemon.syncer.compiled.config.hubs[0])
    finally:
        daemon.close()
    assert keeper.synced == []
    assert bridge.head() is None


def test_the_daemon_syncs_a_hub_whose_lease_it_holds(bridge: Bridge) -> None:
    daemon = Daemon(load_config(bridge.config))
    keeper = FakeKeeper("default/tenants")
    daemon.leases = keeper  # type: ignore[assignment]
    try:
        daemon._sync(daemon.syncer.compiled.config.hubs[0])
    finally:
        daemon.close()
    assert keeper.synced == ["default/tenants"]
    assert bridge.nodes() == ["acme-web"]


def test_a_sync_that_lost_its_lease_is_not_a_failure_of_this_replica(bridge: Bridge) -> None:
    daemon = Daemon(load_config(bridge.config))
    keeper = FakeKeeper("default/tenants", lose_during_sync=True)
    daemon.leases = keeper  # type: ignore[assignment]
    daemon.syncer.may_push = lambda hub: keeper.holds("default/tenants")
    try:
        daemon._sync(daemon.syncer.compiled.config.hubs[0])
        failed = daemon.metrics.registry.get_sample_value(
            "lynq_bridge_syncs_total", {"hub": "default/tenants", "outcome": "failed"}
        )
    finally:
        daemon.close()
    assert keeper.synced == ["default/tenants"]
    assert bridge.head() is None  # the push was refused
    assert failed is None  # the new holder syncs and reports the hub; no failure here
