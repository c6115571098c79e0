"""The long-lived ``git cat-file --batch`` of a mirror (``adapters.catfile``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lynq_bridge.adapters.catfile import CatFile
from lynq_bridge.errors import GitUnavailable


def hash_object(git_dir: Path, content: bytes) -> str:
    return (
        subprocess.run(
            ["git", f"--git-dir={git_dir}", "hash-object", "-w", "--stdin"],
            input=content,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def test_reads_objects_written_before_and_after_it_started_and_survives_its_process(
    tmp_path: Path,
) -> None:
    git_dir = tmp_path / "mirror.git"
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    first = hash_object(git_dir, b"one\n")
    cat = CatFile(git_dir)
    try:
        assert cat.read([first, "0" * 40]) == [b"one\n", None]
        binary = bytes(range(256)) * 40 + b"\n\n"  # newlines and NULs inside, 10 KB
        later = hash_object(git_dir, binary)
        assert cat.read([later, first]) == [binary, b"one\n"]
        process = cat._process
        assert process is not None
        process.kill()
        process.wait()
        assert cat.read([first]) == [b"one\n"]  # a new process
        with pytest.raises(GitUnavailable, match="line break"):
            cat.read(["a\nb"])
        assert cat.read([first]) == [b"one\n"]
    finally:
        cat.close()
    assert cat._process is None
