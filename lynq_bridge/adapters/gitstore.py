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
import itertools
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lynq_bridge.adapters.catfile import LARGEST_BATCH, CatFile
from lynq_bridge.adapters.commitcheck import verify_commit
from lynq_bridge.adapters.gitlocal import GIT_TIMEOUT_SECONDS, first_error
from lynq_bridge.adapters.mirrorhealth import (
    LOCAL_DAMAGE,
    REMOTE_TROUBLE,
    drop_old_layout,
    pack_damage,
)
from lynq_bridge.adapters.packwriter import PackWriter
from lynq_bridge.config.models import GitSettings
from lynq_bridge.core.credentials import mask_credentials, mask_url, split_credentials
from lynq_bridge.core.gittree import build_tree
from lynq_bridge.core.inputs import HubListing
from lynq_bridge.core.layout import is_node_dir, is_shard, node_dir, shard_of, split_owner
from lynq_bridge.core.paths import UnsafePath, check_path, quote
from lynq_bridge.errors import ConfigError, GitUnavailable, SourceUnavailable, UnsafeCommit

log = logging.getLogger("lynq_bridge.git")

STAGING_REF = "refs/lynq-bridge/staging"
MIRROR = "mirror.git"  # the bare repository, inside the work directory
LOCK_FILE = "lynq-bridge.lock"  # our own lock, next to the mirror rather than among git's files
NEW_PACK = "new.pack"  # the objects of a commit being built, before index-pack stores them
VERIFY_PACK = "verify.pack"  # the objects of a commit about to be pushed, checked like fsck
GC_EVERY = 10  # pushes between two ``git gc --auto`` (which repacks past 50 packs)
DAMAGE_CHECK_SECONDS = 60.0  # a healthy mirror is checked again after this long
LIST_NODES_AT_ONCE = 2000  # above this many node directories, one listing of the whole hub
DEFAULT_USERNAME = "x-access-token"  # what GitHub, Gitea and most hosts accept with a token
# Git asks this helper for the credentials of an http(s) remote; it answers from the environment
# of that one git process, so the secret is in no argv (``ps``) and in no file. The empty
# helper first drops the user's own helpers, so that none of them stores the secret.
CREDENTIAL_HELPER = (
    "credential.helper=",
    "credential.helper=!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' "
    '"$LYNQ_GIT_USERNAME" "$LYNQ_GIT_PASSWORD"; }; f',
)

SecretLookup = Callable[[str, str, str], str]  # (namespace, Secret name, key) -> value


@dataclass(frozen=True)
class Head:
    """The remote branch head we build on (None for a branch that does not exist yet)."""

    commit: str | None


