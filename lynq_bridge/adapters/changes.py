"""Change feeds: notice within ~100 ms that a hub's rows changed, so the daemon syncs at once.

One feed per hub, in its own thread, on a dedicated connection (never the sync's pool):

- SQLite: ``PRAGMA data_version`` every 50 ms. It changes only for commits by *other*
  connections, which is every writer but us. If it cannot be read (no file yet, a directory we
  cannot open), the file's (mtime, size, inode) of the database and its ``-wal`` instead.
- PostgreSQL: ``LISTEN lynq_bridge``, fed by the statement-level trigger ``lynq_bridge_notify``
  that ``lynq-bridge changes install`` creates (``changes ddl`` prints it); the payload is
  ``schema.table``. Without the trigger (or for a view) a fingerprint poll.
- MySQL/MariaDB: the binlog (``mysql-replication``) when the server logs ``binlog_format=ROW``
  and the user may read it (REPLICATION SLAVE and CLIENT); else, or for a view, a fingerprint
  poll.

The fingerprint is ``COUNT(*)`` and the sum of a 60/64-bit hash of every row's mapped columns
(an MD5 prefix on MySQL, ``hashtextextended`` on PostgreSQL): exactly what a sync reads, so
it sees every change a sync would, at the cost of one full scan (measured in bench/README.md).
It runs at most every 0.5 s and spends at most a tenth of the time querying. Any feed failure
is one log sentence naming the hub and the cause; the feed reconnects with backoff and the
daemon keeps syncing on ``syncInterval``.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psycopg
import pymysql  # type: ignore[import-untyped]
from pymysqlreplication import BinLogStreamReader  # type: ignore[import-untyped]
from pymysqlreplication.event import HeartbeatLogEvent, QueryEvent  # type: ignore[import-untyped]
from pymysqlreplication.exceptions import BinLogNotEnabled  # type: ignore[import-untyped]
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent  # type: ignore[import-untyped]

from lynq_bridge.adapters.changesql import (
    CHANNEL,
    TRIGGER,
    mysql_fingerprint_sql,
    postgres_fingerprint_sql,
    postgres_trigger_ddl,
    split_table,
)
from lynq_bridge.adapters.database import CONNECT_TIMEOUT_SECONDS, Query, database_url
from lynq_bridge.adapters.secrets import PasswordLookup
from lynq_bridge.config.models import (
    LynqHub,
    PostgreSQLSource,
    SQLiteSource,
)
from lynq_bridge.core.paths import one_line
from lynq_bridge.errors import BridgeError, SourceUnavailable

log = logging.getLogger("lynq_bridge.changes")

SQLITE_POLL_SECONDS = 0.05  # a PRAGMA costs microseconds; 50 ms keeps change-to-sync small
FINGERPRINT_SECONDS = 0.5  # the shortest pause between two fingerprint scans
FINGERPRINT_BUDGET = 0.1  # a scan may use at most this share of the time (slow tables poll less)
BLOCK_SECONDS = 1.0  # a LISTEN or binlog read returns at least this often, to notice a stop
HEARTBEAT_SECONDS = 0.25  # the binlog server's heartbeat when idle: the settle report's precision
# MySQL writes a transaction to the binlog before the storage engine makes it visible, so a sync
# started by its row event may still read the old rows (measured: 2 of 50 changes). The feed
# reports a burst again once no event came for this long; that second sync sees the commit.
BINLOG_SETTLE_SECONDS = 0.3
BACKOFF_SECONDS = (1, 2, 5, 10, 30)  # after the 1st, 2nd, ... failure in a row
RECHECK_SECONDS = 30.0  # how often a PostgreSQL feed looks whether its trigger came or went
# MySQL error codes meaning "this user may not read the binlog": fall back to polling.
_MYSQL_DENIED = frozenset({1045, 1142, 1227, 1236})

ChangeMode = str  # "auto" | "poll" | "off" (BridgeSpec.changeDetection)


class Reopen(Exception):
    """A better (or the only remaining) mechanism is available: open the feed again now."""


class Feed(Protocol):
    """One hub's change detector; ``check`` returns True when the rows may have changed."""

    period: float  # pause between checks; 0 for a check that blocks by itself

    def open(self) -> str:
        """Connect; return the mechanism in words, for the start-up log."""

    def check(self) -> bool: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------------------ SQLite


