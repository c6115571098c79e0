"""Benchmark: render and sync at 10,000 rows × 1 form × 5 resources (issues 2 and 9).

    .venv/bin/python bench/bench_sync.py [--rows 10000] [--dir DIR] [--no-render-out]
                                         [--layout sharded|flat]
    .venv/bin/python bench/bench_sync.py --dir DIR --changes-only   # DIR filled by a run before

Prints, on this machine:
- render: core render + plan of every row (seconds, rows/s), and ``render --out`` end to end;
- first ``sync --once`` as a process against an empty bare remote (seconds, its peak RSS and
  that of the largest git command it ran, which adds about 30 ms a git command), and the
  "floor" measured in the same run: writing the same files and ``git add -A && git commit`` in a
  fresh work tree; the ratio;
- a no-change ``sync --once`` (fresh process state, so nothing is cached in memory): total and
  the part beyond the database query; whether a commit was made;
- one changed row: time to a pushed commit and the files it touched.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

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


def bridge_config(layout: str) -> str:
    return (
        "apiVersion: bridge.lynq.sh/v1alpha1\nkind: BridgeConfig\nmetadata: {name: bench}\n"
        f"spec:\n  git: {{url: ../remote.git, path: lynq, workDir: ../work, layout: {layout}}}\n"
        "  deletionGuard: {maxDeletePercent: 25}\n"
    )


def build(directory: Path, rows: int, layout: str) -> Path:
    """A config dir, a SQLite DB with ``rows`` tenants and an empty bare remote."""
    config = directory / "config"
    config.mkdir(parents=True)
    (config / "lynq-bridge.yaml").write_text(bridge_config(layout))
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


# The sync process as ``python -c``: it writes its own peak RSS (VmHWM, kB) and the seconds its
# garbage collector ran to stderr at exit.
OWN_PEAK = """
import atexit, gc, sys, time
collecting = [0.0, 0.0]
def collected(phase, info):
    if phase == "start":
        collecting[1] = time.perf_counter()
    else:
        collecting[0] += time.perf_counter() - collecting[1]
gc.callbacks.append(collected)
def peak():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"GC {collecting[0]:.6f} VmHWM {kb}", file=sys.stderr)
atexit.register(peak)
from lynq_bridge.cli import main
raise SystemExit(main())
"""


# A ``git`` first on the sync process's PATH that runs the real one and logs its peak RSS. A
# command's ``wait4`` figure must come from a small parent: a process started by ``vfork`` or
# ``fork`` begins in its parent's memory map, whose peak Linux keeps in its ``maxrss`` at
# ``exec``, so ``wait4`` on the sync process, started by this large benchmark process, reported
# this process's memory, not the git commands' (1.1 GB at 100,000 rows in session 6).
GIT_PEAK = """#!{python}
import os, sys
pid = os.posix_spawn({git!r}, [{git!r}, *sys.argv[1:]], os.environ)
_, status, usage = os.wait4(pid, 0)
with open({log!r}, "a") as log:
    print(usage.ru_maxrss, *sys.argv[1:3], file=log)
