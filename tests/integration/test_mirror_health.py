"""mirrorhealth.pack_damage on real repositories: the cheap look that finds a damaged mirror."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lynq_bridge.adapters.mirrorhealth import drop_old_layout, pack_damage


def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], input=stdin, capture_output=True, check=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A bare repository whose objects are all in one pack, plus one loose blob."""
    path = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    blob = git(path, "hash-object", "-w", "--stdin", stdin=b"x" * 1000).decode().strip()
    tree = git(path, "mktree", stdin=f"100644 blob {blob}\tf\n".encode()).decode().strip()
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@a", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@a"}  # fmt: skip
    commit = subprocess.run(
        ["git", "--git-dir", str(path), "commit-tree", tree, "-m", "m"],
        capture_output=True, check=True, env=env,
    ).stdout.decode().strip()  # fmt: skip
    git(path, "update-ref", "refs/heads/main", commit)
    git(path, "repack", "-a", "-d", "-q")
    git(path, "hash-object", "-w", "--stdin", stdin=b"loose")
    return path


def only_pack(repo: Path) -> Path:
    (pack,) = (repo / "objects" / "pack").glob("pack-*.pack")
    return pack


def test_an_intact_repository_has_no_damage(repo: Path) -> None:
    assert pack_damage(repo / "objects", 20) is None


def test_a_pack_cut_to_almost_nothing_is_truncated(repo: Path) -> None:
    pack = only_pack(repo)
    pack.write_bytes(pack.read_bytes()[: 12 + 19])
    assert pack_damage(repo / "objects", 20) == f"pack {pack.name} is truncated"


def test_a_pack_of_exactly_header_and_checksum_is_compared_not_truncated(repo: Path) -> None:
    pack = only_pack(repo)
    pack.write_bytes(pack.read_bytes()[: 12 + 20])
    assert pack_damage(repo / "objects", 20) == f"pack {pack.name} does not match its index"


def test_a_pack_cut_short_does_not_match_its_index(repo: Path) -> None:
    pack = only_pack(repo)
    pack.write_bytes(pack.read_bytes()[:-7])
    assert pack_damage(repo / "objects", 20) == f"pack {pack.name} does not match its index"


def test_a_pack_whose_checksum_changed_does_not_match_its_index(repo: Path) -> None:
    pack = only_pack(repo)
    data = bytearray(pack.read_bytes())
    data[-1] ^= 0xFF
    pack.write_bytes(bytes(data))
    assert pack_damage(repo / "objects", 20) == f"pack {pack.name} does not match its index"


def test_an_index_without_its_pack_cannot_be_read(repo: Path) -> None:
    only_pack(repo).unlink()
    problem = pack_damage(repo / "objects", 20)
    assert problem is not None and problem.startswith("its objects cannot be read")


def test_an_empty_loose_object_is_damage(repo: Path) -> None:
    folder = repo / "objects" / "ab"
    folder.mkdir(exist_ok=True)
    (folder / ("c" * 38)).write_bytes(b"")
    assert pack_damage(repo / "objects", 20) == f"loose object ab{'c' * 38} is empty"


def test_a_mirror_of_the_old_layout_is_dropped_but_our_lock_and_mirror_stay(tmp_path: Path) -> None:
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", str(work)], check=True)
    (work / "lynq-bridge.lock").write_text("")
    (work / "mirror.git").mkdir()
    drop_old_layout(work)
    assert sorted(p.name for p in work.iterdir()) == ["lynq-bridge.lock", "mirror.git"]


def test_a_work_dir_without_the_old_layout_is_left_alone(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "HEAD").write_text("ref: refs/heads/main\n")  # but no objects/: not a repository
    drop_old_layout(work)
    assert (work / "HEAD").exists()
