"""A bridge daemon under end-to-end test: SQLite hub, the stack's smart-HTTP remote, the reporter.

``E2EBridge`` writes a config directory (BridgeConfig, LynqHub, the tenant form of
``FORM``), creates the tenants table and runs ``lynq-bridge run`` as a real process with the
status reporter enabled, so a test changes rows and asserts on what the cluster does.
``eventually`` is the one polling helper: it returns the first truthy value of a check and
fails with what it last saw.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from controlplane import free_port
from stack import GIT_USER, Stack, log_tail

T = TypeVar("T")
HUB = "tenants"
# Engines poll nothing here: the bridge syncs every second and the reporter runs every second,
# so the time a scenario takes is the engines' own apply and health-check time.
SYNC_INTERVAL = "1s"

# The tenant stack every scenario uses. The tenant namespace goes first (depth 0), the settings
# ConfigMap in it next, then the Deployment, then its Service once the Deployment is available.
# In the hub namespace: an "archive" kept when the tenant goes (Retain), a "welcome" created once
# (Once), and a "profile" that a person may already have created (Stuck conflict).
FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: stack, namespace: HUBNS}
spec:
  hubId: tenants
  namespaces:
    - id: namespace
      nameTemplate: "PREFIX-{{ uid }}"
      spec: {apiVersion: v1, kind: Namespace}
  configMaps:
    - id: settings
      dependIds: [namespace]
      nameTemplate: settings
      targetNamespace: "PREFIX-{{ uid }}"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data:
          plan: "{{ plan }}"
          QUOTA_LINE
    - id: archive
      deletionPolicy: Retain
      nameTemplate: "{{ uid }}-archive"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {plan: "{{ plan }}"}
    - id: welcome
      creationPolicy: Once
      nameTemplate: "{{ uid }}-welcome"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {plan_at_signup: "{{ plan }}"}
    - id: profile
      nameTemplate: "{{ uid }}-profile"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {owner: "{{ uid }}"}
  deployments:
    - id: app
      dependIds: [settings]
      nameTemplate: app
      targetNamespace: "PREFIX-{{ uid }}"
      timeoutSeconds: 120
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
                - name: web
                  image: "registry.example/web:1"
                  env: [{name: PLAN, value: "{{ plan }}"}]
  services:
    - id: web
      dependIds: [app]
      nameTemplate: web
      targetNamespace: "PREFIX-{{ uid }}"
      spec:
        apiVersion: v1
        kind: Service
        spec:
          selector: {app: web}
          ports: [{port: 80}]
"""


def form_text(hub_namespace: str, prefix: str, *, quota_line: str = "") -> str:
    """The form for one engine's hub; ``quota_line`` adds a data line to the settings."""
    return (
        FORM.replace("HUBNS", hub_namespace)
        .replace("PREFIX", prefix)
        .replace("QUOTA_LINE", quota_line or "tier: standard")
    )