sys.exit(os.waitstatus_to_exitcode(status))
"""


class Run(NamedTuple):
    """A ``sync --once`` process, as ``sync_process`` measured it."""

    seconds: float
    peak_mb: float  # its own VmHWM
    line: str  # its last line of output
    collected: float  # seconds its garbage collector ran
    git_mb: float = 0.0  # the largest peak RSS of a git command it ran (with ``git_peaks``)
    git_command: str = ""  # which: its first two arguments


def sync_process(config_dir: Path, *, git_peaks: bool = False) -> Run:
    """``lynq-bridge sync --once`` as its own process. With ``git_peaks``, each git command it
    runs is measured too (``GIT_PEAK``): a git command's peak includes the commands it waited
    for (a push's ``pack-objects``, and with a local remote its ``receive-pack``)."""
    env = dict(os.environ)
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as shim,
    ):
        log = Path(shim) / "peaks"
        if git_peaks:
            real = shutil.which("git")
            assert real, "git is not on PATH"
            (Path(shim) / "git").write_text(
                GIT_PEAK.format(python=sys.executable, git=real, log=str(log))
            )
            (Path(shim) / "git").chmod(0o755)
            env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", OWN_PEAK, "sync", "--once", "--config", str(config_dir)],
            stdout=out,
            stderr=err,
            text=True,
            env=env,
            check=False,
        )
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        peaks = (
            [line.split(maxsplit=1) for line in log.read_text().splitlines()] if git_peaks else []
        )
    if child.returncode != 0:
        raise SystemExit(f"sync --once failed ({child.returncode}): {stderr[-2000:]}")
    collected, _, kb = stderr.rpartition("GC ")[2].split()[:3]
    git_kb, git_command = max(((int(k), c) for k, c in peaks), default=(0, ""))
    last = stdout.strip().splitlines()[-1]
    return Run(seconds, int(kb) / 1024, last, float(collected), git_kb / 1024, git_command)


def update_row(directory: Path, uid: str) -> None:
    with sqlite3.connect(directory / "tenants.db") as db:
        db.execute("UPDATE tenants SET replicas = replicas + 10 WHERE tenant_id = ?", (uid,))
    db.close()


def change_one_row(directory: Path, syncer: Syncer, uid: str) -> tuple[float, int]:
    """UPDATE one row, sync; (seconds, files the commit touched)."""
    update_row(directory, uid)
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


def insert_one_row(directory: Path, syncer: Syncer, uid: str) -> float:
    """INSERT one row (a new tenant) and sync: seconds to a pushed commit."""
    statement = "INSERT INTO tenants VALUES (?, '1', '', 'basic', 1)"
    return _row_then_sync(directory, syncer, statement, uid, "added")


def delete_one_row(directory: Path, syncer: Syncer, uid: str) -> float:
    """DELETE one row and sync: seconds to a pushed commit that removes its node."""
    statement = "DELETE FROM tenants WHERE tenant_id = ?"
    return _row_then_sync(directory, syncer, statement, uid, "removed")


def _row_then_sync(directory: Path, syncer: Syncer, statement: str, uid: str, count: str) -> float:
    """Run ``statement`` for ``uid`` and sync: seconds to a pushed commit whose result
    counts one node in ``count`` (added, removed)."""
    with sqlite3.connect(directory / "tenants.db") as db:
        db.execute(statement, (uid,))
    db.close()
    seconds, results = timed(syncer.sync_all)
    assert results[0].commit and getattr(results[0], count) == 1, results
    return float(seconds)


def fresh_figures(
    directory: Path, config_dir: Path, uids: list[str]
) -> list[tuple[float, float, float]]:
    """One changed row each, synced by a new ``sync --once`` process: (total seconds, the
    remote's receive-pack seconds, the process's garbage collection seconds) each."""
    trace = directory / "trace2.json"
    out = []
    os.environ["GIT_TRACE2_EVENT"] = str(trace)
    try:
        for uid in uids:
            update_row(directory, uid)
            run = sync_process(config_dir)
            assert "updated 1" in run.line, run.line
            out.append((run.seconds, remote_seconds(trace), run.collected))
    finally:
        del os.environ["GIT_TRACE2_EVENT"]
    return out


