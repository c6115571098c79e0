"""What the Git writer guarantees whatever the rows and whatever a crash left behind.

The fast-import stream takes no command from a path or an ident; nothing is pushed unless the new
commit changes only plain files below ``git.path`` and its objects pass ``git fsck --strict``; the
mirror heals from stale locks and damage by itself, since the remote is the only state (issue 7,
classes 1 and 2). Everything is real: SQLite, git, bare remotes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from bridge_harness import Bridge, SqliteDatabase, commit_by_hand, git

from lynq_bridge.adapters.gitstore import GitStore
from lynq_bridge.config.loading import load_config
from lynq_bridge.config.models import GitSettings
from lynq_bridge.errors import ConfigError, GitUnavailable, UnsafeCommit

HUB = "lynq/default/tenants"
STAGING = "refs/lynq-bridge/staging"  # the last commit the bridge made, in its mirror
ROWS = [
    {"tenant_id": f"t{i}", "active": "1", "domain": None, "plan": None, "replicas": 1}
    for i in range(4)
]


@pytest.fixture
def sqlite_db(sqlite_database: Path) -> SqliteDatabase:
    return SqliteDatabase(sqlite_database)


@pytest.fixture
def bridge(tmp_path: Path, sqlite_db: SqliteDatabase, create_tenants: Any) -> Bridge:
    create_tenants(sqlite_db, ROWS)
    return Bridge(tmp_path, sqlite_db)


def settings_of(bridge: Bridge) -> GitSettings:
    return load_config(bridge.config).bridge.spec.git


def mirror(bridge: Bridge) -> Path:
    return bridge.root / "work" / "mirror.git"


def fsck(repository: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "--git-dir", str(repository), "fsck", "--strict", "--no-dangling"],
        capture_output=True,
        text=True,
        check=False,
    )


def opened(settings: GitSettings, work_dir: Path) -> GitStore:
    store = GitStore(settings, work_dir)
    store.open()
    return store


# ---------------------------------------------------------------- the stream and the push checks


def test_remote_with_fsck_objects_accepts_pushes_of_hostile_rows(
    tmp_path: Path, sqlite_db: SqliteDatabase, create_tenants: Any
) -> None:
    hostile = [
        "line\nD lynq\ncommit refs/heads/main",
        'quote " and \\ backslash',
        "tab\tand\rreturn",
        "<angle> brackets & {{ braces }}",
        "unicode ☃ \u2028 separator",
        "---\n- yaml: [document]",
        "Lynq-Nodes-Removed: t0-web",
    ]
    rows = [
        {"tenant_id": f"h{i}", "active": "1", "domain": None, "plan": value, "replicas": 1}
        for i, value in enumerate(hostile)
    ]
    rows.append({"tenant_id": "../../x\ny", "active": "1", "domain": None, "plan": None})
    create_tenants(sqlite_db, rows)
    bridge = Bridge(tmp_path, sqlite_db)
    git("--git-dir", str(bridge.remote), "config", "receive.fsckObjects", "true")
    assert bridge.sync() == 1  # the path-like uid is a row error; everything else is pushed
    assert bridge.nodes() == [f"h{i}-web" for i in range(len(hostile))]
    assert all(f.startswith(f"{HUB}/") for f in bridge.files())
    sqlite_db.execute("UPDATE tenants SET plan = 'changed\nagain' WHERE tenant_id = 'h0'")
    assert bridge.sync() == 1
    assert bridge.commits() == 2
    checked = fsck(bridge.remote)
    assert checked.returncode == 0, checked.stderr


def test_commit_outside_git_path_is_never_pushed(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    head = bridge.head()
    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        parent = store.fetch_head().commit
        sha = store.commit(parent, writes={"README.md": b"x\n"}, deletes=[], message="m\n")
        with pytest.raises(UnsafeCommit, match=r'changes "README.md", which is outside git.path'):
            store.push(sha)
        sibling = store.commit(parent, writes={"lynq-x/a.yaml": b"a\n"}, deletes=[], message="m\n")
        with pytest.raises(UnsafeCommit, match=r"outside git\.path"):
            store.push(sibling)
        inside = store.commit(parent, writes={f"{HUB}/x.yaml": b"a\n"}, deletes=[], message="m\n")
        assert store.push(inside)
    finally:
        store.close()
    assert bridge.head() == inside != head


def test_first_commit_with_a_file_outside_git_path_is_never_pushed(bridge: Bridge) -> None:
    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        assert store.fetch_head().commit is None
        sha = store.commit(
            None, writes={f"{HUB}/a.yaml": b"a\n", "top.yaml": b"t\n"}, deletes=[], message="m\n"
        )
        with pytest.raises(UnsafeCommit, match=r'"top\.yaml", which is outside'):
            store.push(sha)
    finally:
        store.close()
    assert bridge.head() is None


def test_commit_whose_objects_fail_fsck_is_never_pushed(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    head = bridge.head()
    assert head is not None
    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        store.fetch_head()
        repo = str(mirror(bridge))
        blob = _blob(repo, b"hi\n")
        # A tree below git.path with an entry ".GIT" (fsck: hasDotgit), built by hand because
        # git mktree refuses it; the path check passes, only the object check can see it.
        evil = _write_tree(repo, [(b"100644", b".GIT", blob)])
        lynq = _replace_entry(repo, f"{head}:lynq", b"evil", evil, b"40000")
        top = _replace_entry(repo, f"{head}^{{tree}}", b"lynq", lynq, b"40000")
        sha = _commit_tree(repo, top, "-p", head, "-m", "evil")
        with pytest.raises(UnsafeCommit, match=r"its objects fail git fsck .*hasDotgit"):
            store.push(sha)
    finally:
        store.close()
    assert bridge.head() == head


def test_commit_with_a_symlink_below_git_path_is_never_pushed(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    head = bridge.head()
    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        store.fetch_head()
        repo = str(mirror(bridge))
        target = _blob(repo, b"/etc/passwd")
        lynq = _replace_entry(repo, f"{head}:lynq", b"link", target, b"120000")
        top = _replace_entry(repo, f"{head}^{{tree}}", b"lynq", lynq, b"40000")
        sha = _commit_tree(repo, top, "-p", str(head), "-m", "link")
        with pytest.raises(UnsafeCommit, match='gives "lynq/link" mode 120000'):
            store.push(sha)
    finally:
        store.close()
    assert bridge.head() == head


def test_merge_commit_is_never_pushed(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    head = bridge.head()
    assert head is not None
    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        store.fetch_head()
        side = store.commit(head, writes={f"{HUB}/x.yaml": b"x\n"}, deletes=[], message="m\n")
        repo = str(mirror(bridge))
        merge = _commit_tree(repo, f"{side}^{{tree}}", "-p", head, "-p", side, "-m", "merge")
        with pytest.raises(UnsafeCommit, match="it has 2 parents"):
            store.push(merge)
    finally:
        store.close()
    assert bridge.head() == head


def test_objects_that_fail_fsck_are_refused_when_the_commit_is_stored(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second line behind the path check: with it switched off, a tree entry ".GIT" reaches
    the pack, and ``index-pack --strict`` refuses the pack before the mirror holds it."""
    from lynq_bridge.adapters import gitstore

    assert bridge.sync() == 0
    head = bridge.head()
    monkeypatch.setattr(gitstore, "check_path", lambda path: path)
    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        parent = store.fetch_head().commit
        with pytest.raises(UnsafeCommit, match=r"its objects fail git fsck .*hasDotgit"):
            store.commit(parent, writes={f"{HUB}/evil/.GIT": b"x\n"}, deletes=[], message="m\n")
    finally:
        store.close()
    assert bridge.head() == head
    assert fsck(mirror(bridge)).returncode == 0


