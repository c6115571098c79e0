"""Benchmark: our YAML emitter against PyYAML for one Deployment-sized document.

Run with ``.venv/bin/python bench/bench_yaml.py [repetitions]``. Prints microseconds per
document for ``lynq_bridge.core.yamltext.dump_manifest``, PyYAML's libyaml-backed
``CSafeDumper`` and PyYAML's pure-Python ``SafeDumper`` (fewer repetitions: it is slow).
The first dump of each emitter is done before timing, so the emitter's string cache is warm, as
it is during a sync pass that renders thousands of similar documents; a second figure empties
the cache before every dump (every string seen for the first time: the worst case).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

from lynq_bridge.core import yamltext
from lynq_bridge.core.yamltext import dump_manifest


def deployment() -> dict[str, Any]:
    """A tenant Deployment as a form renders it: about 60 scalars."""
    labels = {
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/instance": "acme-web",
        "lynq.sh/node": "acme-web",
        "lynq.sh/hub": "tenants",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "acme-web",
            "namespace": "tenant-acme",
            "labels": {**labels, "lynq.sh/node-namespace": "lynq", "lynq.sh/uid": "acme"},
            "annotations": {
                "lynq.sh/deletion-policy": "Delete",
                "argocd.argoproj.io/sync-wave": "1",
            },
        },
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/instance": "acme-web"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "acme-web",
                    "containers": [
                        {
                            "name": "web",
                            "image": "registry.example.com/acme/web:1.25.3",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["--port=8080", "--log-level", "info"],
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [
                                {"name": "TENANT_ID", "value": "acme"},
                                {"name": "PLAN", "value": "enterprise"},
                                {"name": "MAX_USERS", "value": "250"},
                                {"name": "FEATURE_X", "value": "true"},
                                {"name": "DB_HOST", "value": "db.tenant-acme.svc"},
                            ],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "initialDelaySeconds": 5,
                                "periodSeconds": 10,
                            },
                            "securityContext": {
                                "runAsNonRoot": True,
                                "readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False,
                            },
                        }
                    ],
                },
            },
        },
    }


def measure(dump: Callable[[dict[str, Any]], str], doc: dict[str, Any], reps: int) -> float:
    """Microseconds per document, best of three rounds of ``reps`` dumps."""
    dump(doc)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            dump(doc)
        best = min(best, time.perf_counter() - start)
    return best / reps * 1e6


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    doc = deployment()

    def pyyaml_c(d: dict[str, Any]) -> str:
        return yaml.dump(d, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False)

    def pyyaml_py(d: dict[str, Any]) -> str:
        return yaml.dump(d, Dumper=yaml.SafeDumper, sort_keys=True, default_flow_style=False)

    def ours_cold(d: dict[str, Any]) -> str:
        yamltext._str_cache.clear()
        yamltext._key_cache.clear()
        return dump_manifest(d)

    ours = measure(dump_manifest, doc, reps)
    cold = measure(ours_cold, doc, reps)
    c_dumper = measure(pyyaml_c, doc, reps)
    py_dumper = measure(pyyaml_py, doc, max(reps // 10, 1))
    assert yaml.safe_load(dump_manifest(doc)) == doc
    print(f"document: {len(dump_manifest(doc).splitlines())} lines, {reps} dumps, best of 3")
    for name, micros in (
        ("lynq_bridge.core.yamltext.dump_manifest", ours),
        ("  the same, string cache emptied each time", cold),
        ("PyYAML CSafeDumper", c_dumper),
        ("PyYAML SafeDumper (pure Python)", py_dumper),
    ):
        print(f"{name + ':':41} {micros:8.1f} us/doc ({micros / ours:4.1f}x ours)")
    print(f"{'50,000 documents with dump_manifest:':41} {ours * 50_000 / 1e6:8.2f} s")


if __name__ == "__main__":
    main()