def import_seconds() -> float:
    """Seconds a new process takes to start Python and import the command line."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import lynq_bridge.cli"], check=True)
    return time.perf_counter() - started


def remote_seconds(trace: Path) -> float:
    """Seconds the remote's ``git receive-pack`` ran in the pushes traced to ``trace``
    (GIT_TRACE2_EVENT): its connectivity check walks every tree of the branch, which is the
    remote's work, not the bridge's (a Git host runs the same check)."""
    started: set[tuple[str, int]] = set()
    seconds = 0.0
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        key = (event.get("sid", ""), event.get("child_id", -1))
        if event["event"] == "child_start" and "git-receive-pack" in " ".join(event["argv"]):
            started.add(key)
        elif event["event"] == "child_exit" and key in started:
            seconds += event["t_rel"]
    trace.unlink()
    return seconds


def daemon_figures(directory: Path, daemon: Syncer, runs: int) -> list[tuple[float, float, float]]:
    """One-row changes in a warm daemon: (total seconds, bridge seconds, garbage collection
    seconds) each, the bridge's being the total without the query and without the remote's
    receive-pack."""
    real = daemon.datasources.fetch_records
    spent: list[float] = []
    collecting = [0.0, 0.0]  # seconds so far, start of the collection under way

    def collected(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collecting[1] = time.perf_counter()
        else:
            collecting[0] += time.perf_counter() - collecting[1]

    def query(hub: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(hub)
        finally:
            spent.append(time.perf_counter() - started)

    daemon.datasources.fetch_records = query  # type: ignore[method-assign]
    trace = directory / "trace2.json"
    os.environ["GIT_TRACE2_EVENT"] = str(trace)
    out = []
    gc.callbacks.append(collected)
    try:
        for i in range(runs):
            spent.clear()
            collecting[0] = 0.0
            total, _ = change_one_row(directory, daemon, f"t0006{i}")
            out.append((total, total - sum(spent) - remote_seconds(trace), collecting[0]))
    finally:
        gc.callbacks.remove(collected)
        del os.environ["GIT_TRACE2_EVENT"]
        daemon.datasources.fetch_records = real  # type: ignore[method-assign]
    return out


def in_process_figures(
    config: Any, sources: Datasources, directory: Path, args: argparse.Namespace
) -> tuple[float, float]:
    """Query, core render and plan, ``render --out`` and the floor; (query s, floor s).

    A function, so that the render and the files it holds are freed before the processes run.
    """
    hub = config.hubs[0]
    compiled = Compiled(config)
    query_s, (query, records) = timed(lambda: sources.fetch_records(hub))
    rows = rows_from_records(records, columns=query.variables)
    render_s, render = timed(lambda: render_hub(hub, compiled.forms_of(hub), rows, compiled.target))
    plan_s, plan = timed(
        lambda: plan_hub(hub, render, {}, previous_nodes={}, guard=DeletionGuard(25))
    )
    print(f"rows: {args.rows}, files: {len(plan.writes)}")
    print(f"query (SQLite): {query_s:.3f} s")
    rate = args.rows / render_s
    print(f"render (core): {render_s:.3f} s = {rate:,.0f} rows/s; plan: {plan_s:.3f} s")
    if not args.no_render_out:
        out = directory / "render-out"
        cli_render_s, _ = timed(lambda: render_directory(config, out))
        print(f"render --out (query + render + plan + write files): {cli_render_s:.3f} s")
    return query_s, floor(plan.writes, directory)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--no-render-out", action="store_true", help="skip render --out")
    parser.add_argument(
        "--layout",
        choices=["flat", "sharded"],
        default="sharded",
        help="git.layout (with --changes-only: switched first when the --dir has the other one)",
    )
    parser.add_argument(
        "--changes-only",
        action="store_true",
        help="reuse a --dir this benchmark filled before: only the no-change and one-row figures",
    )
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="lynq-bench-"))
    sources = Datasources(SecretsDirectory(None))
    print(f"git.layout: {args.layout}")
    if args.changes_only:
        config_dir = directory / "config"
        if load_config(config_dir).bridge.spec.git.layout != args.layout:
            (config_dir / "lynq-bridge.yaml").write_text(bridge_config(args.layout))
            switch = sync_process(config_dir, git_peaks=True)
            print(
                f"layout switch sync --once (process): {switch.seconds:.3f} s, peak RSS "
                f"{switch.peak_mb:.0f} MB; its largest git command {switch.git_mb:.0f} MB "
                f"(git {switch.git_command})"
            )
            print(f"  {switch.line}")
        config = load_config(config_dir)
        query_s, _ = timed(lambda: sources.fetch_records(config.hubs[0]))
    else:
        config_dir = build(directory, args.rows, args.layout)
        config = load_config(config_dir)
        query_s, floor_s = in_process_figures(config, sources, directory, args)
        gc.collect()
        first = sync_process(config_dir, git_peaks=True)
        print(
            f"first sync --once (process): {first.seconds:.3f} s, peak RSS {first.peak_mb:.0f} "
            f"MB; its largest git command {first.git_mb:.0f} MB (git {first.git_command}); "
            f"floor (write files + git add -A + commit): {floor_s:.3f} s; ratio "
            f"{first.seconds / floor_s:.2f}"
        )
        print(f"  {first.line}")
    print(f"no-change sync --once (process): {sync_process(config_dir).seconds:.3f} s")

    syncer = Syncer(config)  # fresh state, as a new `sync --once` process has
    nochange_s, results = timed(syncer.sync_all)
    syncer.close()
    assert results[0].commit is None, results
    print(
        f"no-change sync --once: {nochange_s:.3f} s total, {nochange_s - query_s:.3f} s beyond "
        f"the query; commit: {results[0].commit}"
    )

    fresh = sorted(fresh_figures(directory, config_dir, [f"t0004{i}" for i in range(1, 6)]))
    starting = sorted(import_seconds() for _ in range(3))[1]
    total, remote, collected = fresh[2]
    print(
        f"one changed row, fresh `sync --once` process: median {total:.3f} s of 5 "
        f"({', '.join(f'{t:.3f}' for t, _, _ in fresh)}); of the median: remote receive-pack "
        f"{remote:.3f} s, query (in this process) {query_s:.3f} s, Python start and imports "
        f"{starting:.3f} s, the rest {total - remote - query_s - starting:.3f} s (of which "
        f"garbage collection {collected:.3f} s)"
    )
    one_s, changed = change_one_row(directory, Syncer(config), "t00042")
    print(
        f"one changed row, new Syncer in this process: {one_s:.3f} s to a pushed commit "
        f"touching {changed} files"
    )
    daemon = Syncer(config)  # the daemon keeps what it knows of the hub between syncs
    change_one_row(directory, daemon, "t00043")
    runs = sorted(change_one_row(directory, daemon, f"t0005{i}")[0] for i in range(5))
    print(
        f"one changed row, daemon (warm): median {runs[2]:.3f} s of 5 "
        f"({', '.join(f'{r:.3f}' for r in runs)})"
    )
    split = daemon_figures(directory, daemon, 5)
    bridge = sorted(b for _, b, _ in split)
    collections = sorted(c for _, _, c in split)
    print(
        f"  the bridge's work (without the query and the remote's receive-pack), 5 more: "
        f"median {bridge[2] * 1000:.0f} ms ({', '.join(f'{b * 1000:.0f}' for b in bridge)}) of "
        f"{sorted(t for t, _, _ in split)[2]:.3f} s; garbage collection (all of the pass): "
        f"median {collections[2] * 1000:.0f} ms"
    )
    run = int(time.time())  # new uids in every run on the same --dir
    inserts = sorted(insert_one_row(directory, daemon, f"new{run}{i}") for i in range(3))
    print(
        f"one new row, daemon (warm): median {inserts[1]:.3f} s of 3 "
        f"({', '.join(f'{r:.3f}' for r in inserts)})"
    )
    deletes = sorted(delete_one_row(directory, daemon, f"new{run}{i}") for i in range(2))
    daemon.close()
    print(f"one deleted row, daemon (warm): {', '.join(f'{r:.3f}' for r in deletes)} s")
    with sqlite3.connect(directory / "tenants.db") as db:
        db.execute("DELETE FROM tenants WHERE tenant_id = ?", (f"new{run}2",))
    db.close()
    gone = sync_process(config_dir)
    assert "removed 1" in gone.line, gone.line
    print(f"one deleted row, fresh `sync --once` process: {gone.seconds:.3f} s")

    sources.dispose()
    if not args.dir:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
