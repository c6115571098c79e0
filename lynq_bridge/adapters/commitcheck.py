"""The check before every push: a commit may change only plain files below ``git.path``, and
the objects it adds must pass what ``git fsck --strict`` (and so a remote with
``receive.fsckObjects``) checks.

A bug anywhere before the writer, or a path or object no validation foresaw, then fails the
hub's sync loudly instead of reaching the remote, where it could make the repository
unclonable for Argo CD and Flux. The cost is that of the new objects, not of the repository.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from lynq_bridge.adapters.gitlocal import first_error
from lynq_bridge.core.paths import is_below, quote
from lynq_bridge.errors import GitUnavailable, UnsafeCommit

Git = Callable[..., subprocess.CompletedProcess[bytes]]  # GitStore._git: runs git in the mirror


def verify_commit(
    git: Git, commit: str, *, root: str, pack: Path, where: str, objects_checked: bool = False
) -> None:
    """Refuse ``commit`` unless it changes only plain files below ``git.path`` (compared with
    its one parent, or all of its tree for a first commit) and the objects it adds pass the
    checks of ``git fsck --strict``, which are those of a remote with
    ``receive.fsckObjects``. Costs what the new objects cost, not the repository.

    ``objects_checked``: the commit's new objects were written through ``index-pack --strict``
    (see ``packwriter``), which is the same check, so only the paths are checked again."""
    parents = git("rev-list", "--parents", "-n", "1", commit).stdout.decode().split()[1:]
    if len(parents) > 1:
        raise UnsafeCommit(f"{where} is not pushed: it has {len(parents)} parents")
    # Through a file: a first sync of 100,000 rows changes 700,000 paths (130 MB of output).
    with tempfile.TemporaryFile(dir=pack.parent) as out:
        git("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", "--root", commit, stdout=out)
        out.seek(0)
        fields = nul_fields(out)
        for meta, raw_path in zip(fields, fields, strict=False):
            path = raw_path.decode(errors="surrogateescape")
            if not is_below(path, root):
                raise UnsafeCommit(
                    f"{where} is not pushed: it changes {quote(path)}, which is outside "
                    f"git.path {quote(root)}"
                )
            mode = meta.split(b" ")[1].decode(errors="replace")
            if mode not in ("100644", "000000"):
                raise UnsafeCommit(
                    f"{where} is not pushed: it gives {quote(path)} mode {mode}, "
                    "not that of a plain file"
                )
    if not objects_checked:
        _fsck_new_objects(git, commit, parents, pack=pack, where=where)


def nul_fields(stream: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """The NUL-terminated fields of ``stream``, read ``size`` bytes at a time (an unterminated
    last field too; none after a final NUL)."""
    rest = b""
    while chunk := stream.read(size):
        *fields, rest = (rest + chunk).split(b"\0")
        yield from fields
    if rest:
        yield rest


def _fsck_new_objects(git: Git, commit: str, parents: list[str], *, pack: Path, where: str) -> None:
    """``git index-pack --strict`` of a pack of the objects ``commit`` adds to its parent."""
    revs = "".join([f"{commit}\n", *(f"^{p}\n" for p in parents)]).encode()
    data = git("pack-objects", "--revs", "--stdout", "-q", input=revs).stdout
    try:
        pack.write_bytes(data)
        checked = git(
            "index-pack",
            "--strict",
            "-o",
            str(pack.with_suffix(".idx")),
            str(pack),
            check=False,
        )
    except OSError as exc:
        raise GitUnavailable(f"{where} cannot be checked: {exc}") from exc
    finally:
        for suffix in (".pack", ".idx", ".rev"):
            pack.with_suffix(suffix).unlink(missing_ok=True)
    if checked.returncode != 0:
        raise UnsafeCommit(
            f"{where} is not pushed: its objects fail git fsck ({first_error(checked.stderr)})"
        )
