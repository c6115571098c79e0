"""Git through the ``git`` command line, on a bare local mirror without a work tree.

Why no work tree and no ``git add -A``: a commit is built with ``git fast-import`` from the
changed files only (on top of the fetched remote head), so a one-row change costs a one-file
commit whatever the size of the repository (SPEC §13). Why no state: the mirror is fetched at
the start of every sync and the remote branch is the only truth, so a crash at any moment leaves
the remote at the old or the new commit and the next run converges. Pushes are fast-forward
only; a rejected push is reported to the caller, which re-plans on the new head.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lynq_bridge.config.models import GitSettings
from lynq_bridge.errors import GitUnavailable

STAGING_REF = "refs/lynq-bridge/staging"
GIT_TIMEOUT_SECONDS = 600  # a first push of 50,000 files over a slow link still fits


def mask_url(url: str) -> str:
    """The URL with any password or token replaced by ``***``."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


@dataclass(frozen=True)
class Head:
    """The remote branch head we build on (None for a branch that does not exist yet)."""

    commit: str | None


class GitStore:
    """A bare mirror of one branch of one remote."""

    def __init__(self, settings: GitSettings, work_dir: Path) -> None:
        self.settings = settings
        self.url = settings.url
        self.branch = settings.branch
        self.dir = work_dir
        self._lock: IO[bytes] | None = None

    # ------------------------------------------------------------------ plumbing

    def _git(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        command = ["git", "-C", str(self.dir), *args]
        try:
            done = subprocess.run(
                command,
                input=input,
                capture_output=True,
                timeout=GIT_TIMEOUT_SECONDS,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})},
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitUnavailable(f"git {args[0]} failed for {mask_url(self.url)}: {exc}") from exc
        if check and done.returncode != 0:
            raise GitUnavailable(
                f"git {args[0]} failed for {mask_url(self.url)}: {self._first_error(done.stderr)}"
            )
        return done

    @staticmethod
    def _first_error(stderr: bytes) -> str:
        lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
        useful = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
        return mask_url(useful[0] if useful else "unknown error")

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Create the mirror if needed and take its lock (one writer per mirror)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.dir / ".lynq-bridge.lock").open("wb")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise GitUnavailable(
                f"work directory {self.dir} is in use by another lynq-bridge process"
            ) from exc
        if not (self.dir / "HEAD").exists():
            self._git("init", "--quiet", "--bare")

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ------------------------------------------------------------------ reading

    def fetch_head(self) -> Head:
        """Fetch the remote branch; its head commit, or None if the branch does not exist."""
        ref = f"refs/heads/{self.branch}"
        listed = self._git("ls-remote", "--", self.url, ref).stdout.decode().split()
        if not listed:
            return Head(None)
        tracking = f"refs/remotes/origin/{self.branch}"
        self._git("fetch", "--quiet", "--no-tags", "--", self.url, f"+{ref}:{tracking}")
        return Head(self._git("rev-parse", tracking).stdout.decode().strip())

    def list_tree(self, commit: str | None, prefix: str) -> dict[str, str]:
        """Blob ids of every file below ``prefix`` at ``commit``, keyed by path under it."""
        if commit is None:
            return {}
        out = self._git("ls-tree", "-r", "-z", "--full-tree", commit, "--", prefix + "/").stdout
        files: dict[str, str] = {}
        start = len(prefix) + 1
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            _mode, kind, sha = meta.split(b" ")
            if kind == b"blob":
                files[path.decode()[start:]] = sha.decode()
        return files

    def list_dirs(self, commit: str | None, prefix: str) -> list[str]:
        """Names of the directories directly below ``prefix`` at ``commit`` (one level)."""
        if commit is None:
            return []
        out = self._git("ls-tree", "-z", "-d", "--full-tree", commit, "--", prefix + "/").stdout
        return [r.rpartition(b"/")[2].decode() for r in out.split(b"\0") if r]

    def read_files(self, commit: str, paths: Iterable[str]) -> dict[str, bytes]:
        """Contents of ``paths`` at ``commit`` (missing paths are left out)."""
        wanted = list(paths)
        found = self._cat([f"{commit}:{p}" for p in wanted])
        return {p: c for p, c in zip(wanted, found, strict=True) if c is not None}

    def read_blobs(self, blob_ids: Iterable[str]) -> dict[str, bytes]:
        """Contents of blobs by id: much faster than ``read_files`` for many files, because
        git need not walk a tree for each path."""
        wanted = list(blob_ids)
        found = self._cat(wanted)
        return {b: c for b, c in zip(wanted, found, strict=True) if c is not None}

    def _cat(self, objects: list[str]) -> list[bytes | None]:
        """``git cat-file --batch`` of ``objects``, in order (None for a missing one)."""
        if not objects:
            return []
        request = "".join(f"{o}\n" for o in objects).encode()
        out = self._git("cat-file", "--batch", input=request).stdout
        contents: list[bytes | None] = []
        pos = 0
        for _ in objects:
            end = out.index(b"\n", pos)
            header = out[pos:end].split(b" ")
            pos = end + 1
            if header[-1] == b"missing":
                contents.append(None)
                continue
            size = int(header[2])
            contents.append(out[pos : pos + size])
            pos += size + 1
        return contents

    def last_message(self, commit: str | None, prefix: str) -> str | None:
        """The message of the last commit at or before ``commit`` that touched ``prefix``."""
        if commit is None:
            return None
        out = self._git("log", "-1", "--format=%B", commit, "--", prefix + "/").stdout
        return out.decode() or None

    # ------------------------------------------------------------------ writing

    def commit(
        self,
        parent: str | None,
        *,
        writes: Mapping[str, bytes],
        deletes: Iterable[str],
        message: str,
    ) -> str:
        """Create a commit on top of ``parent`` changing exactly the given paths."""
        author = self.settings.author
        ident = f"{author.name} <{author.email}> now"
        stream: list[bytes] = []
        encoded = message.encode()
        stream.append(f"commit {STAGING_REF}\n".encode())
        stream.append(f"author {ident}\ncommitter {ident}\n".encode())
        stream.append(b"data %d\n%s\n" % (len(encoded), encoded))
        if parent:
            stream.append(f"from {parent}\n".encode())
        for path in sorted(deletes):
            stream.append(f"D {path}\n".encode())
        for path in sorted(writes):
            content = writes[path]
            stream.append(b"M 100644 inline %s\ndata %d\n" % (path.encode(), len(content)))
            stream.append(content + b"\n")
        stream.append(b"done\n")
        self._git("update-ref", "-d", STAGING_REF)
        self._git(
            "fast-import",
            "--quiet",
            "--force",
            "--date-format=now",
            "--done",
            input=b"".join(stream),
        )
        sha = self._git("rev-parse", STAGING_REF).stdout.decode().strip()
        if self.settings.signing is not None:
            sha = self._sign(sha, parent, message)
        return sha

    def _sign(self, unsigned: str, parent: str | None, message: str) -> str:
        """Re-create the commit signed (fast-import cannot sign)."""
        signing = self.settings.signing
        assert signing is not None
        author = self.settings.author
        args = ["-c", f"gpg.format={signing.format}", "-c", f"user.signingkey={signing.key}"]
        args += ["commit-tree", f"-S{signing.key}", f"{unsigned}^{{tree}}"]
        if parent:
            args += ["-p", parent]
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": author.name,
            "GIT_COMMITTER_EMAIL": author.email,
        }
        return self._git(*args, input=message.encode(), env=env).stdout.decode().strip()

    def push(self, commit: str) -> bool:
        """Fast-forward the remote branch to ``commit``; False if someone else pushed first."""
        done = self._git(
            "push", "--porcelain", "--", self.url, f"{commit}:refs/heads/{self.branch}", check=False
        )
        if done.returncode == 0:
            self._git("gc", "--auto", "--quiet", check=False)
            return True
        report = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        # Someone else moved the branch: refused as non-fast-forward, or (when the race is
        # tighter) the remote's compare-and-swap of the ref failed.
        if re.search(r"\[rejected\]|non-fast-forward|fetch first|stale info|but expected", report):
            return False
        reason = re.search(r"^!\t\S+\t(.*)$", report, re.MULTILINE)
        raise GitUnavailable(
            f"git push to {mask_url(self.url)} branch {self.branch} failed: "
            f"{reason.group(1) if reason else self._first_error(done.stderr)}"
        )


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
        raise GitUnavailable(f"git {command} failed: {GitStore._first_error(exc.stderr)}") from exc
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
                f"git show {ref}:{path} failed: {GitStore._first_error(exc.stderr)}"
            ) from exc
        target = destination / (path if relative == "." else Path(path).relative_to(relative))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
