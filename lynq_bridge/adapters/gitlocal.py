"""Git on local repositories, for people and for the demo: create a bare remote, show its log,
export a directory of a revision (``diff``). Also the two pieces every git call shares: the
time limit and how git's error output becomes one masked line.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lynq_bridge.core.credentials import mask_credentials
from lynq_bridge.errors import GitUnavailable

GIT_TIMEOUT_SECONDS = 600  # a first push of 50,000 files over a slow link still fits


def first_error(stderr: bytes) -> str:
    """The first ``fatal:``/``error:`` line of git's output (else its first line), masked."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    useful = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
    return mask_credentials(useful[0] if useful else "unknown error")


def _run_git(*args: str) -> str:
    """Run git outside the mirror; the error names the subcommand, not its options."""
    options_with_values = {"-C", "--git-dir", "-c"}
    command = next(
        a
        for i, a in enumerate(args)
        if not a.startswith("-") and (i == 0 or args[i - 1] not in options_with_values)
    )
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, check=True, timeout=GIT_TIMEOUT_SECONDS
        )
    except subprocess.CalledProcessError as exc:
        raise GitUnavailable(f"git {command} failed: {first_error(exc.stderr)}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitUnavailable(f"git {command} failed: {exc}") from exc
    return done.stdout.decode(errors="replace")


def init_bare_remote(path: Path) -> None:
    """Create a bare repository at ``path`` unless one is there (the demo's remote)."""
    if not (path / "HEAD").exists():
        _run_git("init", "--quiet", "--bare", "--initial-branch=main", str(path))


def read_remote_log(path: Path, branch: str, count: int = 1) -> str:
    """``git log --stat`` of a local repository's branch, for people to read."""
    return _run_git(
        "--git-dir",
        str(path),
        "log",
        f"-{count}",
        "--stat=100",
        "--format=commit %H%n%n%B",
        f"refs/heads/{branch}",
        "--",
    )


def export_directory(directory: Path, ref: str, destination: Path) -> None:
    """Write ``directory`` (inside a Git work tree) as it is at ``ref`` into ``destination``."""
    try:
        top = Path(_run_git("-C", str(directory), "rev-parse", "--show-toplevel").strip())
        relative = directory.resolve().relative_to(top.resolve()).as_posix()
        listing = _run_git(
            "-C", str(top), "ls-tree", "-r", "-z", "--name-only", ref, "--", relative
        )
    except GitUnavailable as exc:
        raise GitUnavailable(f"revision {ref} of {directory} cannot be read: {exc}") from exc
    destination.mkdir(parents=True, exist_ok=True)
    for path in filter(None, listing.split("\0")):
        try:
            blob = subprocess.run(
                ["git", "-C", str(top), "show", f"{ref}:{path}"],
                capture_output=True,
                check=True,
                timeout=GIT_TIMEOUT_SECONDS,
            ).stdout
        except subprocess.CalledProcessError as exc:
            raise GitUnavailable(
                f"git show {ref}:{path} failed: {first_error(exc.stderr)}"
            ) from exc
        target = destination / (path if relative == "." else Path(path).relative_to(relative))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
