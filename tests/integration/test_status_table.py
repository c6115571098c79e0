"""The status table (``LynqHub.spec.statusTable``) on real MariaDB, PostgreSQL and SQLite.

Every test that takes the ``database`` fixture runs once per backend. On the servers the source
login is the read-only test user and the status table has its own login (the read-write user),
as a deployment with a read-only source user would configure it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from bridge_harness import hub_document
from sqlalchemy.engine import make_url

from lynq_bridge.adapters import statustable
from lynq_bridge.adapters.database import Datasources
from lynq_bridge.adapters.secrets import SecretsDirectory
from lynq_bridge.config.models import LynqHub

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)


def status_hub(database: Any, root: Path, *, table: str = "lynq_status") -> LynqHub:
    document = hub_document(database, root)
    document["spec"]["statusTable"] = {"table": table}
    if database.kind != "sqlite":
        readonly = make_url(database.readonly_url())
        source = document["spec"]["source"][database.kind]
        (root / "secrets" / "ro").mkdir(parents=True, exist_ok=True)
        (root / "secrets" / "ro" / "password").write_text(f"{readonly.password}\n")
        source.update(username=readonly.username, passwordRef={"name": "ro", "key": "password"})
        document["spec"]["statusTable"].update(
            username=database.username, passwordRef={"name": "db", "key": "password"}
        )
    return LynqHub.model_validate(document)


def table_rows(database: Any) -> dict[str, tuple[Any, ...]]:
    engine = sa.create_engine(database.url)
    try:
        with engine.connect() as connection:
            result = connection.execute(
                sa.text(
                    "SELECT hub, uid, ready, reason, message, commit_sha, nodes, ready_nodes, "
                    "observed_at, transition_at FROM lynq_status"
                )
            )
            return {r.uid: tuple(r) for r in result}
    finally:
        engine.dispose()


def when(value: Any) -> dt.datetime:
    """A stored time as a naive UTC datetime (SQLite hands text back through raw SQL)."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, dt.datetime)
    return moment.replace(tzinfo=None)


def nodes(**ready: bool) -> list[dict[str, Any]]:
    """One LynqNode of hub default/tenants per uid, Ready or not."""
    return [
        {
            "metadata": {"name": f"{uid}-web", "namespace": "default"},
            "spec": {"uid": uid, "templateRef": "web", "hubId": "tenants"},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if value else "False",
                        "reason": "Reconciled",
                        "message": "",
                        "lastTransitionTime": "2025-01-01T00:00:00Z",
                    }
                ]
            },
        }
        for uid, value in ready.items()
    ]


def test_rows_are_upserted_only_when_changed_and_deleted_when_gone(
    database: Any, tmp_path: Path
) -> None:
    hub = status_hub(database, tmp_path)
    password = SecretsDirectory(str(tmp_path / "secrets"))
    statustable.install(hub, password)
    statustable.install(hub, password)  # idempotent
    tables = statustable.StatusTables([hub], password)
    try:
        assert tables.publish(nodes(acme=False, bravo=True), NOW) == 2
        rows = table_rows(database)
        assert set(rows) == {"acme", "bravo"}
        hub_key, _, ready, reason, _, commit, count, ready_count, observed, _ = rows["acme"]
        assert (hub_key, bool(ready), reason, commit, count, ready_count) == (
            "default/tenants", False, "Reconciled", None, 1, 0,
        )  # fmt: skip
        assert when(observed) == NOW.replace(tzinfo=None)
        assert tables.publish(nodes(acme=False, bravo=True), LATER) == 0  # nothing changed
        assert when(table_rows(database)["acme"][8]) == NOW.replace(tzinfo=None)
        assert tables.publish(nodes(acme=True), LATER) == 2  # acme flipped, bravo gone
        rows = table_rows(database)
        assert set(rows) == {"acme"}
        assert bool(rows["acme"][2]) is True
        assert when(rows["acme"][8]) == LATER.replace(tzinfo=None)
    finally:
        tables.close()
    restarted = statustable.StatusTables([hub], password)
    try:  # a new process reads the table once and writes nothing that is already there
        assert restarted.publish(nodes(acme=True), LATER) == 0
    finally:
        restarted.close()


def test_the_source_login_stays_read_only_and_still_reads(
    database: Any, tmp_path: Path, create_tenants: Any
) -> None:
    create_tenants(database, [{"tenant_id": "acme", "active": "1"}])
    hub = status_hub(database, tmp_path)
    password = SecretsDirectory(str(tmp_path / "secrets"))
    statustable.install(hub, password)
    tables = statustable.StatusTables([hub], password)
    try:
        assert tables.publish(nodes(acme=True), NOW) == 1
    finally:
        tables.close()
    sources = Datasources(password)
    try:
        _, records = sources.fetch_records(hub)
    finally:
        sources.dispose()
    assert [r[0] for r in records] == ["acme"]


def test_a_missing_table_is_one_warning_and_never_an_exception(
    database: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub = status_hub(database, tmp_path, table="not_installed")
    password = SecretsDirectory(str(tmp_path / "secrets"))
    tables = statustable.StatusTables([hub], password)
    try:
        with caplog.at_level(logging.WARNING, logger=statustable.__name__):
            assert tables.publish(nodes(acme=True), NOW) == 0
            assert tables.publish(nodes(acme=False), LATER) == 0
    finally:
        tables.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "not_installed" in warnings[0].getMessage()
    assert "default/tenants" in warnings[0].getMessage()


def test_ddl_names_every_column_in_the_hubs_dialect(database: Any, tmp_path: Path) -> None:
    text = statustable.ddl(status_hub(database, tmp_path))
    assert text.startswith("CREATE TABLE")
    for column in ("hub", "uid", "ready", "reason", "message", "commit_sha", "observed_at"):
        assert column in text
    assert "PRIMARY KEY (hub, uid)" in text
