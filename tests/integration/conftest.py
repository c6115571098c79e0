"""Integration helpers: the ``tenants`` table of the SPEC's examples, created in any test database.

Most datasource and sync tests need the same shape of table (a uid, an activation column and a few
extra columns, as in the LynqHub example of SPEC 3.2); ``create_tenants`` builds it in a fresh
database from tests/conftest.py and inserts rows given as dicts, so a test states only its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import pytest

# Portable across MariaDB, PostgreSQL and SQLite. The activation column is text by default so a
# test can store any spelling ("1", "yes", " 1", NULL); pass active_type="BOOLEAN" for the
# native type (MariaDB stores it as TINYINT and returns 1/0).
TENANT_COLUMNS: dict[str, str] = {
    "tenant_id": "VARCHAR(255) NOT NULL PRIMARY KEY",
    "active": "VARCHAR(16)",
    "domain": "VARCHAR(255)",
    "plan": "VARCHAR(64)",
    "replicas": "INTEGER",
}


class SupportsExecute(Protocol):
    """What ``create_tenants`` needs of a database: tests/conftest.py's ``Database`` fits."""

    def execute(self, *statements: str | tuple[str, Any]) -> None: ...


def create_tenants(
    db: SupportsExecute,
    rows: Sequence[Mapping[str, Any]] = (),
    *,
    table: str = "tenants",
    active_type: str | None = None,
) -> None:
    """Create ``table`` with TENANT_COLUMNS and insert ``rows`` (missing columns become NULL)."""
    columns = dict(TENANT_COLUMNS)
    if active_type is not None:
        columns["active"] = active_type
    ddl = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    statements: list[str | tuple[str, Any]] = [f"CREATE TABLE {table} ({ddl})"]
    if rows:
        unknown = sorted({key for row in rows for key in row} - columns.keys())
        if unknown:
            raise ValueError(f"rows name columns the tenants table lacks: {unknown}")
        names = ", ".join(columns)
        placeholders = ", ".join(f":{name}" for name in columns)
        params = [{name: row.get(name) for name in columns} for row in rows]
        statements.append((f"INSERT INTO {table} ({names}) VALUES ({placeholders})", params))
    db.execute(*statements)


@pytest.fixture(name="create_tenants", scope="session")  # a plain function: module fixtures use it
def create_tenants_fixture() -> Callable[..., None]:
    """``create_tenants(db, rows, *, table="tenants", active_type=None)``, see above."""
    return create_tenants
