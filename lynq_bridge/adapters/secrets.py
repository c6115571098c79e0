"""Resolve ``passwordRef`` from a mounted secrets directory (``<dir>/<name>/<key>``).

That is the layout of a Kubernetes Secret volume, so the same config works in a pod (mount the
Secret) and on a laptop (a directory of files). A missing Secret or key is an error, never an
empty password. The value is never logged or put in a message.
"""

from __future__ import annotations

from pathlib import Path

from lynq_bridge.errors import SourceUnavailable


class SecretsDirectory:
    """Reads ``<root>/<name>/<key>``; trailing newlines are stripped (editors add them)."""

    def __init__(self, root: str | None) -> None:
        self._root = Path(root) if root else None

    def __call__(self, name: str, key: str) -> str:
        if self._root is None:
            raise SourceUnavailable(
                f"passwordRef {name}/{key} cannot be resolved: spec.secretsDir is not set"
            )
        if "/" in name or "/" in key or name in ("", ".", "..") or key in ("", ".", ".."):
            raise SourceUnavailable(f"passwordRef {name}/{key} is not a valid Secret reference")
        path = self._root / name / key
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError as exc:
            raise SourceUnavailable(f"passwordRef {name}/{key} not found: no file {path}") from exc
        except OSError as exc:
            raise SourceUnavailable(
                f"passwordRef {name}/{key} cannot be read from {path}: {exc.strerror}"
            ) from exc
