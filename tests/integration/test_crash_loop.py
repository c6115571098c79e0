"""A real crash loop: ``sync --once`` of a 2,000-row table killed with SIGKILL again and again.

The bridge keeps no state but the remote branch, so whatever moment a kill lands on (rendering,
the fetch, the index-pack that stores a new commit, the pre-push fsck, the push itself, with
git's lock files and our own lock held), the next run must converge. After the kills and one
clean sync the remote holds exactly what ``render --out`` writes for the same rows, ``git fsck
--strict`` is clean and the history is linear (issue 7: "a crash heals by itself").

The remote is served by ``git daemon``, as a real server would be: its receive-pack is not one of
the bridge's processes, so killing the bridge's process group does not also kill the server.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from bridge_harness import Bridge, SqliteDatabase, git

ROWS = 2000
KILLS = 22  # at least 20 must land
SEED = 20260701
# Where a kill is aimed: inside a git subcommand of the bridge, or at a moment picked by a timer
# (mostly Python: reading rows, rendering, planning). "push" twice: it is the riskiest moment.
TARGETS = [
    *("push", "index-pack", "fetch", "push", "update-ref", "pack-objects"),
    *("ls-remote", "cat-file", "gc", "locked", "timer", "locked", "timer"),
]
# On PATH before the real git: when its subcommand is the target (once per run), it starts the
# real git and SIGKILLs the whole process group while that git is running or just after.
GIT_WRAPPER = """#!/bin/sh
sub=; skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$a" in -c|-C) skip=1;; -*) ;; *) sub=$a; break;; esac
done
if [ "$sub" = "$LYNQ_KILL_AT" ] && [ ! -e "$LYNQ_KILL_FLAG" ]; then
  exec 3<&0
  "$LYNQ_REAL_GIT" "$@" <&3 3<&- &
  sleep "$LYNQ_KILL_LINGER"
  state=after; if kill -0 $! 2>/dev/null; then state=during; fi
  echo $state > "$LYNQ_KILL_FLAG"
  kill -KILL 0
fi
exec "$LYNQ_REAL_GIT" "$@"
"""
# Installed in the mirror: git runs it with "prepared" while it holds the lock files of the refs
# it is updating (fetch, update-ref), so target "locked" kills with them held.
LOCK_HOOK = """#!/bin/sh
cat >/dev/null
if [ "$LYNQ_KILL_AT" = locked ] && [ "$1" = prepared ] && [ ! -e "$LYNQ_KILL_FLAG" ]; then
  echo "ref locks held" > "$LYNQ_KILL_FLAG"
  kill -KILL 0
fi
"""


@pytest.fixture
def served(tmp_path: Path) -> Any:
    """A ``git daemon`` serving ``tmp_path`` with pushes enabled; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={tmp_path}",
            "--export-all",
            "--enable=receive-pack",
            "--informative-errors",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # ``git daemon`` runs ``git-daemon`` as its child: kill both
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()


def command_work_dir(command: list[str]) -> Path:
    """The work directory of the bridge run by ``command`` (the harness puts it beside the
    config directory)."""
    return Path(command[command.index("--config") + 1]).parent / "work"


def git_locks(work: Path) -> int:
    return sum(1 for _ in (work / "mirror.git").rglob("*.lock")) if work.exists() else 0


