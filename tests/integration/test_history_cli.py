"""``lynq-bridge history`` on a remote written by real ``sync`` runs (SQLite, real git)."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

import pytest
from bridge_harness import Bridge, SqliteDatabase, commit_by_hand, git

HUB_DIR = "lynq/default/tenants"


@pytest.fixture(scope="module")
def story(
    tmp_path_factory: pytest.TempPathFactory, create_tenants: Any
) -> tuple[Bridge, list[str]]:
    """Insert, update, deactivate, a guard hold and a row that forms no node; the commits."""
    root = tmp_path_factory.mktemp("history")
    db = SqliteDatabase(root / "tenants.db")
    create_tenants(
        db,
        [
            {"tenant_id": "acme", "active": "1", "domain": "acme.io"},
            {"tenant_id": "acme-eu", "active": "1"},
            {"tenant_id": "globex", "active": "1"},
            {"tenant_id": "initech", "active": "1"},
            {"tenant_id": "umbrella", "active": "1"},
        ],
    )
    bridge = Bridge(root / "bridge", db)
    commits = []
    assert bridge.sync() == 0
    commits.append(bridge.head())
    db.execute("UPDATE tenants SET replicas = 3 WHERE tenant_id = 'acme'")
    assert bridge.sync() == 0
    commits.append(bridge.head())
    db.execute("UPDATE tenants SET active = '0' WHERE tenant_id = 'globex'")
    assert bridge.sync() == 0
    commits.append(bridge.head())
    db.execute(
        "DELETE FROM tenants WHERE tenant_id IN ('initech', 'umbrella', 'acme-eu')",
        "INSERT INTO tenants (tenant_id, active) VALUES ('Evil\n\"--all', '1')",
        "INSERT INTO tenants (tenant_id, active) VALUES ('hooli', '1')",
    )
    assert bridge.sync() == 1  # the row error; the removals are held too
    commits.append(bridge.head())
    assert len(set(commits)) == 4
    return bridge, [c or "" for c in commits]


def run(bridge: Bridge, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = bridge.cli("history", *args)
    out, err = capsys.readouterr()
    return code, out, err


def entries(bridge: Bridge, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(bridge, capsys, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


Story = tuple[Bridge, list[str]]


def test_uid_lists_its_commits_in_order_with_actions(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge, commits = story
    found = entries(bridge, capsys, "--uid", "acme")
    assert [(e["commit"], e["action"], e["node"]) for e in found] == [
        (commits[0], "added", "acme-web"),
        (commits[1], "updated", "acme-web"),
    ]
    assert found[1]["resources"] == ["app"]
    assert found[0]["uid"] == "acme" and found[0]["form"] == "web"
    message = bridge.message(commits[1])
    assert f"Lynq-Form-Revision: {found[1]['formRevision']}" in message
    assert f"Lynq-Snapshot: {found[1]['snapshot']}" in message


def test_uid_is_not_a_prefix_of_another_uids_nodes(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge, commits = story
    found = entries(bridge, capsys, "--uid", "acme-eu")
    assert [(e["commit"], e["action"], e["node"]) for e in found] == [
        (commits[0], "added", "acme-eu-web"),
        (commits[3], "held", "acme-eu-web"),
    ]


def test_removed_and_held_nodes_are_listed(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge, commits = story
    removed = entries(bridge, capsys, "--node", "globex-web")
    assert [(e["commit"], e["action"], e["uid"]) for e in removed] == [
        (commits[0], "added", "globex"),
        (commits[2], "removed", "globex"),
    ]
    held = entries(bridge, capsys, "--uid", "initech", "--hub", "default/tenants")
    assert [(e["commit"], e["action"]) for e in held] == [
        (commits[0], "added"),
        (commits[3], "held"),
    ]


def test_hostile_uid_finds_its_render_error_and_prints_one_line(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge, commits = story
    uid = 'Evil\n"--all'
    found = entries(bridge, capsys, "--uid", uid)
    assert [(e["commit"], e["action"], e["node"], e["uid"]) for e in found] == [
        (commits[3], "error", "", uid)
    ]
    assert '"Evil\\n\\"--all"' in found[0]["error"]
    code, out, _err = run(bridge, capsys, "--uid", uid)
    assert code == 0
    assert len(out.splitlines()) == 1
    assert out.startswith(found[0]["date"]) and " error " in out


def test_option_like_uid_is_compared_not_given_to_git(
    story: Story, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bridge, _commits = story
    assert entries(bridge, capsys, "--uid=--all") == []
    assert entries(bridge, capsys, f"--uid=--output={tmp_path}/x") == []
    assert not (tmp_path / "x").exists()


def test_history_runs_while_the_daemon_holds_its_work_directory(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge, commits = story
    with (bridge.root / "work" / "lynq-bridge.lock").open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        found = entries(bridge, capsys, "--node", "acme-web")
    assert [e["commit"] for e in found] == commits[:2]


def test_since_in_the_future_lists_nothing_and_an_unreadable_date_is_refused(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge, _commits = story
    assert entries(bridge, capsys, "--uid", "acme", "--since", "9999-01-01") == []
    assert len(entries(bridge, capsys, "--uid", "acme", "--since", "2000-01-01")) == 2
    code, _out, err = run(bridge, capsys, "--uid", "acme", "--since", "last tuesday")
    assert code == 2
    assert '--since "last tuesday" is no ISO 8601 date' in err


def test_json_entries_have_stable_keys(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    bridge, _commits = story
    found = entries(bridge, capsys)
    assert found
    for entry in found:
        assert list(entry) == [
            "commit",
            "date",
            "hub",
            "action",
            "node",
            "uid",
            "form",
            "formRevision",
            "snapshot",
            "resources",
            "error",
        ]
        assert entry["hub"] == "default/tenants"


def test_show_prints_only_the_nodes_files(story: Story, capsys: pytest.CaptureFixture[str]) -> None:
    bridge, commits = story
    code, out, err = run(bridge, capsys, "--node", "acme-web", "--show", commits[0][:12])
    assert code == 0, err
    assert f"commit {commits[0]}" in out
    assert f"+++ b/{HUB_DIR}/acme-web/lynqnode.yaml" in out
    assert "globex" not in out.split("diff --git", 1)[1]
    assert f"{HUB_DIR}/kustomization.yaml" not in out


def test_show_of_a_commit_outside_the_query_is_refused(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge, commits = story
    code, _out, err = run(bridge, capsys, "--node", "acme-web", "--show", commits[2])
    assert code == 2
    assert "is in no entry of this query's history" in err


def test_history_reads_the_remote_not_the_daemons_mirror(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge, _commits = story
    assert entries(bridge, capsys, "--node", "acme-web")
    mirror = bridge.root / "work" / "history" / "mirror.git"
    assert git("--git-dir", str(mirror), "rev-parse", "refs/remotes/origin/main").strip() == (
        bridge.head()
    )


def test_show_escapes_a_hand_edits_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], create_tenants: Any
) -> None:
    # A person commits a terminal escape sequence into a node's file; the bridge's next commit
    # of that node removes it, and its diff shows the removed line: never the raw bytes.
    db = SqliteDatabase(tmp_path / "tenants.db")
    create_tenants(db, [{"tenant_id": "acme", "active": "1"}])
    bridge = Bridge(tmp_path / "bridge", db)
    assert bridge.sync() == 0
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    node_dir = clone / HUB_DIR / "acme-web"
    victim = next(p for p in sorted(node_dir.iterdir()) if p.name != "lynqnode.yaml")
    victim.write_bytes(victim.read_bytes() + b"# \x1b]2;pwned\x07\x1b[31m red\n")
    commit_by_hand(clone, "hand edit")
    db.execute("UPDATE tenants SET replicas = 5 WHERE tenant_id = 'acme'")
    assert bridge.sync() == 0
    code, out, err = run(bridge, capsys, "--node", "acme-web", "--show", bridge.head() or "")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert "-# \\x1b]2;pwned\\x07\\x1b[31m red" in out
