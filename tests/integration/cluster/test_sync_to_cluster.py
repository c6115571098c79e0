"""The loop without a GitOps engine: sync's output applied to a real API server, then reported.

Proves the pieces fit: the rendered tree builds with kustomize and is accepted by the API server
(CRDs from ``crds/``), and ``lynq-bridge report`` reads the LynqNode inventory the sync wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge_harness import Bridge, SqliteDatabase
from controlplane import ControlPlane

from lynq_bridge.cli import main

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: default}
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
      dependIds: [settings]
      nameTemplate: "{{ uid }}-app"
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          replicas: "{{ replicas | default('1') | int }}"
          selector: {matchLabels: {app: "{{ uid }}"}}
          template:
            metadata: {labels: {app: "{{ uid }}"}}
            spec:
              containers: [{name: app, image: "nginx:1.27"}]
"""


def test_synced_tree_applies_and_reports_status(
    kube: ControlPlane, tmp_path: Path, sqlite_database: Path, create_tenants: Any, capsys: Any
) -> None:
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": "zeta", "active": "1", "plan": "pro", "replicas": 2}])
    bridge = Bridge(tmp_path, db, form=FORM)
    assert bridge.sync() == 0
    out = tmp_path / "out"
    assert bridge.cli("render", "--out", str(out)) == 0
    applied = kube.kubectl("apply", "--server-side", "-k", str(out / "default" / "tenants"))
    assert "lynqnode.operator.lynq.sh/zeta-web serverside-applied" in applied.stdout
    capsys.readouterr()
    code = main(
        [
            "report",
            "--config",
            str(bridge.config),
            "--kubeconfig",
            str(kube.kubeconfig),
            "--namespace",
            "default",
        ]
    )
    assert code == 0, capsys.readouterr()
    assert "reported 1 LynqNode(s): 1 status write(s)" in capsys.readouterr().out
    node = json.loads(kube.kubectl("get", "lynqnode", "zeta-web", "-o", "json").stdout)
    status = node["status"]
    assert status["desiredResources"] == 2
    assert status["readyResources"] == 1  # the ConfigMap; no controller runs the Deployment
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Ready"] == "False"
    assert status["observedGeneration"] == node["metadata"]["generation"]
