"""Benchmark: render and sync at 10,000 rows × 1 form × 5 resources (issue 2's targets).

    .venv/bin/python bench/bench_sync.py [--rows 10000] [--dir DIR]

Prints, on this machine:
- render: core render + plan of every row (seconds, rows/s), and ``render --out`` end to end;
- first ``sync --once`` against an empty bare remote, and the "floor" measured in the same run:
  writing the same files and ``git add -A && git commit`` in a fresh work tree; the ratio;
- a no-change ``sync --once`` (fresh process state, so nothing is cached in memory): total and
  the part beyond the database query; whether a commit was made;
- one changed row: time to a pushed commit and the files it touched.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from lynq_bridge.adapters.database import Datasources  # noqa: E402
from lynq_bridge.adapters.secrets import SecretsDirectory  # noqa: E402
from lynq_bridge.config.loading import load_config  # noqa: E402
from lynq_bridge.core.planning import DeletionGuard, plan_hub  # noqa: E402
from lynq_bridge.core.rendering import render_hub  # noqa: E402
from lynq_bridge.core.rows import rows_from_records  # noqa: E402
from lynq_bridge.sync import Compiled, Syncer, render_directory  # noqa: E402

FORM = (ROOT / "lynq_bridge" / "demo_data" / "tenants.yaml").read_text().split("---", 1)[1]
FORM += """
  configMaps:
    - id: settings
      dependIds: [namespace]
      nameTemplate: "{{ uid }}-settings"
      targetNamespace: "tenant-{{ uid }}"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data:
          plan: "{{ plan | default('basic') }}"
          domain: "{{ domain | toHost }}"
"""


def build(directory: Path, rows: int) -> Path:
    """A config dir, a SQLite DB with ``rows`` tenants and an empty bare remote."""
    config = directory / "config"
    config.mkdir(parents=True)
    (config / "lynq-bridge.yaml").write_text(
        "apiVersion: bridge.lynq.sh/v1alpha1\nkind: BridgeConfig\nmetadata: {name: bench}\n"
        "spec:\n  git: {url: ../remote.git, path: lynq, workDir: ../work}\n"
        "  deletionGuard: {maxDeletePercent: 25}\n"
    )
    (config / "hub.yaml").write_text(
        "apiVersion: operator.lynq.sh/v1\nkind: LynqHub\n"
        "metadata: {name: tenants, namespace: default}\n"
        "spec:\n  source: {type: sqlite, sqlite: {path: ../tenants.db, table: tenants}}\n"
        "  valueMappings: {uid: tenant_id, activate: active}\n"
        "  extraValueMappings: {domain: domain, plan: plan, replicas: replicas}\n---" + FORM
    )
    with sqlite3.connect(directory / "tenants.db") as db:
        db.execute(
            "CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, active TEXT, domain TEXT, "
            "plan TEXT, replicas INTEGER)"
        )
        db.executemany(
            "INSERT INTO tenants VALUES (?, '1', ?, ?, ?)",
            [
                (f"t{i:05d}", f"https://t{i:05d}.example.com", ("basic", "pro")[i % 2], 1 + i % 3)
                for i in range(rows)
            ],
        )
    db.close()
    subprocess.run(["git", "init", "-q", "--bare", str(directory / "remote.git")], check=True)
    return config


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def floor(files: dict[str, bytes], directory: Path) -> float:
    """Writing the same files and ``git add -A && git commit`` in a fresh work tree."""
    tree = directory / "floor"
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    start = time.perf_counter()
    for path, content in files.items():
        target = tree / "lynq/default/tenants" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    subprocess.run(["git", "-C", str(tree), "add", "-A"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tree),
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "-q",
            "-m",
            "floor",
        ],
        check=True,
    )
    return time.perf_counter() - start


def change_one_row(directory: Path, syncer: Syncer, uid: str) -> tuple[float, int]:
    """UPDATE one row, sync; (seconds, files the commit touched)."""
    with sqlite3.connect(directory / "tenants.db") as db:
        db.execute("UPDATE tenants SET replicas = replicas + 10 WHERE tenant_id = ?", (uid,))
    db.close()
    seconds, results = timed(syncer.sync_all)
    assert results[0].commit, results
    changed = subprocess.run(
        [
            "git",
            "--git-dir",
            str(directory / "remote.git"),
            "diff",
            "--name-only",
            "main~1",
            "main",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return seconds, len(changed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="lynq-bench-"))
    config_dir = build(directory, args.rows)
    config = load_config(config_dir)
    hub = config.hubs[0]
    compiled = Compiled(config)
    sources = Datasources(SecretsDirectory(None))
    query_s, (query, records) = timed(lambda: sources.fetch_records(hub))
    rows = rows_from_records(records, columns=query.variables)
    render_s, render = timed(lambda: render_hub(hub, compiled.forms_of(hub), rows, compiled.target))
    plan_s, plan = timed(
        lambda: plan_hub(hub, render, {}, previous_nodes={}, guard=DeletionGuard(25))
    )
    files = len(plan.writes)
    print(f"rows: {args.rows}, files: {files}")
    print(f"query (SQLite): {query_s:.3f} s")
    rate = args.rows / render_s
    print(f"render (core): {render_s:.3f} s = {rate:,.0f} rows/s; plan: {plan_s:.3f} s")
    out = directory / "render-out"
    cli_render_s, _ = timed(lambda: render_directory(config, out))
    print(f"render --out (query + render + plan + write files): {cli_render_s:.3f} s")

    floor_s = floor(plan.writes, directory)
    syncer = Syncer(config)
    first_s, results = timed(syncer.sync_all)
    syncer.close()
    assert results[0].commit, results
    print(
        f"first sync --once: {first_s:.3f} s; floor (write files + git add -A + commit): "
        f"{floor_s:.3f} s; ratio {first_s / floor_s:.2f}"
    )

    syncer = Syncer(config)  # fresh state, as a new `sync --once` process has
    nochange_s, results = timed(syncer.sync_all)
    syncer.close()
    assert results[0].commit is None, results
    print(
        f"no-change sync --once: {nochange_s:.3f} s total, {nochange_s - query_s:.3f} s beyond "
        f"the query; commit: {results[0].commit}"
    )

    one_s, changed = change_one_row(directory, Syncer(config), "t00042")
    print(
        f"one changed row, fresh process: {one_s:.3f} s to a pushed commit touching {changed} files"
    )
    daemon = Syncer(config)  # the daemon keeps its render cache between syncs
    change_one_row(directory, daemon, "t00043")
    one_s, changed = change_one_row(directory, daemon, "t00044")
    daemon.close()
    print(f"one changed row, daemon (warm cache): {one_s:.3f} s, {changed} files in the commit")

    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lynq_bridge", "sync", "--once", "--config", str(config_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    print(
        f"no-change `lynq-bridge sync --once` as a process: {time.perf_counter() - start:.3f} s "
        f"(exit {done.returncode})"
    )
    sources.dispose()
    if not args.dir:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
