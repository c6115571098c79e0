"""A plan for a few changed, new or removed rows, in time proportional to the change.

A full sync walks every row and every node: it is what makes a fresh process correct, and at
10,000 rows it costs a daemon more than everything else of a one-row change. After a sync that
left a hub *settled* (every node rendered cleanly and indexed, nothing held, blocked or rolling,
see ``Syncer._settle``), the syncer keeps the index it committed; when the next query returns
the same rows except for a few whose values changed (same uid), a few new ones and a few that
went, only those rows' nodes are rendered, planned or removed, and only the listings and index
files they appear in are written again (``row_changes``, ``plan_delta``). A new process starts
from what the last one kept in the work directory (``adapters.settledfile``) and reads the
index of only the shards a change touches (``Settled.load``).

Anything else takes the full path, which stays the reference: removals the deletion guard
holds, a duplicate uid, a node name that is taken, a node that fails to render or whose object
another node owns, engine files that come or go for a changed node, a form or bridge change, a
commit by someone else. ``plan_delta`` must produce exactly the writes and deletes that
``planning.plan_hub`` would; a test compares the two on random changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from lynq_bridge.config.models import LynqHub
from lynq_bridge.core.inputs import (
    INPUTS_FILE,
    HubListing,
    ObjectFiles,
    digest_of_files,
    format_inputs,
    index_entries,
    index_paths,
    object_files,
)
from lynq_bridge.core.layout import Target, kustomization, listed_directories, shard_of, split_owner
from lynq_bridge.core.naming import KUSTOMIZATION_FILE
from lynq_bridge.core.planning import DeletionGuard, HubPlan, blob_id, node_files
from lynq_bridge.core.rendering import NodeRender
from lynq_bridge.core.rows import Row

IndexEntry = tuple[str, str, ObjectFiles]  # (input key, digest, object files)
ReadIndex = Callable[[list[str]], Mapping[str, bytes]]  # index file paths -> their contents

# Above this share of the rows changing, the full path is about as fast and simpler to trust.
MAX_SHARE = 0.05
MIN_ROWS = 50


@dataclass
class Settled:
    """What a daemon knows of a settled hub at ``commit`` (see the module docstring).

    A process that starts from what an earlier one left (``Settled.restored``) knows the rows
    and the hub's own files, but not yet the index: each shard's entries are read from the
    committed index files when a change first touches it (``load``), and all of them only when
    a new object's owner must be known. Flat, the one index file is read whole."""

    commit: str
    revision: str
    rows: list[Row]  # as the query returned them
    index: dict[str, IndexEntry]  # node -> its index entry: every node, or ``loaded``'s
    files: dict[str, str]  # the hub's own files and engine files -> blob id (``HubListing``)
    count: int  # nodes in the hub
    loaded: set[str] | None = None  # the shards ``index`` holds when not every one (restored)
    _owners: dict[str, str] | None = None  # object file name -> its node, once asked
    shards: dict[str, list[str]] | None = None  # the nodes of each shard, once asked
    _by_uid: dict[str, Row] | None = None  # ``rows`` by uid, once asked

    @staticmethod
    def restored(
        commit: str, revision: str, rows: list[Row], files: dict[str, str], count: int
    ) -> Settled:
        """A settled hub as an earlier process left it, its index still unread."""
        return Settled(commit, revision, rows, {}, files, count, loaded=set())

    def load(self, shards: Iterable[str] | None, read: ReadIndex, *, sharded: bool) -> bool:
        """Read the index entries of ``shards`` (every shard when None, or flat) that
        ``index`` does not hold yet, with ``read`` (index file paths -> contents); False when
        a file could not be read (the full path then decides)."""
        if self.loaded is None:
            return True
        if sharded and shards is not None:
            wanted = set(shards) - self.loaded
            paths = [f"{shard}/{INPUTS_FILE}" for shard in sorted(wanted)]
        else:  # every shard not read yet (flat: the one file)
            wanted = set()
            paths = [
                p
                for p in index_paths(self.files)
                if not sharded or (p != INPUTS_FILE and p.split("/", 1)[0] not in self.loaded)
            ]
        paths = [p for p in paths if p in self.files]  # a shard without nodes has no index
        contents = read(paths) if paths else {}
        if any(p not in contents for p in paths):
            return False
        for path in paths:
            self.index.update(index_entries(contents[path]))
        self.shards = None
        if not sharded or shards is None or len(self.index) == self.count:
            self.loaded = None
        else:
            self.loaded |= wanted
        return True

    @property
    def owners(self) -> dict[str, str]:
        """Object file name -> the node owning it (built on the first delta that adds an
        object: a ``sync --once`` process that changes values never needs it)."""
        assert self.loaded is None, "owners need the whole index"
        if self._owners is None:
            self._owners = {f: node for node, (_, _, files) in self.index.items() for f in files}
        return self._owners

    def by_shard(self) -> dict[str, list[str]]:
        """The nodes of each shard (of each loaded one, when restored)."""
        if self.shards is None:
            self.shards = {}
            for node in self.index:
                self.shards.setdefault(shard_of(node), []).append(node)
        return self.shards

    def by_uid(self) -> dict[str, Row]:
        if self._by_uid is None:
            self._by_uid = {row.uid: row for row in self.rows}
        return self._by_uid


