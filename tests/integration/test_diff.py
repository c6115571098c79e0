"""``lynq-bridge diff``: two revisions of the forms rendered against the current rows."""

from __future__ import annotations

import json
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


def diff_output(bridge: Bridge, capsys: Any, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(
        ["diff", "--config", str(bridge.config), "--base", "HEAD~1", "--head", "HEAD", *args]
    )
    return code, capsys.readouterr().out


def change_default_plan_with_max_skew(bridge: Bridge) -> None:
    form = bridge.config / "form.yaml"
    text = form.read_text().replace("default('basic')", "default('starter')")
    form.write_text(
        text.replace("  hubId: tenants\n", "  hubId: tenants\n  rollout: {maxSkew: 2}\n")
    )
    settings = bridge.load_config_document("lynq-bridge.yaml")
    settings["spec"]["report"] = {"enabled": True}  # maxSkew needs cluster access
    bridge.write("lynq-bridge.yaml", settings)
    # A document the bridge does not read: a policy gap the change introduces.
    bridge.write("extra.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    commit_by_hand(bridge.config, "forms v2", push=False)


def test_markdown_diff_summarises_nodes_kinds_guard_rollout_and_policy_gaps(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, capsys: Any
) -> None:
    bridge = config_repo(tmp_path, sqlite_database, create_tenants)
    change_default_plan_with_max_skew(bridge)
    code, out = diff_output(bridge, capsys, "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "<!-- lynq-bridge-diff -->"
    assert "**2 of 3 node(s) change, 0 added, 0 removed** in 1 hub(s)." in lines
    assert "| default/tenants | 2 | 0 | 0 | 3 | pass |" in lines
    assert "| default/tenants | Deployment | 0 | 2 | 0 |" in lines
    assert "| default/tenants | LynqNode | 0 | 2 | 0 |" in lines
    assert "- default/tenants: passes: no node removed" in lines
    assert (
        "- default/tenants, form web: maxSkew 2: 2 node(s) change, at most 2 updating at a time; "
        "a node whose only change is the form waits until the ones before it are Ready (new rows "
        "and row changes do not)"
    ) in lines
    assert any(line.startswith("- **new** extra.yaml") and "ConfigMap" in line for line in lines)
    summary = "<details><summary>default/tenants/b-web/deployment&#95;default&#95;b-app.yaml"
    assert f"{summary} (changed)</summary>" in lines
    assert "+          value: starter" in lines
    assert out.index("**Deletion guard**") < out.index("**Files**")  # summary first


def test_json_diff_follows_the_documented_schema(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, capsys: Any
) -> None:
    bridge = config_repo(tmp_path, sqlite_database, create_tenants)
    change_default_plan_with_max_skew(bridge)
    code, out = diff_output(bridge, capsys, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert sorted(document) == ["errors", "hubs", "warnings"]
    (hub,) = document["hubs"]
    assert hub["hub"] == "default/tenants"
    assert hub["nodes"] == {"total": 3, "added": [], "changed": ["b-web", "c-web"], "removed": []}
    assert {"kind": "Deployment", "change": "changed", "count": 2} in hub["objects"]
    assert hub["guard"] == {
        "verdict": "pass",
        "removing": 0,
        "existing": 3,
        "maxDeletePercent": 25,
        "allowMassDelete": False,
    }
    assert hub["rollout"] == [{"form": "web", "maxSkew": 2, "nodes": 2, "implemented": True}]
    paths = [f["path"] for f in hub["files"]]
    assert paths == sorted(paths) and all(f["change"] == "changed" for f in hub["files"])
    assert "+          value: starter" in hub["files"][0]["diff"]
    assert [w["new"] for w in document["warnings"] if "extra.yaml" in w["message"]] == [True]


def test_diff_exits_3_when_the_guard_would_hold_the_removals_of_a_renamed_form(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, capsys: Any
) -> None:
    bridge = config_repo(tmp_path, sqlite_database, create_tenants)
    form = bridge.config / "form.yaml"
    form.write_text(form.read_text().replace("name: web,", "name: site,"))
    commit_by_hand(bridge.config, "rename the form", push=False)
    code, out = diff_output(bridge, capsys, "--format", "markdown")
    assert code == 3
    assert "| default/tenants | 0 | 3 | 3 | 6 | **HOLD** |" in out
    assert "would hold 3 of 3 node removal(s) (maxDeletePercent 25)" in out
    code, out = diff_output(bridge, capsys)  # text: same exit code, output as before
    assert code == 3 and out.startswith("0 of 6 node(s) change, 3 added, 3 removed")