def run_and_kill(
    command: list[str], target: str, rng: random.Random, env: dict[str, str], flag: Path
) -> str | None:
    """Run one sync and SIGKILL its process group at ``target``; where the kill landed, or
    None when the sync ended first (the target did not come up)."""
    flag.unlink(missing_ok=True)
    hooks = command_work_dir(command) / "mirror.git" / "hooks"
    if hooks.is_dir():  # the mirror may have been rebuilt since
        (hooks / "reference-transaction").write_text(LOCK_HOOK)
        (hooks / "reference-transaction").chmod(0o755)
    env = {
        **env,
        "LYNQ_KILL_AT": "" if target == "timer" else target,
        "LYNQ_KILL_FLAG": str(flag),
        "LYNQ_KILL_LINGER": str(rng.choice([0, 0, 0.005, 0.02, 0.05, 0.1])),
    }
    fire_at = rng.uniform(0.2, 3.0)
    proc = subprocess.Popen(
        command,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    if target != "timer":
        proc.wait()
        return f"{target} ({flag.read_text().strip()})" if flag.exists() else None
    try:
        proc.wait(timeout=fire_at)
        return None
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timer"


def change_rows(db: SqliteDatabase, rng: random.Random, round_: int) -> None:
    """A few updates, an insert and an (in)activation: a realistic stream of row changes."""
    updates = [(rng.randint(1, 9), f"t{rng.randrange(ROWS):04d}") for _ in range(rng.randint(1, 5))]
    db.execute(
        ("UPDATE tenants SET replicas = ? WHERE tenant_id = ?", updates),
        ("UPDATE tenants SET plan = ? WHERE tenant_id = ?", [(f"p{round_}", f"t{round_:04d}")]),
        (
            "INSERT INTO tenants (tenant_id, active, plan) VALUES (?, '1', 'new')",
            [(f"n{round_:03d}",)],
        ),
        (
            "UPDATE tenants SET active = ? WHERE tenant_id = ?",
            [(rng.choice(["0", "1"]), f"t{rng.randrange(ROWS):04d}")],
        ),
    )


def test_sigkill_at_random_moments_then_one_sync_converges(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, served: str
) -> None:
    rng = random.Random(SEED)
    db = SqliteDatabase(sqlite_database)
    create_tenants(
        db,
        [
            {
                "tenant_id": f"t{i:04d}",
                "active": "1",
                "domain": f"t{i}.example.com" if i % 3 == 0 else None,
                "plan": "pro" if i % 2 else None,
                "replicas": i % 5,
            }
            for i in range(ROWS)
        ],
    )
    bridge = Bridge(tmp_path / "b", db)
    git("--git-dir", str(bridge.remote), "config", "receive.fsckObjects", "true")
    settings = bridge.load_config_document("lynq-bridge.yaml")
    settings["spec"]["git"]["url"] = f"{served}/b/remote.git"
    bridge.write("lynq-bridge.yaml", settings)
    cli = [sys.executable, "-m", "lynq_bridge"]
    sync = [*cli, "sync", "--once", "--config", str(bridge.config)]
    work = bridge.root / "work"

    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    (wrappers / "git").write_text(GIT_WRAPPER)
    (wrappers / "git").chmod(0o755)
    real_git = shutil.which("git")
    assert real_git
    env = {
        **os.environ,
        "PATH": f"{wrappers}{os.pathsep}{os.environ['PATH']}",
        "LYNQ_REAL_GIT": real_git,
    }
    flag = tmp_path / "killed"

    landed: Counter[str] = Counter()
    with_git_locks = 0
    missed = 0
    budget = time.monotonic() + 150  # the loop stops at KILLS; a loaded machine needs longer
    round_ = 0
    while sum(landed.values()) < KILLS and time.monotonic() < budget:
        round_ += 1
        target = TARGETS[round_ % len(TARGETS)] if round_ > 1 else "timer"
        where = run_and_kill(sync, target, rng, env, flag)
        if where is None:
            missed += 1  # the target did not come up: that run synced instead
        else:
            landed[where] += 1
            with_git_locks += git_locks(work) > 0
        change_rows(db, rng, round_)
    kills = sum(landed.values())
    print(
        f"\ncrash loop: {kills} kills in {round_} runs ({missed} ran to the end); landed in "
        + ", ".join(f"{where}: {n}" for where, n in sorted(landed.items()))
        + f"; {with_git_locks} left git lock files behind; the bridge's own lock was held at "
        "every kill"
    )
    assert kills >= 20
    assert sum(n for where, n in landed.items() if where.startswith("push (during")) >= 1
    assert with_git_locks >= 1

    done = subprocess.run(sync, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    rendered = subprocess.run(
        [*cli, "render", "--out", str(out), "--config", str(bridge.config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr

    expected = {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }
    listing = git("--git-dir", str(bridge.remote), "ls-tree", "-r", "-z", "refs/heads/main")
    remote: dict[str, str] = {}
    for record in filter(None, listing.split("\0")):
        meta, _, path = record.partition("\t")
        remote[path.removeprefix("lynq/")] = meta.split()[2]
    assert sorted(remote) == sorted(expected)
    blobs = subprocess.run(
        ["git", "--git-dir", str(bridge.remote), "cat-file", "--batch"],
        input="".join(f"{remote[p]}\n" for p in sorted(remote)).encode(),
        capture_output=True,
        check=True,
    ).stdout
    pos = 0
    for path in sorted(remote):
        header_end = blobs.index(b"\n", pos)
        size = int(blobs[pos:header_end].split()[2])
        content = blobs[header_end + 1 : header_end + 1 + size]
        pos = header_end + 2 + size
        assert content == expected[path], path

    fsck = subprocess.run(
        ["git", "--git-dir", str(bridge.remote), "fsck", "--strict", "--no-dangling"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fsck.returncode == 0, fsck.stderr
    merges = git("--git-dir", str(bridge.remote), "rev-list", "--min-parents=2", "refs/heads/main")
    assert merges == ""
    assert f"n{round_:03d}-web" in {p.split("/")[2] for p in remote if p.count("/") >= 3}
