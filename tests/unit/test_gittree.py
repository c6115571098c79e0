"""core.gittree and adapters.packwriter against real git: ids, order, and trees built from
changed paths equal what git's own index writes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lynq_bridge.adapters.packwriter import PackWriter, entry_header
from lynq_bridge.core.gittree import (
    build_tree,
    format_tree,
    object_id,
    parse_tree,
    store_directory,
)
from lynq_bridge.core.paths import UnsafePath

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], input=input, capture_output=True, check=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "r.git")], check=True)
    return tmp_path / "r.git"


@pytest.fixture
def store(repo: Path) -> Iterator[Store]:
    opened = Store(repo)
    yield opened
    opened.close()


class Store:
    """Objects added through a PackWriter, stored by index-pack, read back with cat-file."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.reads: list[list[str]] = []
        self.pack = PackWriter(repo / "new.pack")

    def read(self, names: list[str]) -> list[bytes]:
        self.reads.append(names)
        return [git(self.repo, "cat-file", "tree", name) for name in names]

    def store(self) -> None:
        self.pack.finish()
        git(self.repo, "index-pack", "--strict", "--stdin", input=self.pack.path.read_bytes())
        self.pack = PackWriter(self.repo / "new.pack")

    def close(self) -> None:
        self.pack.close()


def index_tree(repo: Path, files: dict[str, bytes]) -> str:
    """The tree git's own index writes for ``files``."""
    env_index = repo / "scratch-index"
    env_index.unlink(missing_ok=True)
    lines = b""
    for path, content in files.items():
        blob = git(repo, "hash-object", "-w", "--stdin", input=content).strip()
        lines += b"100644 %s\t%s\0" % (blob, path.encode("utf-8", "surrogateescape"))
    subprocess.run(
        ["git", "--git-dir", str(repo), "update-index", "--add", "-z", "--index-info"],
        input=lines,
        check=True,
        env={"GIT_INDEX_FILE": str(env_index), "PATH": "/usr/bin:/bin"},
    )
    return subprocess.run(
        ["git", "--git-dir", str(repo), "write-tree"],
        capture_output=True,
        check=True,
        env={"GIT_INDEX_FILE": str(env_index), "PATH": "/usr/bin:/bin"},
        text=True,
    ).stdout.strip()


def test_object_id_is_what_git_hash_object_prints(repo: Path) -> None:
    content = b"apiVersion: v1\nkind: ConfigMap\n"
    assert (
        object_id(b"blob", content).hex()
        == git(repo, "hash-object", "--stdin", input=content).decode().strip()
    )


def test_a_directory_sorts_as_its_name_with_a_slash(repo: Path, store: Store) -> None:
    files = {"a-b": b"1", "a/x": b"2", "a.yaml": b"3", "a0": b"4"}
    expected = index_tree(repo, files)
    tree = build_tree(None, writes=files, deletes=[], read=store.read, add=store.pack.add)
    assert tree.hex() == expected
    store.store()
    names = list(parse_tree(git(repo, "cat-file", "tree", tree.hex())))
    assert names == [b"a-b", b"a.yaml", b"a", b"a0"]  # "a/" sorts after "a.yaml", before "a0"


def test_changed_paths_on_top_of_a_tree_equal_the_index_result(repo: Path, store: Store) -> None:
    before = {f"lynq/ns/hub/t{i}/{f}": f"{i}{f}".encode() for i in range(30) for f in ("a", "b")}
    before["lynq/ns/hub/kustomization.yaml"] = b"k"
    before["README"] = b"person's file"
    root = build_tree(None, writes=before, deletes=[], read=store.read, add=store.pack.add)
    store.store()
    writes = {"lynq/ns/hub/t3/a": b"new", "lynq/ns/hub/t99/a": b"added"}
    deletes = ["lynq/ns/hub/t5/a", "lynq/ns/hub/t5/b", "lynq/ns/hub/t7/b", "lynq/ns/hub/none/x"]
    tree = build_tree(
        root.hex(), writes=writes, deletes=deletes, read=store.read, add=store.pack.add
    )
    after = {**before, **writes}
    for path in deletes:
        after.pop(path, None)
    assert tree.hex() == index_tree(repo, after)  # t5/ is gone: a directory left empty goes
    # Only the directories on a changed path were read, one call per depth.
    assert [len(r) for r in store.reads[-5:]] == [1, 1, 1, 1, 3]
    store.store()
    assert git(repo, "fsck", "--strict", "--no-dangling").strip() == b""


