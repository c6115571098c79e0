"""The render-input index of a hub: which committed nodes need no re-rendering.

``<hub>/.lynq-inputs`` (in the sharded layout: one ``<hub>/<shard>/.lynq-inputs`` per shard, and
the hub's own holding only the rollout records) lists, per node, what it was rendered from (a
key over the revision, the form and the row's values), a digest of the node's committed entries
(the tree id of its directory and the ids of its engine files, so checking it needs one level of
the hub's tree and nothing per file) and its object file names. A sync trusts a node when its
key is unchanged and its entries still match the digest, and then does not render it, nor list
its files: a fresh process renders and reads only the rows that changed. A node edited by hand
fails the digest and is rendered (and restored). The index is metadata for the bridge alone: no
kustomization lists it, so no GitOps engine applies it, and ``diff`` ignores it. Keeping it out
of the manifests means a form change that leaves a node's output alone leaves its files alone
too.

A node left unrendered still owns its objects: the index keeps their file names
(``kind_namespace_name.yaml``, which name the object up to its API group), so the renderer can
re-render the unrendered nodes that may claim the same object as another node and settle the
conflict exactly as it would without the index.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lynq_bridge.core.gittree import directory_id, object_id
from lynq_bridge.core.layout import path_owner, shard_of, split_owner
from lynq_bridge.core.naming import KUSTOMIZATION_FILE, NODE_FILE

INPUTS_FILE = ".lynq-inputs"
HEADER = (
    b"# lynq-bridge render inputs: node, input key, digest of the node's entries, object files\n"
)

Entry = tuple[str, str]  # (input key, node digest)


def files_digest(blobs: Iterable[tuple[str, str]]) -> str:
    """A short hash over (path, object id) pairs, independent of their order."""
    digest = hashlib.sha256()
    for path, blob in sorted(blobs):
        digest.update(f"{path}\0{blob}\n".encode())
    return digest.hexdigest()[:24]


def node_digest(node: str, tree: str | None, engine: Iterable[tuple[str, str]]) -> str:
    """The digest of a node's committed entries: the tree id of its directory and the ids of
    its engine files. Reading it needs one level of the hub's tree, nothing per file."""
    engine = list(engine)
    if tree is not None and not engine:
        return tree[:24]  # the directory's own id says it all: no hashing per node
    return files_digest([*(((node, tree),) if tree is not None else ()), *engine])


def digest_of_files(node: str, pairs: Iterable[tuple[str, str]]) -> str:
    """``node_digest`` computed from the node's (path, blob id) pairs."""
    inside: dict[str, str] = {}
    engine: list[tuple[str, str]] = []
    for path, blob in pairs:
        relative = split_owner(path)[1]
        if relative is not None:
            inside[relative] = blob
        else:
            engine.append((path, blob))
    return node_digest(node, directory_id(inside) if inside else None, engine)


def is_index_file(path: str) -> bool:
    """Whether ``path`` (relative to the hub directory) is a part of the render-input index:
    ``.lynq-inputs``, or a shard's ``<shard>/.lynq-inputs`` in the sharded layout."""
    return path.rsplit("/", 1)[-1] == INPUTS_FILE and path.count("/") <= 1


def index_paths(files: Iterable[str]) -> list[str]:
    """The index files among ``files`` in reading order: the hub's (its rollout records come
    first), then the shards'."""
    return sorted((p for p in files if is_index_file(p)), key=lambda p: (p != INPUTS_FILE, p))


def joined_index(contents: Iterable[bytes | None]) -> bytes | None:
    """The whole index of a hub from the contents of its index files in ``index_paths`` order
    (missing ones None); None when there is none."""
    found = [c for c in contents if c is not None]
    return b"".join(found) if found else None


def index_files(
    entries: Mapping[str, tuple[str, str, Iterable[str]]],
    records: Iterable[str] = (),
    *,
    sharded: bool,
) -> dict[str, bytes]:
    """The index as files by path: one ``.lynq-inputs`` (``format_inputs``) or, sharded, the
    hub's with the records only and one per shard with its nodes' lines."""
    if not sharded:
        return {INPUTS_FILE: format_inputs(entries, records)}
    by_shard: dict[str, dict[str, tuple[str, str, Iterable[str]]]] = {}
    for node, entry in entries.items():
        by_shard.setdefault(shard_of(node), {})[node] = entry
    out = {INPUTS_FILE: format_inputs({}, records)}
    for shard, mine in by_shard.items():
        out[f"{shard}/{INPUTS_FILE}"] = format_inputs(mine)
    return out


def format_inputs(
    entries: Mapping[str, tuple[str, str, Iterable[str]]], records: Iterable[str] = ()
) -> bytes:
    """The index file: the open rollouts' ``records`` (lines, see ``core.rollout``), then one
    sorted line per node (key, digest, its object files or "-")."""
    lines = [
        f"{node} {key} {digest} {','.join(sorted(objects)) or '-'}\n"
        for node, (key, digest, objects) in sorted(entries.items())
    ]
    return HEADER + "".join([*records, *lines]).encode()


def parse_inputs(content: bytes | None) -> dict[str, tuple[str, str, str]]:
    """node -> (key, digest, object files as written) of an index file; malformed lines are
    ignored (those nodes re-render)."""
    entries: dict[str, tuple[str, str, str]] = {}
    for line in (content or b"").decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 4 and not line.startswith("#"):
            entries[parts[0]] = (parts[1], parts[2], parts[3])
    return entries


# The base names of a node's object files, sorted: a tuple, since the index of a hub's every
# node stays in memory (five names cost 80 bytes so, and 472 as a frozenset).
ObjectFiles = tuple[str, ...]


