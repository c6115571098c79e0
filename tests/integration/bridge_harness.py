"""A bridge under test: a config directory for a real database, a bare Git remote, and helpers
to sync and to read what landed on the remote branch.

Used by the integration tests; everything is real (SQLite/MariaDB/PostgreSQL, git), nothing is
mocked. The form is the SPEC's tenants stack, small enough to read in a failing assertion.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from lynq_bridge.cli import main

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: default}
spec:
  hubId: tenants
  deployments:
    - id: app
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
              containers:
                - name: app
                  image: nginx:1.27
                  env: [{name: PLAN, value: "{{ plan | default('basic') }}"}]
  services:
    - id: svc
      dependIds: [app]
      nameTemplate: "{{ uid }}-app"
      spec:
        apiVersion: v1
        kind: Service
        spec:
          selector: {app: "{{ uid }}"}
          ports: [{port: 80}]
  ingresses:
    - id: web
      dependIds: [svc]
      nameTemplate: "{{ uid }}-web"
      includeWhen: "{{ domain != '' }}"
      spec:
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        spec:
          rules:
            - host: "{{ domain | toHost }}"
"""


class SqliteDatabase:
    """A SQLite file with the ``execute`` of tests/conftest.py's ``Database``."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.database = str(path)
        self.url = f"sqlite:///{path}"

    def execute(self, *statements: Any) -> None:
        with sqlite3.connect(self.database) as connection:
            for statement in statements:
                if isinstance(statement, str):
                    connection.execute(statement)
                else:
                    sql, params = statement
                    rows = params if isinstance(params, list) else [params]
                    connection.executemany(sql, rows)
        connection.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET (error statuses too, instead of an exception)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, check=True, text=True
    ).stdout


def commit_by_hand(clone: Path, message: str, *, push: bool = True) -> None:
    """Commit everything in a clone as a person would (and push it to origin/main)."""
    git("-C", str(clone), "add", "-A")
    git("-C", str(clone), "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", message)
    if push:
        git("-C", str(clone), "push", "--quiet", "origin", "HEAD:main")


class Bridge:
    """One config directory + one bare remote in ``root``."""

    def __init__(
        self,
        root: Path,
        database: Any,
        *,
        form: str = FORM,
        bridge_spec: dict[str, Any] | None = None,
        table: str = "tenants",
    ) -> None:
        self.root = root
        self.config = root / "config"
        self.config.mkdir(parents=True)
        self.remote = root / "remote.git"
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.remote))
        spec: dict[str, Any] = {
            "git": {
                "url": str(self.remote),
                "branch": "main",
                "path": "lynq",
                "workDir": str(root / "work"),
                "author": {"name": "lynq-bridge", "email": "bridge@example.com"},
            },
            "target": "plain",
            "secretsDir": str(root / "secrets"),
        }
        for key, value in (bridge_spec or {}).items():
            spec[key] = {**spec[key], **value} if isinstance(value, dict) and key in spec else value
        self.write(
            "lynq-bridge.yaml",
            {
                "apiVersion": "bridge.lynq.sh/v1alpha1",
                "kind": "BridgeConfig",
                "metadata": {"name": "default"},
                "spec": spec,
            },
        )
        self.write("hub.yaml", hub_document(database, root, table=table))
        (self.config / "form.yaml").write_text(form)

    def write(self, name: str, document: dict[str, Any]) -> None:
        (self.config / name).write_text(yaml.safe_dump(document, sort_keys=False))

    def load_config_document(self, name: str) -> Any:
        return yaml.safe_load((self.config / name).read_text())

    def cli(self, *args: str) -> int:
        return main([*args, "--config", str(self.config)])

    def sync(self, *extra: str) -> int:
        return self.cli("sync", "--once", *extra)

    # -------------------------------------------------------------- reading the remote

    def head(self) -> str | None:
        out = subprocess.run(
            [
                "git",
                "--git-dir",
                str(self.remote),
                "rev-parse",
                "--verify",
                "-q",
                "refs/heads/main",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return out or None

    def commits(self) -> int:
        if self.head() is None:
            return 0
        return int(git("--git-dir", str(self.remote), "rev-list", "--count", "refs/heads/main"))

    def files(self) -> list[str]:
        if self.head() is None:
            return []
        out = git("--git-dir", str(self.remote), "ls-tree", "-r", "--name-only", "refs/heads/main")
        return sorted(out.splitlines())

    def show(self, path: str) -> str:
        return git("--git-dir", str(self.remote), "show", f"refs/heads/main:{path}")

    def load(self, path: str) -> Any:
        return yaml.safe_load(self.show(path))

    def message(self, rev: str = "refs/heads/main") -> str:
        return git("--git-dir", str(self.remote), "log", "-1", "--format=%B", rev)

    def nodes(self) -> list[str]:
        prefix = "lynq/default/tenants/"
        return sorted(
            {
                f[len(prefix) :].split("/")[0]
                for f in self.files()
                if f.startswith(prefix) and f.count("/") > 3
            }
        )


def hub_document(database: Any, root: Path, *, table: str = "tenants") -> dict[str, Any]:
    """A LynqHub for a ``Database`` of tests/conftest.py (password through secretsDir)."""
    if database.kind == "sqlite":
        source: dict[str, Any] = {"path": database.database, "table": table}
    else:
        secret = root / "secrets" / "db"
        secret.mkdir(parents=True, exist_ok=True)
        (secret / "password").write_text(database.password + "\n")
        source = {
            "host": database.host,
            "port": database.port,
            "username": database.username,
            "passwordRef": {"name": "db", "key": "password"},
            "database": database.database,
            "table": table,
        }
    return {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqHub",
        "metadata": {"name": "tenants", "namespace": "default"},
        "spec": {
            "source": {"type": database.kind, "syncInterval": "30s", database.kind: source},
            "valueMappings": {"uid": "tenant_id", "activate": "active"},
            "extraValueMappings": {"domain": "domain", "plan": "plan", "replicas": "replicas"},
        },
    }
