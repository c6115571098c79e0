"""Datasource semantics (SPEC §4) on real MariaDB, PostgreSQL and SQLite.

Every test that takes the ``database`` fixture runs once per backend; the behaviour must not
depend on which one holds the rows.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase, hub_document

from lynq_bridge.adapters.database import Datasources
from lynq_bridge.adapters.secrets import SecretsDirectory
from lynq_bridge.cli import main
from lynq_bridge.config.loading import load_config
from lynq_bridge.errors import SourceUnavailable

ROWS = [
    {
        "tenant_id": "acme",
        "active": "1",
        "domain": "https://acme.example.com",
        "plan": "pro",
        "replicas": 3,
    },
    {
        "tenant_id": "beta",
        "active": "true",
        "domain": "beta.example.com:8080/x",
        "plan": None,
        "replicas": None,
    },
    {"tenant_id": "gamma", "active": "0", "domain": None, "plan": "basic", "replicas": 1},
    {"tenant_id": "delta", "active": "Yes", "domain": "", "plan": "", "replicas": 2},
]


def tree_digest(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def render(bridge: Bridge, out: Path) -> int:
    return bridge.cli("render", "--out", str(out))


def test_same_rows_give_byte_identical_trees_on_every_backend(
    tmp_path: Path,
    sqlite_database: Path,
    mysql_database: Any,
    postgres_database: Any,
    create_tenants: Any,
) -> None:
    trees = {}
    for name, db in (
        ("sqlite", SqliteDatabase(sqlite_database)),
        ("mariadb", mysql_database),
        ("postgresql", postgres_database),
    ):
        create_tenants(db, ROWS)
        bridge = Bridge(tmp_path / name, db)
        assert render(bridge, tmp_path / name / "out") == 0
        trees[name] = tree_digest(tmp_path / name / "out")
    assert len(trees["sqlite"]) > 10
    assert trees["mariadb"] == trees["sqlite"]
    assert trees["postgresql"] == trees["sqlite"]


ACTIVE = ["1", "true", "TRUE", "True", "yes", "YES", "Yes"]
INACTIVE = ["0", "false", "", None, "on", " 1", "y", "t", "2", "1 "]


def test_only_the_exact_truthy_texts_activate_a_row(
    tmp_path: Path, database: Any, create_tenants: Any
) -> None:
    rows = [{"tenant_id": f"a{i}", "active": v} for i, v in enumerate(ACTIVE)]
    rows += [{"tenant_id": f"i{i}", "active": v} for i, v in enumerate(INACTIVE)]
    create_tenants(database, rows)
    bridge = Bridge(tmp_path, database)
    assert render(bridge, tmp_path / "out") == 0
    nodes = sorted(
        p.name for p in (tmp_path / "out" / "default" / "tenants").iterdir() if p.is_dir()
    )
    assert nodes == sorted(f"a{i}-web" for i in range(len(ACTIVE)))


def test_native_boolean_column_activates_rows(
    tmp_path: Path, database: Any, create_tenants: Any
) -> None:
    create_tenants(
        database,
        [{"tenant_id": "on", "active": True}, {"tenant_id": "off", "active": False}],
        active_type="BOOLEAN",
    )
    bridge = Bridge(tmp_path, database)
    assert render(bridge, tmp_path / "out") == 0
    assert (tmp_path / "out/default/tenants/on-web").is_dir()
    assert not (tmp_path / "out/default/tenants/off-web").exists()


def test_null_arrives_as_empty_string_and_default_replaces_it(
    tmp_path: Path, database: Any, create_tenants: Any
) -> None:
    create_tenants(database, [{"tenant_id": "acme", "active": "1", "plan": None, "replicas": None}])
    bridge = Bridge(tmp_path, database)
    assert render(bridge, tmp_path / "out") == 0
    deployment = yaml.safe_load(
        (tmp_path / "out/default/tenants/acme-web/deployment_default_acme-app.yaml").read_text()
    )
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "basic"


def test_view_can_be_the_hub_table(tmp_path: Path, database: Any, create_tenants: Any) -> None:
    create_tenants(database, ROWS)
    database.execute(
        "CREATE VIEW paying AS SELECT tenant_id, active, domain, plan, replicas FROM tenants "
        "WHERE plan = 'pro'"
    )
    bridge = Bridge(tmp_path, database, table="paying")
    assert render(bridge, tmp_path / "out") == 0
    nodes = sorted(p.name for p in (tmp_path / "out/default/tenants").iterdir() if p.is_dir())
    assert nodes == ["acme-web"]


def test_unknown_column_fails_the_hub_and_leaves_git_unchanged(
    tmp_path: Path, database: Any, create_tenants: Any
) -> None:
    create_tenants(database, ROWS)
    bridge = Bridge(tmp_path, database)
    assert bridge.sync() == 0
    head = bridge.head()
    hub = hub_document(database, tmp_path)
    hub["spec"]["extraValueMappings"]["plan"] = "plann"
    bridge.write("hub.yaml", hub)
    config = load_config(bridge.config)
    sources = Datasources(SecretsDirectory(str(tmp_path / "secrets")))
    with pytest.raises(SourceUnavailable, match=r"hub default/tenants.*plann"):
        sources.fetch_records(config.hubs[0])
    sources.dispose()
    assert bridge.sync() == 1
    assert bridge.head() == head


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("backend", ["mysql_database", "postgres_database"])
def test_wrong_password_is_reported_without_the_password(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, create_tenants: Any
) -> None:
    database = request.getfixturevalue(backend)
    create_tenants(database, ROWS)
    bridge = Bridge(tmp_path, database)
    (tmp_path / "secrets/db/password").write_text("not-the-password-XYZ")
    sources = Datasources(SecretsDirectory(str(tmp_path / "secrets")))
    with pytest.raises(SourceUnavailable) as caught:
        sources.fetch_records(load_config(bridge.config).hubs[0])
    sources.dispose()
    message = str(caught.value)
    assert "hub default/tenants" in message
    assert "not-the-password-XYZ" not in message
    assert "***" in message


@pytest.mark.parametrize("backend", ["mysql_database", "postgres_database"])
def test_unreachable_server_fails_that_hub_with_the_cause(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    database = request.getfixturevalue(backend)
    hub = hub_document(database, tmp_path)
    hub["spec"]["source"][database.kind]["port"] = _free_port()
    bridge = Bridge(tmp_path, database)
    bridge.write("hub.yaml", hub)
    sources = Datasources(SecretsDirectory(str(tmp_path / "secrets")))
    with pytest.raises(
        SourceUnavailable, match=r"cannot read table tenants of hub default/tenants"
    ):
        sources.fetch_records(load_config(bridge.config).hubs[0])
    sources.dispose()


def test_missing_password_secret_is_an_error_not_an_empty_password(
    tmp_path: Path, mysql_database: Any
) -> None:
    bridge = Bridge(tmp_path, mysql_database)
    (tmp_path / "secrets/db/password").unlink()
    sources = Datasources(SecretsDirectory(str(tmp_path / "secrets")))
    with pytest.raises(SourceUnavailable, match=r"passwordRef db/password not found"):
        sources.fetch_records(load_config(bridge.config).hubs[0])


@pytest.mark.parametrize(
    ("backend", "user_env", "password_env"),
    [
        ("mysql_database", "LYNQ_TEST_MYSQL_RO_USER", "LYNQ_TEST_MYSQL_RO_PASSWORD"),
        ("postgres_database", "LYNQ_TEST_POSTGRES_RO_USER", "LYNQ_TEST_POSTGRES_RO_PASSWORD"),
    ],
)
def test_read_only_user_is_enough(
    tmp_path: Path,
    backend: str,
    user_env: str,
    password_env: str,
    request: pytest.FixtureRequest,
    create_tenants: Any,
    require_service: Any,
) -> None:
    database = request.getfixturevalue(backend)
    create_tenants(database, ROWS)
    bridge = Bridge(tmp_path, database)
    hub = hub_document(database, tmp_path)
    hub["spec"]["source"][database.kind]["username"] = require_service(user_env, "read-only user")
    bridge.write("hub.yaml", hub)
    (tmp_path / "secrets/db/password").write_text(require_service(password_env, "read-only user"))
    assert bridge.sync() == 0
    assert bridge.nodes() == ["acme-web", "beta-web", "delta-web"]


def test_schema_qualified_table_reads_from_that_schema(
    tmp_path: Path, postgres_database: Any, create_tenants: Any
) -> None:
    postgres_database.execute("CREATE SCHEMA crm")
    create_tenants(postgres_database, ROWS[:1], table="crm.tenants")
    bridge = Bridge(tmp_path, postgres_database, table="crm.tenants")
    assert render(bridge, tmp_path / "out") == 0
    assert (tmp_path / "out/default/tenants/acme-web").is_dir()


@pytest.mark.parametrize(
    "table",
    ["tenants; DROP TABLE tenants", "tenants--", "t WHERE 1=1", "a.b.c", "`tenants`", "x'"],
)
def test_table_name_with_sql_is_a_config_error(tmp_path: Path, table: str, capsys: Any) -> None:
    bridge = Bridge(tmp_path, SqliteDatabase(tmp_path / "none.db"), table=table)
    assert main(["validate", "--config", str(bridge.config)]) == 2
    err = capsys.readouterr().err
    assert "spec.source.sqlite.table" in err and "hub.yaml" in err


def test_connections_are_pooled_across_reads(
    tmp_path: Path, database: Any, create_tenants: Any
) -> None:
    create_tenants(database, ROWS)
    bridge = Bridge(tmp_path, database)
    hub = load_config(bridge.config).hubs[0]
    sources = Datasources(SecretsDirectory(str(tmp_path / "secrets")))
    _, first = sources.fetch_records(hub)
    engine = next(iter(sources._engines.values()))
    connections_after_first = engine.pool.checkedin()
    _, second = sources.fetch_records(hub)
    assert first == second
    assert len(sources._engines) == 1
    assert engine.pool.checkedin() == connections_after_first >= 1
    assert engine.pool.checkedout() == 0  # nothing held between syncs
    sources.dispose()
