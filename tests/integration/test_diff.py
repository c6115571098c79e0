"""``lynq-bridge diff``: two revisions of the forms rendered against the current rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge_harness import Bridge, SqliteDatabase, commit_by_hand, git

from lynq_bridge.cli import main

ROWS = [{"tenant_id": t, "active": "1", "plan": p} for t, p in (("a", "pro"), ("b", ""), ("c", ""))]


def config_repo(tmp_path: Path, sqlite_database: Path, create_tenants: Any) -> Bridge:
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, ROWS)
    bridge = Bridge(tmp_path, db)
    git("init", "-q", str(bridge.config))
    commit_by_hand(bridge.config, "forms v1", push=False)
    return bridge


def test_diff_shows_blast_radius_and_file_changes(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, capsys: Any
) -> None:
    bridge = config_repo(tmp_path, sqlite_database, create_tenants)
    form = bridge.config / "form.yaml"
    form.write_text(form.read_text().replace("default('basic')", "default('starter')"))
    commit_by_hand(bridge.config, "forms v2", push=False)
    capsys.readouterr()
    code = main(["diff", "--config", str(bridge.config), "--base", "HEAD~1", "--head", "HEAD"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].startswith("2 of 3 node(s) change, 0 added, 0 removed")
    assert "  changed: default/tenants/b-web" in out
    assert "--- a/default/tenants/b-web/deployment_default_b-app.yaml" in out
    assert "-          value: basic" in out and "+          value: starter" in out
    assert "a-web/deployment" not in out  # its plan is set: untouched by the default


def test_diff_against_the_working_tree_shows_added_resources(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, capsys: Any
) -> None:
    bridge = config_repo(tmp_path, sqlite_database, create_tenants)
    form = bridge.config / "form.yaml"
    form.write_text(
        form.read_text()
        + (
            "  configMaps:\n"
            "    - id: extra\n"
            '      nameTemplate: "{{ uid }}-extra"\n'
            "      spec: {apiVersion: v1, kind: ConfigMap, data: {k: v}}\n"
        )
    )
    capsys.readouterr()
    assert main(["diff", "--config", str(bridge.config), "--base", "HEAD"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 of 3 node(s) change")
    assert "+++ b/default/tenants/c-web/configmap_default_c-extra.yaml" in out


def test_diff_with_unknown_revision_fails_with_one_sentence(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, capsys: Any
) -> None:
    bridge = config_repo(tmp_path, sqlite_database, create_tenants)
    assert main(["diff", "--config", str(bridge.config), "--base", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: revision nope of ") and "Not a valid object name nope" in err
