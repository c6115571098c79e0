"""Determinism (issue 7): the output never depends on the order in which rows were inserted.

Two mechanisms guarantee it, and each has a test that fails without it:

- the SQL ``ORDER BY <uid>`` (``Query.statement``): records reach the core in uid order. Tables
  here have no primary key, so without it every backend returns them in insertion order;
- the Python sort in ``rows_from_records``: rows sort by (uid, values), so among rows with the
  same uid the winner is the first in that order, not the first the database returns (SQL gives
  equal uids in no defined order).

Each test runs on SQLite, MariaDB and PostgreSQL (the ``database`` fixture).
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge
from sqlalchemy.dialects import mysql, postgresql, sqlite

from lynq_bridge.adapters.database import Datasources, Query
from lynq_bridge.adapters.secrets import SecretsDirectory
from lynq_bridge.config.loading import load_config
from lynq_bridge.core.rows import rows_from_records

# The tenants table of the harness's hub, without a primary key: no index orders the rows.
COLUMNS = "tenant_id VARCHAR(64), active VARCHAR(8), domain VARCHAR(64), plan VARCHAR(64), "
COLUMNS += "replicas INTEGER"
OUT_OF_ORDER = ["delta", "alpha", "echo", "charlie", "bravo"]
# acme four times; the winner ("alpha", first in value order) is neither first nor last inserted.
DUPLICATES = ["zeta", "mu", "alpha", "omega"]


def fill(database: Any, table: str, rows: list[tuple[str, str]]) -> None:
    database.execute(
        f"CREATE TABLE {table} ({COLUMNS})",
        (
            f"INSERT INTO {table} (tenant_id, active, plan) VALUES (:uid, '1', :plan)",
            [{"uid": uid, "plan": plan} for uid, plan in rows],
        ),
    )


def tree(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_records_reach_the_core_in_uid_order(tmp_path: Path, database: Any) -> None:
    fill(database, "tenants", [(uid, "basic") for uid in OUT_OF_ORDER])
    hub = load_config(Bridge(tmp_path, database).config).hubs[0]
    sources = Datasources(SecretsDirectory(str(tmp_path / "secrets")))
    try:
        _, records = sources.fetch_records(hub)
    finally:
        sources.dispose()
    assert [record[0] for record in records] == sorted(OUT_OF_ORDER)


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (sqlite.dialect(), "FROM tenants ORDER BY tenants.tenant_id"),
        (mysql.dialect(), "FROM tenants ORDER BY tenants.tenant_id"),
        (postgresql.dialect(), "FROM public.tenants ORDER BY public.tenants.tenant_id"),
    ],
)
def test_the_query_orders_by_uid_on_every_dialect(
    tmp_path: Path, dialect: Any, expected: str
) -> None:
    kind = {"sqlite": "sqlite", "mysql": "mysql", "postgresql": "postgresql"}[dialect.name]
    hub = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqHub",
        "metadata": {"name": "tenants"},
        "spec": {
            "source": {"type": kind, kind: {"table": "tenants"}},
            "valueMappings": {"uid": "tenant_id", "activate": "active"},
        },
    }
    if kind == "sqlite":
        hub["spec"]["source"][kind]["path"] = "t.db"
    else:
        hub["spec"]["source"][kind].update(host="db", username="u", database="d")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "hub.yaml").write_text(yaml.safe_dump(hub))
    bridge = {
        "apiVersion": "bridge.lynq.sh/v1alpha1",
        "kind": "BridgeConfig",
        "metadata": {"name": "default"},
        "spec": {"git": {"url": "r.git"}},
    }
    (tmp_path / "c" / "bridge.yaml").write_text(yaml.safe_dump(bridge))
    query = Query.of(load_config(tmp_path / "c").hubs[0])
    sql = " ".join(str(query.statement().compile(dialect=dialect)).split())
    assert sql.endswith(expected)


def test_equal_uids_the_first_in_value_order_wins_whatever_the_insert_order(
    tmp_path: Path, database: Any
) -> None:
    rows = [*(("acme", plan) for plan in DUPLICATES), *((uid, "basic") for uid in OUT_OF_ORDER)]
    fill(database, "inserted", rows)
    fill(database, "reversed", rows[::-1])
    trees = []
    for table in ("inserted", "reversed"):
        bridge = Bridge(tmp_path / table, database, table=table)
        out = tmp_path / table / "out"
        assert bridge.cli("render", "--out", str(out)) == 1  # the duplicates are row errors
        deployment = yaml.safe_load(
            (out / "default/tenants/acme-web/deployment_default_acme-app.yaml").read_text()
        )
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env == [{"name": "PLAN", "value": "alpha"}]
        trees.append(tree(out))
    assert trees[0] == trees[1]


def test_rows_are_the_same_for_every_order_of_the_records() -> None:
    records = [("b", "1", "x"), ("a", "1", "z"), ("a", "1", "y"), ("c", "0", "w"), ("a", "1", "")]
    expected = rows_from_records(sorted(records), columns=["plan"])
    assert [(r.uid, r.variables["plan"]) for r in expected] == [
        ("a", ""),
        ("a", "y"),
        ("a", "z"),
        ("b", "x"),
    ]
    for order in itertools.permutations(records):
        assert rows_from_records(order, columns=["plan"]) == expected
