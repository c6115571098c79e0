"""Plan one hub's change: the desired file tree against what the branch holds.

The plan is computed from blob ids, so an unchanged tree costs hashing, not writing. Three
rules keep running infrastructure safe:

- a resource that failed to render (and the dependents it skipped) keeps its committed file and
  inventory entry, so a broken template or row never removes what is running;
- a node that could not be rendered at all (name collision) keeps all of its files;
- the deletion guard holds removals of more than ``maxDeletePercent`` of a hub's nodes (or all
  of them) unless explicitly allowed; additions and updates still go through.

A node's files include the engine files its target writes beside the node directory (see
``layout``): they are kept, replaced and removed together with the node's manifests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from lynq_bridge.config.models import InventoryEntry, LynqHub
from lynq_bridge.core import naming
from lynq_bridge.core.conflicts import settle_conflicts
from lynq_bridge.core.gittree import Store, store_directory
from lynq_bridge.core.inputs import (
    CommittedInputs,
    HubListing,
    ObjectFiles,
    digest_of_files,
    index_files,
    is_index_file,
    node_blobs,
    object_files,
)
from lynq_bridge.core.layout import (
    FlatTarget,
    NodeLayout,
    NodeObject,
    Target,
    directory_kustomizations,
    kustomization,
    listed_directories,
    path_owner,
    split_owner,
)
from lynq_bridge.core.naming import NODE_FILE
from lynq_bridge.core.paths import component_problem, path_problem
from lynq_bridge.core.rendering import LABEL_FORM, LABEL_HUB, LABEL_UID, HubRender, NodeRender
from lynq_bridge.core.yamltext import dump_manifest

__all__ = [
    "DeletionGuard",
    "HubPlan",
    "blob_id",
    "history_paths",
    "kustomization",
    "lynqnode_manifest",
    "node_files",
    "nodes_changing",
    "plan_hub",
    "previous_inventory",
]


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


IndexEntry = tuple[str, str, ObjectFiles]  # (input key, digest, object files)
# A planned file: (content, blob id); no content when it went to the store as it was rendered.
File = tuple[bytes | None, str]


@dataclass
class HubPlan:
    """What to write and delete under one hub directory (paths relative to it)."""

    writes: dict[str, bytes] = field(default_factory=dict)
    # Written files whose content went to the plan's ``store`` as it was planned: path -> the
    # binary blob id the store gave (the pack's own object, not a copy). A first sync of
    # 100,000 rows writes 700,000 files; none of them is held here.
    stored: dict[str, bytes] = field(default_factory=dict)
    # The directories of new nodes that went to the store whole, as one tree each: directory
    # -> binary tree id; ``tree_files``: how many files they hold.
    trees: dict[str, bytes] = field(default_factory=dict)
    tree_files: int = 0
    deletes: list[str] = field(default_factory=list)
    added: list[NodeRender] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # node -> changed resource ids
    removed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # removals held by the deletion guard
    # node -> (input key, digest, object files) as the index now lists them; None when the
    # committed index is kept as it is
    index: dict[str, IndexEntry] | None = None
    records: list[str] = field(default_factory=list)  # the index's rollout records (``index``)
    nodes: dict[str, NodeRender] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether the plan needs a commit: a file other than the render-input index is written
        or deleted. A change of the index alone (a row or form change that alters no manifest)
        is not committed: its stale entries only make later syncs re-render those rows, whose
        output is the same, until the next commit brings the index up to date."""
        return bool(self.deletes or self.trees or any(not is_index_file(p) for p in self.written))

    @property
    def written(self) -> list[str]:
        """Every path the plan writes, stored or not (not those in ``trees``)."""
        return [*self.writes, *self.stored]

    def write(self, path: str, file: File, store: Store | None) -> None:
        """Write ``file`` at ``path``: its content into ``writes``, or, with a ``store``, into
        the store at once and the id it gives into ``stored``; a file without content is in
        the store already (a manifest stored as it was rendered, see ``render_hub``)."""
        content, blob = file
        if content is None:
            self.stored[path] = bytes.fromhex(blob)
        elif store is None:
            self.writes[path] = content
        else:
            self.stored[path] = store(b"blob", content)