class SqliteFeed:
    period = SQLITE_POLL_SECONDS

    def __init__(self, path: str, mode: ChangeMode) -> None:
        self.path, self.mode = path, mode
        self.connection: sqlite3.Connection | None = None
        self.last: object = None

    def open(self) -> str:
        every = f"every {int(self.period * 1000)} ms"
        if self.mode == "poll":
            self.last = self._version()
            return f"the file's size and modification time {every} (changeDetection is poll)"
        try:
            self.connection = sqlite3.connect(
                f"file:{self.path}?mode=ro",
                uri=True,
                isolation_level=None,  # no transaction stays open between two PRAGMAs
                check_same_thread=False,
                timeout=CONNECT_TIMEOUT_SECONDS,
            )
            self.last = self._version()
            return f"PRAGMA data_version {every}"
        except sqlite3.Error as exc:
            self.close()
            self.last = self._version()
            return (
                f"the file's size and modification time {every} "
                f"(PRAGMA data_version cannot be read: {exc})"
            )

    def _version(self) -> object:
        if self.connection is not None:
            return self.connection.execute("PRAGMA data_version").fetchone()[0]
        stats: list[tuple[int, int, int] | None] = []
        for name in (self.path, f"{self.path}-wal"):
            try:
                s = os.stat(name)
                stats.append((s.st_mtime_ns, s.st_size, s.st_ino))
            except FileNotFoundError:
                stats.append(None)
        return tuple(stats)

    def check(self) -> bool:
        try:
            current = self._version()
        except sqlite3.Error as exc:
            raise SourceUnavailable(
                f"cannot read PRAGMA data_version of {self.path}: {exc}"
            ) from exc
        changed = current != self.last
        self.last = current
        return changed

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# ------------------------------------------------------------------ fingerprint polling


class FingerprintFeed:
    """COUNT(*) plus a sum of row hashes of the mapped columns, scanned on a budget."""

    def __init__(self, run: Callable[[str], object], sql: str, reason: str) -> None:
        self.run, self.sql, self.reason = run, sql, reason
        self.period = FINGERPRINT_SECONDS
        self.last: object = None

    def open(self) -> str:
        self.last = self._scan()
        return f"a fingerprint poll every {self.period:.1f} s ({self.reason})"

    def _scan(self) -> object:
        started = time.monotonic()
        value = self.run(self.sql)
        self.period = max(FINGERPRINT_SECONDS, (time.monotonic() - started) / FINGERPRINT_BUDGET)
        return value

    def check(self) -> bool:
        current = self._scan()
        changed = current != self.last
        self.last = current
        return changed

    def close(self) -> None:
        pass


# -------------------------------------------------------------------------- PostgreSQL


def install_postgres_trigger(hub: LynqHub, password: PasswordLookup) -> None:
    """Run :func:`postgres_trigger_ddl` as the hub's user (who must own the table)."""
    ddl = postgres_trigger_ddl(hub)
    try:
        with _postgres_connect(hub, password) as connection:
            connection.execute(ddl.encode())
    except psycopg.Error as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceUnavailable(
            f"cannot install trigger {TRIGGER} for hub {hub.metadata.namespace}/"
            f"{hub.metadata.name}: {one_line(cause)}"
        ) from exc


def _postgres_connect(hub: LynqHub, password: PasswordLookup) -> psycopg.Connection[Any]:
    url = database_url(hub, password)
    return psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        autocommit=True,
        options="-c statement_timeout=60000",
    )