class GitStore:
    """A bare mirror of one branch of one remote."""

    def __init__(
        self,
        settings: GitSettings,
        work_dir: Path,
        *,
        secrets: SecretLookup | None = None,
        namespace: str = "default",
    ) -> None:
        self.settings = settings
        # Git only ever sees the URL without credentials; messages show the masked one.
        self._split = split_credentials(settings.url)
        self.url = self._split.url
        self.shown_url = mask_url(settings.url)
        self._secrets = secrets
        self._namespace = namespace
        self.branch = settings.branch
        self.dir = work_dir
        self.git_dir = work_dir / MIRROR
        self._lock: IO[bytes] | None = None
        # The last commit whose new objects passed index-pack --strict (one: a daemon makes
        # commits for days, and only the one about to be pushed is ever asked about).
        self._checked: str | None = None
        # The remote head this mirror last fetched or pushed: when the remote still has it, a
        # fetch would bring nothing (a daemon asks every sync; reset when the mirror goes).
        self._head: str | None = None
        self._catfile = CatFile(self.git_dir)  # small reads, without a process each
        self._undamaged_at: float | None = None  # when _damage last found nothing
        self._pushes = 0

    # ------------------------------------------------------------------ plumbing

    def _git(
        self,
        *args: str,
        input: bytes | None = None,
        stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        remote: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git in the mirror; ``remote`` for a command that talks to the remote, which
        then gets the credentials through the environment; ``stdout``: a file for a large
        output, which is then not held in memory."""
        options: tuple[str, ...] = ()
        secret_env: dict[str, str] = {}
        credentials = self._credentials() if remote else None
        if credentials is not None:
            options = tuple(o for helper in CREDENTIAL_HELPER for o in ("-c", helper))
            secret_env = {"LYNQ_GIT_USERNAME": credentials[0], "LYNQ_GIT_PASSWORD": credentials[1]}
        # --git-dir, not -C: a damaged mirror must fail, not let git find an enclosing repository.
        command = ["git", f"--git-dir={self.git_dir}", *options, *args]
        try:
            done = subprocess.run(
                command,
                input=input,
                stdin=stdin,
                stdout=stdout or subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=GIT_TIMEOUT_SECONDS,
                env={
                    **os.environ,
                    "GIT_TERMINAL_PROMPT": "0",
                    "LC_ALL": "C",
                    **(env or {}),
                    **secret_env,
                },
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._undamaged_at = None
            raise GitUnavailable(
                f"git {args[0]} failed for {self.shown_url}: {mask_credentials(str(exc))}"
            ) from exc
        if done.returncode != 0:
            self._undamaged_at = None  # the next heal checks the mirror again
        if check and done.returncode != 0:
            self._note_damage(args[0], done.stderr)
            raise GitUnavailable(
                f"git {args[0]} failed for {self.shown_url}: {first_error(done.stderr)}"
            )
        return done

    def _credentials(self) -> tuple[str, str] | None:
        """(user name, password) for an http(s) remote, or None when there are none.

        The password is read from ``git.credentialsRef`` at every use (a mounted Secret may
        rotate), else taken from the URL; the user name is the URL's, else ``x-access-token``.
        A token given as the user name goes with an empty password, as the hosts expect.
        """
        if not self.url.lower().startswith(("http://", "https://")):
            return None
        username, password = self._split.username, self._split.password
        ref = self.settings.credentialsRef
        if ref is not None:
            if self._secrets is None:
                raise GitUnavailable(
                    f"git.credentialsRef {ref.name}/{ref.key} of {self.shown_url} cannot be "
                    "resolved: no secrets directory or Kubernetes API is configured"
                )
            try:
                password = self._secrets(self._namespace, ref.name, ref.key)
            except SourceUnavailable as exc:
                raise GitUnavailable(
                    f"git credentials of {self.shown_url} cannot be read: {exc}"
                ) from exc
        if username is None and password is None:
            return None
        pair = (username or DEFAULT_USERNAME, password or "")
        if any(c in value for value in pair for c in "\0\r\n"):
            raise GitUnavailable(
                f"git credentials of {self.shown_url} contain a line break or NUL, which Git's "
                "credential protocol cannot carry"
            )
        return pair

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Take the work directory's lock (one writer per mirror) and heal the mirror.

        The work directory holds our lock file and the bare mirror beside it, so the lock is no
        file git knows and survives the mirror being deleted and re-created under it."""
        self._prepare_work_dir()
        try:
            self._lock = (self.dir / LOCK_FILE).open("wb")
        except OSError as exc:
            raise GitUnavailable(f"work directory {self.dir} cannot be used: {exc}") from exc
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self.close()
            raise GitUnavailable(
                f"work directory {self.dir} is in use by another lynq-bridge process"
            ) from exc
        drop_old_layout(self.dir)
        self._heal()

    def _prepare_work_dir(self) -> None:
        """Create the work directory; a file in its place is an error (or, in our own cache
        when ``git.workDir`` is not set, removed)."""
        if self.dir.is_file():
            if self.settings.workDir is not None:
                raise ConfigError(
                    f"git.workDir {self.dir} is a file, not a directory; remove it or point "
                    "git.workDir at a directory"
                )
            log.warning("removing the file %s that is in the place of the Git mirror", self.dir)
            self.dir.unlink()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GitUnavailable(f"work directory {self.dir} cannot be created: {exc}") from exc

    def _heal(self, *, rebuild: str | None = None) -> None:
        """Make the mirror usable; we hold the lock, so no git of ours runs concurrently.

        Any git lock file is then left by a killed process and is removed. A mirror that fails
        the cheap check (or ``rebuild``, the reason it must go) is deleted and re-created: the
        remote is the only state, so the next fetch restores everything."""
        reason = rebuild or self._remove_stale_files() or self._recent_damage()
        if reason and self.git_dir.exists():
            log.warning("rebuilding the Git mirror %s from the remote: %s", self.git_dir, reason)
            self._discard()
        if not (self.git_dir / "HEAD").exists():
            self._git("init", "--quiet", "--bare")

    def _discard(self) -> None:
        self._head = None  # its objects go with the mirror
        self._catfile.close()
        try:
            if self.git_dir.is_dir() and not self.git_dir.is_symlink():
                shutil.rmtree(self.git_dir)
            else:
                self.git_dir.unlink(missing_ok=True)
        except OSError as exc:
            raise GitUnavailable(
                f"damaged Git mirror {self.git_dir} cannot be removed: {exc}"
            ) from exc

    def _remove_stale_files(self) -> str | None:
        """Remove git's lock files and temporary packs; the reason to rebuild, if any."""
        if not self.git_dir.is_dir():
            return None  # missing or a file: _damage() sees it
        for suffix in (".pack", ".idx", ".rev"):
            (self.dir / VERIFY_PACK).with_suffix(suffix).unlink(missing_ok=True)
        (self.dir / NEW_PACK).unlink(missing_ok=True)
        objects = str(self.git_dir / "objects")
        for folder, _dirs, files in os.walk(self.git_dir):
            for name in files:
                stale_pack = name.startswith("tmp_") and folder.startswith(objects)
                if name.endswith(".lock") or stale_pack:
                    path = Path(folder, name)
                    log.info("removing %s left by an interrupted git process", path)
                    try:
                        path.unlink()
                    except OSError as exc:
                        return f"{path} cannot be removed ({exc})"
        return None

    def _recent_damage(self) -> str | None:
        """``_damage``, unless it found nothing less than ``DAMAGE_CHECK_SECONDS`` ago and no
        git command failed since (a daemon fetches every sync; the check is three processes)."""
        now = time.monotonic()
        if self._undamaged_at is not None and now - self._undamaged_at < DAMAGE_CHECK_SECONDS:
            return None
        reason = self._damage()
        self._undamaged_at = None if reason else now
        return reason

    def _damage(self) -> str | None:
        """Why the mirror cannot be trusted, or None: a cheap check, not a full ``fsck``."""
        if not (self.git_dir / "HEAD").exists():
            return "HEAD is missing" if self.git_dir.exists() else None
        done = self._git("rev-parse", "--git-dir", "--show-object-format", check=False)
        if done.returncode != 0:
            return f"git cannot read it ({first_error(done.stderr)})"
        hash_size = 32 if done.stdout.split()[-1] == b"sha256" else 20
        refs = self._git("for-each-ref", "--format=%(objectname) %(refname)", check=False)
        if refs.returncode != 0:
            return f"its refs cannot be read ({first_error(refs.stderr)})"
        listed = [line.split(b" ", 1) for line in refs.stdout.splitlines() if line]
        if listed:
            request = b"".join(sha + b"\n" + sha + b"^{tree}\n" for sha, _ in listed)
            checked = self._git("cat-file", "--batch-check", input=request, check=False)
            answers = checked.stdout.splitlines()
            for i, (_sha, ref) in enumerate(listed):
                if checked.returncode != 0 or any(
                    a.endswith(b" missing") for a in answers[2 * i : 2 * i + 2]
                ):
                    return f"{ref.decode(errors='replace')} points to a missing object"
        return pack_damage(self.git_dir / "objects", hash_size)

    def _note_damage(self, command: str, stderr: bytes) -> None:
        """Delete the mirror when git's error says that it is damaged; the next fetch
        re-creates it (the current operation fails as a temporary error)."""
        if command == "ls-remote":
            return
        for line in stderr.decode(errors="replace").splitlines():
            if not line.startswith("remote:") and LOCAL_DAMAGE.search(line):
                log.warning(
                    "the Git mirror %s is damaged (%s); it will be fetched again",
                    self.git_dir,
                    mask_credentials(line.strip()),
                )
                self._discard()
                return

    def close(self) -> None:
        self._catfile.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ------------------------------------------------------------------ reading

    def fetch_head(self) -> Head:
        """Fetch the remote branch; its head commit, or None if the branch does not exist.

        The mirror is healed first (see ``_heal``), and a fetch that fails because the mirror is
        damaged is tried once more into a fresh one."""
        self._heal()
        ref = f"refs/heads/{self.branch}"
        listed = self._git("ls-remote", "--", self.url, ref, remote=True).stdout.decode().split()
        if not listed:
            return Head(None)
        if listed[0] == self._head:
            return Head(self._head)  # the commit we pushed or fetched last: nothing to fetch
        tracking = f"refs/remotes/origin/{self.branch}"
        for attempt in range(2):
            try:
                self._git(
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--",
                    self.url,
                    f"+{ref}:{tracking}",
                    remote=True,
                )
                break
            except GitUnavailable as exc:
                # ls-remote just worked, so unless git blames the network or the remote, the
                # mirror is at fault (if the error showed damage, it is already gone).
                if attempt or (self.git_dir.exists() and REMOTE_TROUBLE.search(str(exc))):
                    raise
                self._heal(rebuild=f"the fetch failed: {exc}")
        self._head = self._git("rev-parse", tracking).stdout.decode().strip()
        return Head(self._head)

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
                files[path.decode(errors="surrogateescape")[start:]] = sha.decode()
        return files

    def list_hub(self, commit: str | None, prefix: str, *, sharded: bool = False) -> HubListing:
        """One level of the hub directory ``prefix`` (two when ``sharded``: the hub and its
        shards): each node directory's tree id, and every other file (the hub's and the shards'
        own, and the engine directories' files, recursively). A node directory where the layout
        does not put it (the layout changed) is listed file by file, so the sync moves it."""
        if commit is None:
            return HubListing({}, {})
        nodes: dict[str, str] = {}
        files: dict[str, str] = {}
        others: list[str] = []
        shards: list[str] = []
        for path, kind, sha in self._ls_tree(commit, [prefix + "/"], recursive=False):
            name = path[len(prefix) + 1 :]
            if kind != "tree":
                files[name] = sha
            elif is_node_dir(name) and not sharded:
                nodes[name] = sha
            elif is_shard(name) and sharded:
                shards.append(f"{prefix}/{name}/")
            else:
                others.append(f"{prefix}/{name}/")
        for path, kind, sha in self._ls_tree(commit, shards, recursive=False):
            shard, _, name = path[len(prefix) + 1 :].partition("/")
            if kind != "tree":
                files[f"{shard}/{name}"] = sha
            elif is_node_dir(name) and shard_of(name) == shard:
                nodes[name] = sha
            else:
                others.append(f"{path}/")
        if len(others) > LIST_NODES_AT_ONCE:  # a layout switch: every node is in another place
            wanted = {o[len(prefix) + 1 :] for o in others}
            for path, sha in self.list_tree(commit, prefix).items():
                parts = path.split("/", 2)
                if f"{parts[0]}/" in wanted or "/".join(parts[:2]) + "/" in wanted:
                    files[path] = sha
            return HubListing(nodes, files)
        for path, _kind, sha in self._ls_tree(commit, others, recursive=True):
            files[path[len(prefix) + 1 :]] = sha
        return HubListing(nodes, files)

    def list_nodes(
        self, commit: str | None, prefix: str, nodes: Iterable[str], *, sharded: bool = False
    ) -> dict[str, str]:
        """Blob ids of every file in the directories of ``nodes`` below ``prefix`` (laid out
        flat or ``sharded``), keyed by path under it (the whole hub is listed once when that is
        cheaper)."""
        wanted = sorted(set(nodes))
        if commit is None or not wanted:
            return {}
        if len(wanted) > LIST_NODES_AT_ONCE:
            keep = {f"{node_dir(n, sharded=sharded)}/" for n in wanted}
            every = self.list_tree(commit, prefix)
            return {p: b for p, b in every.items() if _node_dir_of(p) in keep}
        paths = [f"{prefix}/{node_dir(n, sharded=sharded)}/" for n in wanted]
        found = self._ls_tree(commit, paths, recursive=True)
        return {path[len(prefix) + 1 :]: sha for path, kind, sha in found if kind == "blob"}

    def _ls_tree(
        self, commit: str, pathspecs: list[str], *, recursive: bool
    ) -> list[tuple[str, str, str]]:
        """(path, kind, object id) of ``git ls-tree`` at ``commit`` (whose paths are plain
        prefixes: no wildcard or magic, so a directory named ``acme-*`` matches only itself)."""
        if not pathspecs:
            return []
        flags = ("-r",) if recursive else ()
        out = self._git(
            "ls-tree",
            *flags,
            "-z",
            "--full-tree",
            commit,
            "--",
            *pathspecs,
        ).stdout
        entries = []
        for record in out.split(b"\0"):
            if record:
                meta, _, path = record.partition(b"\t")
                _mode, kind, sha = meta.split(b" ")
                entries.append((path.decode(errors="surrogateescape"), kind.decode(), sha.decode()))
        return entries

    def list_dirs(self, commit: str | None, prefix: str) -> list[str]:
        """Names of the directories directly below ``prefix`` at ``commit`` (one level)."""
        if commit is None:
            return []
        out = self._git("ls-tree", "-z", "-d", "--full-tree", commit, "--", prefix + "/").stdout
        return [
            r.rpartition(b"/")[2].decode(errors="surrogateescape") for r in out.split(b"\0") if r
        ]

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
        if len(objects) <= LARGEST_BATCH:
            try:
                return self._catfile.read(objects)
            except GitUnavailable:
                # Asked again of a process of its own, whose error tells a damaged mirror.
                self._undamaged_at = None
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

    def change_times(
        self,
        commit: str | None,
        prefix: str,
        nodes: Iterable[str],
        *,
        since: int,
        sharded: bool = False,
    ) -> dict[str, int]:
        """node -> commit time (Unix seconds) of the last commit at or before ``commit`` and
        after ``since`` that changed the node's directory; one history walk per 200 nodes."""
        wanted = sorted(set(nodes))
        times: dict[str, int] = {}
        if commit is None:
            return times
        for start in range(0, len(wanted), 200):
            paths = [
                f"{prefix}/{node_dir(n, sharded=sharded)}/" for n in wanted[start : start + 200]
            ]
            out = self._git(
                "log", "--format=%x00%ct", "--name-only", f"--max-age={since}", commit, "--", *paths
            ).stdout.decode(errors="surrogateescape")
            for record in out.split("\0")[1:]:
                stamp, _, names = record.partition("\n")
                for path in names.splitlines():
                    node = split_owner(path[len(prefix) + 1 :])[0]
                    if node and path.startswith(f"{prefix}/") and stamp.strip().isdigit():
                        times.setdefault(node, int(stamp.strip()))  # newest first
        return times

    # ------------------------------------------------------------------ writing

    def new_pack(self) -> PackWriter:
        """The pack of the next commit's new objects, for blobs to go into as they are planned
        (``planning.plan_hub``'s store) and for ``commit`` to store; leaving its ``with`` block
        drops it, stored or not."""
        return PackWriter(self.dir / NEW_PACK)

    def commit(
        self,
        parent: str | None,
        *,
        writes: Mapping[str, bytes],
        deletes: Iterable[str],
        message: str,
        prefix: str = "",
        stored: Mapping[str, bytes] | None = None,
        trees: Mapping[str, bytes] | None = None,
        pack: PackWriter | None = None,
    ) -> str:
        """Create a commit on top of ``parent`` changing exactly the given paths (relative to
        the directory ``prefix``; "": the root): ``writes`` by content, ``stored`` by the
        binary id of a blob already in ``pack``, ``trees`` (new directories) by the binary id
        of a tree already in ``pack`` (a ``new_pack`` whose objects the commit adds to).

        The trees are built here (``core.gittree``), not by a git command that parses paths:
        written paths are checked by ``core.paths`` (a deletion may name an entry a person
        added, so it is only matched against the existing names), the ident is refused if it
        could end its header line, and ``parent`` must be an object id. The new objects pass
        ``git index-pack --strict`` before the mirror holds them (see ``packwriter``)."""
        name, email = self._ident()
        if parent is not None and not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", parent):
            raise GitUnavailable(f"parent {quote(parent)} of a commit is not an object id")
        try:
            for path in itertools.chain(writes, stored or (), trees or ()):
                check_path(f"{prefix}/{path}" if prefix else path)
        except UnsafePath as exc:
            raise UnsafeCommit(
                f"commit to branch {self.branch} of {self.shown_url} refused: {exc}"
            ) from exc
        root = f"{parent}^{{tree}}" if parent is not None else None
        pack = pack or self.new_pack()
        try:
            tree = build_tree(
                root,
                writes=writes,
                deletes=deletes,
                read=self._read_trees,
                add=pack.add,
                stored=stored,
                trees=trees,
                prefix=prefix,
            )
            stamp = f"{name} <{email}> {int(time.time())} +0000".encode()
            body = b"tree %s\n" % tree.hex().encode()
            if parent:
                body += b"parent %s\n" % parent.encode()
            body += b"author %s\ncommitter %s\n\n" % (stamp, stamp)
            sha = pack.add(b"commit", body + message.encode(errors="replace")).hex()
            pack.finish()
            with pack.path.open("rb") as stream:
                indexed = self._git("index-pack", "--strict", "--stdin", stdin=stream, check=False)
        except UnsafePath as exc:
            raise UnsafeCommit(
                f"commit to branch {self.branch} of {self.shown_url} refused: {exc}"
            ) from exc
        except OSError as exc:
            raise GitUnavailable(f"a commit for {self.shown_url} cannot be written: {exc}") from exc
        finally:
            pack.close()
            pack.path.unlink(missing_ok=True)
        if indexed.returncode != 0:
            raise UnsafeCommit(
                f"commit to branch {self.branch} of {self.shown_url} refused: its objects fail "
                f"git fsck ({first_error(indexed.stderr)})"
            )
        self._checked = sha
        self._git("update-ref", STAGING_REF, sha)
        if self.settings.signing is not None:
            sha = self._sign(sha, parent, message)
        return sha

    def _read_trees(self, names: list[str]) -> list[bytes]:
        contents = self._cat(names)
        missing = [name for name, c in zip(names, contents, strict=True) if c is None]
        if missing:
            raise GitUnavailable(f"tree {missing[0]} of the Git mirror {self.git_dir} is missing")
        return [c for c in contents if c is not None]

    def _ident(self) -> tuple[str, str]:
        """The author's name and e-mail, refused if they could break a commit header."""
        author = self.settings.author
        for field, value in (("name", author.name), ("email", author.email)):
            if re.search(r"[<>\x00-\x1f\x7f]", value):
                raise ConfigError(
                    f"git.author.{field} {quote(value)} contains '<', '>' or a control "
                    "character, which cannot be part of a Git commit header"
                )
        return author.name, author.email

    def _sign(self, unsigned: str, parent: str | None, message: str) -> str:
        """Re-create the commit signed (fast-import cannot sign)."""
        signing = self.settings.signing
        assert signing is not None
        name, email = self._ident()
        args = ["-c", f"gpg.format={signing.format}", "-c", f"user.signingkey={signing.key}"]
        args += ["commit-tree", f"-S{signing.key}", f"{unsigned}^{{tree}}"]
        if parent:
            args += ["-p", parent]
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        return self._git(*args, input=message.encode(), env=env).stdout.decode().strip()

    def push(self, commit: str) -> bool:
        """Fast-forward the remote branch to ``commit``; False if someone else pushed first.

        Raises :class:`UnsafeCommit`, pushing nothing, when ``commit`` fails ``verify``."""
        self.verify(commit)
        done = self._git(
            "push",
            "--porcelain",
            "--",
            self.url,
            f"{commit}:refs/heads/{self.branch}",
            check=False,
            remote=True,
        )
        if done.returncode == 0:
            self._head = commit
            self._pushes += 1
            if self._pushes % GC_EVERY == 1:  # a daemon pushes a small pack per change
                self._git("gc", "--auto", "--quiet", check=False)
            return True
        report = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        # Someone else moved the branch: refused as non-fast-forward, or (when the race is
        # tighter) the remote's compare-and-swap of the ref failed.
        if re.search(r"\[rejected\]|non-fast-forward|fetch first|stale info|but expected", report):
            return False
        reason = re.search(r"^!\t\S+\t(.*)$", report, re.MULTILINE)
        raise GitUnavailable(
            f"git push to {self.shown_url} branch {self.branch} failed: "
            f"{mask_credentials(reason.group(1)) if reason else first_error(done.stderr)}"
        )

    def verify(self, commit: str) -> None:
        """Raise :class:`UnsafeCommit` unless ``commit`` is safe to push (``verify_commit``)."""
        verify_commit(
            self._git,
            commit,
            root=self.settings.path,
            pack=self.dir / VERIFY_PACK,
            objects_checked=commit == self._checked,
            where=f"commit {commit[:12]} for branch {self.branch} of {self.shown_url}",
        )


def _node_dir_of(path: str) -> str | None:
    """The node directory (with a trailing "/") holding ``path``, relative to the hub
    directory; None for the hub's own and engine files."""
    relative = split_owner(path)[1]
    return None if relative is None else path[: len(path) - len(relative)]
