"""Compare two rendered trees: what a form change would do to every node (``lynq-bridge diff``).

Reviewers of a form pull request want the blast radius first (how many nodes change, which
are added or removed) and then the exact file changes, as a unified diff.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

from lynq_bridge.core.layout import path_owner


@dataclass
class TreeDiff:
    """Paths are relative to ``git.path``: ``<namespace>/<hub>/<node>/<file>``."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    nodes_total: int = 0
    nodes_added: list[str] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    nodes_changed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _node_of(path: str) -> str | None:
    """``<namespace>/<hub>/<node>`` of a node's file, including its engine files
    (``<namespace>/<hub>/argocd/<node>.yaml``); None for a hub's own files."""
    parts = path.split("/", 2)
    owner = path_owner(parts[2]) if len(parts) == 3 else None
    return f"{parts[0]}/{parts[1]}/{owner}" if owner else None


def diff_trees(base: Mapping[str, bytes], head: Mapping[str, bytes]) -> TreeDiff:
    """Which files and nodes differ between two rendered trees."""
    out = TreeDiff()
    out.added = sorted(set(head) - set(base))
    out.removed = sorted(set(base) - set(head))
    out.changed = sorted(p for p in set(base) & set(head) if base[p] != head[p])
    base_nodes = {n for n in map(_node_of, base) if n}
    head_nodes = {n for n in map(_node_of, head) if n}
    out.nodes_total = len(base_nodes | head_nodes)
    out.nodes_added = sorted(head_nodes - base_nodes)
    out.nodes_removed = sorted(base_nodes - head_nodes)
    touched = {_node_of(p) for p in (*out.added, *out.removed, *out.changed)}
    out.nodes_changed = sorted(n for n in touched if n and n in base_nodes and n in head_nodes)
    return out


def format_diff(
    diff: TreeDiff, base: Mapping[str, bytes], head: Mapping[str, bytes], *, context: int = 3
) -> str:
    """The blast radius, then a unified diff of every changed file."""
    lines = [
        f"{len(diff.nodes_changed)} of {diff.nodes_total} node(s) change, "
        f"{len(diff.nodes_added)} added, {len(diff.nodes_removed)} removed; "
        f"{len(diff.changed)} file(s) changed, {len(diff.added)} added, "
        f"{len(diff.removed)} removed"
    ]
    for title, nodes in (
        ("added", diff.nodes_added),
        ("removed", diff.nodes_removed),
        ("changed", diff.nodes_changed),
    ):
        lines += [f"  {title}: {node}" for node in nodes]
    for path in sorted({*diff.added, *diff.removed, *diff.changed}):
        lines.append("")
        lines.extend(diff_lines(path, base, head, context=context))
    return "\n".join(lines) + "\n"


def diff_lines(
    path: str, base: Mapping[str, bytes], head: Mapping[str, bytes], *, context: int = 3
) -> list[str]:
    """The unified diff of one file between two trees (``/dev/null`` when absent), as lines."""
    old = base.get(path, b"").decode(errors="replace").splitlines(keepends=True)
    new = head.get(path, b"").decode(errors="replace").splitlines(keepends=True)
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(
            old,
            new,
            fromfile=f"a/{path}" if path in base else "/dev/null",
            tofile=f"b/{path}" if path in head else "/dev/null",
            n=context,
        )
    ]


def unified_diff(
    path: str, base: Mapping[str, bytes], head: Mapping[str, bytes], *, context: int = 3
) -> str:
    """``diff_lines`` as text, one newline after each line."""
    return "".join(f"{line}\n" for line in diff_lines(path, base, head, context=context))