def index_entries(content: bytes | None) -> dict[str, tuple[str, str, ObjectFiles]]:
    """node -> (key, digest, object files) of an index file (``parse_inputs``)."""
    return {
        node: (key, digest, objects_of(files))
        for node, (key, digest, files) in parse_inputs(content).items()
    }


def objects_of(files: str) -> ObjectFiles:
    """The object file names of an index line's last field ("-" for none)."""
    return tuple(sorted({*files.split(",")} - {"-"}))


def node_blobs(existing: Mapping[str, str]) -> dict[str, list[tuple[str, str]]]:
    """The committed (path, blob id) pairs of every node."""
    by_node: dict[str, list[tuple[str, str]]] = {}
    for path, blob in existing.items():
        owner = path_owner(path)
        if owner is not None:
            by_node.setdefault(owner, []).append((path, blob))
    return by_node


@dataclass(frozen=True)
class HubListing:
    """One level of a hub directory as the branch holds it: the tree id of every node
    directory, and every other file (the hub's own, and all engine files) with its blob id."""

    nodes: Mapping[str, str]
    files: Mapping[str, str]

    @staticmethod
    def of(existing: Mapping[str, str]) -> HubListing:
        """The listing of a hub given all of its files (``render --out``, tests)."""
        inside: dict[str, dict[str, str]] = {}
        files: dict[str, str] = {}
        for path, blob in existing.items():
            owner, relative = split_owner(path)
            if owner is not None and relative is not None:
                inside.setdefault(owner, {})[relative] = blob
            else:
                files[path] = blob
        return HubListing({n: directory_id(f) for n, f in inside.items()}, files)

    def after(
        self,
        written: Mapping[str, bytes],
        deleted: Iterable[str],
        removed: Iterable[str],
        stored: Mapping[str, bytes] | None = None,
        trees: Iterable[str] = (),
    ) -> HubListing:
        """This listing once a commit wrote ``written`` (path -> content), ``stored`` (path
        -> binary blob id) and the new node directories ``trees``, deleted ``deleted`` and
        removed the node directories ``removed``. A node directory that is new or changed
        has no tree id here (""), so this listing trusts none of them by itself: it goes with
        the index entries of the plan that made the commit (see ``Syncer``)."""
        nodes = dict(self.nodes)
        files = dict(self.files)
        for path in deleted:
            files.pop(path, None)
        stored = stored or {}
        for path in itertools.chain(written, stored):
            owner, relative = split_owner(path)
            if owner is not None and relative is not None:
                nodes[owner] = ""
            elif path in written:
                files[path] = object_id(b"blob", written[path]).hex()
            else:
                files[path] = stored[path].hex()
        for directory in trees:
            nodes[directory.rpartition("/")[2]] = ""
        for name in removed:
            nodes.pop(name, None)
        return HubListing(nodes, files)


class CommittedInputs(dict[str, str]):
    """node -> input key of the trusted nodes, plus ``objects``: node -> the object file names
    of every committed node known (trusted or not), ``digests``: node -> the digest of each
    trusted node, for the next index, and ``records``: the index's record lines (open
    rollouts, see ``core.rollout``), which the next index must carry on."""

    def __init__(
        self,
        keys: Mapping[str, str],
        objects: Mapping[str, ObjectFiles],
        digests: Mapping[str, str] | None = None,
        records: Sequence[str] = (),
    ) -> None:
        super().__init__(keys)
        self.objects: Mapping[str, ObjectFiles] = objects
        self.digests: Mapping[str, str] = digests or {}
        self.records: tuple[str, ...] = tuple(records)


def record_lines_of(index: bytes | None) -> list[str]:
    """The record lines (starting with "@") at the head of an index file, before its nodes."""
    lines = []
    for line in (index or b"").split(b"\n"):
        if line.startswith(b"#") or not line:
            continue
        if not line.startswith(b"@"):
            break
        lines.append(line.decode(errors="replace") + "\n")
    return lines


def object_files(by_node: Mapping[str, Iterable[tuple[str, str]]]) -> dict[str, ObjectFiles]:
    """node -> the base names of its object files (not its LynqNode, kustomizations or engine
    files) among its committed (path, blob id) pairs."""
    own = {NODE_FILE, KUSTOMIZATION_FILE}
    out: dict[str, ObjectFiles] = {}
    for node, pairs in by_node.items():
        names = {
            p.rsplit("/", 1)[-1]
            for p, _ in pairs
            if p.endswith(".yaml") and split_owner(p)[1] is not None
        }
        out[node] = tuple(sorted(names - own))
    return out


def trusted_listing(listing: HubListing, index: bytes | None) -> CommittedInputs:
    """node -> input key, for each indexed node whose committed entries match its digest; with
    the object files and digests of those nodes (see ``CommittedInputs``)."""
    engine = node_blobs(listing.files)
    keys: dict[str, str] = {}
    objects: dict[str, ObjectFiles] = {}
    digests: dict[str, str] = {}
    for node, (key, digest, files) in parse_inputs(index).items():
        tree = listing.nodes.get(node)
        if tree is None or node_digest(node, tree, engine.get(node, ())) != digest:
            continue
        keys[node], digests[node] = key, digest
        objects[node] = objects_of(files)
    return CommittedInputs(keys, objects, digests, record_lines_of(index))


def trusted_inputs(existing: Mapping[str, str], index: bytes | None) -> CommittedInputs:
    """``trusted_listing`` given all of a hub's files, with the object files of every
    committed node (``render --out``, which plans against all the files it finds)."""
    trusted = trusted_listing(HubListing.of(existing), index)
    return CommittedInputs(trusted, object_files(node_blobs(existing)), records=trusted.records)