def test_parent_that_is_not_an_object_id_never_reaches_the_stream(bridge: Bridge) -> None:
    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        with pytest.raises(GitUnavailable, match="is not an object id"):
            store.commit("HEAD\nD lynq", writes={}, deletes=[], message="m\n")
    finally:
        store.close()


@pytest.mark.parametrize(
    "path",
    [
        f"{HUB}/x.yaml\nD README.md",
        f'{HUB}/"quoted".yaml',
        f"{HUB}/../README.md",
        f"{HUB}/.git/config",
        f"{HUB}//x.yaml",
    ],
)
def test_unsafe_path_never_reaches_the_stream(bridge: Bridge, path: str) -> None:
    assert bridge.sync() == 0
    before = bridge.files()
    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        parent = store.fetch_head().commit
        with pytest.raises(UnsafeCommit, match=f"commit to branch main of {bridge.remote} refused"):
            store.commit(parent, writes={path: b"x\n"}, deletes=[], message="m\n")
    finally:
        store.close()
    assert bridge.files() == before


def test_files_a_person_added_with_odd_names_are_deleted_exactly(
    bridge: Bridge, tmp_path: Path
) -> None:
    assert bridge.sync() == 0
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    odd = ["my notes.txt", 'say "hi"\\now.txt', "line\nM 100644 inline README.md", "ünï.yaml"]
    for name in odd:
        (clone / HUB / "t0-web" / name).write_text("by hand\n")
    (clone / "README.md").write_text("kept\n")
    commit_by_hand(clone, "odd names")
    assert bridge.sync() == 0  # stray files in a managed node directory are removed
    files = bridge.files()
    assert not [f for f in files if "by hand" in f or f.endswith(tuple(odd))]
    assert "README.md" in files and bridge.show("README.md") == "kept\n"
    changed = git("--git-dir", str(bridge.remote), "diff", "--name-only", "-z", "HEAD~1", "HEAD")
    assert sorted(changed.strip("\0").split("\0")) == sorted(f"{HUB}/t0-web/{n}" for n in odd)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "x <evil@x> 0 +0000\ncommitter y"), ("name", "a>b"), ("email", "e@x>\nfoo")],
)
def test_author_that_could_break_a_commit_header_is_refused(
    bridge: Bridge, field: str, value: str
) -> None:
    settings = settings_of(bridge)
    author = settings.author.model_copy(update={field: value})
    store = opened(settings.model_copy(update={"author": author}), bridge.root / "work")
    try:
        with pytest.raises(ConfigError, match=f"git.author.{field} .* cannot be part of a Git"):
            store.commit(None, writes={f"{HUB}/a.yaml": b"a\n"}, deletes=[], message="m\n")
    finally:
        store.close()
    assert bridge.head() is None