def test_stored_blobs_below_a_prefix_give_the_tree_of_full_paths(repo: Path, store: Store) -> None:
    files = {"a/b.yaml": b"1", "a/c/d.yaml": b"2", "e.yaml": b"3"}
    hub = "lynq/ns/hub"
    stored = {"a/c/d.yaml": store.pack.add(b"blob", b"2")}
    tree = build_tree(
        None,
        writes={"a/b.yaml": b"1", "e.yaml": b"3"},
        stored=stored,
        deletes=[],
        read=store.read,
        add=store.pack.add,
        prefix=hub,
    )
    assert tree.hex() == index_tree(repo, {f"{hub}/{p}": c for p, c in files.items()})
    store.store()
    tree = build_tree(
        tree.hex(), writes={}, deletes=["a/b.yaml"], read=store.read, add=store.pack.add, prefix=hub
    )
    assert tree.hex() == index_tree(repo, {f"{hub}/a/c/d.yaml": b"2", f"{hub}/e.yaml": b"3"})
    with pytest.raises(UnsafePath):
        build_tree(
            None, writes={}, deletes=["a//b"], read=store.read, add=store.pack.add, prefix=hub
        )


def test_nothing_changes_below_a_directory_written_whole(store: Store) -> None:
    tree = store.pack.add(b"tree", b"")
    for writes, deletes in [({"a/b/c": b"1"}, []), ({}, ["a/b/c"]), ({"a/b": b"1"}, [])]:
        with pytest.raises(UnsafePath, match="written whole"):
            build_tree(
                None,
                writes=writes,
                deletes=deletes,
                trees={"a/b": tree} if "a/b" not in writes else {"a": tree},
                read=store.read,
                add=store.pack.add,
            )


@pytest.mark.parametrize("path", ["../x.yaml", "a/../b", ".git/config", "a\nb", "a/./b", "x\0y"])
def test_a_directory_stored_whole_refuses_an_unusable_path(store: Store, path: str) -> None:
    blob = store.pack.add(b"blob", b"1")
    with pytest.raises(UnsafePath, match="unusable component"):
        store_directory({"ok.yaml": blob, path: blob}, store.pack.add)


def test_a_pack_left_unused_is_removed(tmp_path: Path) -> None:
    with PackWriter(tmp_path / "new.pack") as pack:
        pack.add(b"blob", b"x")
        assert pack.path.exists()
    assert not (tmp_path / "new.pack").exists()


def test_deleting_everything_leaves_the_empty_tree(repo: Path, store: Store) -> None:
    root = build_tree(None, writes={"a/b": b"1"}, deletes=[], read=store.read, add=store.pack.add)
    store.store()
    tree = build_tree(root.hex(), writes={}, deletes=["a/b"], read=store.read, add=store.pack.add)
    assert tree.hex() == EMPTY_TREE


@pytest.mark.parametrize(
    "name", ["a b.yaml", 'say "hi".yaml', "new\nline", "tab\t", "caf\u00e9", "raw\udcff"]
)
def test_any_name_git_listed_can_be_deleted_and_nothing_else_goes(
    repo: Path, store: Store, name: str
) -> None:
    raw = name.encode("utf-8", "surrogateescape")
    blob = object_id(b"blob", b"x")
    keep = object_id(b"blob", b"keep")
    git(repo, "hash-object", "-w", "--stdin", input=b"x")
    git(repo, "hash-object", "-w", "--stdin", input=b"keep")
    inner = format_tree({raw: (b"100644", blob), b"keep": (b"100644", keep)})
    inner_id = git(repo, "hash-object", "-w", "-t", "tree", "--literally", "--stdin", input=inner)
    outer = format_tree({b"lynq": (b"40000", bytes.fromhex(inner_id.decode().strip()))})
    root = git(repo, "hash-object", "-w", "-t", "tree", "--literally", "--stdin", input=outer)
    tree = build_tree(
        root.decode().strip(),
        writes={},
        deletes=[f"lynq/{name}"],
        read=store.read,
        add=store.pack.add,
    )
    store.store()
    listed = git(repo, "ls-tree", "-r", "-z", "--name-only", tree.hex()).split(b"\0")
    assert [p for p in listed if p] == [b"lynq/keep"]


@pytest.mark.parametrize("path", ["", "lynq//x", "/lynq/x", "lynq/x/"])
def test_a_deletion_with_an_empty_component_is_refused(path: str) -> None:
    with pytest.raises(UnsafePath, match="has an empty component"):
        build_tree(None, writes={}, deletes=[path], read=lambda o: [], add=lambda k, c: b"")


def test_the_pack_holds_each_object_once(repo: Path, store: Store) -> None:
    files = {f"n{i}/kustomization.yaml": b"same" for i in range(5)}
    build_tree(None, writes=files, deletes=[], read=store.read, add=store.pack.add)
    assert store.pack.count == 3  # the blob, one n*/ tree (identical), the root
    store.store()


@pytest.mark.parametrize("size", [0, 15, 16, 2047, 2048, 1 << 20])
def test_entry_header_sizes_decode_as_git_reads_them(repo: Path, size: int) -> None:
    header = entry_header(b"blob", size)
    kind, decoded, shift = (header[0] >> 4) & 7, header[0] & 0x0F, 4
    for byte in header[1:]:
        decoded |= (byte & 0x7F) << shift
        shift += 7
    assert (kind, decoded) == (3, size)
    assert all(b & 0x80 for b in header[:-1]) and not header[-1] & 0x80
