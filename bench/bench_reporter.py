"""Benchmark: one status-reporter pass over 1,000 LynqNodes x 5 children on the test control plane.

Starts etcd + kube-apiserver (tests/controlplane.py, binaries from
scripts/build-control-plane.sh), creates the nodes and their children with a thread pool, marks
the Deployments rolled out, then runs two passes:

- the first pass writes every node's status (the cost after a reporter start on a new cluster);
- the second pass finds nothing changed and writes nothing (the steady state).

Prints seconds, HTTP requests and writes for each. Not a test: run it by hand,

    .venv/bin/python bench/bench_reporter.py [--nodes 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from controlplane import ApiClient, find_binaries, start_control_plane  # noqa: E402

from lynq_bridge.reporter import report_once  # noqa: E402

NAMESPACE = "bench"
KINDS = (
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
)


def child(
    api_version: str, kind: str, name: str, node: str, namespace: str = NAMESPACE
) -> dict[str, Any]:
    """One child of a benchmark tenant, with the labels the bridge puts on it."""
    obj: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"lynq.sh/node": node, "lynq.sh/node-namespace": namespace, "app": name},
        },
    }
    if kind == "ConfigMap":
        obj["data"] = {"settings.json": '{"plan": "basic"}'}
    elif kind == "Service":
        obj["spec"] = {"ports": [{"port": 80}], "selector": {"app": name}}
    elif kind == "Deployment":
        obj["spec"] = {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
            },
        }
    return obj


def stack(index: int, namespace: str = NAMESPACE) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Tenant ``index``: its children and its LynqNode, which lists them."""
    node = f"tenant{index:05d}-web"
    children = [child(v, k, f"{node}-{k.lower()}", node, namespace) for v, k in KINDS]
    resources = [
        {
            "id": kind.lower(),
            "apiVersion": api_version,
            "kind": kind,
            "namespace": namespace,
            "name": f"{node}-{kind.lower()}",
            "dependIds": [] if kind == "ConfigMap" else ["configmap"],
            "hash": f"{index:064x}",
        }
        for api_version, kind in KINDS
    ]
    lynq_node = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqNode",
        "metadata": {"name": node, "namespace": namespace},
        "spec": {
            "uid": f"tenant{index:05d}",
            "templateRef": "web",
            "hubId": "tenants",
            "resources": resources,
        },
    }
    return children, lynq_node


def _populate(api: ApiClient, nodes: int, workers: int) -> float:
    started = time.monotonic()
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    stacks = [stack(i) for i in range(nodes)]
    objects = [obj for children, node in stacks for obj in (*children, node)]
    rolled_out = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    with ThreadPoolExecutor(max_workers=workers) as pool:
        created = list(pool.map(api.create, objects))
        deployments = [c for c in created if c["kind"] == "Deployment"]
        list(pool.map(lambda d: api.patch_status(d, rolled_out), deployments))
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8, help="threads creating objects")
    args = parser.parse_args()

    bin_dir, missing = find_binaries()
    if missing:
        print(f"missing {', '.join(missing)} in {bin_dir}: run scripts/build-control-plane.sh")
        return 2
    with tempfile.TemporaryDirectory(prefix="lynq-bench-") as work:
        plane = start_control_plane(bin_dir, Path(work))
        try:
            print(f"control plane up in {plane.startup_seconds:.1f}s")
            with plane.api() as api:
                seconds = _populate(api, args.nodes, args.workers)
            total = args.nodes * (len(KINDS) + 1)
            print(f"created {total} objects in {seconds:.1f}s ({total / seconds:.0f}/s)")
            for label in ("first pass (writes every status)", "second pass (nothing changed)"):
                result = report_once(kubeconfig=str(plane.kubeconfig), namespace=None)
                print(
                    f"{label}: {result.seconds:.2f}s, {result.requests} requests, "
                    f"{result.writes} writes, {result.events} events, {result.errors} errors, "
                    f"{result.nodes} nodes"
                )
        finally:
            plane.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
