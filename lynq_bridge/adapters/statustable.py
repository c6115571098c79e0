"""Write each uid's status to the hub's ``spec.statusTable`` (MySQL, PostgreSQL, SQLite).

The table lives in the source's database, reached with its own login (``statusTable.username``
and ``passwordRef``), so the source login can stay read-only; the bridge never writes the
source table. ``lynq-bridge status-table ddl`` prints the ``CREATE TABLE``, ``install`` runs it.

The reporter hands over the LynqNodes after each pass or watch round; ``StatusTables.publish``
turns them into one row per uid (``core.statusrows``) and writes only what changed since the
last write: upserts (MySQL ``INSERT ... ON DUPLICATE KEY UPDATE``, PostgreSQL and SQLite
``INSERT ... ON CONFLICT DO UPDATE``) and deletes of uids without nodes, in batches of
``BATCH`` rows, one transaction per hub. What was written is kept in memory; the first write of
a process reads the table once instead. Values are always bound parameters; the table name is
validated and quoted by SQLAlchemy. A failure is logged as one warning per hub (until it
recovers) and never fails the reporter: the LynqNode statuses are written regardless.

The ``commit_sha`` column: which commit last added or updated each node is learnt once per hub,
at its first publish, from one ``git log`` over the hub directory (``commits``, a
``CommitLog``; ``statusrows.node_commits`` reads its trailers with ``core.messages``);
afterwards the daemon hands over each sync's commit (``record``), so Git is not read again in
steady state. A Git failure is one warning per hub; the column stays NULL for that hub's nodes
(or keeps what was learnt) and the log is read again at the next publish.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateTable

from lynq_bridge.adapters.changesql import ident
from lynq_bridge.adapters.database import connect_args
from lynq_bridge.adapters.secrets import PasswordLookup
from lynq_bridge.config.models import LynqHub, MySQLSource, PostgreSQLSource, SQLiteSource
from lynq_bridge.core import history, statusrows
from lynq_bridge.core.paths import one_line
from lynq_bridge.core.statusrows import StatusRow
from lynq_bridge.errors import BridgeError, ConfigError, SourceUnavailable

log = logging.getLogger(__name__)

# The bridge's commits that touched a hub's directory, newest first (``git log``), or raises.
CommitLog = Callable[[LynqHub], Sequence[history.Commit]]

BATCH = 500  # rows per statement
DIALECTS: dict[str, sa.Dialect] = {
    "mysql": mysql.dialect(),
    "postgresql": postgresql.dialect(),  # type: ignore[no-untyped-call]
    "sqlite": sqlite.dialect(),
}


def hub_key(hub: LynqHub) -> str:
    return f"{hub.metadata.namespace}/{hub.metadata.name}"


def status_table(hub: LynqHub) -> sa.Table:
    """The table of a hub with a ``statusTable`` (columns documented in the README)."""
    settings = hub.spec.statusTable
    if settings is None:
        raise ConfigError(f"hub {hub_key(hub)} has no statusTable")
    source = hub.spec.source.database
    schema, _, name = settings.table.rpartition(".")
    if not schema and isinstance(source, PostgreSQLSource):
        schema = source.qualified[0]
    return sa.Table(
        ident(name),
        sa.MetaData(),
        sa.Column("hub", sa.String(320), primary_key=True),  # namespace/name of the LynqHub
        sa.Column("uid", sa.String(253), primary_key=True),
        sa.Column("ready", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(statusrows.MAX_REASON), nullable=False),
        sa.Column("message", sa.String(statusrows.MAX_MESSAGE), nullable=False),
        sa.Column("commit_sha", sa.String(statusrows.MAX_COMMIT), nullable=True),
        sa.Column("nodes", sa.Integer, nullable=False),
        sa.Column("ready_nodes", sa.Integer, nullable=False),
        sa.Column("observed_at", sa.DateTime, nullable=False),  # UTC
        sa.Column("transition_at", sa.DateTime, nullable=True),  # UTC
        schema=ident(schema) if schema else None,
    )


def ddl(hub: LynqHub) -> str:
    """The ``CREATE TABLE`` statement of a hub's status table in its source's dialect."""
    text = str(CreateTable(status_table(hub)).compile(dialect=DIALECTS[hub.spec.source.type]))
    return "\n".join(line.rstrip() for line in text.strip().splitlines()) + ";\n"


def status_url(hub: LynqHub, password: PasswordLookup) -> URL:
    """Where the status table is written: the source's database with the statusTable login."""
    settings = hub.spec.statusTable
    assert settings is not None
    source = hub.spec.source.database
    if isinstance(source, SQLiteSource):
        return URL.create("sqlite", database=source.path)
    ref = settings.passwordRef
    if ref is None and settings.username in (None, source.username):
        ref = source.passwordRef
    secret = password(hub.metadata.namespace, ref.name, ref.key) if ref else None
    driver = "mysql+pymysql" if isinstance(source, MySQLSource) else "postgresql+psycopg"
    return URL.create(
        driver,
        username=settings.username or source.username,
        password=secret,
        host=source.host,
        port=source.port,
        database=source.database,
    )


