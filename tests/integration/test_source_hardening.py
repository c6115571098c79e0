"""Sources (issue 7, class 8): the PostgreSQL ``schema`` is honoured, and points in time are the
same UTC RFC 3339 text whatever zone the server, the database or the session uses.

The zones are set on the real servers: MariaDB's global ``time_zone`` (restored afterwards; the
servers of scripts/test.sh are throw-away) and a PostgreSQL database's default ``timezone``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bridge_harness import Bridge, hub_document
from sqlalchemy import create_engine, text

from lynq_bridge.adapters.database import Datasources
from lynq_bridge.adapters.secrets import SecretsDirectory
from lynq_bridge.config.loading import load_config
from lynq_bridge.config.models import LynqHub
from lynq_bridge.core.rows import Row, rows_from_records, to_text
from lynq_bridge.errors import SourceUnavailable

INSTANT = "2030-01-02T03:04:05Z"
TOKYO = dt.timezone(dt.timedelta(hours=9))


def hub_for(
    tmp_path: Path, database: Any, *, table: str, extras: dict[str, str], **source: Any
) -> LynqHub:
    bridge = Bridge(tmp_path, database, table=table)
    hub = hub_document(database, tmp_path, table=table)
    hub["spec"]["extraValueMappings"] = extras
    hub["spec"]["source"][database.kind].update(source)
    bridge.write("hub.yaml", hub)
    return load_config(bridge.config).hubs[0]


def read_rows(tmp_path: Path, hub: LynqHub) -> list[Row]:
    sources = Datasources(SecretsDirectory(str(tmp_path / "secrets")))
    try:
        query, records = sources.fetch_records(hub)
    finally:
        sources.dispose()
    return rows_from_records(records, columns=query.variables)


@contextlib.contextmanager
def tokyo(database: Any) -> Iterator[Any]:
    """``database`` on a server (MariaDB) or database (PostgreSQL) whose zone is Asia/Tokyo."""
    if database.kind == "mysql":
        engine = create_engine(database.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            before = connection.execute(text("SELECT @@GLOBAL.time_zone")).scalar_one()
            connection.execute(text("SET GLOBAL time_zone = '+09:00'"))
        try:
            yield database
        finally:
            with engine.connect() as connection:
                connection.execute(text("SET GLOBAL time_zone = :zone"), {"zone": before})
            engine.dispose()
        return
    if database.kind == "postgresql":
        database.execute(f"ALTER DATABASE {database.database} SET timezone TO 'Asia/Tokyo'")
    yield database


@pytest.fixture
def tokyo_server(database: Any) -> Iterator[Any]:
    """Each backend in turn (see ``database``), in the Asia/Tokyo zone."""
    with tokyo(database) as zoned:
        yield zoned


# ----------------------------------------------------------------------------- time zones

AWARE_TYPE = {"mysql": "TIMESTAMP NULL", "postgresql": "TIMESTAMPTZ", "sqlite": "TEXT"}
NAIVE_TYPE = {"mysql": "DATETIME", "postgresql": "TIMESTAMP", "sqlite": "TEXT"}


def test_a_point_in_time_reads_as_utc_rfc3339_whatever_the_server_zone(
    tmp_path: Path, tokyo_server: Any
) -> None:
    db = tokyo_server
    db.execute(
        f"CREATE TABLE events (tenant_id VARCHAR(64), active VARCHAR(8), "
        f"created {AWARE_TYPE[db.kind]}, local_time {NAIVE_TYPE[db.kind]})"
    )
    # The same instant, written the way a Tokyo client would write it on each backend.
    created = {
        "mysql": "2030-01-02 12:04:05",  # a TIMESTAMP in the +09:00 session of the writer
        "postgresql": "2030-01-02 12:04:05+09",
        "sqlite": INSTANT,  # no date type: the text is the value
    }[db.kind]
    local = INSTANT if db.kind == "sqlite" else "2030-01-02 03:04:05"
    db.execute(
        (
            "INSERT INTO events VALUES ('acme', '1', :created, :local)",
            {"created": created, "local": local},
        )
    )
    hub = hub_for(
        tmp_path, db, table="events", extras={"created": "created", "local": "local_time"}
    )
    [row] = read_rows(tmp_path, hub)
    assert row.variables["created"] == INSTANT
    assert row.variables["local"] == INSTANT  # a zone-less value is taken as UTC


def test_postgresql_sessions_run_in_utc_so_a_view_formatting_a_time_is_stable(
    tmp_path: Path, postgres_database: Any
) -> None:
    db = postgres_database
    db.execute(
        f"ALTER DATABASE {db.database} SET timezone TO 'Asia/Tokyo'",
        "CREATE TABLE events (tenant_id TEXT, active TEXT, created TIMESTAMPTZ)",
        "INSERT INTO events VALUES ('acme', '1', '2030-01-02 12:04:05+09')",
        "CREATE VIEW shown AS SELECT tenant_id, active, created::text AS created FROM events",
    )
    hub = hub_for(tmp_path, db, table="shown", extras={"created": "created"})
    [row] = read_rows(tmp_path, hub)
    assert row.variables["created"] == "2030-01-02 03:04:05+00"


def test_mysql_sessions_run_in_utc_so_a_view_using_now_is_stable(
    tmp_path: Path, mysql_database: Any
) -> None:
    mysql_database.execute(
        "CREATE TABLE tenants (tenant_id VARCHAR(64), active VARCHAR(8))",
        "INSERT INTO tenants VALUES ('acme', '1')",
        "CREATE VIEW zoned AS SELECT tenant_id, active, "
        "CAST(TIMEDIFF(NOW(), UTC_TIMESTAMP()) AS CHAR) AS zone FROM tenants",
    )
    with tokyo(mysql_database) as db:
        hub = hub_for(tmp_path, db, table="zoned", extras={"zone": "zone"})
        [row] = read_rows(tmp_path, hub)
    assert row.variables["zone"] == "00:00:00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2030, 1, 2, 12, 4, 5, tzinfo=TOKYO), INSTANT),
        (dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC), INSTANT),
        (dt.datetime(2030, 1, 2, 3, 4, 5), INSTANT),
        (dt.datetime(2030, 1, 2, 3, 4, 5, 250000, tzinfo=TOKYO), "2030-01-01T18:04:05.250000Z"),
        (dt.datetime(1, 1, 1, 3, 0, tzinfo=TOKYO), "0001-01-01T03:00:00+09:00"),
        (dt.date(2030, 1, 2), "2030-01-02"),
        (dt.time(1, 2, 3, tzinfo=TOKYO), "16:02:03Z"),
        (dt.time(1, 2, 3), "01:02:03"),
    ],
)
def test_time_values_become_utc_rfc3339_text(value: object, expected: str) -> None:
    assert to_text(value) == expected


# --------------------------------------------------------------------------------- schema


@pytest.fixture
def three_schemas(postgres_database: Any) -> Any:
    """``tenants`` in public (acme), crm (beta) and other (gamma); search_path puts other first."""
    db = postgres_database
    statements: list[str] = ["CREATE SCHEMA crm", "CREATE SCHEMA other"]
    for schema, uid in (("public", "acme"), ("crm", "beta"), ("other", "gamma")):
        statements += [
            f"CREATE TABLE {schema}.tenants (tenant_id TEXT, active TEXT)",
            f"INSERT INTO {schema}.tenants VALUES ('{uid}', '1')",
        ]
    statements.append(f"ALTER DATABASE {db.database} SET search_path TO other, public")
    db.execute(*statements)
    return db


@pytest.mark.parametrize(
    ("table", "source", "uid"),
    [
        ("tenants", {}, "acme"),  # public, named in the query: the search_path does not choose
        ("tenants", {"schema": "crm"}, "beta"),
        ("crm.tenants", {}, "beta"),
        ("tenants", {"schema": "other"}, "gamma"),
    ],
)
def test_postgresql_schema_selects_the_table(
    tmp_path: Path, three_schemas: Any, table: str, source: dict[str, str], uid: str
) -> None:
    hub = hub_for(tmp_path, three_schemas, table=table, extras={}, **source)
    assert [row.uid for row in read_rows(tmp_path, hub)] == [uid]


def test_missing_schema_is_a_source_error_naming_schema_and_table(
    tmp_path: Path, three_schemas: Any
) -> None:
    hub = hub_for(tmp_path, three_schemas, table="tenants", extras={}, schema="nope")
    with pytest.raises(SourceUnavailable, match=r"cannot read table nope\.tenants of hub"):
        read_rows(tmp_path, hub)
