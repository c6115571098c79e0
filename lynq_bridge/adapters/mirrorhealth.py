"""How the bridge tells that its Git mirror is damaged, and what an older version left behind.

The mirror is a disposable cache of the remote: when git's messages or a cheap look at its files
show damage, ``gitstore`` deletes it and fetches again instead of asking a person. These checks
read a few bytes per pack, never the whole repository.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

# Messages of git that mean the mirror itself is damaged (not the remote or the network): the
# mirror is then deleted and fetched again, since the remote is the only state.
LOCAL_DAMAGE = re.compile(
    r"bad object|unable to read|is corrupt|corrupt (loose|packed)|cannot be accessed|inflate|"
    r"object file .* is empty|invalid (sha1|object) pointer|not a git repository|bad config|"
    r"did not send all necessary objects|broken link|missing (blob|tree|commit)|bad packed|"
    r"unable to parse|could not parse|non-monotonic index|failed to read object|bad tree|"
    r"could not read [0-9a-f]{40}",
    re.IGNORECASE,
)
# Messages of a fetch that failed because of the network or the remote, not the mirror.
REMOTE_TROUBLE = re.compile(
    r"unable to access|could not resolve|connection|timed out|early EOF|authentication|"
    r"permission denied|hung up|could not read from remote|does not appear to be",
    re.IGNORECASE,
)

# What ``git init --bare`` and later commands create at the top of a repository: the entries of a
# mirror of an older version, which lived in the work directory itself.
_OLD_LAYOUT = (
    *("HEAD", "config", "description", "packed-refs", "FETCH_HEAD", "ORIG_HEAD", "shallow"),
    *("objects", "refs", "info", "hooks", "branches", "logs", ".lynq-bridge.lock"),
)


def drop_old_layout(work_dir: Path) -> None:
    """Remove a mirror of an older version, which lived in the work directory itself."""
    if not ((work_dir / "HEAD").is_file() and (work_dir / "objects").is_dir()):
        return
    for name in _OLD_LAYOUT:
        entry = work_dir / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.exists() or entry.is_symlink():
            entry.unlink(missing_ok=True)


def pack_damage(objects: Path, hash_size: int) -> str | None:
    """A pack that is cut short or has lost its index, or an empty loose object (git writes
    neither, so a crash or a full disk left it); None when all look whole.

    Cheap: a pack ends with the checksum its index also records, so comparing the two reads a
    few bytes per pack and finds a truncated or swapped pack file."""
    pack_dir = objects / "pack"
    try:
        for index in pack_dir.glob("pack-*.idx"):
            pack = index.with_suffix(".pack")
            with index.open("rb") as idx_file, pack.open("rb") as pack_file:
                idx_file.seek(-2 * hash_size, os.SEEK_END)
                recorded = idx_file.read(hash_size)
                pack_file.seek(0, os.SEEK_END)
                if pack_file.tell() < 12 + hash_size:
                    return f"pack {pack.name} is truncated"
                pack_file.seek(-hash_size, os.SEEK_END)
                if pack_file.read(hash_size) != recorded:
                    return f"pack {pack.name} does not match its index"
        for folder in objects.glob("[0-9a-f][0-9a-f]"):
            for loose in folder.iterdir():
                if loose.stat().st_size == 0:
                    return f"loose object {folder.name}{loose.name} is empty"
    except OSError as exc:
        return f"its objects cannot be read ({exc})"
    return None
