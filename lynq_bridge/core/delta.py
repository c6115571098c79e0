"""A daemon's plan for a few changed rows, in time proportional to the change.

A full sync walks every row and every node: it is what makes a fresh process correct, and at
10,000 rows it costs a daemon more than everything else of a one-row change. After a sync that
left a hub *settled* (every node rendered cleanly and indexed, nothing held, blocked or rolling,
see ``Settled.of``), the daemon keeps the index it committed; when the next query returns the
same rows in the same places except for a few whose values (not uids) changed, only those rows'
nodes are rendered and planned (``changed_rows``, ``plan_delta``).

Anything else takes the full path, which stays the reference: a row added, removed or
re-keyed, a node that fails to render or whose object another node owns, engine files that
come or go, a form or bridge change, a commit by someone else. ``plan_delta`` must produce
exactly the writes and deletes that ``planning.plan_hub`` would; a test compares the two on
random changes.
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
from lynq_bridge.core.layout import Target, shard_of, split_owner
from lynq_bridge.core.planning import HubPlan, node_files
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

    @staticmethod
    def of(commit: str, revision: str, rows: list[Row], index: dict[str, IndexEntry]) -> Settled:
        return Settled(commit, revision, rows, index)

    @property
    def owners(self) -> dict[str, str]:
        """Object file name -> the node owning it (built on the first delta: a ``sync
        --once`` process never needs it)."""
        if self._owners is None:
            self._owners = {f: node for node, (_, _, files) in self.index.items() for f in files}
        return self._owners

    def by_shard(self) -> dict[str, list[str]]:
        """The nodes of each shard (a delta never adds or removes a node)."""
        if self.shards is None:
            self.shards = {}
            for node in self.index:
                self.shards.setdefault(shard_of(node), []).append(node)
        return self.shards


def changed_rows(settled: Settled, rows: Sequence[Row]) -> list[Row] | None:
    """The rows that differ from the settled ones in value only (same uid, same place), or None
    when the rows changed otherwise or too many of them did. An unchanged record keeps its
    ``Row`` object (``rows_from_records``'s memo), so this compares identities."""
    before = settled.rows
    if len(rows) != len(before):
        return None
    changed = [new for new, old in zip(rows, before, strict=True) if new is not old]
    if len(changed) > max(MIN_ROWS, int(len(rows) * MAX_SHARE)):
        return None
    olds = {old.uid for new, old in zip(rows, before, strict=True) if new is not old}
    if {row.uid for row in changed} != olds or len(olds) != len(changed):
        return None
    return changed


def plan_delta(
    hub: LynqHub,
    settled: Settled,
    nodes: Mapping[str, NodeRender],
    committed: Mapping[str, str],
    engine: Mapping[str, str],
    target: Target,
) -> HubPlan | None:
    """The plan of the changed ``nodes`` (rendered, each the node of a changed row and known to
    the settled index), given their committed files (``committed``: the files in their node
    directories, ``engine``: every engine file of the hub, paths relative to the hub directory
    mapped to blob ids); None when the full path must decide."""
    plan = HubPlan(nodes=dict(nodes))
    entries = dict(settled.index)
    claimed: dict[str, str] = {}
    for name, node in sorted(nodes.items()):
        if name not in entries or node.failed or node.skipped or node.withheld or node.timed_out:
            return None
        for child in node.children:
            owner = settled.owners.get(child.file, name)
            if owner != name or claimed.setdefault(child.file, name) != name:
                return None  # another node's object: conflicts are the full path's
        mine = {p: b for p, b in committed.items() if split_owner(p)[0] == name}
        mine.update((p, b) for p, b in engine.items() if split_owner(p)[0] == name)
        files = node_files(hub, node, target)
        if {p for p in files if split_owner(p)[1] is None} != {
            p for p in mine if split_owner(p)[1] is None
        }:
            return None  # engine files come or go: the engine listings change
        changed = [p for p, (_, blob) in files.items() if mine.get(p) != blob]
        for path in changed:
            plan.writes[path] = files[path][0]
        stale = sorted(p for p in mine if p not in files)
        plan.deletes.extend(stale)
        if changed or stale:
            directory = target.node_dir(name)
            by_path = {
                f"{directory}/{target.place(c.file, c.depth)}": c.entry.id for c in node.children
            }
            plan.updated[name] = sorted(
                {by_path[p] for p in changed if p in by_path}
                | {f"removed {split_owner(p)[1] or p}" for p in stale}
            )
        pairs = [(p, b) for p, (_, b) in files.items()]
        entries[name] = (
            node.input_key,
            digest_of_files(name, pairs),
            object_files({name: pairs})[name],
        )
    plan.deletes.sort()
    plan.index = entries
    _index_writes(plan, settled, entries, nodes, target)
    return plan


def _index_writes(
    plan: HubPlan,
    settled: Settled,
    entries: dict[str, IndexEntry],
    nodes: Mapping[str, NodeRender],
    target: Target,
) -> None:
    """The index files the changed nodes' entries rewrite: their shards', or the one flat file."""
    if not target.sharded:
        plan.writes[INPUTS_FILE] = format_inputs(entries)
        return
    shards = settled.by_shard()
    for shard in sorted({shard_of(name) for name in nodes}):
        mine = {n: entries[n] for n in shards[shard]}
        plan.writes[f"{shard}/{INPUTS_FILE}"] = format_inputs(mine)


def settle(settled: Settled, commit: str, rows: list[Row], plan: HubPlan) -> None:
    """``settled`` once the commit of ``plan_delta``'s ``plan`` is pushed as ``commit``."""
    assert plan.index is not None
    for name in plan.nodes:
        _key, _digest, before = settled.index[name]
        entry = plan.index[name]
        for file in before - entry[2]:
            settled.owners.pop(file, None)
        for file in entry[2]:
            settled.owners[file] = name
    settled.index = plan.index
    settled.commit = commit
    settled.rows = rows
