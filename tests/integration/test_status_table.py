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
from bridge_harness import Bridge, SqliteDatabase, hub_document
from sqlalchemy.engine import make_url

from lynq_bridge.adapters import statustable
from lynq_bridge.adapters.database import Datasources
from lynq_bridge.adapters.secrets import SecretsDirectory
from lynq_bridge.config.loading import load_config
from lynq_bridge.config.models import LynqHub
from lynq_bridge.core.history import Commit
from lynq_bridge.daemon import Daemon
from lynq_bridge.errors import GitUnavailable

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)


def status_hub(database: Any, root: Path, *, table: str = "lynq_status") -> LynqHub:
    return LynqHub.model_validate(status_hub_document(database, root, table=table))


def status_hub_document(database: Any, root: Path, *, table: str = "lynq_status") -> Any:
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
    return document


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


def bridge_commit(sha: str, *, added: str = "", updated: str = "") -> Commit:
    """A bridge commit of hub default/tenants with the trailers ``core.messages`` writes."""
    message = (
        "lynq: default/tenants: sync\n\nLynq-Hub: default/tenants\n"
        f"Lynq-Nodes-Added: {added}\nLynq-Nodes-Updated: {updated}\n"
    )
    return Commit(sha, "2025-03-01T12:00:00+00:00", message)


class GitLog:
    """A ``CommitLog`` that counts its reads and fails while ``failure`` is set."""

    def __init__(self, *commits: Commit) -> None:
        self.commits = list(commits)  # newest first, as git log gives them
        self.reads = 0
        self.failure: str | None = None

    def __call__(self, hub: LynqHub) -> list[Commit]:
        self.reads += 1
        if self.failure is not None:
            raise GitUnavailable(self.failure)
        return self.commits


def commits_of(database: Any) -> dict[str, Any]:
    return {uid: row[5] for uid, row in table_rows(database).items()}


def test_commit_is_read_from_git_once_then_follows_the_recorded_syncs(
    database: Any, tmp_path: Path
) -> None:
    hub = status_hub(database, tmp_path)
    password = SecretsDirectory(str(tmp_path / "secrets"))
    statustable.install(hub, password)
    log = GitLog(bridge_commit("c2", updated="acme-web"), bridge_commit("c1", added="acme-web"))
    tables = statustable.StatusTables([hub], password, commits=log)
    try:
        assert tables.publish(nodes(acme=True, bravo=True), NOW) == 2
        assert commits_of(database) == {"acme": "c2", "bravo": None}  # bravo: not in Git
        tables.record("default/tenants", "c3", ["bravo-web"])
        tables.record("default/other", "c9", ["acme-web"])  # another hub: not this table's
        assert tables.publish(nodes(acme=True, bravo=True), LATER) == 1
        assert commits_of(database) == {"acme": "c2", "bravo": "c3"}
        assert tables.publish(nodes(acme=True, bravo=True), LATER) == 0
        assert log.reads == 1  # steady state: Git is not read again
    finally:
        tables.close()


def test_a_sync_recorded_before_the_first_read_wins_over_the_log(
    database: Any, tmp_path: Path
) -> None:
    hub = status_hub(database, tmp_path)
    password = SecretsDirectory(str(tmp_path / "secrets"))
    statustable.install(hub, password)
    log = GitLog(bridge_commit("c1", added="acme-web, acme-api"))
    tables = statustable.StatusTables([hub], password, commits=log)
    try:
        tables.record("default/tenants", "c2", ["acme-web"])
        two_forms = [*nodes(acme=True), *nodes(acme=True)]
        two_forms[1] = {**two_forms[1], "metadata": {"name": "acme-api", "namespace": "default"}}
        tables.publish(two_forms, NOW)
        assert commits_of(database) == {"acme": "c2"}  # the newest of acme's two nodes
    finally:
        tables.close()


def test_a_git_failure_is_one_warning_and_the_rows_are_still_written(
    database: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub = status_hub(database, tmp_path)
    password = SecretsDirectory(str(tmp_path / "secrets"))
    statustable.install(hub, password)
    log = GitLog(bridge_commit("c1", added="acme-web"))
    log.failure = "git fetch failed: remote unreachable"
    tables = statustable.StatusTables([hub], password, commits=log)
    try:
        with caplog.at_level(logging.WARNING, logger=statustable.__name__):
            assert tables.publish(nodes(acme=False), NOW) == 1
            assert tables.publish(nodes(acme=True), LATER) == 1
        assert commits_of(database) == {"acme": None}
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "default/tenants" in warnings[0] and "remote unreachable" in warnings[0]
        log.failure = None  # Git is back: read at the next publish
        assert tables.publish(nodes(acme=True), LATER) == 1
        assert commits_of(database) == {"acme": "c1"}
        assert log.reads == 3
    finally:
        tables.close()


DIALECT_TYPES = {
    "sqlite": ("BOOLEAN", "DATETIME"),
    "mysql": ("BOOL", "DATETIME"),
    "postgresql": ("BOOLEAN", "TIMESTAMP WITHOUT TIME ZONE"),
}


def test_cli_prints_the_ddl_and_installs_the_table_idempotently(
    database: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge = Bridge(tmp_path, database)
    bridge.write("hub.yaml", status_hub_document(database, tmp_path))
    capsys.readouterr()
    assert bridge.cli("status-table", "ddl") == 0
    out = capsys.readouterr().out
    name = "public.lynq_status" if database.kind == "postgresql" else "lynq_status"  # its schema
    assert out.startswith(f"-- hub default/tenants ({database.kind})\nCREATE TABLE {name} (")
    boolean, timestamp = DIALECT_TYPES[database.kind]
    assert f"ready {boolean} NOT NULL" in out
    assert f"observed_at {timestamp} NOT NULL" in out
    engine = sa.create_engine(database.url)
    try:
        assert not sa.inspect(engine).has_table("lynq_status")  # ddl only prints
        for _ in range(2):  # the second install finds the table and leaves it
            assert bridge.cli("status-table", "install") == 0
            assert f"created {name} unless it existed" in capsys.readouterr().out
        columns = [c["name"] for c in sa.inspect(engine).get_columns("lynq_status")]
    finally:
        engine.dispose()
    assert columns == [
        "hub", "uid", "ready", "reason", "message", "commit_sha", "nodes", "ready_nodes",
        "observed_at", "transition_at",
    ]  # fmt: skip
    assert bridge.cli("status-table", "ddl", "--hub", "default/nope") == 2


class ClosingSecrets(SecretsDirectory):
    """The secrets directory, remembering whether its owner closed it."""

    closed = False

    def close(self) -> None:
        self.closed = True


def test_the_daemon_records_each_sync_commit_and_closes_the_tables(
    sqlite_database: Path, tmp_path: Path, create_tenants: Any
) -> None:
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": "acme", "active": "1"}])
    bridge = Bridge(tmp_path, db)
    bridge.write("hub.yaml", status_hub_document(db, tmp_path))
    config = load_config(bridge.config)
    password = ClosingSecrets(str(tmp_path / "secrets"))
    statustable.install(config.hubs[0], password)
    log = GitLog()  # Git holds no commit yet when the reporter first publishes
    tables = statustable.StatusTables(config.hubs, password, commits=log)
    daemon = Daemon(config)
    daemon.status_tables = tables
    try:
        tables.publish([], NOW)
        daemon._sync(config.hubs[0])  # adds acme-web
        tables.publish(nodes(acme=False), LATER)
    finally:
        daemon.close()
    assert commits_of(db) == {"acme": bridge.head()}
    assert log.reads == 1
    assert password.closed
