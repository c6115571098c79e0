"""A daemon's plan for a few changed or new rows, in time proportional to the change.

A full sync walks every row and every node: it is what makes a fresh process correct, and at
10,000 rows it costs a daemon more than everything else of a one-row change. After a sync that
left a hub *settled* (every node rendered cleanly and indexed, nothing held, blocked or rolling,
see ``Syncer._settle``), the daemon keeps the index it committed; when the next query returns the
same rows except for a few whose values changed (same uid) and a few new ones, only those rows'
nodes are rendered and planned, and only the listings and index files they appear in are
written again (``row_changes``, ``plan_delta``).

Anything else takes the full path, which stays the reference: a row removed or re-keyed, a
duplicate uid, a node name that is taken, a node that fails to render or whose object another
node owns, engine files that come or go for a changed node, a form or bridge change, a commit
by someone else. ``plan_delta`` must produce exactly the writes and deletes that
``planning.plan_hub`` would; a test compares the two on random changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lynq_bridge.config.models import LynqHub
from lynq_bridge.core.inputs import (
    INPUTS_FILE,
    digest_of_files,
    format_inputs,
    object_files,
)
from lynq_bridge.core.layout import Target, kustomization, listed_directories, shard_of, split_owner
from lynq_bridge.core.naming import KUSTOMIZATION_FILE
from lynq_bridge.core.planning import HubPlan, blob_id, node_files
from lynq_bridge.core.rendering import NodeRender
from lynq_bridge.core.rows import Row

IndexEntry = tuple[str, str, frozenset[str]]  # (input key, digest, object files)

# Above this share of the rows changing, the full path is about as fast and simpler to trust.
MAX_SHARE = 0.05
MIN_ROWS = 50


@dataclass
class Settled:
    """What a daemon knows of a settled hub at ``commit`` (see the module docstring)."""

    commit: str
    revision: str
    rows: list[Row]  # as the query returned them
    index: dict[str, IndexEntry]  # node -> its index entry, every node of the hub
    _owners: dict[str, str] | None = None  # object file name -> its node, once asked
    shards: dict[str, list[str]] | None = None  # the nodes of each shard, once asked
    _by_uid: dict[str, Row] | None = None  # ``rows`` by uid, once asked

    @property
    def owners(self) -> dict[str, str]:
        """Object file name -> the node owning it (built on the first delta: a ``sync
        --once`` process never needs it)."""
        if self._owners is None:
            self._owners = {f: node for node, (_, _, files) in self.index.items() for f in files}
        return self._owners

    def by_shard(self) -> dict[str, list[str]]:
        """The nodes of each shard."""
        if self.shards is None:
            self.shards = {}
            for node in self.index:
                self.shards.setdefault(shard_of(node), []).append(node)
        return self.shards

    def by_uid(self) -> dict[str, Row]:
        if self._by_uid is None:
            self._by_uid = {row.uid: row for row in self.rows}
        return self._by_uid


def row_changes(settled: Settled, rows: Sequence[Row]) -> tuple[list[Row], list[Row]] | None:
    """(rows whose values changed, new rows) against the settled rows, or None when a row went,
    a uid repeats, or too many rows changed. An unchanged record keeps its ``Row`` object
    (``rows_from_records``' memo), so unchanged rows cost an identity check."""
    before = settled.by_uid()
    limit = max(MIN_ROWS, int(len(rows) * MAX_SHARE))
    changed: list[Row] = []
    added: list[Row] = []
    previous = None
    for row in rows:
        uid = row.uid
        if uid == previous:
            return None  # a duplicate uid: the full path reports it
        previous = uid
        old = before.get(uid)
        if old is row:
            continue
        (added if old is None else changed).append(row)
        if len(changed) + len(added) > limit:
            return None
    if len(rows) != len(before) + len(added):
        return None  # a row went (or was re-keyed)
    return changed, added


def plan_delta(
    hub: LynqHub,
    settled: Settled,
    nodes: Mapping[str, NodeRender],
    committed: Mapping[str, str],
    files: Mapping[str, str],
    target: Target,
) -> HubPlan | None:
    """The plan of ``nodes``: rendered, each the node of a changed row (known to the settled
    index) or of a new one (unknown to it), given the committed files of the changed ones'
    directories (``committed``) and every other file of the hub (``files``: the hub's own, the
    index and the engine files), paths relative to the hub directory mapped to blob ids; None
    when the full path must decide."""
    plan = HubPlan(nodes=dict(nodes))
    entries = dict(settled.index)
    claimed: dict[str, str] = {}
    engine_written: list[str] = []
    for name, node in sorted(nodes.items()):
        if node.failed or node.skipped or node.withheld or node.timed_out:
            return None
        new = name not in entries
        for child in node.children:
            owner = settled.owners.get(child.file, name)
            if owner != name or claimed.setdefault(child.file, name) != name:
                return None  # another node's object: conflicts are the full path's
        mine = {p: b for p, b in committed.items() if split_owner(p)[0] == name}
        mine.update((p, b) for p, b in files.items() if split_owner(p)[0] == name)
        if new and mine:
            return None  # files of a node the index does not know: the full path's
        rendered = node_files(hub, node, target)
        engine = {p for p in rendered if split_owner(p)[1] is None}
        if not new and engine != {p for p in mine if split_owner(p)[1] is None}:
            return None  # a changed node's engine files come or go: its listings change
        engine_written += engine if new else ()
        changed = [p for p, (_, blob) in rendered.items() if mine.get(p) != blob]
        for path in changed:
            plan.writes[path] = rendered[path][0]
        stale = sorted(p for p in mine if p not in rendered)
        plan.deletes.extend(stale)
        if new:
            plan.added.append(node)
        elif changed or stale:
            directory = target.node_dir(name)
            by_path = {
                f"{directory}/{target.place(c.file, c.depth)}": c.entry.id for c in node.children
            }
            plan.updated[name] = sorted(
                {by_path[p] for p in changed if p in by_path}
                | {f"removed {split_owner(p)[1] or p}" for p in stale}
            )
        pairs = [(p, b) for p, (_, b) in rendered.items()]
        entries[name] = (
            node.input_key,
            digest_of_files(name, pairs),
            object_files({name: pairs})[name],
        )
    plan.deletes.sort()
    plan.index = entries
    added = [node.name for node in plan.added]
    _write(plan, files, _index_files(settled, entries, nodes, target))
    if added:
        _write(plan, files, _listing_files(settled, added, engine_written, files, target))
    return plan


def _write(plan: HubPlan, files: Mapping[str, str], wanted: Mapping[str, bytes]) -> None:
    """Write those of ``wanted`` that differ from the committed ``files``."""
    for path, content in wanted.items():
        if files.get(path) != blob_id(content):
            plan.writes[path] = content


def _index_files(
    settled: Settled,
    entries: dict[str, IndexEntry],
    nodes: Mapping[str, NodeRender],
    target: Target,
) -> dict[str, bytes]:
    """The index files the nodes' entries are in: their shards', or the one flat file."""
    if not target.sharded:
        return {INPUTS_FILE: format_inputs(entries)}
    shards = settled.by_shard()
    out = {}
    for shard in sorted({shard_of(name) for name in nodes}):
        mine = [*shards.get(shard, ()), *(n for n in nodes if shard_of(n) == shard)]
        out[f"{shard}/{INPUTS_FILE}"] = format_inputs({n: entries[n] for n in mine})
    return out


def _listing_files(
    settled: Settled,
    added: list[str],
    engine: list[str],
    files: Mapping[str, str],
    target: Target,
) -> dict[str, bytes]:
    """The kustomizations that list the ``added`` nodes (and their ``engine`` files): the
    hub's and each engine directory's, or, sharded, those of their shards (and the top ones
    when a shard is new). Each is written whole, as ``planning`` writes it."""
    out: dict[str, bytes] = {}
    if target.sharded:
        shards = settled.by_shard()
        touched = {shard_of(n) for n in added}
        for shard in sorted(touched):
            names = [*shards.get(shard, ()), *(n for n in added if shard_of(n) == shard)]
            out[f"{shard}/{KUSTOMIZATION_FILE}"] = kustomization(names)
        if touched - shards.keys():
            out[KUSTOMIZATION_FILE] = kustomization(shards.keys() | touched)
    else:
        out[KUSTOMIZATION_FILE] = kustomization([*settled.index, *added])
    for directory in target.engine_dirs:
        prefix = f"{directory}/"
        mine = [p.removeprefix(prefix) for p in engine if p.startswith(prefix)]
        if not mine:
            continue
        if target.sharded:  # the touched shards' listings, and the top one if a shard is new
            touched = {p.split("/", 1)[0] for p in mine}
            known = {
                p.removeprefix(prefix)
                for p in files
                if p.startswith(prefix)
                and split_owner(p)[0] is not None
                and p.split("/", 2)[1] in touched
            }
            listed = listed_directories([*known, *mine])
            for shard in touched:
                out[f"{prefix}{shard}/{KUSTOMIZATION_FILE}"] = kustomization(listed[shard])
            if any(f"{prefix}{shard}/{KUSTOMIZATION_FILE}" not in files for shard in touched):
                shards_now = {
                    p.split("/", 2)[1]
                    for p in files
                    if p.startswith(prefix) and split_owner(p)[0] is not None
                }
                out[f"{prefix}{KUSTOMIZATION_FILE}"] = kustomization(shards_now | touched)
        else:
            known = {
                p.removeprefix(prefix)
                for p in files
                if p.startswith(prefix) and split_owner(p)[0] is not None
            }
            out[f"{prefix}{KUSTOMIZATION_FILE}"] = kustomization([*known, *mine])
    return out


def settle(
    settled: Settled, commit: str, rows: list[Row], plan: HubPlan, delta: Sequence[Row]
) -> None:
    """``settled`` once the commit of ``plan_delta``'s ``plan`` is pushed as ``commit``
    (``rows``: all of them, ``delta``: the changed and new ones)."""
    assert plan.index is not None
    for name in plan.nodes:
        before = settled.index[name][2] if name in settled.index else frozenset()
        entry = plan.index[name]
        for file in before - entry[2]:
            settled.owners.pop(file, None)
        for file in entry[2]:
            settled.owners[file] = name
    for node in plan.added:
        if settled.shards is not None:
            settled.shards.setdefault(shard_of(node.name), []).append(node.name)
    if settled._by_uid is not None:
        settled._by_uid.update((row.uid, row) for row in delta)
    settled.index = plan.index
    settled.commit = commit
    settled.rows = rows
