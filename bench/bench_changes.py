"""Benchmark: row change → pushed commit latency of ``lynq-bridge run`` (issue 9).

    .venv/bin/python bench/bench_changes.py [--rows 1000] [--changes 50] [--gap 1.5]
    LYNQ_SKIP_LINT=1 LYNQ_SKIP_CONTROL_PLANE=1 scripts/test.sh bench/bench_changes.py -s -q

The second form runs ``test_change_to_commit_latency`` below under the MariaDB and PostgreSQL
servers scripts/test.sh starts (bench/ is outside ``testpaths``: only named, never in a suite).

For SQLite always, and for MariaDB / PostgreSQL when ``LYNQ_TEST_MYSQL_URL`` /
``LYNQ_TEST_POSTGRES_URL`` name a user that may create databases (scripts/test.sh exports both):
a table of ``--rows`` tenants, ``lynq-bridge changes install`` (PostgreSQL's trigger), then
``lynq-bridge run`` as a process with the default ``syncInterval`` (30 s). After its first
commit, ``--changes`` changes (UPDATE, INSERT, DELETE in turn), one every ``--gap`` seconds;
each is timed from its COMMIT to the bare remote's branch moving (``git rev-parse`` every
10 ms). Prints p50 / p99 / max per database, "detect": the same minus the ``seconds=`` the
daemon logged for that commit's sync (noticing the change, waking the loop, the 10 ms poll),
and the mechanism the daemon logged.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from bridge_harness import Bridge, SqliteDatabase, free_port  # noqa: E402

TENANT_COLUMNS = {  # the shape of tests/integration/conftest.py's tenants table
    "tenant_id": "VARCHAR(255) NOT NULL PRIMARY KEY",
    "active": "VARCHAR(16)",
    "domain": "VARCHAR(255)",
    "plan": "VARCHAR(64)",
    "replicas": "INTEGER",
}


class ServerDatabase:
    """A fresh database on a server, with what bridge_harness.hub_document reads."""

    def __init__(self, kind: str, admin_url: str) -> None:
        self.kind = kind
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.database = f"lynq_b_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE {self.database}"))
        url = self.admin.url.set(database=self.database)
        self.url = url.render_as_string(hide_password=False)
        self.host, self.port = url.host or "", url.port or 0
        self.username, self.password = url.username or "", url.password or ""

    def execute(self, *statements: Any) -> None:
        engine = sa.create_engine(self.url)
        with engine.begin() as c:
            for s in statements:
                if isinstance(s, str):
                    c.execute(sa.text(s))
                else:
                    c.execute(sa.text(s[0]), s[1])
        engine.dispose()

    def drop(self) -> None:
        force = " WITH (FORCE)" if self.kind == "postgresql" else ""
        with self.admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS {self.database}{force}"))
        self.admin.dispose()


def head(remote: Path) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote), "rev-parse", "-q", "--verify", "refs/heads/main"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def wait_move(remote: Path, old: str, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if head(remote) not in ("", old):
            return time.monotonic() - started
        time.sleep(0.01)
    return float("inf")


def bench(
    kind: str,
    database: Any,
    root: Path,
    *,
    rows: int,
    changes: int,
    gap: float,
    verbose: bool = False,
) -> dict[str, Any]:
    columns = ", ".join(f"{name} {kind}" for name, kind in TENANT_COLUMNS.items())
    database.execute(
        f"CREATE TABLE tenants ({columns})",
        (
            "INSERT INTO tenants (tenant_id, active) VALUES (:tenant_id, '1')",
            [{"tenant_id": f"t{i:05d}"} for i in range(rows)],
        ),
    )
    bridge = Bridge(root, database)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "lynq_bridge"]
    subprocess.run(
        [*cli, "changes", "install", "--config", str(bridge.config)],
        check=True,
        capture_output=True,
        env=env,
    )
    log = (root / "daemon.log").open("w")
    process = subprocess.Popen(
        [*cli, "run", "--config", str(bridge.config), "--listen", f"127.0.0.1:{free_port()}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    took: list[float] = []
    heads: list[str] = []  # the commit each change became
    try:
        if wait_move(bridge.remote, "", 300) == float("inf"):
            raise SystemExit(f"{kind}: no first commit in 300 s; see {root / 'daemon.log'}")
        time.sleep(2)
        for n in range(changes):
            statement = [
                f"UPDATE tenants SET plan = 'p{n}' WHERE tenant_id = 't{n % rows:05d}'",
                f"INSERT INTO tenants (tenant_id, active) VALUES ('n{n:05d}', '1')",
                f"DELETE FROM tenants WHERE tenant_id = 'n{n - 1:05d}'",
            ][n % 3]
            before = head(bridge.remote)
            database.execute(statement)
            took.append(wait_move(bridge.remote, before, 10))
            heads.append(head(bridge.remote))
            if verbose:
                print(f"  {statement[:6]} {took[-1]:.2f} s", file=sys.stderr, flush=True)
            time.sleep(max(gap - took[-1], 0.2))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()
    text = (root / "daemon.log").read_text()
    mechanism = next(
        (
            line.split("change detection by ", 1)[1]
            for line in text.splitlines()
            if "change detection by" in line
        ),
        "?",
    )
    # The part beyond the sync itself: noticing the change, waking the loop, the git poll.
    sync_seconds = dict(re.findall(r"commit=([0-9a-f]+) seconds=([0-9.]+)", text))
    beyond = sorted(
        t - float(sync_seconds[h[:12]])
        for t, h in zip(took, heads, strict=True)
        if t != float("inf") and h[:12] in sync_seconds
    ) or [float("nan")]
    ordered = sorted(took)
    return {
        "beyond_p50": statistics.median(beyond),
        "beyond_p99": beyond[min(len(beyond) - 1, round(0.99 * (len(beyond) - 1)))],
        "kind": kind,
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "max": ordered[-1],
        "missed": sum(1 for t in took if t == float("inf")),
        "mechanism": mechanism[:60],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--gap", type=float, default=1.5)
    parser.add_argument("--verbose", action="store_true", help="print each change's latency")
    parser.add_argument("--only", choices=["sqlite", "mysql", "postgresql"], help="one database")
    parser.add_argument("--keep", type=Path, help="keep the work (daemon.log) in this directory")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="lynq-bench-changes-") as scratch:
        tmp = str(args.keep) if args.keep else scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        for kind, env in (
            ("sqlite", ""),
            ("mysql", "LYNQ_TEST_MYSQL_URL"),
            ("postgresql", "LYNQ_TEST_POSTGRES_URL"),
        ):
            database: Any
            if args.only not in (None, kind):
                continue
            if not env:
                sqlite_path = Path(tmp) / "tenants.db"
                sqlite3.connect(sqlite_path).close()
                database = SqliteDatabase(sqlite_path)
            elif os.environ.get(env):
                database = ServerDatabase(kind, os.environ[env])
            else:
                print(f"{kind}: {env} is not set; skipped", file=sys.stderr)
                continue
            print(
                f"{kind}: {args.rows} rows, {args.changes} changes ...", file=sys.stderr, flush=True
            )
            try:
                results.append(
                    bench(
                        kind,
                        database,
                        Path(tmp) / kind,
                        rows=args.rows,
                        changes=args.changes,
                        gap=args.gap,
                        verbose=args.verbose,
                    )
                )
            finally:
                if isinstance(database, ServerDatabase):
                    database.drop()
    print(
        f"{'database':<11} {'p50 s':>6} {'p99 s':>6} {'max s':>6} {'missed':>6} "
        f"{'detect p50':>10} {'detect p99':>10}  mechanism"
    )
    for r in results:
        print(
            f"{r['kind']:<11} {r['p50']:>6.2f} {r['p99']:>6.2f} {r['max']:>6.2f} "
            f"{r['missed']:>6} {r['beyond_p50']:>10.2f} {r['beyond_p99']:>10.2f}  {r['mechanism']}"
        )


def test_change_to_commit_latency() -> None:
    """Under scripts/test.sh; arguments in LYNQ_BENCH_ARGS (e.g. "--only mysql --changes 9")."""
    main(shlex.split(os.environ.get("LYNQ_BENCH_ARGS", "")))


if __name__ == "__main__":
    main()