def row_changes(
    settled: Settled, rows: Sequence[Row]
) -> tuple[list[Row], list[Row], list[Row]] | None:
    """(rows whose values changed, new rows, settled rows that went) against the settled rows,
    or None when a uid repeats or too many rows changed. An unchanged record keeps its ``Row``
    object (``rows_from_records``' memo), so unchanged rows cost an identity check."""
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
        if old is not None and old.values == row.values:
            before[uid] = row  # the same record read again: the next check is by identity
            continue
        (added if old is None else changed).append(row)
        if len(changed) + len(added) > limit:
            return None
    gone: list[Row] = []
    if len(rows) != len(before) + len(added):  # a row went (or was re-keyed)
        present = {row.uid for row in rows}
        gone = [row for uid, row in before.items() if uid not in present]
        if len(changed) + len(added) + len(gone) > limit:
            return None
    return changed, added, gone


def plan_delta(
    hub: LynqHub,
    settled: Settled,
    nodes: Mapping[str, NodeRender],
    committed: Mapping[str, str],
    files: Mapping[str, str],
    target: Target,
    read: ReadIndex | None = None,
    *,
    gone: Sequence[str] = (),
    guard: DeletionGuard | None = None,
) -> HubPlan | None:
    """The plan of ``nodes`` and ``gone``: ``nodes`` rendered, each the node of a changed row
    (known to the settled index) or of a new one (unknown to it); ``gone`` the nodes of the rows
    that went, removed unless the deletion ``guard`` holds them. Given the committed files of the
    changed and gone nodes' directories (``committed``) and every other file of the hub
    (``files``: the hub's own, the index and the engine files), paths relative to the hub
    directory mapped to blob ids; None when the full path must decide. ``read`` reads index
    files a restored ``settled`` has not read yet (see ``Settled.load``)."""
    if gone and (guard is None or guard.holds(len(gone), settled.count)):
        return None  # held removals are the full path's
    if not prepare(settled, nodes, target, read, gone):
        return None
    plan = HubPlan(nodes=dict(nodes))
    entries = dict(settled.index)
    owned: dict[str, dict[str, str]] = {name: {} for name in (*nodes, *gone)}
    for source in (committed, files):
        for path, blob in source.items():
            owner = split_owner(path)[0]
            if owner in owned:
                owned[owner][path] = blob
    for name in sorted(gone):
        if name not in entries or name in nodes:
            return None  # not a node of the settled hub, or rendered again: the full path's
        del entries[name]
        plan.deletes += owned[name]
        plan.removed.append(name)
    claimed: dict[str, str] = {}
    engine_written: list[str] = []
    for name, node in sorted(nodes.items()):
        if node.failed or node.skipped or node.withheld or node.timed_out:
            return None
        new = name not in entries
        own = () if new else entries[name][2]
        for child in node.children:
            owner = name if child.file in own else settled.owners.get(child.file, name)
            if owner != name or claimed.setdefault(child.file, name) != name:
                return None  # another node's object: conflicts are the full path's
        mine = owned[name]
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
                f"{directory}/{target.place(c.file, c.depth)}": c.settings.id for c in node.children
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
    plan.index = entries
    added = [node.name for node in plan.added]
    _write(plan, files, _index_files(settled, entries, [*nodes, *gone], target))
    if added or gone:
        engine_gone = {p for name in gone for p in owned[name] if split_owner(p)[1] is None}
        listings = _listing_files(
            settled, entries, (added, gone), (engine_written, engine_gone), files, target
        )
        _write(plan, files, listings)
    plan.deletes.sort()
    return plan


