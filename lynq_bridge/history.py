"""``lynq-bridge history``: a tenant's audit trail, from the Git remote alone.

Where the history is read: a bare mirror of its own, ``<workDir>/history/mirror.git`` (a
:class:`GitStore` with its own lock), fetched from the remote at every run. Not the daemon's
mirror: that one is locked by the daemon, may be rebuilt under a reader at any time and is only
as fresh as the last sync; and not a fresh clone per run, which would copy the whole history
every time (a fetch into the kept mirror copies only the new commits). The daemon's lock is
never taken, so history runs beside a running bridge.

One ``git log`` over the hub directories (``<git.path>/<ns>/<hub>/``, or all of ``git.path``)
gives every bridge commit; ``core.history`` picks the entries. The query's uid and node are
never given to git: they are compared in Python. ``--show`` runs ``git show`` of one commit
limited to the node's own paths (its directory and its engine files).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from lynq_bridge.adapters.gitlocal import GIT_TIMEOUT_SECONDS, first_error
from lynq_bridge.adapters.gitstore import GitStore
from lynq_bridge.adapters.secrets import password_lookup
from lynq_bridge.config.loading import Config
from lynq_bridge.core import history
from lynq_bridge.core.credentials import strip_credentials
from lynq_bridge.core.layout import is_node_dir, path_owner
from lynq_bridge.core.paths import component_problem, quote
from lynq_bridge.errors import ConfigError, GitUnavailable
from lynq_bridge.sync import default_work_dir

HISTORY_DIR = "history"  # inside the work directory, beside the daemon's mirror
_COMMIT = re.compile(r"[0-9a-f]{4,64}")


def history_work_dir(config: Config) -> Path:
    """The work directory of history's own mirror."""
    git = config.bridge.spec.git
    base = (
        Path(git.workDir)
        if git.workDir
        else default_work_dir(strip_credentials(git.url), git.branch)
    )
    return base / HISTORY_DIR


def _git(git_dir: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", f"--git-dir={git_dir}", *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            env={**os.environ, "LC_ALL": "C", "GIT_LITERAL_PATHSPECS": "1"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitUnavailable(f"git {args[0]} failed in {git_dir}: {exc}") from exc
    if done.returncode != 0:
        raise GitUnavailable(f"git {args[0]} failed in {git_dir}: {first_error(done.stderr)}")
    return done.stdout


def read_log(git_dir: Path, head: str, pathspec: str) -> list[history.Commit]:
    """Every commit reachable from ``head`` that touched ``pathspec``, newest first."""
    out = _git(git_dir, "log", "-z", f"--format={history.LOG_FORMAT}", head, "--", pathspec)
    return history.parse_log(out)


def show(git_dir: Path, commit: str, hub_dir: str, nodes: list[str]) -> bytes:
    """``git show`` of ``commit`` limited to the files of ``nodes`` below ``hub_dir``."""
    changed = _git(
        git_dir,
        "diff-tree",
        "-r",
        "-z",
        "--root",
        "--no-commit-id",
        "--name-only",
        commit,
        "--",
        f"{hub_dir}/",
    )
    paths = [
        p
        for p in changed.decode("utf-8", errors="replace").split("\0")
        if p and path_owner(p[len(hub_dir) + 1 :]) in nodes
    ]
    header = _git(git_dir, "show", "--no-patch", "--format=fuller", commit)
    if not paths:
        return header
    return _git(git_dir, "show", "--format=fuller", commit, "--", *paths)


def _check_name(what: str, value: str) -> None:
    problem = component_problem(value)
    if problem:
        raise ConfigError(f"{what} {quote(value)} cannot name a directory: {problem}")


def run(
    config: Config,
    *,
    uid: str | None,
    node: str | None,
    hub: str | None,
    since: str | None,
    output: str,
    show_commit: str | None,
) -> int:
    """List the entries of the query (see ``core.history``); 0, or 2 for an unusable query."""
    when = None
    if since is not None:
        when = history.parse_since(since)
        if when is None:
            raise ConfigError(f"--since {quote(since)} is no ISO 8601 date such as 2025-01-31")
    if node is not None:
        _check_name("--node", node)
        if not is_node_dir(node):
            raise ConfigError(f"--node {quote(node)} is no node name ({{uid}}-{{form}})")
    root = config.bridge.spec.git.path.strip("/")
    pathspec = f"{root}/"
    if hub is not None:
        namespace, sep, name = hub.partition("/")
        if not sep:
            raise ConfigError(f"--hub {quote(hub)} is not NAMESPACE/NAME")
        _check_name("--hub namespace", namespace)
        _check_name("--hub name", name)
        pathspec = f"{root}/{namespace}/{name}/"
    if show_commit is not None and not _COMMIT.fullmatch(show_commit):
        raise ConfigError(f"--show {quote(show_commit)} is no commit id (hexadecimal)")
    if show_commit is not None and uid is None and node is None:
        raise ConfigError("--show needs --uid or --node: it prints that node's changes")
    spec = config.bridge.spec
    store = GitStore(
        spec.git,
        history_work_dir(config),
        secrets=password_lookup(spec.secretsDir, spec.report.kubeconfig),
        namespace=config.bridge.metadata.namespace,
    )
    store.open()
    try:
        head = store.fetch_head().commit
        commits = read_log(store.git_dir, head, pathspec) if head else []
        found = history.entries(commits, history.Query(uid=uid, node=node, hub=hub, since=when))
        if show_commit is None:
            text = history.to_json(found) if output == "json" else history.to_text(found)
            sys.stdout.write(text)
            return 0
        return _show(store.git_dir, found, show_commit, root)
    finally:
        store.close()


_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


def printable(output: bytes) -> bytes:
    """``git show`` output safe for a terminal: a commit or file written by hand may hold escape
    sequences; every control character but tab and newline is shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: b"\\x%02x" % m.group()[0], output)


def _show(git_dir: Path, found: list[history.Entry], commit: str, root: str) -> int:
    chosen = [e for e in found if e.commit.startswith(commit) and e.node]
    if not chosen:
        raise ConfigError(f"commit {quote(commit)} is in no entry of this query's history")
    if len({e.commit for e in chosen}) > 1:
        raise ConfigError(f"commit {quote(commit)} is ambiguous: give more of its digits")
    hub_dir = f"{root}/{chosen[0].hub}"
    nodes = sorted({e.node for e in chosen})
    sys.stdout.flush()
    sys.stdout.buffer.write(printable(show(git_dir, chosen[0].commit, hub_dir, nodes)))
    sys.stdout.flush()
    return 0
