"""A directory that plays the role of ``git.path`` (``lynq-bridge render --out DIR``).

It offers the same view as the Git mirror (paths under a prefix and their blob ids) so that
``render`` plans exactly like ``sync`` does, then writes and deletes files in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from lynq_bridge.core.planning import blob_id
from lynq_bridge.errors import BridgeError


class DirectoryTree:
    """Files below ``root``; every path is checked to stay inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise BridgeError(f"path {relative} would escape the output directory {self.root}")
        return path

    def list_tree(self, prefix: str) -> dict[str, str]:
        """Blob ids of the files below ``prefix``, keyed by path under it."""
        base = self._path(prefix)
        if not base.is_dir():
            return {}
        return {
            p.relative_to(base).as_posix(): blob_id(p.read_bytes())
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }

    def read_files(self, paths: Iterable[str]) -> dict[str, bytes]:
        out = {}
        for relative in paths:
            path = self._path(relative)
            if path.is_file():
                out[relative] = path.read_bytes()
        return out

    def apply(self, writes: Mapping[str, bytes], deletes: Iterable[str]) -> None:
        for relative in deletes:
            path = self._path(relative)
            path.unlink(missing_ok=True)
            parent = path.parent
            while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        made: set[Path] = set()
        for relative, content in writes.items():
            path = self._path(relative)
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            path.write_bytes(content)