def _engine(hub: LynqHub, password: PasswordLookup) -> Engine:
    return sa.create_engine(
        status_url(hub, password),
        connect_args=connect_args(hub.spec.source.database),
        pool_pre_ping=True,
    )


def install(hub: LynqHub, password: PasswordLookup) -> None:
    """Create the hub's status table unless it exists."""
    engine = _engine(hub, password)
    try:
        status_table(hub).create(engine, checkfirst=True)
    except SQLAlchemyError as exc:
        raise SourceUnavailable(_failure(hub, engine, "cannot create", exc)) from exc
    finally:
        engine.dispose()


def _failure(hub: LynqHub, engine: Engine, doing: str, exc: SQLAlchemyError) -> str:
    settings = hub.spec.statusTable
    assert settings is not None
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    shown = engine.url.render_as_string(hide_password=True)
    return one_line(
        f"{doing} status table {settings.table} of hub {hub_key(hub)} in {shown}: {cause}"
    )


def _upsert(table: sa.Table, dialect: str, rows: Sequence[dict[str, Any]]) -> Any:
    updated = [c.name for c in table.columns if not c.primary_key]
    if dialect == "mysql":
        statement = mysql.insert(table).values(rows)
        return statement.on_duplicate_key_update(
            {name: statement.inserted[name] for name in updated}
        )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    pg_or_sqlite = insert(table).values(rows)
    return pg_or_sqlite.on_conflict_do_update(
        index_elements=["hub", "uid"],
        set_={name: pg_or_sqlite.excluded[name] for name in updated},
    )


class _HubTable:
    """One hub's table, its engine and what it holds (``None``: not read yet)."""

    def __init__(self, hub: LynqHub, password: PasswordLookup) -> None:
        self.hub = hub
        self.key = hub_key(hub)
        self.table = status_table(hub)
        self.dialect = hub.spec.source.type
        self.engine = _engine(hub, password)
        self.written: dict[str, StatusRow] | None = None

    def _read(self, connection: sa.Connection) -> dict[str, StatusRow]:
        t = self.table.c
        query = sa.select(
            t.uid, t.ready, t.reason, t.message, t.commit_sha, t.transition_at, t.nodes,
            t.ready_nodes,
        ).where(t.hub == self.key)  # fmt: skip
        return {
            r.uid: StatusRow(
                uid=r.uid,
                ready=bool(r.ready),
                reason=r.reason,
                message=r.message,
                commit=r.commit_sha,
                transition_at=r.transition_at,
                nodes=r.nodes,
                ready_nodes=r.ready_nodes,
            )
            for r in connection.execute(query)
        }

    def write(self, current: dict[str, StatusRow], now: dt.datetime) -> int:
        """Bring the table to ``current``; the number of rows upserted or deleted."""
        observed = now.astimezone(dt.UTC).replace(tzinfo=None)
        with self.engine.begin() as connection:
            previous = self.written if self.written is not None else self._read(connection)
            change = statusrows.plan(previous, current)
            values = [
                {
                    "hub": self.key,
                    "uid": row.uid,
                    "ready": row.ready,
                    "reason": row.reason,
                    "message": row.message,
                    "commit_sha": row.commit,
                    "nodes": row.nodes,
                    "ready_nodes": row.ready_nodes,
                    "observed_at": observed,
                    "transition_at": row.transition_at,
                }
                for row in change.upserts
            ]
            for start in range(0, len(values), BATCH):
                connection.execute(_upsert(self.table, self.dialect, values[start : start + BATCH]))
            t = self.table.c
            for start in range(0, len(change.deletes), BATCH):
                uids = change.deletes[start : start + BATCH]
                connection.execute(self.table.delete().where(t.hub == self.key, t.uid.in_(uids)))
        self.written = current
        return len(change.upserts) + len(change.deletes)