def test_fsck_check_of_a_large_first_commit_costs_little(bridge: Bridge) -> None:
    import time

    store = opened(settings_of(bridge), bridge.root / "work")
    try:
        writes = {
            f"{HUB}/n{i // 10}/f{i}.yaml": b"kind: ConfigMap\nname: f%d\n" % i
            for i in range(10_000)
        }
        sha = store.commit(None, writes=writes, deletes=[], message="big\n")
        started = time.monotonic()
        store.verify(sha)
        first = time.monotonic() - started
        child = store.commit(sha, writes={f"{HUB}/n0/f0.yaml": b"x\n"}, deletes=[], message="m\n")
        started = time.monotonic()
        store.verify(child)
        small = time.monotonic() - started
    finally:
        store.close()
    print(f"verify: 10,000-file first commit {first:.2f}s, one-file commit {small:.3f}s")
    assert first < 20 and small < 2


# ---------------------------------------------------------------- the mirror heals


@pytest.mark.parametrize(
    "lock",
    [
        "index.lock",
        "HEAD.lock",
        "config.lock",
        "packed-refs.lock",
        "shallow.lock",
        "refs/remotes/origin/main.lock",
        "refs/lynq-bridge/staging.lock",
        "objects/info/commit-graph.lock",
    ],
)
def test_stale_git_lock_after_a_kill_is_removed(
    bridge: Bridge, sqlite_db: SqliteDatabase, lock: str
) -> None:
    assert bridge.sync() == 0
    stale = mirror(bridge) / lock
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("")
    sqlite_db.execute("UPDATE tenants SET replicas = 5 WHERE tenant_id = 't1'")
    assert bridge.sync() == 0
    assert not stale.exists()
    assert bridge.load(f"{HUB}/t1-web/deployment_default_t1-app.yaml")["spec"]["replicas"] == 5


