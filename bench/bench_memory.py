"""Where a first sync's memory goes: the process's RSS at the edges of each phase.

    .venv/bin/python bench/bench_memory.py --rows 100000 --dir /tmp/bench-memory

Builds the same SQLite hub as ``bench_sync.py`` (the demo form plus a ConfigMap, sharded) and
runs one first sync in this process, printing ``VmRSS`` and ``VmHWM`` when each phase starts
and ends (the rows are read before the render). It wraps the functions it times, so it
measures the code as it is, with a little overhead at each edge. ``bench_sync.py`` gives the
figure that counts: the peak of a ``sync --once`` process.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_sync  # beside this file: run as a script

import lynq_bridge.sync as syncmod
from lynq_bridge.adapters import gitstore
from lynq_bridge.config.loading import load_config


def memory() -> str:
    """``VmRSS`` and ``VmHWM`` of this process, in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    rss, hwm = (int(fields[k].split()[0]) // 1024 for k in ("VmRSS", "VmHWM"))
    return f"rss {rss} MB, peak so far {hwm} MB"


def wrap(owner: Any, name: str, mark: Callable[[str], None]) -> None:
    """Report the memory when ``owner.name`` is called and when it returns."""
    original = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        mark(f"> {name}")
        try:
            return original(*args, **kwargs)
        finally:
            mark(f"< {name}")

    setattr(owner, name, wrapped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    config_dir = bench_sync.build(args.dir, args.rows, "sharded")
    start = time.perf_counter()

    def mark(what: str) -> None:
        print(f"{time.perf_counter() - start:7.1f} s  {what:30s} {memory()}", flush=True)

    for name in ("render_hub", "plan_with_history"):
        wrap(syncmod, name, mark)
    for name in ("_commit_and_push", "_settle", "keep_state"):
        wrap(syncmod.Syncer, name, mark)
    wrap(gitstore.GitStore, "push", mark)
    mark("start")
    syncer = syncmod.Syncer(load_config(config_dir))
    syncer.sync_all()
    syncer.close()
    mark("end")


if __name__ == "__main__":
    main()