def prepare(
    settled: Settled,
    nodes: Mapping[str, NodeRender],
    target: Target,
    read: ReadIndex | None,
    gone: Sequence[str] = (),
) -> bool:
    """Read what ``plan_delta`` needs of a restored index: the entries of the shards of the
    nodes and the ``gone`` ones; every entry when a node is new or renders an object it did not
    own (its owner may be any node), or when a shard loses its last node (the shards' listing
    changes). False when that cannot be read."""
    if settled.loaded is None:
        return True
    if read is None:
        return False
    sharded = target.sharded
    if not settled.load({shard_of(name) for name in (*nodes, *gone)}, read, sharded=sharded):
        return False
    index = settled.index
    claims = any(
        name not in index or any(c.file not in index[name][2] for c in node.children)
        for name, node in nodes.items()
    )
    shards = settled.by_shard()
    emptied = any(set(shards.get(shard_of(name), ())) <= set(gone) for name in gone)
    return not (claims or emptied) or settled.load(None, read, sharded=sharded)


def _write(plan: HubPlan, files: Mapping[str, str], wanted: Mapping[str, bytes | None]) -> None:
    """Write those of ``wanted`` that differ from the committed ``files``; delete those that
    are None (a shard's listing or index once its last node went)."""
    for path, content in wanted.items():
        if content is None:
            if path in files:
                plan.deletes.append(path)
        elif files.get(path) != blob_id(content):
            plan.writes[path] = content


def _index_files(
    settled: Settled, entries: dict[str, IndexEntry], names: Sequence[str], target: Target
) -> dict[str, bytes | None]:
    """The index files the entries of ``names`` (changed, new and gone nodes) are in: their
    shards' (None for a shard left without nodes), or the one flat file."""
    if not target.sharded:
        return {INPUTS_FILE: format_inputs(entries)}
    shards = settled.by_shard()
    out: dict[str, bytes | None] = {}
    for shard in sorted({shard_of(name) for name in names}):
        mine = {
            n for n in (*shards.get(shard, ()), *names) if n in entries and shard_of(n) == shard
        }
        content = format_inputs({n: entries[n] for n in mine}) if mine else None
        out[f"{shard}/{INPUTS_FILE}"] = content
    return out


