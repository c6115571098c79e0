"""``lynq-bridge run`` with the status reporter, scraped over HTTP: Lynq's names and labels.

The real daemon syncs a SQLite hub to a bare remote; the test applies the rendered tree to the
API server of the test control plane (playing Flux's part: no controllers run, so a Deployment
never becomes ready and a ConfigMap is ready at once); the daemon's watching reporter writes
the LynqNode statuses. Then ``/metrics`` is scraped and parsed with prometheus_client's
parser, and checked against Lynq's catalogue (tests/lynq_metrics.py), the statuses in the
cluster, the rows in the database, and every metric name our dashboard and alert rules read.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase, free_port, get
from controlplane import ControlPlane
from lynq_metrics import (
    EXPORTED,
    LYNQ_HELP,
    LYNQ_METRICS,
    MONITORING,
    OMITTED,
    metric_names,
    scraped_names,
)
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.cluster

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: NAMESPACE}
spec:
  hubId: tenants
  configMaps:
    - id: settings
      nameTemplate: "{{ uid }}-settings"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {plan: "{{ plan | default('basic') }}"}
  deployments:
    - id: app
      includeWhen: "{{ plan == 'pro' }}"
      nameTemplate: "{{ uid }}-app"
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          selector: {matchLabels: {app: "{{ uid }}"}}
          template:
            metadata: {labels: {app: "{{ uid }}"}}
            spec:
              containers: [{name: app, image: "nginx:1.27"}]
"""


def wait_for(predicate: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds} s")


@pytest.fixture
def daemon(
    kube: ControlPlane, namespace: str, tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> Iterator[tuple[Bridge, str]]:
    """A running daemon over acme (plan pro: ConfigMap + Deployment) and beta (ConfigMap)."""
    db = SqliteDatabase(sqlite_database)
    create_tenants(
        db,
        [
            {"tenant_id": "acme", "active": "1", "plan": "pro"},
            {"tenant_id": "beta", "active": "1", "plan": "basic"},
            {"tenant_id": "gone", "active": "0", "plan": "basic"},
        ],
    )
    report = {"enabled": True, "kubeconfig": str(kube.kubeconfig), "namespace": namespace}
    bridge = Bridge(
        tmp_path, db, form=FORM.replace("NAMESPACE", namespace), bridge_spec={"report": report}
    )
    hub = bridge.load_config_document("hub.yaml")
    hub["metadata"]["namespace"] = namespace
    hub["spec"]["source"]["syncInterval"] = "1s"
    bridge.write("hub.yaml", hub)
    port = free_port()
    command = [sys.executable, "-m", "lynq_bridge", "run", "--config", str(bridge.config)]
    process = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield bridge, f"http://127.0.0.1:{port}/metrics"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def scrape(url: str) -> dict[str, Any]:
    status, text = get(url)
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict[str, Any], name: str, **labels: str) -> float | None:
    family = families.get(name)
    for found in family.samples if family is not None else ():
        if found.name == name and found.labels == labels:
            return float(found.value)
    return None


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            match = re.fullmatch(r"label_values\((.*),\s*\w+\)", query["query"])
            assert match, query
            exprs.append(match.group(1))
    return exprs


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((MONITORING / "prometheus-alerts.yaml").read_text())
    return [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]


def test_a_scrape_has_lynqs_metrics_with_lynqs_labels_and_the_clusters_values(
    daemon: tuple[Bridge, str], kube: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    bridge, url = daemon
    hub = {"hub": "tenants", "namespace": namespace}
    wait_for(lambda: sample(scrape(url), "hub_desired", **hub) == 2, 30, "hub_desired = 2")
    out = tmp_path / "out"
    assert bridge.cli("render", "--out", str(out)) == 0
    kube.kubectl("apply", "--server-side", "-k", str(out / namespace / "tenants"))
    families = wait_for(
        lambda: (
            (found := scrape(url))
            and sample(found, "hub_ready", **hub) == 1
            and sample(
                found, "lynqnode_resources_desired", lynqnode="acme-web", namespace=namespace
            )
            == 2
            and found
        ),
        30,
        "the reporter's readiness series",
    )

    # Every metric of Lynq's metrics.go: Lynq's type, help and label names, or omitted.
    for name, (kind, labels) in sorted(LYNQ_METRICS.items()):
        if name in OMITTED:
            assert name.removesuffix("_total") not in families, name
            continue
        family = families[name]
        assert (family.type, family.documentation) == (kind, LYNQ_HELP[name]), name
        # As in Lynq, a form has rollout series only with maxSkew > 0 (none here).
        assert family.samples or name.startswith("lynqform_rollout_"), name
        for found in family.samples:
            assert sorted(found.labels) == sorted(labels), (name, found.labels)
    assert families.keys() >= EXPORTED

    # Values: the rows in the database, the statuses in the cluster.
    assert sample(families, "hub_desired", **hub) == 2  # acme and beta; gone is inactive
    assert sample(families, "hub_failed", **hub) == 0
    for node in ("acme-web", "beta-web"):
        live = json.loads(
            kube.kubectl("get", "lynqnode", node, "-n", namespace, "-o", "json").stdout
        )["status"]
        labels = {"lynqnode": node, "namespace": namespace}
        for metric, field in (("desired", "desiredResources"), ("ready", "readyResources"),
                              ("failed", "failedResources"),
                              ("conflicted", "conflictedResources")):  # fmt: skip
            assert sample(families, f"lynqnode_resources_{metric}", **labels) == live[field]
        for condition in live["conditions"]:
            expected = {"True": 1, "False": 0}.get(condition["status"], 2)
            metric = sample(families, "lynqnode_condition_status", **labels, type=condition["type"])
            assert metric == expected, (node, condition["type"])
    acme = {"lynqnode": "acme-web", "namespace": namespace}
    assert sample(families, "lynqnode_resources_ready", **acme) == 1  # the Deployment waits
    assert sample(families, "lynqnode_degraded_status", **acme, reason="ResourcesNotReady") == 1
    beta = {"lynqnode": "beta-web", "namespace": namespace}
    assert sample(families, "lynqnode_degraded_status", **beta, reason="ResourcesNotReady") == 0

    # Every metric our dashboard and alert rules read is in the scrape.
    names = scraped_names(families.values())
    referenced = {n for e in dashboard_expressions() + alert_expressions() for n in metric_names(e)}
    assert referenced, "no expression was read"
    assert referenced - names == set()
