"""Shared fixtures: the real database servers that scripts/test.sh starts, one fresh database each.

scripts/test.sh starts MariaDB and PostgreSQL and exports their admin URLs in
``LYNQ_TEST_MYSQL_URL`` and ``LYNQ_TEST_POSTGRES_URL`` (plus read-only credentials). Each test that
asks for ``mysql_database`` or ``postgres_database`` gets a new, uniquely named, empty database that
is dropped afterwards, so tests never see each other's tables. Without the variables, tests that
need a server are skipped locally and fail in CI (any truthy ``CI``), where a silent skip would
hide a broken set-up: every such decision in tests/ goes through ``services.missing_service``.

Tests fill databases with ``db.execute(...)`` or the ``execute`` fixture
(``execute(url, *statements)``); a statement is SQL text or ``(sql, params)`` with ``:name``
placeholders, so awkward values (bytes, dates, NULL) are bound rather than spelled in SQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from services import missing_service
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

MYSQL_URL_ENV = "LYNQ_TEST_MYSQL_URL"
POSTGRES_URL_ENV = "LYNQ_TEST_POSTGRES_URL"

Statement = str | tuple[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]]


def require_service(env_var: str, what: str) -> str:
    """The value of ``env_var``; without it, skip the test locally and fail it in CI."""
    value = os.environ.get(env_var)
    if value:
        return value
    missing_service(what, f"{env_var} is not set; run scripts/test.sh")


def execute(url: str, *statements: Statement) -> None:
    """Run statements against ``url`` in one transaction, committed at the end."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                if isinstance(statement, str):
                    connection.execute(text(statement))
                else:
                    sql, params = statement
                    connection.execute(text(sql), params)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Database:
    """One fresh database on a test server (or a SQLite file), and how to log in to it.

    For SQLite, host, username and password are empty, port is 0 and ``database`` is the file path.
    """

    kind: str  # "mysql", "postgresql" or "sqlite": the LynqHub ``source.type``
    url: str  # SQLAlchemy URL of this database, logged in as the read-write test user
    host: str
    port: int
    username: str
    password: str
    database: str
    readonly_env: tuple[str, str] | None = None  # env vars of the read-only user and password

    def execute(self, *statements: Statement) -> None:
        """Run statements in this database (see the module docstring)."""
        execute(self.url, *statements)

    def readonly_url(self) -> str:
        """URL of this database for a user that may only read (skip/fail when not configured)."""
        if self.kind == "sqlite":
            return f"sqlite:///file:{self.database}?mode=ro&uri=true"
        assert self.readonly_env is not None
        user_env, password_env = self.readonly_env
        what = "A read-only database user"
        url = make_url(self.url).set(
            username=require_service(user_env, what),
            password=require_service(password_env, what),
        )
        return url.render_as_string(hide_password=False)


def _admin_engine(admin_url: str) -> Engine:
    # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction on PostgreSQL.
    return create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1)


def _fresh_database(
    admin: Engine,
    *,
    kind: str,
    readonly_env: tuple[str, str],
    drop_sql: str,
) -> Iterator[Database]:
    name = f"lynq_t_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url: URL = admin.url.set(database=name)
    try:
        yield Database(
            kind=kind,
            url=url.render_as_string(hide_password=False),
            host=url.host or "",
            port=url.port or 0,
            username=url.username or "",
            password=url.password or "",
            database=name,
            readonly_env=readonly_env,
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(drop_sql.format(name=name)))


@pytest.fixture(scope="session")
def mysql_admin_url() -> str:
    """URL of the MariaDB test server as a user that may create databases."""
    return require_service(MYSQL_URL_ENV, "MariaDB")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of the PostgreSQL test server as a user that may create databases."""
    return require_service(POSTGRES_URL_ENV, "PostgreSQL")


@pytest.fixture(scope="session")
def _mysql_admin(mysql_admin_url: str) -> Iterator[Engine]:
    engine = _admin_engine(mysql_admin_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _postgres_admin(postgres_admin_url: str) -> Iterator[Engine]:
    engine = _admin_engine(postgres_admin_url)
    yield engine
    engine.dispose()


@pytest.fixture
def mysql_database(_mysql_admin: Engine) -> Iterator[Database]:
    """A new empty MariaDB database, dropped after the test."""
    yield from _fresh_database(
        _mysql_admin,
        kind="mysql",
        readonly_env=("LYNQ_TEST_MYSQL_RO_USER", "LYNQ_TEST_MYSQL_RO_PASSWORD"),
        drop_sql="DROP DATABASE IF EXISTS {name}",
    )


@pytest.fixture
def postgres_database(_postgres_admin: Engine) -> Iterator[Database]:
    """A new empty PostgreSQL database, dropped after the test."""
    yield from _fresh_database(
        _postgres_admin,
        kind="postgresql",
        readonly_env=("LYNQ_TEST_POSTGRES_RO_USER", "LYNQ_TEST_POSTGRES_RO_PASSWORD"),
        # FORCE: a pooled connection left open by the code under test must not block the drop.
        drop_sql="DROP DATABASE IF EXISTS {name} WITH (FORCE)",
    )


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Path:
    """Path of a SQLite database file that does not exist yet (SQLite creates it on connect)."""
    return tmp_path / "tenants.db"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("mysql", id="mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    ]
)
def database(request: pytest.FixtureRequest, sqlite_database: Path) -> Database:
    """A fresh empty database on each backend in turn: the test runs once per backend.

    Datasource behaviour (SPEC section 4) must not depend on the backend, so tests of it should
    use this rather than one backend's fixture.
    """
    if request.param == "sqlite":
        return Database(
            kind="sqlite",
            url=f"sqlite:///{sqlite_database}",
            host="",
            port=0,
            username="",
            password="",
            database=str(sqlite_database),
        )
    fixture = "mysql_database" if request.param == "mysql" else "postgres_database"
    handle: Database = request.getfixturevalue(fixture)
    return handle


@pytest.fixture(name="execute")
def execute_fixture() -> Callable[..., None]:
    """``execute(url, *statements)`` for tests that hold a URL rather than a ``Database``."""
    return execute


# Keyed by the admin URL fixtures, which every server-backed fixture depends on.
_SERVER_MARKERS = {"mysql_admin_url": "mariadb", "postgres_admin_url": "postgresql"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the server they use, so ``-m "not mariadb"`` selects without reading code."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        for fixture, marker in _SERVER_MARKERS.items():
            if fixture in fixtures:
                item.add_marker(marker)


@pytest.fixture(name="require_service")
def require_service_fixture() -> Callable[[str, str], str]:
    """``require_service(env_var, what)`` for tests that need one more variable."""
    return require_service