def _listing_files(
    settled: Settled,
    entries: dict[str, IndexEntry],
    change: tuple[list[str], Sequence[str]],
    engine: tuple[list[str], set[str]],
    files: Mapping[str, str],
    target: Target,
) -> dict[str, bytes | None]:
    """The kustomizations that list the nodes ``change`` adds and removes (and the ``engine``
    files they add and remove): the hub's and each engine directory's, or, sharded, those of
    their shards (None for a shard left empty), and the top ones when a shard is new or left
    empty. Each is written whole, as ``planning`` writes it."""
    added, gone = change
    out: dict[str, bytes | None] = {}
    if target.sharded:
        shards = settled.by_shard()
        left: dict[str, bool] = {}  # touched shard -> whether it has nodes after
        for shard in sorted({shard_of(n) for n in (*added, *gone)}):
            names = {n for n in (*shards.get(shard, ()), *added) if shard_of(n) == shard}
            names.difference_update(gone)
            out[f"{shard}/{KUSTOMIZATION_FILE}"] = kustomization(names) if names else None
            left[shard] = bool(names)
        if any(has != (shard in shards) for shard, has in left.items()):
            listed = {s for s in shards if left.get(s, True)} | {
                s for s, has in left.items() if has
            }
            out[KUSTOMIZATION_FILE] = kustomization(listed)
    else:
        out[KUSTOMIZATION_FILE] = kustomization(entries)
    for directory in target.engine_dirs:
        prefix = f"{directory}/"
        mine = [p.removeprefix(prefix) for p in engine[0] if p.startswith(prefix)]
        lost = {p.removeprefix(prefix) for p in engine[1] if p.startswith(prefix)}
        if mine or lost:
            out.update(_engine_listings(prefix, mine, lost, files, sharded=target.sharded))
    return out


def _engine_listings(
    prefix: str, mine: list[str], lost: set[str], files: Mapping[str, str], *, sharded: bool
) -> dict[str, bytes | None]:
    """The listings of the engine directory ``prefix`` once ``mine`` are added and ``lost``
    removed (paths relative to it)."""
    engine = [
        p.removeprefix(prefix)
        for p in files
        if p.startswith(prefix) and split_owner(p)[0] is not None
    ]
    if not sharded:
        return {f"{prefix}{KUSTOMIZATION_FILE}": kustomization({*engine, *mine} - lost)}
    touched = {p.split("/", 1)[0] for p in (*mine, *lost)}
    known = {p for p in engine if p.split("/", 1)[0] in touched}
    listed = listed_directories([*(known - lost), *mine])
    out: dict[str, bytes | None] = {}
    for shard in touched:
        out[f"{prefix}{shard}/{KUSTOMIZATION_FILE}"] = (
            kustomization(listed[shard]) if shard in listed else None
        )
    if any(
        (shard in listed) != (f"{prefix}{shard}/{KUSTOMIZATION_FILE}" in files) for shard in touched
    ):
        shards = {p.split("/", 1)[0] for p in engine} - touched
        out[f"{prefix}{KUSTOMIZATION_FILE}"] = kustomization(shards | (listed.keys() - {""}))
    return out


def settle(
    settled: Settled,
    commit: str,
    rows: list[Row],
    plan: HubPlan,
    delta: Sequence[Row],
    gone: Sequence[Row] = (),
) -> None:
    """``settled`` once the commit of ``plan_delta``'s ``plan`` is pushed as ``commit``
    (``rows``: all of them, ``delta``: the changed and new ones, ``gone``: those that went)."""
    assert plan.index is not None
    owners = settled._owners  # kept up to date once built (a restored index may have none)
    if owners is not None:
        for name in plan.removed:
            for file in settled.index[name][2]:
                owners.pop(file, None)
        for name in plan.nodes:
            before = settled.index[name][2] if name in settled.index else ()
            entry = plan.index[name]
            for file in {*before}.difference(entry[2]):
                owners.pop(file, None)
            for file in entry[2]:
                owners[file] = name
    if settled.shards is not None:
        for node in plan.added:
            settled.shards.setdefault(shard_of(node.name), []).append(node.name)
        for name in plan.removed:
            mine = settled.shards[shard_of(name)]
            mine.remove(name)
            if not mine:
                del settled.shards[shard_of(name)]
    if settled._by_uid is not None:
        settled._by_uid.update((row.uid, row) for row in delta)
        for row in gone:
            del settled._by_uid[row.uid]
    settled.index = plan.index
    settled.files = dict(HubListing({}, settled.files).after(plan.writes, plan.deletes, ()).files)
    settled.count += len(plan.added) - len(plan.removed)
    settled.commit = commit
    settled.rows = rows