def lynqnode_manifest(
    hub: LynqHub,
    node: NodeRender,
    entries: list[InventoryEntry],
    *,
    target: Target | None = None,
    deepest: int = -1,
) -> bytes:
    """The LynqNode of a node: identity, labels and the inventory of its children, with the
    target's annotations (``deepest``: the depth of its deepest resource)."""
    labels, full_values = naming.tracking_metadata(
        {LABEL_HUB: hub.metadata.name, LABEL_FORM: node.form, LABEL_UID: node.uid}
    )
    metadata: dict[str, Any] = {
        "name": node.name,
        "namespace": hub.metadata.namespace,
        "labels": labels,
    }
    if full_values:  # a uid longer than 63 characters: its label is short, its annotation full
        metadata["annotations"] = full_values
    manifest: dict[str, Any] = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqNode",
        "metadata": metadata,
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
    if target is not None:
        target.decorate_node(manifest, deepest)
    return dump_manifest(manifest).encode()


def previous_inventory(content: bytes | None) -> dict[str, InventoryEntry]:
    """The inventory of a committed lynqnode.yaml (empty when absent or unreadable)."""
    if not content:
        return {}
    try:
        data = yaml.load(content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        entries = [InventoryEntry.model_validate(e) for e in data["spec"]["resources"]]
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        return {}
    # An entry edited by hand into something no file can be named after is ignored.
    return {
        e.id: e
        for e in entries
        if not component_problem(naming.child_file_name(e.kind, e.namespace, e.name))
    }


def _directory_of(node: NodeRender, committed: Sequence[str], target: Target) -> str:
    """The directory of a node relative to the hub directory: the target's (``node_dir``),
    except for a node with render errors committed in another layout, which stays where it is
    so that the files of its failed resources are kept (it moves with its next clean render)."""
    directory = target.node_dir(node.name)
    if node.failed or node.skipped:
        for path in committed:
            relative = split_owner(path)[1]
            if relative is not None:
                return path[: len(path) - len(relative) - 1]
    return directory


def _claims(render: HubRender, previous_nodes: Mapping[str, bytes]) -> dict[str, str]:
    """Object file name -> the node rendering it, for the files that a node with render errors
    may keep from its previous inventory (see ``_assemble``): only they are looked up, so a
    first sync does not index its hub's worth of children."""
    wanted: set[str] = set()
    for name, node in render.nodes.items():
        if node.failed or node.skipped:
            old = previous_inventory(previous_nodes.get(name))
            wanted.update(
                naming.child_file_name(e.kind, e.namespace, e.name)
                for rid, e in old.items()
                if rid in node.failed or rid in node.skipped
            )
    if not wanted:
        return {}
    return {
        c.file: name
        for name, node in render.nodes.items()
        for c in node.children
        if c.file in wanted
    }


def _node_files(
    hub: LynqHub,
    node: NodeRender,
    committed: Sequence[str],
    previous: bytes | None,
    target: Target,
    claimed: Mapping[str, str],
) -> tuple[dict[str, str], dict[str, File] | None, set[str]]:
    """Blob ids of the files of one node by hub-relative path, the files as (content, blob
    id) when they were assembled now, and the committed paths to keep as they are (see
    ``_assemble``).

    A node without errors always assembles to the same files, so their blob ids are memoised
    on the node (not their contents); a node whose files changed in the branch is assembled
    again.
    """
    if not (node.failed or node.skipped) and node.assembled is not None:
        return node.assembled, None, set()
    files, kept = _assemble(hub, node, committed, previous, target, claimed)
    blobs = {path: blob for path, (_content, blob) in files.items()}
    if not kept and not (node.failed or node.skipped):
        node.assembled = blobs
    return blobs, files, kept


def _assemble(
    hub: LynqHub,
    node: NodeRender,
    committed: Sequence[str],
    previous: bytes | None,
    target: Target,
    claimed: Mapping[str, str],
) -> tuple[dict[str, File], set[str]]:
    """Files of one node as (content, blob id) by hub-relative path, and the committed paths to
    keep as they are (``committed``: the node's paths in the branch; ``claimed``: object file
    name -> the node rendering it, so a kept file never duplicates another node's object).
    A manifest that went to the store as it was rendered has no content here (None)."""
    if node.packed:
        raise ValueError(f"node {node.name} was packed: its children are gone")
    resources = {r.entry.id: r for r in node.resources}
    files: dict[str, bytes | None] = {}  # relative to the node directory
    stored: dict[str, bytes] = {}  # relative path -> blob id of a manifest in the store
    objects: list[NodeObject] = []
    entries: list[InventoryEntry] = []
    for child in node.children:
        path = target.place(child.file, child.depth)
        if child.blob is None:
            files[path] = child.content
        else:
            files[path], stored[path] = None, child.blob
        made = child.entry  # made on each call: once a child
        entries.append(made)
        objects.append(NodeObject(path, child.depth, made, resources.get(made.id)))
    # A withheld object has no file but stays in the inventory, so the reporter judges it.
    entries += node.withheld.values()
    kept: set[str] = set()
    directory = _directory_of(node, committed, target)
    if node.failed or node.skipped:
        old = previous_inventory(previous)
        prefix = f"{directory}/"
        # Where each file was committed: a target may place it in a sub-directory.
        where = {p.rsplit("/", 1)[-1]: p[len(prefix) :] for p in committed if p.startswith(prefix)}
        present = {child.file for child in node.children}
        for rid in sorted({*node.failed, *node.skipped}):
            entry = old.get(rid)
            # A withheld resource renders a new object: like a rename, its old one goes.
            if entry is None or rid in node.withheld:
                continue
            file = naming.child_file_name(entry.kind, entry.namespace, entry.name)
            found = where.get(file)
            if (
                found is not None
                and file not in present
                and claimed.get(file, node.name) == node.name
            ):
                kept.add(found)
                entries.append(entry)
                resource = resources.get(rid)
                depth = resource.depth if resource else 0
                objects.append(NodeObject(found, depth, entry, resource))
    deepest = max((o.depth for o in objects), default=-1)
    node_path = target.node_path(deepest)
    files[node_path] = lynqnode_manifest(hub, node, entries, target=target, deepest=deepest)
    objects.append(NodeObject(node_path, deepest + 1))
    files.update(directory_kustomizations([*files, *kept]))
    out: dict[str, bytes | None] = {
        f"{directory}/{path}": content for path, content in files.items()
    }
    layout = NodeLayout(
        hub=hub,
        name=node.name,
        uid=node.uid,
        form=node.form,
        objects=tuple(sorted(objects, key=lambda o: o.path)),
        directory=directory,
    )
    for path, content in target.engine_files(layout).items():
        if path_owner(path) != node.name or path.split("/", 1)[0] not in target.engine_dirs:
            raise ValueError(f"engine file {path} of node {node.name} is outside its places")
        out[path] = content
    prefix = f"{directory}/"
    assembled: dict[str, File] = {
        path: (content, blob_id(content))
        if content is not None
        else (None, stored[path[len(prefix) :]].hex())
        for path, content in out.items()
    }
    return assembled, {f"{directory}/{path}" for path in kept}


def node_files(hub: LynqHub, node: NodeRender, target: Target) -> dict[str, tuple[bytes, str]]:
    """The files of a node rendered without errors, as (content, blob id) by path relative to
    the hub directory (their blob ids memoised on the node, as ``plan_hub`` does)."""
    if node.failed or node.skipped:
        raise ValueError(f"node {node.name} has render errors: its files depend on the branch")
    assembled = _assemble(hub, node, (), None, target, {})[0]
    files: dict[str, tuple[bytes, str]] = {}
    for path, (content, blob) in assembled.items():
        if content is None:
            raise ValueError(f"node {node.name} was rendered into a store: {path} is in it")
        files[path] = (content, blob)
    node.assembled = {path: blob for path, (_content, blob) in files.items()}
    return files


def plan_hub(
    hub: LynqHub,
    render: HubRender,
    existing: Mapping[str, str],
    *,
    previous_nodes: Mapping[str, bytes],
    guard: DeletionGuard,
    target: Target | None = None,
    listing: HubListing | None = None,
    inputs: CommittedInputs | None = None,
    records: Sequence[str] = (),
    store: Store | None = None,
) -> HubPlan:
    """Plan the hub directory.

    ``existing`` maps paths relative to the hub directory to blob ids; ``previous_nodes`` holds
    the committed lynqnode.yaml of nodes with render errors (see ``history_paths``). ``target``
    lays the nodes out and adds engine files (default: plain, no engine).

    With a ``listing`` (one level of the hub, see ``inputs``), ``existing`` needs the files of
    every node except the unchanged ones (``render.unchanged``), which are kept whole by their
    directory; ``inputs`` then gives their digests and object files for the index.
    ``records`` are the open rollouts' index lines (see ``core.rollout``).

    With a ``store`` (a sync's pack of new objects), each written file's content is handed to
    it as soon as it is planned and the plan keeps its blob id (``HubPlan.stored``), so a hub's
    files are never all in memory at once; without, the plan holds them (``HubPlan.writes``).
    """
    target = target or FlatTarget()
    plan = HubPlan(nodes=render.nodes)
    by_node: dict[str, list[str]] = {}
    for path in existing:
        owner = path_owner(path)
        if owner is not None:
            by_node.setdefault(owner, []).append(path)
    for name in listing.nodes if listing is not None else ():
        by_node.setdefault(name, [])
    keep_whole = {n for n in (*render.blocked_nodes, *render.unchanged) if n in by_node}
    gone = sorted(set(by_node) - set(render.nodes) - keep_whole)
    if guard.holds(len(gone), len(by_node)):
        plan.held = gone
        keep_whole.update(gone)
        # A held node's objects stay committed: a new node rendering one of them would put two
        # files of one object into the hub, and its kustomization would stop building.
        held_files = object_files({n: [(p, "") for p in by_node[n]] for n in gone})
        settle_conflicts(render, hub.metadata.name, held_files, held=gone)
    else:
        plan.removed = gone
    desired: set[str] = set()
    whole: set[str] = set()  # the directories of new nodes, stored as one tree each
    indexed: dict[str, IndexEntry] = {}  # packed nodes' index entries
    keep: set[str] = {p for n in keep_whole for p in by_node[n]}
    claimed = _claims(render, previous_nodes)
    for name, node in sorted(render.nodes.items()):
        committed = by_node.get(name, ())
        previous = previous_nodes.get(name)
        blobs, files, kept = _node_files(hub, node, committed, previous, target, claimed)
        keep.update(kept)
        # A node whose directory is new (a new node, or a new git.layout) goes to a store as
        # that directory's tree: the commit then takes one entry, not one per file (a first
        # sync of 100,000 rows: 100,000 trees, not 700,000 files).
        directory = _new_directory(node, committed, kept, target, listing) if store else None
        if directory is None:
            desired.update(blobs)
        else:
            desired.update(p for p in blobs if not p.startswith(f"{directory}/"))
        changed = [path for path, blob in blobs.items() if existing.get(path) != blob]
        if changed:
            if files is None:  # memoised blob ids: the contents are assembled again
                files = _assemble(hub, node, committed, previous, target, claimed)[0]
            if directory is not None and store is not None:
                _store_new_node(plan, files, directory, store)
                whole.add(directory)
            else:
                for path in changed:
                    plan.write(path, files[path], store)
        stale = [p for p in committed if p not in desired and p not in keep]
        if name not in by_node:
            plan.added.append(node)
        elif changed or stale:
            prefix = f"{_directory_of(node, committed, target)}/"
            by_path = {
                f"{prefix}{target.place(c.file, c.depth)}": c.settings.id for c in node.children
            }
            # A file that only moved (a new git.layout) is not a removal.
            moved = {p.removeprefix(prefix) for p in blobs}
            plan.updated[name] = sorted(
                {by_path[p] for p in changed if p in by_path}
                | {
                    f"removed {relative}"
                    for relative in (split_owner(p)[1] or p for p in stale)
                    if relative not in moved
                }
            )
        if store is not None and node.assembled is not None:
            # Its files are in the store: the rest of the plan needs only its index entry, and
            # a hub's worth of children and blob ids is most of a first sync's memory.
            if node.input_key:
                indexed[name] = _index_entry(name, node.input_key, node.assembled)
            node.children, node.assembled, node.packed = [], None, True
    kept_dirs = {
        target.node_dir(n) for n in keep_whole if listing is not None and n in listing.nodes
    }
    _plan_hub_files(plan, existing, desired, keep, target, kept_dirs | whole, store)
    _plan_inputs(
        plan,
        render,
        existing,
        desired,
        keep,
        inputs,
        records,
        sharded=target.sharded,
        store=store,
        indexed=indexed,
    )
    plan.deletes = sorted(p for p in existing if p not in desired and p not in keep)
    return plan


def _plan_hub_files(
    plan: HubPlan,
    existing: Mapping[str, str],
    desired: set[str],
    keep: set[str],
    target: Target,
    node_dirs: set[str],
    store: Store | None,
) -> None:
    """The hub's own files: its kustomization.yaml listing every node directory, and one
    kustomization.yaml per engine directory listing every engine file below it; in the sharded
    layout, each of them lists its shards and each shard has one listing its own. An engine
    directory of the target is written even when empty, so that the engine's root object finds
    its path and prunes what the last node left behind."""
    # A committed path no writer could produce (added by hand or by an older version) is left
    # out of the listings, so it can never break a kustomization.
    paths = [p for p in (*desired, *keep) if not path_problem(p)]
    # Node directories listed without their files: unchanged ones, kept whole, and new ones,
    # written whole (see ``_store_new_node``).
    node_dirs = set(node_dirs)
    engine_paths = []
    for path in paths:
        owner, relative = split_owner(path)
        if owner is None:
            continue
        if relative is not None:
            node_dirs.add(path[: len(path) - len(relative) - 1])
        else:
            engine_paths.append(path)
    hub_files = _listings("", node_dirs)
    engine_dirs = {*target.engine_dirs, *(p.split("/")[0] for p in engine_paths)}
    for directory in sorted(engine_dirs):
        prefix = f"{directory}/"
        listed = [p.removeprefix(prefix) for p in engine_paths if p.startswith(prefix)]
        hub_files.update(_listings(prefix, listed))
    for path, content in hub_files.items():
        desired.add(path)
        blob = blob_id(content)
        if existing.get(path) != blob:
            plan.write(path, (content, blob), store)


def _listings(prefix: str, paths: Iterable[str]) -> dict[str, bytes]:
    """The kustomization.yaml of the directory ``prefix`` listing ``paths`` (relative to it),
    and one per shard among them (see ``layout.listed_directories``)."""
    return {
        f"{prefix}{shard}/{naming.KUSTOMIZATION_FILE}"
        if shard
        else f"{prefix}{naming.KUSTOMIZATION_FILE}": kustomization(names)
        for shard, names in listed_directories(paths).items()
    }


def _plan_inputs(
    plan: HubPlan,
    render: HubRender,
    existing: Mapping[str, str],
    desired: set[str],
    keep: set[str],
    inputs: CommittedInputs | None,
    records: Sequence[str] = (),
    *,
    sharded: bool = False,
    store: Store | None = None,
    indexed: Mapping[str, IndexEntry] | None = None,
) -> None:
    """The render-input index (see ``inputs``): rendered clean nodes with the digest of their
    new files (``indexed``: those of packed nodes, made before their blob ids went), unrendered
    ones with the digest of their committed entries."""
    indexed = indexed or {}
    entries: dict[str, IndexEntry] = {}
    for name, node in render.nodes.items():
        if name in indexed:
            entries[name] = indexed[name]
        elif node.input_key and not (node.failed or node.skipped) and node.assembled is not None:
            entries[name] = _index_entry(name, node.input_key, node.assembled)
    committed = node_blobs(existing)
    for name, key in render.unchanged.items():
        if inputs is not None and name in inputs.digests:
            entries[name] = (key, inputs.digests[name], inputs.objects.get(name, ()))
        elif name in committed:
            pairs = committed[name]
            objects = object_files({name: pairs})[name]
            entries[name] = (key, digest_of_files(name, pairs), objects)
    if not entries and not records:  # e.g. every node held by the guard: leave it as it is
        keep.update(p for p in existing if is_index_file(p))
        return
    plan.index, plan.records = entries, list(records)
    for path, content in index_files(entries, records, sharded=sharded).items():
        desired.add(path)
        blob = blob_id(content)
        if existing.get(path) != blob:
            plan.write(path, (content, blob), store)


def _new_directory(
    node: NodeRender,
    committed: Sequence[str],
    kept: set[str],
    target: Target,
    listing: HubListing | None,
) -> str | None:
    """The directory of ``node`` when the branch has nothing in it (``committed``: the node's
    paths, ``listing``: the node directories known without their files), else None."""
    directory = _directory_of(node, committed, target)
    prefix = f"{directory}/"
    if kept or (listing is not None and node.name in listing.nodes):
        return None
    return None if any(path.startswith(prefix) for path in committed) else directory


def _store_new_node(plan: HubPlan, files: Mapping[str, File], directory: str, store: Store) -> None:
    """Store the files of a new node: those in its ``directory`` as one tree (``plan.trees``),
    its engine files one by one (``plan.stored``)."""
    prefix = f"{directory}/"
    inside: dict[str, bytes] = {}
    for path, (content, blob) in files.items():
        if not path.startswith(prefix):
            plan.write(path, (content, blob), store)
        elif content is None:  # stored as it was rendered
            inside[path[len(prefix) :]] = bytes.fromhex(blob)
        else:
            inside[path[len(prefix) :]] = store(b"blob", content)
    plan.trees[directory] = store_directory(inside, store)
    plan.tree_files += len(inside)


def _index_entry(name: str, key: str, blobs: Mapping[str, str]) -> IndexEntry:
    """The index entry of a node rendered from ``key`` whose files have the ``blobs``."""
    pairs = list(blobs.items())
    return (key, digest_of_files(name, pairs), object_files({name: pairs})[name])


def nodes_changing(
    hub: LynqHub,
    render: HubRender,
    existing: Mapping[str, str],
    names: Iterable[str],
    *,
    target: Target | None = None,
) -> set[str]:
    """Those of the rendered nodes ``names`` whose committed files (``existing``, which must
    hold every file of these nodes) differ from their render: a node with render errors counts
    as changing. The files are assembled once (memoised on the node, as ``plan_hub`` does)."""
    target = target or FlatTarget()
    by_node: dict[str, list[str]] = {}
    for path in existing:
        owner = path_owner(path)
        if owner is not None:
            by_node.setdefault(owner, []).append(path)
    changing = set()
    for name in names:
        node = render.nodes[name]
        if node.failed or node.skipped or name not in by_node:
            changing.add(name)
            continue
        blobs, _files, _kept = _node_files(hub, node, by_node[name], None, target, {})
        if set(blobs) != set(by_node[name]) or any(
            existing.get(p) != blob for p, blob in blobs.items()
        ):
            changing.add(name)
    return changing


def history_paths(render: HubRender, existing: Mapping[str, str]) -> dict[str, str]:
    """The committed lynqnode.yaml (path relative to the hub directory) of every node the
    planner needs the previous inventory of: those with render errors."""
    wanted = {name for name, node in render.nodes.items() if node.failed or node.skipped}
    found: dict[str, str] = {}
    for path in existing:
        owner, relative = split_owner(path)
        if owner in wanted and relative is not None and path.endswith(f"/{NODE_FILE}"):
            found[owner] = path
    return dict(sorted(found.items()))
