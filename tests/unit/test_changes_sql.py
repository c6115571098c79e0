"""The SQL text of change detection (lynq_bridge.adapters.changesql): names validated and quoted."""

from __future__ import annotations

import pytest

from lynq_bridge.adapters.changesql import (
    ident,
    mysql_fingerprint_sql,
    mysql_setup_text,
    postgres_fingerprint_sql,
    postgres_trigger_ddl,
)
from lynq_bridge.adapters.database import Query
from lynq_bridge.config.models import LynqHub
from lynq_bridge.errors import ConfigError

QUERY = Query(table="tenants", columns=("tenant_id", "active", "plan"), variables=("plan",))


def hub(kind: str, **source: object) -> LynqHub:
    block = {"table": "Tenants", **source}
    if kind != "sqlite":
        block.update(host="db", username="o'brien", database="app")
    else:
        block.update(path="/x.db")
    return LynqHub.model_validate(
        {
            "apiVersion": "operator.lynq.sh/v1",
            "kind": "LynqHub",
            "metadata": {"name": "tenants"},
            "spec": {
                "source": {"type": kind, kind: block},
                "valueMappings": {"uid": "tenant_id", "activate": "active"},
            },
        }
    )


@pytest.mark.parametrize("name", ['x"; DROP TABLE t; --', "a`b", "a b", "", "1abc", "a.b"])
def test_a_name_that_is_not_a_plain_identifier_never_reaches_sql(name: str) -> None:
    with pytest.raises(ConfigError, match="is not a plain SQL identifier"):
        ident(name)


def test_the_mysql_fingerprint_hashes_every_mapped_column_null_safely() -> None:
    sql = mysql_fingerprint_sql(QUERY, "app", "tenants")
    assert "QUOTE(`tenant_id`), QUOTE(`active`), QUOTE(`plan`)" in sql
    assert sql.endswith("FROM `app`.`tenants`")
    assert "SUM(" in sql and "BIT_XOR" not in sql  # XOR of row hashes cancels out


def test_the_postgres_fingerprint_hashes_the_row_value_of_the_mapped_columns() -> None:
    sql = postgres_fingerprint_sql(QUERY, "public", "tenants")
    assert 'hashtextextended(ROW(t."tenant_id", t."active", t."plan", 0)::text, 0)' in sql
    assert sql.endswith('FROM "public"."tenants" AS t')


def test_the_trigger_ddl_quotes_the_table_exactly_as_the_sync_reads_it() -> None:
    ddl = postgres_trigger_ddl(hub("postgresql", schema="Sales"))
    assert 'ON "Sales"."Tenants" FOR EACH STATEMENT' in ddl
    assert "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE" in ddl
    assert "DROP TRIGGER IF EXISTS lynq_bridge_notify" in ddl  # idempotent


def test_the_mysql_grant_escapes_the_user_name() -> None:
    assert "TO 'o''brien'@'%'" in mysql_setup_text(hub("mysql"))


def test_ddl_for_a_hub_of_another_database_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="is not PostgreSQL"):
        postgres_trigger_ddl(hub("sqlite"))
