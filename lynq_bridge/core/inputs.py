"""The render-input index of a hub: which committed nodes need no re-rendering.

``<hub>/.lynq-inputs`` lists, per node, what it was rendered from (a key over the revision,
the form and the row's values) and a digest of the node's committed files. A sync trusts a
node when its key is unchanged and its files still match the digest, and then does not render
it: a fresh process renders only the rows that changed. A node edited by hand fails the digest
and is rendered (and restored). The index is metadata for the bridge alone: no kustomization
lists it, so no GitOps engine applies it, and ``diff`` ignores it. Keeping it out of the
manifests means a form change that leaves a node's output alone leaves its files alone too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from lynq_bridge.core.layout import path_owner

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


def trusted_inputs(existing: Mapping[str, str], index: bytes | None) -> dict[str, str]:
    """node -> input key, for each indexed node whose committed files match its digest."""
    by_node = node_blobs(existing)
    return {
        node: key
        for node, (key, digest) in parse_inputs(index).items()
        if node in by_node and files_digest(by_node[node]) == digest
    }