class PostgresFeed:
    def __init__(self, hub: LynqHub, password: PasswordLookup, mode: ChangeMode) -> None:
        self.hub, self.password, self.mode = hub, password, mode
        self.schema, self.table = split_table(hub.spec.source.database)
        self.connection: psycopg.Connection[Any] | None = None
        self.poll: FingerprintFeed | None = None
        self.period = 0.0
        self.recheck_at = 0.0

    def _lookup(self) -> tuple[str, bool] | None:
        """(relkind, whether the trigger exists) of the table; None if there is no table."""
        assert self.connection is not None
        row = self.connection.execute(
            "SELECT c.relkind::text, EXISTS (SELECT 1 FROM pg_trigger t "
            "WHERE t.tgrelid = c.oid AND t.tgname = %s) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            (TRIGGER, self.schema, self.table),
        ).fetchone()
        return (str(row[0]), bool(row[1])) if row else None

    def open(self) -> str:
        self.connection = _postgres_connect(self.hub, self.password)
        row = self._lookup()
        self.recheck_at = time.monotonic() + RECHECK_SECONDS
        where = f'"{self.schema}"."{self.table}"'
        if self.mode == "auto" and row is not None and row[1]:
            self.connection.execute(f"LISTEN {CHANNEL}")
            return f"LISTEN {CHANNEL} (trigger {TRIGGER} on {where})"
        if self.mode == "poll":
            reason = "changeDetection is poll"
        elif row is not None and row[0] not in ("r", "p"):
            reason = f"{where} is a view, which cannot have the trigger"
        else:
            reason = f"no trigger {TRIGGER} on {where}: run lynq-bridge changes install"
        sql = postgres_fingerprint_sql(Query.of(self.hub), self.schema, self.table)
        self.poll = FingerprintFeed(self._run, sql, reason)
        described = self.poll.open()
        self.period = self.poll.period
        return described

    def _run(self, sql: str) -> object:
        assert self.connection is not None
        row = self.connection.execute(sql.encode()).fetchone()
        return tuple(row) if row else None

    def check(self) -> bool:
        assert self.connection is not None
        if self.mode == "auto" and time.monotonic() >= self.recheck_at:
            self.recheck_at = time.monotonic() + RECHECK_SECONDS
            row = self._lookup()
            listening = self.poll is None
            if row is not None and row[1] != listening:
                state = "was installed" if row[1] else "was removed"
                raise Reopen(f"trigger {TRIGGER} on the table {state}")
        if self.poll is not None:
            changed = self.poll.check()
            self.period = self.poll.period
            return changed
        wanted = f"{self.schema}.{self.table}"
        changed = False
        for notify in self.connection.notifies(timeout=BLOCK_SECONDS, stop_after=1):
            changed = changed or notify.payload == wanted
        return changed

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# ----------------------------------------------------------------------- MySQL / MariaDB


def _connect_mysql(**settings: Any) -> Any:
    # mysql-replication still passes PyMySQL's deprecated "db"; the new name avoids the warning.
    if "db" in settings:
        settings["database"] = settings.pop("db")
    return pymysql.connect(**settings)


class MysqlFeed:
    def __init__(self, hub: LynqHub, password: PasswordLookup, mode: ChangeMode) -> None:
        self.hub, self.password, self.mode = hub, password, mode
        self.schema, self.table = split_table(hub.spec.source.database)
        self.connection: Any = None
        self.stream: Any = None
        self.pending = False  # the binlog read that proved our rights saw a change
        self.settle_at = 0.0  # when to report the last burst again (0: nothing to report)
        self.poll: FingerprintFeed | None = None
        self.period = 0.0

    def _settings(self) -> dict[str, Any]:
        url = database_url(self.hub, self.password)
        return {
            "host": url.host,
            "port": url.port or 3306,
            "user": url.username,
            "password": url.password or "",
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            # A heartbeat comes every BLOCK_SECONDS; silence for this long is a dead server.
            "read_timeout": 10 * BLOCK_SECONDS + CONNECT_TIMEOUT_SECONDS,
        }

    def open(self) -> str:
        self.connection = pymysql.connect(**self._settings(), autocommit=True)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_TYPE FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (self.schema, self.table),
            )
            kind = cursor.fetchone()
            cursor.execute("SELECT @@global.log_bin, @@global.binlog_format")
            log_bin, binlog_format = cursor.fetchone()
        where = f"`{self.schema}`.`{self.table}`"
        if self.mode == "poll":
            reason = "changeDetection is poll"
        elif kind is not None and kind[0] == "VIEW":
            reason = f"{where} is a view, whose changes the binlog logs under other tables"
        elif not log_bin or str(binlog_format).upper() != "ROW":
            reason = (
                f"the server does not log binlog_format=ROW (log_bin {log_bin}, {binlog_format})"
            )
        else:
            reason = self._open_binlog()
            if not reason:
                return f"the binlog (row events of {where})"
        sql = mysql_fingerprint_sql(Query.of(self.hub), self.schema, self.table)
        self.poll = FingerprintFeed(self._run, sql, reason)
        described = self.poll.open()
        self.period = self.poll.period
        return described

    def _open_binlog(self) -> str:
        """Start reading the binlog from its current end; the reason when the user may not."""
        with self.connection.cursor() as cursor:
            try:
                cursor.execute("SHOW MASTER STATUS")
                status = cursor.fetchone()
            except pymysql.MySQLError as exc:
                if exc.args and exc.args[0] in _MYSQL_DENIED:
                    return f"the user may not read the binlog: {exc.args[-1]}"
                raise
        if not status:
            return "the user may not read the binlog position (needs REPLICATION CLIENT)"
        # Its multi-line advice to log full row metadata does not apply: we read no row values.
        logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)
        self.stream = BinLogStreamReader(
            connection_settings=self._settings(),
            # Unique per feed: the server drops an older replica that reuses a server id.
            server_id=random.randint(1 << 20, (1 << 31) - 1),
            log_file=status[0],
            log_pos=status[1],
            resume_stream=True,
            blocking=True,
            slave_heartbeat=HEARTBEAT_SECONDS,
            only_events=[
                WriteRowsEvent,
                UpdateRowsEvent,
                DeleteRowsEvent,
                QueryEvent,
                HeartbeatLogEvent,
            ],
            only_schemas=[self.schema],
            only_tables=[self.table],
            enable_logging=False,
            pymysql_wrapper=_connect_mysql,
        )
        try:
            self.pending = self._read()  # the first read proves the right to stream
        except (pymysql.MySQLError, BinLogNotEnabled) as exc:
            self.stream.close()
            self.stream = None
            code = exc.args[0] if exc.args else None
            if isinstance(exc, BinLogNotEnabled) or code in _MYSQL_DENIED:
                return f"the user may not read the binlog: {exc.args[-1] if exc.args else exc}"
            raise
        return ""

    def _read(self) -> bool:
        event = self.stream.fetchone()
        if event is None or isinstance(event, HeartbeatLogEvent):
            return False
        if isinstance(event, QueryEvent):  # TRUNCATE and DDL come as statements
            text = (
                event.query.decode(errors="replace")
                if isinstance(event.query, bytes)
                else str(event.query)
            )
            return self.table.lower() in text.lower() and text.strip().upper() not in (
                "BEGIN",
                "COMMIT",
            )
        return True

    def _run(self, sql: str) -> object:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            row = cursor.fetchone()
        return tuple(row) if row else None

    def check(self) -> bool:
        if self.poll is not None:
            changed = self.poll.check()
            self.period = self.poll.period
            return changed
        changed = self._read() or self.pending
        self.pending = False
        now = time.monotonic()
        if changed:
            self.settle_at = now + BINLOG_SETTLE_SECONDS
            return True
        if self.settle_at and now >= self.settle_at:
            self.settle_at = 0.0
            return True
        return False

    def close(self) -> None:
        for thing in (self.stream, self.connection):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing a broken connection may fail; nothing to do
                    log.debug("closing a change feed connection failed", exc_info=True)
        self.stream = self.connection = None


