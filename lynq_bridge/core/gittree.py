"""Git objects built in memory: tree entries, object ids, and a new tree from changed paths.

Why not ``git fast-import``: it keeps each directory as a list and finds an entry by scanning
it, so writing N node directories into one hub directory costs N² comparisons (at 30,000 rows
about half of a first sync). Here a tree is a dictionary, and only the directories on a changed
path are read and rebuilt, bottom-up, with the object ids of everything else taken from the
parent commit as they are. The caller stores the objects (see ``adapters.packwriter``).

Pure: reading an existing tree is a callback, writing an object is a callback.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from lynq_bridge.core.paths import UnsafePath, check_path, quote

LEVEL: Final = 1  # zlib level of new objects: 3× faster than Git's default 6; gc repacks later
TREE_MODE: Final = b"40000"
FILE_MODE: Final = b"100644"

Entries = dict[bytes, tuple[bytes, bytes]]  # name -> (mode, 20-byte object id)
ReadTrees = Callable[[list[str]], list[bytes]]  # object names -> raw tree contents, in order
AddObject = Callable[[bytes, bytes], bytes]  # (kind, content) -> 20-byte object id


class Store(Protocol):
    """Takes an object's kind (blob, tree) and content, optionally already compressed as
    ``deflate`` does, and gives its binary id: a sync's pack of new objects."""

    def __call__(self, kind: bytes, content: bytes, deflated: bytes | None = None) -> bytes: ...


def object_id(kind: bytes, content: bytes) -> bytes:
    """The binary SHA-1 object id Git gives ``content`` of ``kind`` (blob, tree, commit)."""
    header = b"%s %d\0" % (kind, len(content))
    return hashlib.sha1(header + content, usedforsecurity=False).digest()


def deflate(content: bytes) -> bytes:
    """``content`` compressed as a pack stores an object (see ``adapters.packwriter``)."""
    return zlib.compress(content, LEVEL)


def parse_tree(content: bytes) -> Entries:
    """The entries of a raw tree object."""
    entries: Entries = {}
    pos, end = 0, len(content)
    while pos < end:
        space = content.index(b" ", pos)
        nul = content.index(b"\0", space)
        entries[content[space + 1 : nul]] = (content[pos:space], content[nul + 1 : nul + 21])
        pos = nul + 21
    return entries


def _sort_key(item: tuple[bytes, tuple[bytes, bytes]]) -> bytes:
    name, (mode, _oid) = item
    return name + b"/" if mode == TREE_MODE else name  # Git orders a tree as "name/"


def format_tree(entries: Mapping[bytes, tuple[bytes, bytes]]) -> bytes:
    """A raw tree object in Git's order."""
    return b"".join(
        b"%s %s\0%s" % (mode, name, oid)
        for name, (mode, oid) in sorted(entries.items(), key=_sort_key)
    )


def _split(path: str) -> tuple[bytes, ...]:
    return tuple(path.encode("utf-8", "surrogateescape").split(b"/"))


