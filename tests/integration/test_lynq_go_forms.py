"""Lynq's sample form (Go templates) validates and renders unchanged through the command line.

The form is ``tests/data/lynq/samples/lynqnodes_v1_lynqform.yaml``, Lynq's own sample (see the
README there for its source and license); the hub is ours, on SQLite, with the variables the
form uses (``uid``, ``hostOrUrl`` -> ``host``, ``deployImage``).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from lynq_bridge.cli import main

SAMPLE_FORM = (
    Path(__file__).resolve().parents[1] / "data" / "lynq" / "samples" / "lynqnodes_v1_lynqform.yaml"
)

HUB = """\
apiVersion: operator.lynq.sh/v1
kind: LynqHub
metadata: {name: sample-hub, namespace: default}
spec:
  source:
    type: sqlite
    syncInterval: 30s
    sqlite: {path: ../tenants.db, table: tenants}
  valueMappings: {uid: id, hostOrUrl: url, activate: active}
  extraValueMappings: {deployImage: image}
"""
BRIDGE = """\
apiVersion: bridge.lynq.sh/v1alpha1
kind: BridgeConfig
metadata: {name: default}
spec:
  git:
    url: ../gitops.git
    branch: main
    path: lynq
    author: {name: lynq-bridge, email: lynq-bridge@localhost}
    workDir: ../.work
  target: plain
"""


def _setup(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(SAMPLE_FORM, config / "form.yaml")
    (config / "hub.yaml").write_text(HUB, encoding="utf-8")
    (config / "bridge.yaml").write_text(BRIDGE, encoding="utf-8")
    with contextlib.closing(sqlite3.connect(tmp_path / "tenants.db")) as connection:
        connection.executescript(
            "create table tenants (id text, url text, active integer, image text);"
            "insert into tenants values "
            "('acme', 'https://acme.example.com:8443/x', 1, 'nginx:1.27');"
            "insert into tenants values ('beta', 'beta.example.com', 1, '');"
        )
        connection.commit()
    return config


def _load(out: Path, node: str, file: str) -> Any:
    path = out / "default" / "sample-hub" / f"{node}-webapp-template" / file
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_lynqs_sample_form_validates_and_renders_unchanged(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    out = tmp_path / "out"
    assert main(["validate", "--config", str(config)]) == 0
    assert main(["render", "--config", str(config), "--out", str(out)]) == 0

    deployment = _load(out, "acme", "deployment_default_acme-api.yaml")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["metadata"]["name"] == "acme-api"
    assert deployment["metadata"]["labels"]["app"] == "acme"
    assert deployment["spec"]["replicas"] == 2
    assert container["image"] == "nginx:1.27"
    assert container["env"] == [
        {"name": "NODE_UID", "value": "acme"},
        {"name": "NODE_HOST", "value": "acme.example.com"},
    ]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "acme-sa"

    beta = _load(out, "beta", "deployment_default_beta-api.yaml")
    assert beta["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:stable"
    ingress = _load(out, "beta", "ingress_default_beta.yaml")
    assert ingress["spec"]["rules"][0]["host"] == "beta.example.com"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "beta-api"
    )
    hpa = _load(out, "beta", "horizontalpodautoscaler_default_beta-api.yaml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "beta-api"