# ------------------------------------------------------------------------------ running


def make_feed(hub: LynqHub, password: PasswordLookup, mode: ChangeMode) -> Feed:
    source = hub.spec.source.database
    if isinstance(source, SQLiteSource):
        return SqliteFeed(source.path, mode)
    if isinstance(source, PostgreSQLSource):
        return PostgresFeed(hub, password, mode)
    return MysqlFeed(hub, password, mode)


def _cause(exc: BaseException) -> str:
    if isinstance(exc, BridgeError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return one_line(f"{type(exc).__name__}: {text}")


class ChangeFeeds:
    """A thread per hub that calls ``on_change(hub_key)`` when the hub's rows changed."""

    def __init__(
        self,
        hubs: Sequence[LynqHub],
        *,
        password: PasswordLookup,
        mode: ChangeMode,
        on_change: Callable[[str], None],
    ) -> None:
        self.hubs, self.password, self.mode, self.on_change = hubs, password, mode, on_change
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        if self.mode == "off":
            log.info("change detection is off: hubs sync only on their syncInterval")
            return
        for hub in self.hubs:
            key = f"{hub.metadata.namespace}/{hub.metadata.name}"
            thread = threading.Thread(
                target=self._run, args=(hub, key), name=f"changes {key}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def _run(self, hub: LynqHub, key: str) -> None:
        failures = 0
        while not self.stop.is_set():
            feed = make_feed(hub, self.password, self.mode)
            try:
                described = feed.open()
                log.info("hub %s: change detection by %s", key, described)
                if failures:  # what changed while the feed was down
                    self.on_change(key)
                failures = 0
                while not self.stop.is_set():
                    if feed.check():
                        self.on_change(key)
                    if feed.period:
                        self.stop.wait(feed.period)
            except Reopen as exc:
                log.info("hub %s: %s; changing the change detection", key, exc)
                self.on_change(key)  # a change between the switch and the new baseline
            except Exception as exc:  # a feed must never take the daemon down
                failures += 1
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1]
                log.warning(
                    "change feed of hub %s failed: %s; retrying in %d s "
                    "(the hub still syncs every syncInterval)",
                    key,
                    _cause(exc),
                    delay,
                )
                self.stop.wait(delay)
            finally:
                feed.close()

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        self.threads.clear()
