"""Benchmark: INSERT → pushed commit → applied → LynqNode Ready, through real Flux and Argo CD.

Starts the end-to-end stack of ``tests/e2e/stack.py`` (kube-apiserver, controller-manager,
scheduler, kwok, the smart-HTTP remotes, Flux, Argo CD; binaries from
scripts/build-control-plane.sh and scripts/build-e2e-cluster.sh), runs one ``lynq-bridge run``
daemon per engine on a SQLite table with the e2e tenant form (namespace → settings →
Deployment → Service, plus three ConfigMaps), then inserts rows and times, per row:

- **commit**: the row's node directory is on the remote branch (the bridge's sync interval is 1 s);
- **applied**: the engine created the tenant's namespace (its first level / sync wave is being
  applied; the LynqNode itself is in Flux's first level but Argo CD's last wave);
- **ready**: the reporter set the LynqNode ``Ready=True`` (every child applied and ready, the
  Deployment's pod Running on kwok's node).

Configurations: each engine with ``spec.notify`` (the bridge asks the engine to reconcile right
after its push) and without (the engine finds the commit at its next poll). Without notify the
poll interval decides: Flux's GitRepository ``interval`` (``examples/flux/gitrepository.yaml``:
1m) and Argo CD's ``timeout.reconciliation`` (default 180s, plus up to 60s jitter). Rows are
inserted ``--gap`` seconds apart and timed concurrently, so a poll run lasts about one interval
plus the apply time rather than one interval per row.

Not a test: run it by hand and copy the table into bench/README.md,

    .venv/bin/python bench/bench_e2e.py [--rows 20] [--configs flux-notify,flux-poll,...]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO))

from controlplane import find_binaries  # noqa: E402
from e2e_bridge import HUB, E2EBridge  # noqa: E402
from scenarios import condition, get, register_kinds  # noqa: E402
from stack import argocd_root, find_e2e_binaries, flux_root, running_stack  # noqa: E402

CONFIGS = ("flux-notify", "argocd-notify", "flux-poll", "argocd-poll")


@dataclass
class Timing:
    uid: str
    inserted: float
    commit: float | None = None
    applied: float | None = None
    ready: float | None = None


@dataclass
class Run:
    config: str
    timings: list[Timing] = field(default_factory=list)


def on_remote(remote: Path, path: str) -> bool:
    out = subprocess.run(
        ["git", "--git-dir", str(remote), "ls-tree", "--name-only", "refs/heads/main", path],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return bool(out.strip())


def measure(stack: object, bridge: E2EBridge, config: str, rows: int, gap: float) -> Run:
    """Insert ``rows`` rows ``gap`` seconds apart and time each until Ready (or 600 s); with
    ``gap`` 0, each row is inserted one second after the previous one became Ready."""
    run = Run(config)
    remote = stack.remote_dir(bridge.engine)  # type: ignore[attr-defined]
    pending: list[Timing] = []
    next_insert = time.monotonic()
    deadline = None
    with stack.plane.api() as api:  # type: ignore[attr-defined]
        register_kinds(api)
        while len(run.timings) < rows or pending:
            now = time.monotonic()
            if len(run.timings) < rows and now >= next_insert and (gap > 0 or not pending):
                uid = f"{config.replace('-', '')}{len(run.timings):03d}"
                bridge.insert(uid)
                timing = Timing(uid, time.monotonic())
                run.timings.append(timing)
                pending.append(timing)
                next_insert = now + gap
                if len(run.timings) == rows:
                    deadline = time.monotonic() + 600
            for timing in list(pending):
                node_dir = f"lynq/{bridge.hub_namespace}/{HUB}/{timing.uid}-stack"
                if timing.commit is None and on_remote(remote, node_dir):
                    timing.commit = time.monotonic()
                if timing.commit is None:
                    continue
                if timing.applied is None:
                    namespace = get(
                        api, "v1", "Namespace", bridge.tenant_namespace(timing.uid), None
                    )
                    if namespace is None:
                        continue
                    timing.applied = time.monotonic()
                node = get(
                    api,
                    "operator.lynq.sh/v1",
                    "LynqNode",
                    f"{timing.uid}-stack",
                    bridge.hub_namespace,
                )
                ready = condition(node, "Ready")
                if ready and ready["status"] == "True":
                    timing.ready = time.monotonic()
                    pending.remove(timing)
                    print(
                        f"{config} row {len(run.timings) - len(pending)}: {timing.uid} "
                        f"commit {timing.commit - timing.inserted:.1f} s, applied "
                        f"{(timing.applied or timing.ready) - timing.inserted:.1f} s, "
                        f"Ready {timing.ready - timing.inserted:.1f} s",
                        file=sys.stderr,
                    )
                    if gap <= 0:
                        next_insert = timing.ready + 1
            if deadline is not None and time.monotonic() > deadline:
                break
            bridge.alive()
            time.sleep(0.05)
    return run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def report(runs: list[Run]) -> None:
    print()
    print("| configuration | rows | commit p50 / p99 | applied p50 / p99 | Ready p50 / p99 |")
    print("|---|---|---|---|---|")
    for run in runs:
        cells = []
        for stage in ("commit", "applied", "ready"):
            values = [
                getattr(t, stage) - t.inserted for t in run.timings if getattr(t, stage) is not None
            ]
            missing = len(run.timings) - len(values)
            if not values:
                cells.append("—")
                continue
            text = f"{statistics.median(values):.1f} s / {percentile(values, 0.99):.1f} s"
            cells.append(text + (f" ({missing} never)" if missing else ""))
        print(f"| {run.config} | {len(run.timings)} | {' | '.join(cells)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument(
        "--notify-gap",
        type=float,
        default=0.0,
        help="seconds between inserts; 0: each after the previous one is Ready",
    )
    parser.add_argument("--poll-gap", type=float, default=3.0, help="seconds between inserts")
    args = parser.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    plane_bin, missing = find_binaries()
    e2e_bin, e2e_missing = find_e2e_binaries()
    if missing or e2e_missing:
        print(f"missing: {missing + e2e_missing}; run scripts/test.sh once", file=sys.stderr)
        return 2
    # SIGTERM runs the clean-up below like Ctrl-C does (the stack's processes would outlive us).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        started = time.monotonic()
        engines = tuple(sorted({c.split("-")[0] for c in configs}))
        with running_stack(plane_bin, e2e_bin, Path(tmp) / "stack", engines=engines) as stack:
            print(f"stack up in {time.monotonic() - started:.1f} s", file=sys.stderr)
            for config in configs:
                engine, mode = config.split("-")
                bridge = E2EBridge(
                    stack, engine, Path(tmp) / config, notify=mode == "notify", hub=config
                )
                try:
                    if engine == "flux":
                        stack.apply(flux_root(bridge.hub_namespace, HUB))
                    else:
                        stack.apply(argocd_root(stack, bridge.hub_namespace, HUB))
                    gap = args.notify_gap if mode == "notify" else args.poll_gap
                    run = measure(stack, bridge, config, args.rows, gap)
                    runs.append(run)
                    report([run])
                finally:
                    bridge.stop()
    report(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