def test_the_check_before_the_push_leaves_no_file_behind(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert bridge.sync() == 0 and bridge.head() is not None
    assert sorted(p.name for p in (bridge.root / "work").iterdir()) == [
        "lynq-bridge.lock",
        "mirror.git",
        "settled",  # what the next process plans a few changed rows from (settledfile)
    ]
    assert not list(elsewhere.iterdir())


def test_lock_of_a_running_bridge_is_respected(bridge: Bridge) -> None:
    first = opened(settings_of(bridge), bridge.root / "work")
    try:
        with pytest.raises(GitUnavailable, match="is in use by another lynq-bridge process"):
            opened(settings_of(bridge), bridge.root / "work")
    finally:
        first.close()
    assert (bridge.root / "work" / "lynq-bridge.lock").is_file()
    assert not (mirror(bridge) / "lynq-bridge.lock").exists()  # not among git's own files


def damage_head(repo: Path) -> None:
    (repo / "HEAD").write_text("garbage\n")


def damage_config(repo: Path) -> None:
    (repo / "config").write_text("[core\n\tbare = maybe\n")


def damage_ref(repo: Path) -> None:
    (repo / "refs" / "remotes" / "origin").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "remotes" / "origin" / "main").write_text("1" * 40 + "\n")


def damage_packed_ref(repo: Path) -> None:
    git("--git-dir", str(repo), "pack-refs", "--all")
    (repo / "packed-refs").write_text("2" * 40 + " refs/remotes/origin/main\n")


def damage_shallow(repo: Path) -> None:
    (repo / "shallow").write_text("garbage\n")


def make_objects_loose(repo: Path) -> None:
    """Unpack the mirror's packs (commits arrive as packs) into loose objects."""
    for pack in (repo / "objects" / "pack").glob("pack-*.pack"):
        data = pack.read_bytes()
        for leftover in pack.parent.glob(f"{pack.stem}.*"):
            leftover.unlink()
        subprocess.run(
            ["git", "--git-dir", str(repo), "unpack-objects", "-q"], input=data, check=True
        )


def damage_empty_loose_object(repo: Path) -> None:
    blob = git("--git-dir", str(repo), "rev-parse", f"{STAGING}:{HUB}/.lynq-inputs").strip()
    make_objects_loose(repo)
    loose = repo / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.write_bytes(b"")


def damage_truncated_pack(repo: Path) -> None:
    git("--git-dir", str(repo), "repack", "-q", "-a", "-d")
    (pack,) = (repo / "objects" / "pack").glob("pack-*.pack")
    pack.chmod(0o644)
    pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])


def damage_pack_body(repo: Path) -> None:
    git("--git-dir", str(repo), "repack", "-q", "-a", "-d")
    (pack,) = (repo / "objects" / "pack").glob("pack-*.pack")
    data = bytearray(pack.read_bytes())
    data[12:-20] = b"\x55" * (len(data) - 32)  # same length and trailer: only reads can tell
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))


def damage_mirror_is_a_file(repo: Path) -> None:
    subprocess.run(["rm", "-rf", str(repo)], check=True)
    repo.write_text("not a repository\n")


