"""Benchmark: the watching status reporter over 10,000 LynqNodes x 5 children.

Starts etcd + kube-apiserver (tests/controlplane.py), creates the nodes and their children
with a thread pool (timed), marks the Deployments rolled out, then starts the reporter in a
separate process (so its peak RSS is its own) and measures:

- first pass: from the reporter's start until every node has a status;
- steady state: HTTP requests the reporter sends in ``--idle`` seconds with nothing changing;
- change -> status: ``--changes`` Deployment status patches, alternately breaking and
  restoring one node's readiness, each timed until its LynqNode's Ready condition flips
  (polled every 10 ms), reported as p50/p99;
- peak RSS (VmHWM) of the reporter process at the end.

Not a test: run it by hand,

    .venv/bin/python bench/bench_watch.py [--nodes 10000] [--namespaces 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from bench_reporter import KINDS, stack  # noqa: E402
from controlplane import ApiClient, find_binaries, start_control_plane  # noqa: E402

ROLLED_OUT = {
    "observedGeneration": 1,
    "replicas": 2,
    "updatedReplicas": 2,
    "readyReplicas": 2,
    "availableReplicas": 2,
}
HALF_READY = {**ROLLED_OUT, "readyReplicas": 1, "availableReplicas": 1}


def _namespace(index: int, namespaces: int) -> str:
    return f"bench{index % namespaces:04d}"


def _populate(api: ApiClient, nodes: int, namespaces: int, workers: int) -> float:
    started = time.monotonic()
    for n in range(namespaces):
        name = _namespace(n, namespaces)
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    objects = []
    for i in range(nodes):
        children, node = stack(i, _namespace(i, namespaces))
        objects += [*children, node]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        created = list(pool.map(api.create, objects, chunksize=64))
        deployments = [c for c in created if c["kind"] == "Deployment"]
        list(pool.map(lambda d: api.patch_status(d, ROLLED_OUT), deployments, chunksize=64))
    return time.monotonic() - started


def _reporter(kubeconfig: str, namespace: str | None) -> int:
    """The child process: a StatusWatcher printing one JSON line per round and its request
    count whenever a line arrives on stdin."""
    from lynq_bridge.adapters.cluster import ClusterClient
    from lynq_bridge.reporting import ReportResult, utc_now
    from lynq_bridge.watcher import StatusWatcher

    client = ClusterClient(kubeconfig)
    lock = threading.Lock()

    def emit(record: dict[str, Any]) -> None:
        with lock:
            print(json.dumps(record), flush=True)

    def on_result(result: ReportResult) -> None:
        emit({"round": result.writes, "nodes": result.nodes, "errors": result.errors})

    watcher = StatusWatcher(
        client, namespace=namespace, now=utc_now, retry_cap=30.0, on_result=on_result
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,))
    thread.start()
    for _ in sys.stdin:
        emit({"requests": client.requests})
    stop.set()
    thread.join()
    return 0


class Child:
    def __init__(self, kubeconfig: Path, namespace: str | None) -> None:
        command = [sys.executable, __file__, "--reporter", str(kubeconfig)]
        if namespace:
            command += ["--namespace", namespace]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
        )
        self.writes = 0
        self.requests: list[int] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            record = json.loads(line)
            with self.changed:
                if "round" in record:
                    self.writes += record["round"]
                else:
                    self.requests.append(record["requests"])
                self.changed.notify_all()

    def request_count(self) -> int:
        assert self.process.stdin is not None
        with self.changed:
            seen = len(self.requests)
            self.process.stdin.write("?\n")
            self.process.stdin.flush()
            self.changed.wait_for(lambda: len(self.requests) > seen, timeout=30)
            return self.requests[-1]

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _ready(api: ApiClient, namespace: str, name: str) -> bool:
    status = api.get("operator.lynq.sh/v1", "LynqNode", name, namespace).get("status", {})
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


def _latencies(api: ApiClient, nodes: int, namespaces: int, changes: int) -> list[float]:
    seconds = []
    for change in range(changes):
        index = (change // 2 * 7919) % nodes  # spread over the nodes, each twice
        namespace = _namespace(index, namespaces)
        node = f"tenant{index:05d}-web"
        deployment = api.get("apps/v1", "Deployment", f"{node}-deployment", namespace)
        breaking = change % 2 == 0
        api.patch_status(deployment, HALF_READY if breaking else ROLLED_OUT)
        started = time.monotonic()
        while _ready(api, namespace, node) == breaking:
            if time.monotonic() - started > 30:
                raise RuntimeError(f"node {node} did not follow its Deployment in 30s")
            time.sleep(0.01)
        seconds.append(time.monotonic() - started)
    return seconds


def _compare_with_a_pass(kubeconfig: Path) -> None:
    """What the polling reporter (one pass every ``spec.report.interval``) paid per pass."""
    from lynq_bridge.reporter import report_once

    result = report_once(kubeconfig=str(kubeconfig), namespace=None)
    print(
        f"for comparison, one unchanged pass (the reporter before watches, every 30 s): "
        f"{result.seconds:.1f}s, {result.requests} requests, {result.writes} writes "
        f"= {result.requests * 2} requests/min",
        flush=True,
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10000)
    parser.add_argument("--namespaces", type=int, default=1, help="tenant namespaces")
    parser.add_argument("--workers", type=int, default=8, help="threads creating objects")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of steady state")
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--reporter", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--namespace", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reporter:
        return _reporter(args.reporter, args.namespace)

    bin_dir, missing = find_binaries()
    if missing:
        print(f"missing {', '.join(missing)} in {bin_dir}: run scripts/build-control-plane.sh")
        return 2
    with tempfile.TemporaryDirectory(prefix="lynq-bench-") as work:
        plane = start_control_plane(bin_dir, Path(work))
        try:
            print(f"control plane up in {plane.startup_seconds:.1f}s", flush=True)
            with plane.api() as api:
                seconds = _populate(api, args.nodes, args.namespaces, args.workers)
                total = args.nodes * (len(KINDS) + 1)
                print(
                    f"created {total} objects (+{args.nodes} status patches) in "
                    f"{args.namespaces} namespace(s) in {seconds:.1f}s ({total / seconds:.0f}/s)",
                    flush=True,
                )
                started = time.monotonic()
                child = Child(plane.kubeconfig, None)
                with child.changed:
                    if not child.changed.wait_for(lambda: child.writes >= args.nodes, 1800):
                        raise RuntimeError(f"only {child.writes} statuses written in 30 min")
                first = time.monotonic() - started
                print(
                    f"first pass: {first:.1f}s to write {child.writes} statuses "
                    f"({child.request_count()} requests)",
                    flush=True,
                )
                time.sleep(5)  # the echoes of our own writes
                before = child.request_count()
                time.sleep(args.idle)
                idle = child.request_count() - before
                print(
                    f"steady state: {idle} requests in {args.idle:.0f}s idle "
                    f"({idle * 60 / args.idle:.1f}/min)",
                    flush=True,
                )
                latencies = _latencies(api, args.nodes, args.namespaces, args.changes)
                print(
                    f"change -> status over {len(latencies)} changes: "
                    f"p50 {_percentile(latencies, 0.5) * 1000:.0f} ms, "
                    f"p99 {_percentile(latencies, 0.99) * 1000:.0f} ms, "
                    f"max {max(latencies) * 1000:.0f} ms "
                    f"(mean {statistics.mean(latencies) * 1000:.0f} ms)",
                    flush=True,
                )
                print(f"reporter peak RSS (VmHWM): {child.peak_rss_mb():.0f} MB", flush=True)
                child.stop()
                _compare_with_a_pass(plane.kubeconfig)
        finally:
            plane.stop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
