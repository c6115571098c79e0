"""The SQL text of change detection: trigger DDL, MySQL set-up, fingerprint queries.

Apart from ``changes.py`` so that the feeds stay readable and the text can be read (and
printed by ``lynq-bridge changes ddl``) without a connection. Every identifier that reaches
this text is validated again here with the config models' rule and quoted, never trusted.
"""

from __future__ import annotations

from lynq_bridge.adapters.database import Query
from lynq_bridge.config.models import (
    SQL_COLUMN,
    LynqHub,
    MySQLSource,
    PostgreSQLSource,
    SQLiteSource,
)
from lynq_bridge.core.paths import quote
from lynq_bridge.errors import ConfigError

CHANNEL = "lynq_bridge"  # the one NOTIFY channel; the payload names the table
TRIGGER = "lynq_bridge_notify"  # the trigger and its function


def ident(name: str) -> str:
    """``name`` as it must be spelled in SQL text: validated again, never trusted."""
    if not SQL_COLUMN.match(name):
        raise ConfigError(f"{quote(name)} is not a plain SQL identifier")
    return name


def split_table(source: MySQLSource | PostgreSQLSource | SQLiteSource) -> tuple[str, str]:
    """(schema or database, table) of a hub's source."""
    if isinstance(source, PostgreSQLSource):
        schema, table = source.qualified
    else:
        schema, _, table = source.table.rpartition(".")
        schema = schema or getattr(source, "database", "")
    return ident(schema) if schema else "", ident(table)


def mysql_fingerprint_sql(query: Query, schema: str, table: str) -> str:
    # QUOTE() spells NULL and escapes quotes, so no two different rows give the same text.
    columns = ", ".join(f"QUOTE(`{ident(c)}`)" for c in dict.fromkeys(query.columns))
    row_hash = f"CONV(SUBSTRING(MD5(CONCAT_WS(',', {columns})), 1, 15), 16, 10)"
    return (
        f"SELECT COUNT(*), COALESCE(SUM(CAST({row_hash} AS UNSIGNED)), 0) FROM `{schema}`.`{table}`"
    )


def postgres_fingerprint_sql(query: Query, schema: str, table: str) -> str:
    # A row value's text spells NULL and quotes; hashtextextended (PostgreSQL 11+) is a 64-bit
    # hash about 4x cheaper than md5 (bench/README.md); the ", 0" keeps one column a row.
    columns = ", ".join(f't."{ident(c)}"' for c in dict.fromkeys(query.columns))
    row_hash = f"hashtextextended(ROW({columns}, 0)::text, 0)"
    return f'SELECT count(*), coalesce(sum({row_hash}), 0) FROM "{schema}"."{table}" AS t'


def postgres_trigger_ddl(hub: LynqHub) -> str:
    """The SQL that makes every change of the hub's table NOTIFY the bridge (idempotent)."""
    source = hub.spec.source.database
    if not isinstance(source, PostgreSQLSource):
        raise ConfigError(f"hub {hub.metadata.namespace}/{hub.metadata.name} is not PostgreSQL")
    schema, table = split_table(source)
    return (
        "BEGIN;\n"
        f'CREATE OR REPLACE FUNCTION "{schema}".{TRIGGER}() RETURNS trigger\n'
        "  LANGUAGE plpgsql AS $lynq$\n"
        f"BEGIN\n  PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);\n"
        "  RETURN NULL;\nEND\n$lynq$;\n"
        f'DROP TRIGGER IF EXISTS {TRIGGER} ON "{schema}"."{table}";\n'
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE\n"
        f'  ON "{schema}"."{table}" FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".{TRIGGER}();\n'
        "COMMIT;\n"
    )


def mysql_setup_text(hub: LynqHub) -> str:
    """The server settings and GRANT the binlog feed needs (printed, never run by the bridge)."""
    source = hub.spec.source.database
    if not isinstance(source, MySQLSource):
        raise ConfigError(f"hub {hub.metadata.namespace}/{hub.metadata.name} is not MySQL")
    user = source.username.replace("\\", "\\\\").replace("'", "''")
    return (
        "-- my.cnf, [mysqld]: the binlog in row format (restart the server after):\n"
        "--   log_bin = mysql-bin\n--   binlog_format = ROW\n--   server_id = 1\n"
        f"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{user}'@'%';\n"
    )
