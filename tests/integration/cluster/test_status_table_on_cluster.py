"""The status table on the real API server: sync, apply with kubectl, report, read the table.

The rows follow the LynqNodes the reporter judged: not Ready, then Ready with the transition's
time once the Deployments roll out. ``commit_sha`` is the commit that added the node (read from
Git at the first publish), then the commit of a sync that updated it (handed over the way the
daemon does, ``statuscommits.record_sync``). ``observed_at`` is when the row's current values
were written: an unchanged pass writes nothing and leaves it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from bridge_harness import Bridge, SqliteDatabase
from cluster_objects import Clock, Report
from controlplane import ApiClient, ControlPlane

from lynq_bridge.adapters.secrets import SecretsDirectory
from lynq_bridge.adapters.statustable import StatusTables
from lynq_bridge.config.loading import load_config
from lynq_bridge.statuscommits import git_log, record_sync
from lynq_bridge.sync import Syncer

pytestmark = pytest.mark.cluster

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: NAMESPACE}
spec:
  hubId: tenants
  configMaps:
    - id: settings
      nameTemplate: "{{ uid }}-settings"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {plan: "{{ plan | default('basic') }}"}
  deployments:
    - id: app
      dependIds: [settings]
      nameTemplate: "{{ uid }}-app"
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          replicas: 1
          selector: {matchLabels: {app: "{{ uid }}"}}
          template:
            metadata: {labels: {app: "{{ uid }}"}}
            spec:
              containers: [{name: app, image: "nginx:1.27"}]
"""
ROLLED_OUT = {
    "observedGeneration": 1,
    "replicas": 1,
    "updatedReplicas": 1,
    "readyReplicas": 1,
    "availableReplicas": 1,
}


class CountingTables(StatusTables):
    """The real StatusTables, remembering how many rows each publish wrote."""

    written: list[int]

    def publish(self, nodes: Sequence[Mapping[str, Any]], now: dt.datetime) -> int:
        count = super().publish(nodes, now)
        self.written.append(count)
        return count


def rows(path: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        found = {r["uid"]: dict(r) for r in connection.execute("SELECT * FROM lynq_status")}
    connection.close()
    return found


def apply(kube: ControlPlane, bridge: Bridge, namespace: str, out: Path) -> None:
    assert bridge.cli("render", "--out", str(out)) == 0
    kube.kubectl("apply", "--server-side", "-k", str(out / namespace / "tenants"))


def naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def when(value: str | None) -> dt.datetime | None:
    """A time as SQLite holds it (text, UTC)."""
    return None if value is None else dt.datetime.fromisoformat(value)


def test_rows_follow_readiness_and_the_commit_that_changed_the_node(
    kube: ControlPlane,
    api: ApiClient,
    namespace: str,
    clock: Clock,
    report: Report,
    tmp_path: Path,
    sqlite_database: Path,
    create_tenants: Any,
) -> None:
    db = SqliteDatabase(sqlite_database)
    create_tenants(
        db, [{"tenant_id": "acme", "active": "1"}, {"tenant_id": "bravo", "active": "1"}]
    )
    bridge = Bridge(tmp_path, db, form=FORM.replace("NAMESPACE", namespace))
    hub = bridge.load_config_document("hub.yaml")
    hub["metadata"]["namespace"] = namespace
    hub["spec"]["statusTable"] = {"table": "lynq_status"}
    bridge.write("hub.yaml", hub)
    assert bridge.cli("status-table", "install") == 0
    assert bridge.sync() == 0
    added = bridge.head()
    apply(kube, bridge, namespace, tmp_path / "out")

    config = load_config(bridge.config)
    tables = CountingTables(
        config.hubs, SecretsDirectory(str(tmp_path / "secrets")), commits=git_log(config)
    )
    tables.written = []
    try:
        first = clock.current
        report(status_tables=tables)
        table = rows(sqlite_database)
        assert set(table) == {"acme", "bravo"}
        for row in table.values():
            assert (row["hub"], row["ready"], row["commit_sha"]) == (
                f"{namespace}/tenants", 0, added
            )  # fmt: skip
            assert (row["nodes"], row["ready_nodes"]) == (1, 0)
            assert when(row["observed_at"]) == naive(first)

        for uid in ("acme", "bravo"):
            deployment = api.get("apps/v1", "Deployment", f"{uid}-app", namespace)
            api.patch_status(deployment, ROLLED_OUT)
        clock.advance(60)
        report(status_tables=tables)
        table = rows(sqlite_database)
        for row in table.values():
            assert (row["ready"], row["ready_nodes"]) == (1, 1)
            assert when(row["transition_at"]) == naive(clock.current)  # when Ready flipped
            assert when(row["observed_at"]) == naive(clock.current)

        clock.advance(60)
        report(status_tables=tables)  # nothing changed: nothing written, observed_at stays
        assert tables.written == [2, 2, 0]
        assert rows(sqlite_database) == table

        db.execute("UPDATE tenants SET plan = 'pro' WHERE tenant_id = 'acme'")
        syncer = Syncer(config)
        try:  # what the daemon does after each sync
            result = syncer.sync_hub(config.hubs[0])
            record_sync(tables, syncer, config.hubs[0], result)
        finally:
            syncer.close()
        updated = bridge.head()
        assert result.commit == updated != added
        apply(kube, bridge, namespace, tmp_path / "out2")
        clock.advance(60)
        report(status_tables=tables)
        table = rows(sqlite_database)
        assert (table["acme"]["commit_sha"], table["bravo"]["commit_sha"]) == (updated, added)
        assert when(table["acme"]["observed_at"]) == naive(clock.current)
    finally:
        tables.close()

    # A new reporter process learns the same commits from Git and finds nothing to write.
    fresh = CountingTables(
        config.hubs, SecretsDirectory(str(tmp_path / "secrets")), commits=git_log(config)
    )
    fresh.written = []
    try:
        clock.advance(60)
        report(status_tables=fresh)
    finally:
        fresh.close()
    assert fresh.written == [0]
    assert rows(sqlite_database) == table
