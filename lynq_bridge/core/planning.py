"""Plan one hub's change: the desired file tree against what the branch holds.

The plan is computed from blob ids, so an unchanged tree costs hashing, not writing. Three
rules keep running infrastructure safe:

- a resource that failed to render (and the dependents it skipped) keeps its committed file and
  inventory entry, so a broken template or row never removes what is running;
- a node that could not be rendered at all (name collision) keeps all of its files;
- the deletion guard holds removals of more than ``maxDeletePercent`` of a hub's nodes (or all
  of them) unless explicitly allowed; additions and updates still go through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lynq_bridge.config.models import InventoryEntry, LynqHub
from lynq_bridge.core import naming
from lynq_bridge.core.rendering import LABEL_FORM, LABEL_HUB, LABEL_UID, HubRender, NodeRender
from lynq_bridge.core.yamltext import dump_document, dump_manifest

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


def blob_id(content: bytes) -> str:
    """The Git blob id of ``content`` (what ``git hash-object`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class DeletionGuard:
    max_delete_percent: int
    allow_mass_delete: bool = False

    def holds(self, removing: int, existing: int) -> bool:
        if removing == 0 or self.allow_mass_delete:
            return False
        return removing == existing or removing * 100 > self.max_delete_percent * existing


@dataclass
class HubPlan:
    """What to write and delete under one hub directory (paths relative to it)."""

    writes: dict[str, bytes] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    added: list[NodeRender] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # node -> changed resource ids
    removed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # removals held by the deletion guard
    nodes: dict[str, NodeRender] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.writes or self.deletes)


def kustomization(resources: list[str]) -> bytes:
    """A kustomization.yaml listing ``resources`` in sorted order."""
    return dump_document(
        {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": sorted(resources)}
    ).encode()


def lynqnode_manifest(hub: LynqHub, node: NodeRender, entries: list[InventoryEntry]) -> bytes:
    """The LynqNode of a node: identity, labels and the inventory of its children."""
    labels = {LABEL_HUB: hub.metadata.name, LABEL_FORM: node.form}
    if naming.is_label_value(node.uid):
        labels[LABEL_UID] = node.uid
    manifest: dict[str, Any] = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqNode",
        "metadata": {"name": node.name, "namespace": hub.metadata.namespace, "labels": labels},
        "spec": {
            "uid": node.uid,
            "templateRef": node.form,
            "hubId": hub.metadata.name,
            "resources": [
                e.model_dump(mode="json", exclude_none=True)
                for e in sorted(entries, key=lambda e: e.id)
            ],
        },
    }
    return dump_manifest(manifest).encode()


def previous_inventory(content: bytes | None) -> dict[str, InventoryEntry]:
    """The inventory of a committed lynqnode.yaml (empty when absent or unreadable)."""
    if not content:
        return {}
    try:
        data = yaml.load(content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return {e["id"]: InventoryEntry.model_validate(e) for e in data["spec"]["resources"]}
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        return {}


def _node_files(
    hub: LynqHub,
    node: NodeRender,
    existing: Mapping[str, str],
    previous: bytes | None,
) -> tuple[dict[str, tuple[bytes, str]], set[str]]:
    """Files of one node as (content, blob id), and the files to keep as committed.

    A node without errors always assembles to the same files, so they are memoised on the
    node; the daemon's render cache then makes an unchanged node cost nothing to plan.
    """
    if not (node.failed or node.skipped) and node.assembled is not None:
        return node.assembled, set()
    files = {child.file: child.content for child in node.children}
    entries = [child.entry for child in node.children]
    kept: set[str] = set()
    if node.failed or node.skipped:
        old = previous_inventory(previous)
        for rid in sorted({*node.failed, *node.skipped}):
            entry = old.get(rid)
            if entry is None:
                continue
            file = naming.child_file_name(entry.kind, entry.namespace, entry.name)
            if f"{node.name}/{file}" in existing and file not in files:
                kept.add(file)
                entries.append(entry)
    files[naming.NODE_FILE] = lynqnode_manifest(hub, node, entries)
    files[naming.KUSTOMIZATION_FILE] = kustomization([*files, *kept])
    assembled = {f: (c, blob_id(c)) for f, c in files.items()}
    if not kept and not (node.failed or node.skipped):
        node.assembled = assembled
    return assembled, kept


def plan_hub(
    hub: LynqHub,
    render: HubRender,
    existing: Mapping[str, str],
    *,
    previous_nodes: Mapping[str, bytes],
    guard: DeletionGuard,
) -> HubPlan:
    """Plan the hub directory.

    ``existing`` maps paths relative to the hub directory to blob ids; ``previous_nodes`` holds
    the committed lynqnode.yaml of nodes with render errors (see ``nodes_needing_history``).
    """
    plan = HubPlan(nodes=render.nodes)
    by_node: dict[str, list[str]] = {}
    for path in existing:
        owner, sep, _ = path.partition("/")
        if sep:
            by_node.setdefault(owner, []).append(path)
    keep_whole = {n for n in render.blocked_nodes if n in by_node}
    gone = sorted(set(by_node) - set(render.nodes) - keep_whole)
    if guard.holds(len(gone), len(by_node)):
        plan.held = gone
        keep_whole.update(gone)
    else:
        plan.removed = gone
    desired: dict[str, bytes] = {}
    keep: set[str] = {p for n in keep_whole for p in by_node[n]}
    for name, node in sorted(render.nodes.items()):
        files, kept = _node_files(hub, node, existing, previous_nodes.get(name))
        keep.update(f"{name}/{f}" for f in kept)
        changed = []
        for file, (content, blob) in files.items():
            path = f"{name}/{file}"
            desired[path] = content
            if existing.get(path) != blob:
                changed.append(file)
                plan.writes[path] = content
        stale = [p for p in by_node.get(name, ()) if p not in desired and p not in keep]
        if name not in by_node:
            plan.added.append(node)
        elif changed or stale:
            by_file = {c.file: c.entry.id for c in node.children}
            plan.updated[name] = sorted(
                {by_file[f] for f in changed if f in by_file}
                | {f"removed {p.split('/', 1)[1]}" for p in stale}
            )
    node_dirs = sorted({*render.nodes, *keep_whole})
    hub_kustomization = kustomization(node_dirs)
    desired[naming.KUSTOMIZATION_FILE] = hub_kustomization
    if existing.get(naming.KUSTOMIZATION_FILE) != blob_id(hub_kustomization):
        plan.writes[naming.KUSTOMIZATION_FILE] = hub_kustomization
    plan.deletes = sorted(p for p in existing if p not in desired and p not in keep)
    return plan


def nodes_needing_history(render: HubRender, existing: Mapping[str, str]) -> list[str]:
    """Nodes whose committed lynqnode.yaml the planner needs (those with render errors)."""
    return sorted(
        name
        for name, node in render.nodes.items()
        if (node.failed or node.skipped) and f"{name}/{naming.NODE_FILE}" in existing
    )