@pytest.mark.parametrize(
    "damage",
    [
        damage_head,
        damage_config,
        damage_ref,
        damage_packed_ref,
        damage_shallow,
        damage_empty_loose_object,
        damage_truncated_pack,
        damage_pack_body,
        damage_mirror_is_a_file,
    ],
    ids=lambda f: f.__name__.removeprefix("damage_"),
)
def test_damaged_mirror_is_rebuilt_from_the_remote(
    bridge: Bridge, sqlite_db: SqliteDatabase, damage: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bridge.sync() == 0
    damage(mirror(bridge))
    sqlite_db.execute("UPDATE tenants SET replicas = 6 WHERE tenant_id = 't2'")
    assert bridge.sync() == 0
    assert "rebuilding the Git mirror" in capsys.readouterr().err
    assert "Traceback" not in capsys.readouterr().err
    assert bridge.load(f"{HUB}/t2-web/deployment_default_t2-app.yaml")["spec"]["replicas"] == 6
    assert bridge.commits() == 2
    assert fsck(mirror(bridge)).returncode == 0


def test_corrupt_object_found_by_a_read_costs_at_most_one_failed_sync(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    assert bridge.sync() == 0
    sqlite_db.execute("UPDATE tenants SET replicas = 3 WHERE tenant_id = 't3'")
    assert bridge.sync() == 0
    repo = mirror(bridge)
    git("--git-dir", str(repo), "repack", "-q", "-a", "-d")
    blob = git("--git-dir", str(repo), "rev-parse", f"{STAGING}:{HUB}/.lynq-inputs").strip()
    (index,) = (repo / "objects" / "pack").glob("pack-*.idx")
    with index.open("rb") as stdin:
        offsets = subprocess.run(
            ["git", "show-index"], stdin=stdin, capture_output=True, check=True, text=True
        ).stdout
    offset = next(int(line.split()[0]) for line in offsets.splitlines() if blob in line)
    pack = index.with_suffix(".pack")
    data = bytearray(pack.read_bytes())
    data[offset + 4 : offset + 24] = b"\x55" * 20  # inside one blob: the cheap check passes
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    sqlite_db.execute("UPDATE tenants SET replicas = 7 WHERE tenant_id = 't3'")
    assert bridge.sync() in (0, 1)  # reading the blob fails and drops the mirror (or retries)
    assert not pack.exists()
    assert bridge.sync() == 0
    assert bridge.load(f"{HUB}/t3-web/deployment_default_t3-app.yaml")["spec"]["replicas"] == 7


def test_fetch_failing_on_a_damaged_mirror_is_retried_into_a_fresh_one(
    bridge: Bridge, sqlite_db: SqliteDatabase, tmp_path: Path
) -> None:
    assert bridge.sync() == 0
    # Damage that the cheap check does not look at, but that makes every fetch fail.
    (mirror(bridge) / "FETCH_HEAD").mkdir()
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    (clone / "README.md").write_text("moved\n")
    commit_by_hand(clone, "readme")
    sqlite_db.execute("UPDATE tenants SET replicas = 4 WHERE tenant_id = 't0'")
    assert bridge.sync() == 0
    assert bridge.load(f"{HUB}/t0-web/deployment_default_t0-app.yaml")["spec"]["replicas"] == 4
    assert "README.md" in bridge.files()


def test_lost_history_object_costs_at_most_one_failed_sync(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    assert bridge.sync() == 0
    sqlite_db.execute("UPDATE tenants SET replicas = 2 WHERE tenant_id = 't0'")
    assert bridge.sync() == 0
    assert bridge.sync() == 0  # fetches the head: every ref of the mirror now points to it
    # The older commit is lost: refs and their trees are fine, "git log" cannot read it.
    first = git("--git-dir", str(bridge.remote), "rev-parse", "main~1").strip()
    make_objects_loose(mirror(bridge))
    (mirror(bridge) / "objects" / first[:2] / first[2:]).unlink()
    sqlite_db.execute("UPDATE tenants SET replicas = 4 WHERE tenant_id = 't0'")
    assert bridge.sync() in (0, 1)
    assert bridge.sync() == 0
    assert bridge.load(f"{HUB}/t0-web/deployment_default_t0-app.yaml")["spec"]["replicas"] == 4


def test_work_dir_that_is_a_file_is_one_sentence_with_exit_2(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    (bridge.root / "work").write_text("oops\n")
    assert bridge.sync() == 2
    err = capsys.readouterr().err
    assert f"error: git.workDir {bridge.root / 'work'} is a file, not a directory" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_work_dir_whose_lock_cannot_be_opened_is_one_sentence(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    # As root no permission bit stops us; a directory where the lock file belongs does.
    (bridge.root / "work" / "lynq-bridge.lock").mkdir(parents=True)
    assert bridge.sync() == 1
    err = capsys.readouterr().err
    assert f"work directory {bridge.root / 'work'} cannot be used" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_work_dir_below_a_file_is_one_sentence(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    (bridge.root / "blocker").write_text("a file\n")
    spec = bridge.load_config_document("lynq-bridge.yaml")
    spec["spec"]["git"]["workDir"] = str(bridge.root / "blocker" / "work")
    bridge.write("lynq-bridge.yaml", spec)
    assert bridge.sync() == 1
    err = capsys.readouterr().err
    assert "cannot be created" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_file_in_place_of_the_default_cache_mirror_is_replaced(
    bridge: Bridge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lynq_bridge.sync import default_work_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = bridge.load_config_document("lynq-bridge.yaml")
    del spec["spec"]["git"]["workDir"]
    bridge.write("lynq-bridge.yaml", spec)
    settings = settings_of(bridge)
    cached = default_work_dir(settings.url, settings.branch)
    cached.parent.mkdir(parents=True)
    cached.write_text("left by something else\n")
    assert bridge.sync() == 0
    assert cached.is_dir() and bridge.nodes() == [f"t{i}-web" for i in range(4)]


def test_mirror_of_an_older_version_in_the_work_dir_itself_is_dropped(bridge: Bridge) -> None:
    work = bridge.root / "work"
    git("init", "--quiet", "--bare", str(work))
    (work / ".lynq-bridge.lock").write_text("")
    (work / "notes.txt").write_text("not ours: kept\n")
    assert bridge.sync() == 0
    assert sorted(p.name for p in work.iterdir()) == [
        "lynq-bridge.lock",
        "mirror.git",
        "notes.txt",
        "settled",
    ]


# ---------------------------------------------------------------- helpers


def _commit_tree(repo: str, tree: str, *options: str) -> str:
    """``git commit-tree TREE OPTIONS…`` in ``repo`` (``-p PARENT``, ``-m MESSAGE``): a commit
    the bridge would never make, to show that ``push`` refuses it."""
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    return git("--git-dir", repo, *identity, "commit-tree", tree, *options).strip()


def _blob(repo: str, data: bytes) -> str:
    return (
        subprocess.run(
            ["git", "--git-dir", repo, "hash-object", "-w", "--stdin"],
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def _write_tree(repo: str, entries: list[tuple[bytes, bytes, str]]) -> str:
    """A tree object written literally (``git mktree`` refuses names fsck rejects)."""
    ordered = sorted(entries, key=lambda e: e[1] + (b"/" if e[0] == b"40000" else b""))
    body = b"".join(mode + b" " + name + b"\0" + bytes.fromhex(sha) for mode, name, sha in ordered)
    return (
        subprocess.run(
            ["git", "--git-dir", repo, "hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
            input=body,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def _replace_entry(repo: str, tree: str, name: bytes, sha: str, mode: bytes) -> str:
    """``tree`` with the entry ``name`` added or replaced."""
    listing = subprocess.run(
        ["git", "--git-dir", repo, "ls-tree", "-z", tree],
        capture_output=True,
        check=True,
    ).stdout
    entries = []
    for record in filter(None, listing.split(b"\0")):
        meta, _, entry_name = record.partition(b"\t")
        entry_mode, _kind, entry_sha = meta.split(b" ")
        if entry_name != name:
            entries.append((entry_mode.lstrip(b"0"), entry_name, entry_sha.decode()))
    entries.append((mode, name, sha))
    return _write_tree(repo, entries)