class _Commits:
    """Per hub, which commit last added or updated each node (``statusrows.NodeCommits``).

    ``record`` is called by the daemon's sync thread, ``known`` by the publishing thread; the
    Git log is read outside the lock, so a sync never waits for it."""

    def __init__(self, log_of: CommitLog | None) -> None:
        self._log_of = log_of
        self._known: dict[str, dict[str, tuple[int, str]]] = {}  # hub -> node -> (rank, sha)
        self._pending: dict[str, list[tuple[str, list[str]]]] = {}  # recorded before the load
        self._rank = 0
        self._failing: set[str] = set()
        self._lock = threading.Lock()

    def record(self, hub: str, commit: str, nodes: Iterable[str]) -> None:
        """``commit`` (newer than all before it) added or updated ``nodes`` of ``hub``."""
        names = list(nodes)
        with self._lock:
            known = self._known.get(hub)
            if known is None:
                self._pending.setdefault(hub, []).append((commit, names))
                return
            self._rank += 1
            for name in names:
                known[name] = (self._rank, commit)

    def known(self, hub: LynqHub) -> statusrows.NodeCommits:
        key = hub_key(hub)
        with self._lock:
            if key in self._known or self._log_of is None:
                return dict(self._known.get(key, {}))
        try:
            commits = self._log_of(hub)
        except BridgeError as exc:
            if key not in self._failing:
                self._failing.add(key)
                log.warning(
                    "%s (its commit_sha column is not filled until Git can be read)",
                    one_line(f"cannot read the commits of hub {key} from Git: {exc}"),
                )
            return {}
        if key in self._failing:
            self._failing.discard(key)
            log.info("commits of hub %s are read from Git again", key)
        with self._lock:
            found = statusrows.node_commits(commits, hub=key, first_rank=self._rank + 1)
            self._rank += len(commits)
            self._known[key] = found
            for commit, names in self._pending.pop(key, []):  # newer than what was read
                self._rank += 1
                for name in names:
                    found[name] = (self._rank, commit)
            return dict(found)


class StatusTables:
    """The status tables of the hubs that configure one; ``publish`` after each round,
    ``record`` after each commit of a sync; ``commits`` reads a hub's Git log (None: the
    commit_sha column is filled from ``record`` alone). ``close`` closes ``password`` too."""

    def __init__(
        self,
        hubs: Iterable[LynqHub],
        password: PasswordLookup,
        *,
        commits: CommitLog | None = None,
    ) -> None:
        self._password = password
        self._hubs = [h for h in hubs if h.spec.statusTable is not None]
        self._tables: dict[str, _HubTable] = {}
        self._failing: set[str] = set()  # hubs whose last write failed (warned once)
        self._lock = threading.Lock()
        self._commits = _Commits(commits)

    def record(self, hub: str, commit: str, nodes: Iterable[str]) -> None:
        """The sync of ``hub`` (namespace/name) pushed ``commit``, which added or updated
        ``nodes`` (a hub without a status table: ignored)."""
        if any(hub_key(h) == hub for h in self._hubs):
            self._commits.record(hub, commit, nodes)

    def __bool__(self) -> bool:
        return bool(self._hubs)

    def publish(self, nodes: Sequence[Mapping[str, Any]], now: dt.datetime) -> int:
        """Write every configured hub's changed rows; the rows written. Never raises for a
        database failure: it is logged once per hub until a write succeeds again."""
        total = 0
        with self._lock:
            for hub in self._hubs:
                total += self._publish_hub(hub, nodes, now)
        return total

    def _publish_hub(
        self, hub: LynqHub, nodes: Sequence[Mapping[str, Any]], now: dt.datetime
    ) -> int:
        key = hub_key(hub)
        table = self._tables.get(key)
        try:
            if table is None:
                table = self._tables[key] = _HubTable(hub, self._password)
            mine = statusrows.hub_nodes(
                nodes, namespace=hub.metadata.namespace, hub=hub.metadata.name
            )
            rows = statusrows.status_rows(mine, commits=self._commits.known(hub))
            written = table.write(rows, now)
        except (SQLAlchemyError, SourceUnavailable, ConfigError) as exc:
            if table is not None:
                table.written = None  # partly written or unknown: read it again next time
            if key not in self._failing:
                self._failing.add(key)
                shown = (
                    _failure(hub, table.engine, "cannot write", exc)
                    if table is not None and isinstance(exc, SQLAlchemyError)
                    else one_line(f"cannot write the status table of hub {key}: {exc}")
                )
                log.warning("%s (LynqNode statuses are still written)", shown)
            return 0
        if key in self._failing:
            self._failing.discard(key)
            log.info("status table of hub %s is written again", key)
        return written

    def close(self) -> None:
        with self._lock:
            for table in self._tables.values():
                table.engine.dispose()
            self._tables.clear()
            close = getattr(self._password, "close", None)
            if close is not None:
                close()