def eventually(
    what: str, check: Callable[[], T | None], *, timeout: float = 120, interval: float = 0.5
) -> T:
    """The first truthy result of ``check``; fails after ``timeout`` with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {timeout:.0f}s; last: {last!r}")
        time.sleep(interval)


class E2EBridge:
    """One BridgeConfig + LynqHub + form on a SQLite file, run by ``lynq-bridge run``."""

    def __init__(
        self,
        stack: Stack,
        engine: str,
        root: Path,
        *,
        notify: bool = True,
        hub: str = "",
        layout: str = "flat",
    ) -> None:
        self.stack, self.engine, self.root = stack, engine, root
        self.layout = layout  # git.layout
        self.hub_namespace = f"hub-{hub or engine}"
        self.prefix = "fx" if engine == "flux" else "ac"
        self.config = root / "config"
        self.config.mkdir(parents=True)
        self.database = root / "tenants.db"
        self.execute(
            "CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, active INTEGER NOT NULL,"
            " plan TEXT NOT NULL DEFAULT 'basic', quota INTEGER NOT NULL DEFAULT 10)"
        )
        secrets = root / "secrets" / "git"
        secrets.mkdir(parents=True)
        (secrets / "password").write_text(stack.git_password + "\n")
        self.write_config(notify=notify)
        self.write_form()
        stack.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.hub_namespace}}
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    # ------------------------------------------------------------------ config

    def write_config(self, *, notify: bool) -> None:
        url = self.stack.git_url(self.engine).replace("http://", f"http://{GIT_USER}@", 1)
        spec: dict[str, Any] = {
            "git": {
                "url": url,
                "credentialsRef": {"name": "git", "key": "password"},
                "branch": "main",
                "path": "lynq",
                "workDir": str(self.root / "work"),
                "author": {"name": "lynq-bridge", "email": "bridge@example.com"},
                "layout": self.layout,
            },
            "target": self.engine,
            "secretsDir": str(self.root / "secrets"),
            # Scenarios delete one tenant of two: above the default 25 %.
            "deletionGuard": {"maxDeletePercent": 100},
            "report": {
                "enabled": True,
                "interval": "1s",
                "namespace": self.hub_namespace,
                "kubeconfig": str(self.stack.kubeconfig),
            },
        }
        if self.engine == "flux":
            spec["flux"] = {"ignoreRules": True}
        else:
            spec["argocd"] = {
                "project": "lynq-tenants",
                "destinationServer": self.stack.plane.server,
                "syncPolicy": {"automated": True, "prune": True, "selfHeal": True},
            }
        if notify:
            spec["notify"] = {
                "enabled": True,
                "kubeconfig": str(self.stack.kubeconfig),
                "applications": [
                    {"name": f"lynq-{self.hub_namespace}-{HUB}", "namespace": "argocd"}
                ]
                if self.engine == "argocd"
                else [],
            }
        documents = {
            "lynq-bridge.yaml": {
                "apiVersion": "bridge.lynq.sh/v1alpha1",
                "kind": "BridgeConfig",
                "metadata": {"name": "default"},
                "spec": spec,
            },
            "hub.yaml": {
                "apiVersion": "operator.lynq.sh/v1",
                "kind": "LynqHub",
                "metadata": {"name": HUB, "namespace": self.hub_namespace},
                "spec": {
                    "source": {
                        "type": "sqlite",
                        "syncInterval": SYNC_INTERVAL,
                        "sqlite": {"path": str(self.database), "table": "tenants"},
                    },
                    "valueMappings": {"uid": "tenant_id", "activate": "active"},
                    "extraValueMappings": {"plan": "plan", "quota": "quota"},
                },
            },
        }
        for name, document in documents.items():
            (self.config / name).write_text(yaml.safe_dump(document, sort_keys=False))

    def write_form(self, *, quota_line: str = "") -> None:
        text = form_text(self.hub_namespace, self.prefix, quota_line=quota_line)
        (self.config / "form.yaml").write_text(text)

    # ------------------------------------------------------------------ rows

    def execute(self, sql: str, *params: Any) -> None:
        with sqlite3.connect(self.database) as connection:
            connection.execute(sql, params)
        connection.close()

    def insert(self, uid: str, plan: str = "basic", quota: int = 10) -> None:
        self.execute("INSERT INTO tenants VALUES (?, 1, ?, ?)", uid, plan, quota)

    def tenant_namespace(self, uid: str) -> str:
        return f"{self.prefix}-{uid}"

    # ------------------------------------------------------------------ daemon

    def start(self) -> None:
        """(Re)start ``lynq-bridge run``: a form change is read at start, like a new pod."""
        log = self.root / "bridge.log"
        self.port = free_port()
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "lynq_bridge", "run",
                    "--config", str(self.config),
                    "--listen", f"127.0.0.1:{self.port}",
                ],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "KUBECONFIG": str(self.stack.kubeconfig)},
            )  # fmt: skip

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_tail(self) -> str:
        return log_tail(self.root / "bridge.log")

    def alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"the bridge daemon exited:\n{self.log_tail()}")
