"""The render-input index of a hub: which committed nodes need no re-rendering.

``<hub>/.lynq-inputs`` lists, per node, what it was rendered from (a key over the revision,
the form and the row's values) and a digest of the node's committed files. A sync trusts a
node when its key is unchanged and its files still match the digest, and then does not render
it: a fresh process renders only the rows that changed. A node edited by hand fails the digest
and is rendered (and restored). The index is metadata for the bridge alone: no kustomization
lists it, so no GitOps engine applies it, and ``diff`` ignores it. Keeping it out of the
manifests means a form change that leaves a node's output alone leaves its files alone too.

A node left unrendered still owns its objects: ``trusted_inputs`` also returns the object file
names (``kind_namespace_name.yaml``, which name the object up to its API group) of every
committed node, so the renderer can re-render the unrendered nodes that may claim the same
object as another node and settle the conflict exactly as it would without the index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from lynq_bridge.core.layout import path_owner
from lynq_bridge.core.naming import KUSTOMIZATION_FILE, NODE_FILE

INPUTS_FILE = ".lynq-inputs"
HEADER = b"# lynq-bridge render inputs: node, input key, digest of the node's files\n"

Entry = tuple[str, str]  # (input key, files digest)


def files_digest(blobs: Iterable[tuple[str, str]]) -> str:
    """A short hash over (path, blob id) pairs, independent of their order."""
    digest = hashlib.sha256()
    for path, blob in sorted(blobs):
        digest.update(f"{path}\0{blob}\n".encode())
    return digest.hexdigest()[:24]


def format_inputs(entries: Mapping[str, Entry]) -> bytes:
    """The index file: one sorted line per node."""
    lines = [f"{node} {key} {digest}\n" for node, (key, digest) in sorted(entries.items())]
    return HEADER + "".join(lines).encode()


def parse_inputs(content: bytes | None) -> dict[str, Entry]:
    """The entries of an index file (malformed lines are ignored: those nodes re-render)."""
    entries: dict[str, Entry] = {}
    for line in (content or b"").decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            entries[parts[0]] = (parts[1], parts[2])
    return entries


def node_blobs(existing: Mapping[str, str]) -> dict[str, list[tuple[str, str]]]:
    """The committed (path, blob id) pairs of every node."""
    by_node: dict[str, list[tuple[str, str]]] = {}
    for path, blob in existing.items():
        owner = path_owner(path)
        if owner is not None:
            by_node.setdefault(owner, []).append((path, blob))
    return by_node


class CommittedInputs(dict[str, str]):
    """node -> input key of the trusted nodes, plus ``objects``: node -> the object file names
    of every committed node (trusted or not)."""

    def __init__(self, keys: Mapping[str, str], objects: Mapping[str, frozenset[str]]) -> None:
        super().__init__(keys)
        self.objects: Mapping[str, frozenset[str]] = objects


def object_files(by_node: Mapping[str, Iterable[tuple[str, str]]]) -> dict[str, frozenset[str]]:
    """node -> the base names of its object files (not its LynqNode, kustomizations or engine
    files) among its committed (path, blob id) pairs."""
    own = {NODE_FILE, KUSTOMIZATION_FILE}
    out: dict[str, frozenset[str]] = {}
    for node, pairs in by_node.items():
        names = {
            p.rsplit("/", 1)[-1]
            for p, _ in pairs
            if p.startswith(f"{node}/") and p.endswith(".yaml")
        }
        out[node] = frozenset(names - own)
    return out


def trusted_inputs(existing: Mapping[str, str], index: bytes | None) -> CommittedInputs:
    """node -> input key, for each indexed node whose committed files match its digest (with
    every committed node's object files, see ``CommittedInputs``)."""
    by_node = node_blobs(existing)
    keys = {
        node: key
        for node, (key, digest) in parse_inputs(index).items()
        if node in by_node and files_digest(by_node[node]) == digest
    }
    return CommittedInputs(keys, object_files(by_node))
