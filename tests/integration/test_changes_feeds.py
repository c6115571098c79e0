"""Change feeds against real databases: a change by another connection is reported quickly.

Each test runs a real ``ChangeFeeds`` thread on a real SQLite file, MariaDB or PostgreSQL
server (scripts/test.sh starts MariaDB with the binlog in row format), changes rows through
another connection and waits for the feed's callback.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bridge_harness import Bridge, SqliteDatabase, hub_document
from sqlalchemy import create_engine, text

from lynq_bridge.adapters import changes
from lynq_bridge.adapters.changes import ChangeFeeds, install_postgres_trigger
from lynq_bridge.adapters.secrets import SecretsDirectory
from lynq_bridge.config.models import LynqHub

BOUND_SECONDS = 2.0  # a change must be reported within this (the goal is ~100 ms)
HUB = "default/tenants"


class Feeds:
    """ChangeFeeds for one hub, its reports in a queue, its log in caplog."""

    def __init__(self, hub: LynqHub, secrets: Path, caplog: pytest.LogCaptureFixture) -> None:
        self.events: queue.Queue[str] = queue.Queue()
        self.caplog = caplog
        self.feeds = ChangeFeeds(
            [hub], password=SecretsDirectory(str(secrets)), mode="auto", on_change=self.events.put
        )

    def start(self, *, opened: int = 1) -> str:
        """Start; wait until the feed opened ``opened`` times; return how it detects."""
        self.feeds.start()
        return self.wait_log("change detection by", count=opened)

    def wait_log(self, text: str, *, count: int = 1, seconds: float = 20) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [r.getMessage() for r in self.caplog.records if text in r.getMessage()]
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.02)
        raise AssertionError(f"no log {text!r} within {seconds} s: {self.caplog.text}")

    def seconds_to_report(self) -> float:
        started = time.monotonic()
        assert self.events.get(timeout=BOUND_SECONDS) == HUB
        took = time.monotonic() - started
        time.sleep(0.8)  # a burst may report twice (the binlog feed's settle report); drain it
        while not self.events.empty():
            self.events.get_nowait()
        return took

    def quiet(self, seconds: float = 1.2) -> bool:
        try:
            self.events.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def feeds_of(caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    caplog.set_level(logging.INFO, logger="lynq_bridge.changes")
    made: list[Feeds] = []

    def make(hub: LynqHub, secrets: Path) -> Feeds:
        made.append(Feeds(hub, secrets, caplog))
        return made[-1]

    yield make
    for f in made:
        f.feeds.close()


def hub_of(database: Any, root: Path, **source: Any) -> LynqHub:
    document = hub_document(database, root)
    document["spec"]["source"][database.kind].update(source)
    return LynqHub.model_validate(document)


def change_rows(database: Any, feeds: Feeds) -> list[float]:
    """UPDATE, INSERT, DELETE by another connection: seconds until each was reported."""
    took = []
    for statement in (
        "UPDATE tenants SET plan = 'gold' WHERE tenant_id = 'acme'",
        "INSERT INTO tenants (tenant_id, active) VALUES ('beta', '1')",
        "DELETE FROM tenants WHERE tenant_id = 'beta'",
    ):
        database.execute(statement)
        took.append(feeds.seconds_to_report())
    return took


def test_a_feed_reports_update_insert_and_delete_by_another_connection(
    database: Any, tmp_path: Path, create_tenants: Any, feeds_of: Any
) -> None:
    create_tenants(database, [{"tenant_id": "acme", "active": "1", "plan": "basic"}])
    hub = hub_of(database, tmp_path)
    if database.kind == "postgresql":
        install_postgres_trigger(hub, SecretsDirectory(str(tmp_path / "secrets")))
    feeds = feeds_of(hub, tmp_path / "secrets")
    mechanism = feeds.start()
    expected = {"sqlite": "PRAGMA data_version", "mysql": "the binlog", "postgresql": "LISTEN"}
    assert expected[database.kind] in mechanism
    assert feeds.quiet(), "a feed reported a change although nothing changed"
    took = change_rows(database, feeds)
    assert max(took) < BOUND_SECONDS
    assert feeds.quiet()


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
def test_without_binlog_rights_or_trigger_a_fingerprint_poll_reports_changes(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    create_tenants: Any,
    feeds_of: Any,
) -> None:
    database = request.getfixturevalue("mysql_database" if kind == "mysql" else "postgres_database")
    create_tenants(database, [{"tenant_id": "acme", "active": "1", "plan": "basic"}])
    readonly = create_engine(database.readonly_url()).url
    hub = hub_of(database, tmp_path, username=readonly.username)
    (tmp_path / "secrets" / "db" / "password").write_text(str(readonly.password))
    feeds = feeds_of(hub, tmp_path / "secrets")
    try:  # closed here: the database fixture, asked for in the test, is dropped before feeds_of
        mechanism = feeds.start()
        assert "fingerprint poll" in mechanism
        reason = "may not read the binlog" if kind == "mysql" else "no trigger lynq_bridge_notify"
        assert reason in mechanism
        assert feeds.quiet()
        assert max(change_rows(database, feeds)) < BOUND_SECONDS
    finally:
        feeds.feeds.close()


def test_the_fingerprint_sees_one_update_of_two_rows_that_xor_would_cancel(
    mysql_database: Any, tmp_path: Path, create_tenants: Any, feeds_of: Any
) -> None:
    # Same change at the same offset of two rows: XOR-ed CRC32s cancel out, a sum of MD5s does not.
    rows = [{"tenant_id": u, "active": "1", "plan": "basic"} for u in ("aa", "bb")]
    create_tenants(mysql_database, rows)
    mysql_database.execute("SET GLOBAL binlog_format = 'STATEMENT'")
    try:
        feeds = feeds_of(hub_of(mysql_database, tmp_path), tmp_path / "secrets")
        assert "fingerprint poll" in feeds.start()
    finally:
        mysql_database.execute("SET GLOBAL binlog_format = 'ROW'")
    mysql_database.execute("UPDATE tenants SET plan = 'gold!' WHERE plan = 'basic'")
    assert feeds.seconds_to_report() < BOUND_SECONDS


def test_installing_the_trigger_twice_leaves_one_trigger(
    postgres_database: Any, tmp_path: Path, create_tenants: Any
) -> None:
    create_tenants(postgres_database)
    hub = hub_of(postgres_database, tmp_path)
    for _ in range(2):
        install_postgres_trigger(hub, SecretsDirectory(str(tmp_path / "secrets")))
    engine = create_engine(postgres_database.url)
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM pg_trigger WHERE tgname = 'lynq_bridge_notify'")
        ).scalar()
    engine.dispose()
    assert count == 1


def test_a_feed_whose_connection_is_killed_logs_one_sentence_and_recovers(
    postgres_database: Any, tmp_path: Path, create_tenants: Any, feeds_of: Any
) -> None:
    create_tenants(postgres_database, [{"tenant_id": "acme", "active": "1"}])
    hub = hub_of(postgres_database, tmp_path)
    install_postgres_trigger(hub, SecretsDirectory(str(tmp_path / "secrets")))
    feeds = feeds_of(hub, tmp_path / "secrets")
    assert "LISTEN" in feeds.start()
    postgres_database.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
    )
    warning = feeds.wait_log("change feed of hub default/tenants failed")
    assert "\n" not in warning
    assert "retrying in 1 s" in warning
    feeds.wait_log("change detection by LISTEN", count=2)
    feeds.seconds_to_report()  # the catch-up report for what the outage may have hidden
    postgres_database.execute("UPDATE tenants SET plan = 'gold' WHERE tenant_id = 'acme'")
    assert feeds.seconds_to_report() < BOUND_SECONDS


def test_a_polling_feed_listens_once_changes_install_created_the_trigger(
    postgres_database: Any,
    tmp_path: Path,
    create_tenants: Any,
    feeds_of: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(changes, "RECHECK_SECONDS", 0.3)
    logger = logging.getLogger("lynq_bridge")  # restored after: the CLI configures logging
    monkeypatch.setattr(logger, "propagate", logger.propagate)
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))
    monkeypatch.setattr(logger, "level", logger.level)
    create_tenants(postgres_database, [{"tenant_id": "acme", "active": "1"}])
    bridge = Bridge(tmp_path, postgres_database)
    hub = LynqHub.model_validate(bridge.load_config_document("hub.yaml"))
    feeds = feeds_of(hub, tmp_path / "secrets")
    assert "fingerprint poll" in feeds.start()
    assert bridge.cli("changes", "ddl") == 0
    assert "CREATE TRIGGER lynq_bridge_notify" in capsys.readouterr().out
    assert bridge.cli("changes", "install", "--hub", "default/tenants") == 0
    logging.getLogger("lynq_bridge").propagate = True  # the CLI logs to stderr only
    feeds.wait_log("trigger lynq_bridge_notify on the table was installed")
    assert "LISTEN lynq_bridge" in feeds.wait_log("change detection by", count=2)
    feeds.seconds_to_report()  # the switch reports once
    postgres_database.execute("UPDATE tenants SET plan = 'gold' WHERE tenant_id = 'acme'")
    assert feeds.seconds_to_report() < BOUND_SECONDS


def test_changes_for_an_unknown_hub_is_a_usage_error(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> None:
    db = SqliteDatabase(sqlite_database)
    create_tenants(db)
    assert Bridge(tmp_path, db).cli("changes", "ddl", "--hub", "default/nope") == 2


def test_the_binlog_feed_reports_a_burst_again_once_it_settled(
    mysql_database: Any, tmp_path: Path, create_tenants: Any, feeds_of: Any
) -> None:
    # The binlog is written before the commit is visible: the second report covers a sync that
    # ran in between and read the old rows.
    create_tenants(mysql_database, [{"tenant_id": "acme", "active": "1"}])
    feeds = feeds_of(hub_of(mysql_database, tmp_path), tmp_path / "secrets")
    assert "the binlog" in feeds.start()
    mysql_database.execute("UPDATE tenants SET plan = 'gold' WHERE tenant_id = 'acme'")
    assert feeds.events.get(timeout=BOUND_SECONDS) == HUB
    first = time.monotonic()
    assert feeds.events.get(timeout=BOUND_SECONDS) == HUB
    assert time.monotonic() - first >= changes.BINLOG_SETTLE_SECONDS - 0.05
    assert feeds.quiet()