def build_tree(
    root: str | None,
    *,
    writes: Mapping[str, bytes],
    deletes: Iterable[str],
    read: ReadTrees,
    add: AddObject,
    stored: Mapping[str, bytes] | None = None,
    trees: Mapping[str, bytes] | None = None,
    prefix: str = "",
) -> bytes:
    """The id of a tree that is ``root`` (an object name such as ``<commit>^{tree}``; None:
    empty) with ``writes`` stored as plain files, the blobs ``stored`` (path -> binary blob
    id, already added) as plain files, the ``trees`` (path -> binary tree id, already added,
    see ``store_directory``) as whole directories, and ``deletes`` removed; directories left
    empty disappear, as in Git. Every path is relative to the directory ``prefix`` ("": the
    root). Nothing may be written or deleted below a directory of ``trees`` (``UnsafePath``).

    Only the directories on a changed path are read (one ``read`` call per depth) and
    written; ``add`` receives every new blob and tree. Paths must already be checked
    (``core.paths``): a name here is one component of a path, never parsed further. A
    deletion may name any entry a person added (it only has to match an existing name), but
    not an empty component (``UnsafePath``).
    """
    base = _split(prefix) if prefix else ()
    files: dict[tuple[bytes, ...], dict[bytes, tuple[bytes, bytes] | None]] = {}
    for path, content in writes.items():
        *parent, name = _split(path)
        files.setdefault((*base, *parent), {})[name] = (FILE_MODE, add(b"blob", content))
    for path, blob in (stored or {}).items():
        *parent, name = _split(path)
        files.setdefault((*base, *parent), {})[name] = (FILE_MODE, blob)
    whole: list[tuple[bytes, ...]] = []
    for path, tree_id in (trees or {}).items():
        *parent, name = _split(path)
        files.setdefault((*base, *parent), {})[name] = (TREE_MODE, tree_id)
        whole.append((*base, *parent, name))
    for path in deletes:
        if "" in (f"{prefix}/{path}" if prefix else path).split("/"):
            raise UnsafePath(f"path {quote(path)} has an empty component")
        *parent, name = _split(path)
        files.setdefault((*base, *parent), {}).setdefault(name, None)
    touched: set[tuple[bytes, ...]] = {()}
    for directory in files:
        for depth in range(len(directory) + 1):
            touched.add(directory[:depth])
    below = [d for d in whole if d in touched]
    if below:  # its tree would replace what is written there, or bring back what is deleted
        shown = quote(b"/".join(below[0]).decode(errors="replace"))
        raise UnsafePath(f"a path below directory {shown}, which is written whole, changes")
    existing = _read_existing(root, touched, read)
    subtrees: dict[tuple[bytes, ...], dict[bytes, bytes | None]] = {}  # parent -> name -> tree
    for directory in sorted(touched, key=len, reverse=True):
        entries = dict(existing.get(directory, {}))
        for name, entry in files.pop(directory, {}).items():
            if entry is None:
                entries.pop(name, None)
            else:
                entries[name] = entry
        for name, tree in subtrees.pop(directory, {}).items():
            if tree is None:
                entries.pop(name, None)
            else:
                entries[name] = (TREE_MODE, tree)
        if not directory:
            return add(b"tree", format_tree(entries))
        tree = add(b"tree", format_tree(entries)) if entries else None
        subtrees.setdefault(directory[:-1], {})[directory[-1]] = tree
    raise AssertionError("the root directory is always touched")


def _read_existing(
    root: str | None, touched: set[tuple[bytes, ...]], read: ReadTrees
) -> dict[tuple[bytes, ...], Entries]:
    """The current entries of every touched directory that exists, read depth by depth."""
    found: dict[tuple[bytes, ...], Entries] = {}
    if root is None:
        return found
    found[()] = parse_tree(read([root])[0])
    by_depth: dict[int, list[tuple[bytes, ...]]] = {}
    for directory in touched:
        if directory:
            by_depth.setdefault(len(directory), []).append(directory)
    for depth in sorted(by_depth):
        wanted: list[tuple[tuple[bytes, ...], bytes]] = []
        for directory in by_depth[depth]:
            entry = found.get(directory[:-1], {}).get(directory[-1])
            if entry is not None and entry[0] == TREE_MODE:
                wanted.append((directory, entry[1]))
        contents = read([oid.hex() for _, oid in wanted]) if wanted else []
        for (directory, _oid), content in zip(wanted, contents, strict=True):
            found[directory] = parse_tree(content)
    return found


def store_directory(files: Mapping[str, bytes], add: AddObject) -> bytes:
    """The binary tree id of a new directory holding ``files`` (relative path -> binary blob
    id, every blob already added), whose trees ``add`` receives. Each path is checked as a
    commit checks the paths it writes (``UnsafePath``): the commit sees only the tree's id."""
    return _store_folder(_nested((_split(check_path(p)), b) for p, b in files.items()), add)


def _store_folder(folder: Mapping[bytes, Any], add: AddObject) -> bytes:
    entries: Entries = {
        name: (TREE_MODE, _store_folder(value, add))
        if isinstance(value, dict)
        else (FILE_MODE, value)
        for name, value in folder.items()
    }
    return add(b"tree", format_tree(entries))


def directory_id(files: Mapping[str, str]) -> str:
    """The tree id (hex) Git gives a directory holding ``files`` (relative path -> blob id in
    hex, all plain files), without storing anything."""
    return _folder_id(_nested((p.split("/"), b) for p, b in files.items())).hex()


def _nested(files: Iterable[tuple[Sequence[Any], Any]]) -> dict[Any, Any]:
    """Folders as nested dicts of (path components, file) pairs; a file is a leaf."""
    root: dict[Any, Any] = {}
    for (*parents, name), leaf in files:
        folder = root
        for part in parents:
            folder = folder.setdefault(part, {})
        folder[name] = leaf
    return root


def _folder_id(folder: Mapping[str, Any]) -> bytes:
    entries: Entries = {}
    for name, value in folder.items():
        if isinstance(value, dict):
            entries[name.encode("utf-8", "surrogateescape")] = (TREE_MODE, _folder_id(value))
        else:
            entries[name.encode("utf-8", "surrogateescape")] = (FILE_MODE, bytes.fromhex(value))
    return object_id(b"tree", format_tree(entries))
