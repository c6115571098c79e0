"""Benchmark: ``lynq-bridge history`` on a remote of 10,000 bridge commits (issue 11).

    .venv/bin/python bench/bench_history.py [--commits 10000] [--nodes 100]

Writes a bare repository with ``git fast-import``: one hub of ``--nodes`` nodes, then commits
that each update, remove, re-add or hold a few nodes, with the messages ``core.messages`` makes
(real trailers and bodies) and small trees (one file per node plus the render-input index).
Then times the query path of ``history`` (the ``git log`` of the hub directory, parsing and
matching; the fetch into the history mirror is a no-op once it is up to date) for ``--uid``,
``--node`` and ``--since``, best of 3, and the first fetch into an empty history mirror.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lynq_bridge.config.models import GitSettings
from lynq_bridge.core.history import Query, entries
from lynq_bridge.core.messages import Stamp, commit_message
from lynq_bridge.core.planning import HubPlan
from lynq_bridge.core.rendering import NodeRender
from lynq_bridge.history import read_log

HUB_DIR = "lynq/default/tenants"
START = datetime(2025, 1, 1, tzinfo=UTC)


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def build(remote: Path, commits: int, nodes: int) -> None:
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(remote)], check=True
    )
    rng = random.Random(11)
    uids = [f"tenant{i:04d}" for i in range(nodes)]
    live: dict[str, int] = {}
    stream: list[bytes] = []
    for n in range(commits):
        plan = HubPlan()
        if n == 0:
            todo = dict.fromkeys(uids, "add")
        else:
            todo = {
                u: rng.choice(["update", "update", "update", "remove", "hold"])
                for u in rng.sample(uids, 3)
            }
        files: list[str] = []
        for uid, action in todo.items():
            name = f"{uid}-web"
            render = NodeRender(name=name, uid=uid, form="web")
            plan.nodes[name] = render
            if name not in live:
                plan.added.append(render)
                live[name] = n
                files.append(f"M 100644 inline {HUB_DIR}/{name}/lynqnode.yaml\n")
            elif action == "update":
                plan.updated[name] = ["app"]
                files.append(f"M 100644 inline {HUB_DIR}/{name}/lynqnode.yaml\n")
            elif action == "remove":
                plan.removed.append(name)
                del live[name]
                files.append(f"D {HUB_DIR}/{name}\n")
            else:
                plan.held.append(name)
        stamp = Stamp("default/tenants", f"rev{n // 1000:014x}", f"{n:016x}")
        message = commit_message(plan, stamp, [], node_count=len(live))
        when = int((START + timedelta(minutes=n)).timestamp())
        parts = [
            b"commit refs/heads/main\n",
            f"committer lynq-bridge <bridge@example.com> {when} +0000\n".encode(),
            _data(message),
        ]
        for line in files:
            parts.append(line.encode())
            if line.startswith("M"):
                parts.append(_data(f"uid: {line.split('/')[3]}\nrevision: {n}\n"))
        parts.append(f"M 100644 inline {HUB_DIR}/.lynq-inputs\n".encode())
        parts.append(_data(f"{n}\n"))
        stream.append(b"".join(parts))
    subprocess.run(
        ["git", f"--git-dir={remote}", "fast-import", "--quiet"], input=b"".join(stream), check=True
    )


def best(fn, repeat: int = 3) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    times, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - started)
    return min(times), count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        remote = Path(tmp) / "remote.git"
        started = time.perf_counter()
        build(remote, args.commits, args.nodes)
        print(f"built {args.commits} commits in {time.perf_counter() - started:.1f} s")
        from lynq_bridge.adapters.gitstore import GitStore

        store = GitStore(GitSettings(url=str(remote)), Path(tmp) / "work" / "history")
        store.open()
        started = time.perf_counter()
        head = store.fetch_head().commit
        print(f"first fetch into the history mirror: {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        store.fetch_head()
        print(f"fetch when up to date: {time.perf_counter() - started:.2f} s")
        assert head is not None
        since = START + timedelta(minutes=args.commits - 1000)
        queries = {
            "--uid tenant0042": Query(uid="tenant0042"),
            "--node tenant0042-web": Query(node="tenant0042-web"),
            "--uid tenant0042 --since (last 1,000 commits)": Query(uid="tenant0042", since=since),
            "everything (no filter)": Query(),
        }
        for label, query in queries.items():
            seconds, count = best(
                lambda q=query: len(entries(read_log(store.git_dir, head, f"{HUB_DIR}/"), q))
            )
            print(f"{label}: {count} entries in {seconds:.3f} s (git log + parse + match)")
        seconds, count = best(lambda: len(read_log(store.git_dir, head, f"{HUB_DIR}/")))
        print(f"of which git log alone: {count} commits in {seconds:.3f} s")
        store.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
