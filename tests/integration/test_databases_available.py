"""The test servers that scripts/test.sh starts answer, and the fixtures behave as documented.

If these fail, every datasource test would fail for a reason that has nothing to do with the
bridge; they fail first and say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import create_engine, text


def fetch_all(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def table_names(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return sqlalchemy.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_mariadb_answers_select_1(mysql_admin_url: str) -> None:
    assert fetch_all(mysql_admin_url, "SELECT 1") == [(1,)]


def test_postgresql_answers_select_1(postgres_admin_url: str) -> None:
    assert fetch_all(postgres_admin_url, "SELECT 1") == [(1,)]


def test_fresh_database_is_empty_and_takes_tenant_rows(
    database: Any, create_tenants: Callable[..., None]
) -> None:
    assert table_names(database.url) == []
    create_tenants(
        database,
        [
            {"tenant_id": "acme", "active": "1", "plan": "pro", "replicas": 2},
            {"tenant_id": "beta", "active": None},
        ],
    )

    rows = fetch_all(database.url, "SELECT tenant_id, active, plan, replicas FROM tenants")

    assert sorted(rows) == [("acme", "1", "pro", 2), ("beta", None, None, None)]


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("mysql_database", marks=pytest.mark.mariadb),
        pytest.param("postgres_database", marks=pytest.mark.postgresql),
    ],
)
def test_readonly_user_reads_but_cannot_write(
    backend: str,
    request: pytest.FixtureRequest,
    create_tenants: Callable[..., None],
    execute: Callable[..., None],
) -> None:
    database = request.getfixturevalue(backend)
    create_tenants(database, [{"tenant_id": "acme", "active": "1"}])
    readonly_url = database.readonly_url()

    assert fetch_all(readonly_url, "SELECT tenant_id FROM tenants") == [("acme",)]
    with pytest.raises(sqlalchemy.exc.DBAPIError):
        execute(readonly_url, "DELETE FROM tenants")
