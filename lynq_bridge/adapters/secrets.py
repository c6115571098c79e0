"""Resolve ``passwordRef`` to a password: from a mounted secrets directory or the Kubernetes API.

``<secretsDir>/<name>/<key>`` is the layout of a Kubernetes Secret volume, so the same config
works in a pod (mount the Secret) and on a laptop (a directory of files). Without a secrets
directory the Secret is read from the Kubernetes API in the hub's namespace (in-cluster service
account or kubeconfig). A missing Secret or key is an error, never an empty password; the value
is never logged or put in a message.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from pathlib import Path

from lynq_bridge.adapters.cluster import BUILTIN_TYPES, ClusterClient
from lynq_bridge.errors import ClusterUnavailable, SourceUnavailable

SECRET = BUILTIN_TYPES[("v1", "Secret")]

PasswordLookup = Callable[[str, str, str], str]  # (namespace, Secret name, key) -> password


def _check_reference(name: str, key: str) -> None:
    if "/" in name or "/" in key or name in ("", ".", "..") or key in ("", ".", ".."):
        raise SourceUnavailable(f"passwordRef {name}/{key} is not a valid Secret reference")


class SecretsDirectory:
    """Reads ``<root>/<name>/<key>``; trailing newlines are stripped (editors add them)."""

    def __init__(self, root: str | None) -> None:
        self._root = Path(root) if root else None

    def __call__(self, namespace: str, name: str, key: str) -> str:
        _check_reference(name, key)
        if self._root is None:
            raise SourceUnavailable(
                f"passwordRef {name}/{key} cannot be resolved: spec.secretsDir is not set"
            )
        path = self._root / name / key
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError as exc:
            raise SourceUnavailable(f"passwordRef {name}/{key} not found: no file {path}") from exc
        except OSError as exc:
            raise SourceUnavailable(
                f"passwordRef {name}/{key} cannot be read from {path}: {exc.strerror}"
            ) from exc


class KubernetesSecrets:
    """Reads the Secret ``name`` in the hub's namespace through the API (connects lazily)."""

    def __init__(self, kubeconfig: str | None) -> None:
        self._kubeconfig = kubeconfig
        self._client: ClusterClient | None = None
        self._lock = threading.Lock()

    def __call__(self, namespace: str, name: str, key: str) -> str:
        _check_reference(name, key)
        where = f"passwordRef {name}/{key} (Secret {namespace}/{name})"
        try:
            with self._lock:
                if self._client is None:
                    self._client = ClusterClient(self._kubeconfig)
            secret = self._client.get_object(SECRET, namespace, name)
        except ClusterUnavailable as exc:
            raise SourceUnavailable(f"{where} cannot be read: {exc}") from exc
        if secret is None:
            raise SourceUnavailable(f"{where} not found: the Secret does not exist")
        data = secret.get("data") or {}
        if key not in data:
            raise SourceUnavailable(f"{where} not found: the Secret has no key {key}")
        try:
            return base64.b64decode(data[key], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise SourceUnavailable(f"{where} is not valid base64-encoded UTF-8") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def password_lookup(secrets_dir: str | None, kubeconfig: str | None) -> PasswordLookup:
    """The secrets directory when configured, else the Kubernetes API."""
    return SecretsDirectory(secrets_dir) if secrets_dir else KubernetesSecrets(kubeconfig)
