"""The output directory of ``render --out``: nothing is written or removed outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lynq_bridge.adapters.filetree import DirectoryTree
from lynq_bridge.errors import BridgeError


@pytest.mark.parametrize("path", ["../escaped.yaml", "a/../../escaped.yaml", "/tmp/escaped.yaml"])
def test_write_outside_the_output_directory_is_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "out"
    root.mkdir()
    with pytest.raises(BridgeError, match="escape the output directory"):
        DirectoryTree(root).apply({path: b"x"}, [])
    assert not (tmp_path / "escaped.yaml").exists()


def test_write_through_a_symlink_that_leaves_the_directory_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "out", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(BridgeError, match="escape the output directory"):
        DirectoryTree(root).apply({"link/x.yaml": b"x"}, [])
    assert not list(outside.iterdir())


def test_delete_outside_the_output_directory_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    victim = tmp_path / "victim.yaml"
    victim.write_text("keep me\n")
    with pytest.raises(BridgeError, match="escape the output directory"):
        DirectoryTree(root).apply({}, ["../victim.yaml"])
    assert victim.read_text() == "keep me\n"


def test_writes_and_deletes_inside_the_directory_apply_and_prune_empty_parents(
    tmp_path: Path,
) -> None:
    tree = DirectoryTree(tmp_path)
    tree.apply({"ns/hub/a/x.yaml": b"x", "ns/hub/b.yaml": b"b"}, [])
    assert tree.list_tree("ns/hub") == {
        "a/x.yaml": "c1b0730e0133447badcfd47fd144e254807b06e1",
        "b.yaml": "63d8dbd40c23542e740659a7168a0ce3138ea748",
    }
    tree.apply({}, ["ns/hub/a/x.yaml"])
    assert not (tmp_path / "ns/hub/a").exists()
    assert tree.read_files(["ns/hub/b.yaml", "ns/hub/missing.yaml"]) == {"ns/hub/b.yaml": b"b"}


def test_deleting_a_file_that_is_already_gone_is_fine(tmp_path: Path) -> None:
    tree = DirectoryTree(tmp_path)
    tree.apply({"ns/hub/a.yaml": b"a"}, [])
    tree.apply({}, ["ns/hub/missing.yaml", "ns/hub/a.yaml"])
    assert not (tmp_path / "ns").exists()  # emptied directories are pruned up to the root
    assert tmp_path.is_dir()
