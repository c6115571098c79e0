"""``git.layout: sharded`` through real Git: what a commit of one node touches, and switching
layouts in both directions without losing or leaving anything.

The sharded layout exists for hubs of many thousands of nodes (README: Large hubs): a commit of
one node must rewrite only that node's shard, so the test checks the exact set of paths a one-row
commit changes. Switching layouts moves every node once; the tree afterwards must be exactly what
``render --out`` writes for the new layout, with nothing left in the old places, no node
counted as removed, and a node that fails to render kept whole where it was.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase, commit_by_hand, git

HUB = "default/tenants"
PREFIX = f"lynq/{HUB}/"
ROWS = [
    {"tenant_id": t, "active": "1", "domain": f"{t}.example.com"}
    for t in ("acme", "beta", "gamma", "delta", "epsilon")
]


def shard(node: str) -> str:
    return hashlib.sha256(node.encode()).hexdigest()[:2]


@pytest.fixture
def bridge(tmp_path: Path, sqlite_database: Path, create_tenants: Any) -> Bridge:
    database = SqliteDatabase(sqlite_database)
    create_tenants(database, ROWS)
    spec = {"target": "both", "git": {"layout": "sharded"}}
    return Bridge(tmp_path, database, bridge_spec=spec)


def set_layout(bridge: Bridge, layout: str) -> None:
    document = bridge.load_config_document("lynq-bridge.yaml")
    document["spec"]["git"]["layout"] = layout
    bridge.write("lynq-bridge.yaml", document)


def committed(bridge: Bridge) -> dict[str, str]:
    return {p.removeprefix(PREFIX): bridge.show(p) for p in bridge.files()}


def rendered(bridge: Bridge, name: str) -> dict[str, str]:
    out = bridge.root / name
    assert bridge.cli("render", "--out", str(out)) == 0
    return {
        str(f.relative_to(out / HUB)): f.read_text() for f in (out / HUB).rglob("*") if f.is_file()
    }


def changed_paths(bridge: Bridge) -> list[str]:
    out = git("--git-dir", str(bridge.remote), "diff", "--name-only", "main~1", "main")
    return sorted(p.removeprefix(PREFIX) for p in out.split())


def test_nodes_land_in_their_shards_and_every_listing_names_them(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    files = committed(bridge)
    nodes = [f"{row['tenant_id']}-web" for row in ROWS]
    for node in nodes:
        s = shard(node)
        assert f"{s}/{node}/level-0/lynqnode.yaml" in files
        assert f"argocd/{s}/{node}.yaml" in files
        assert node in yaml.safe_load(files[f"{s}/kustomization.yaml"])["resources"]
        assert (
            f"{node}.yaml" in yaml.safe_load(files[f"argocd/{s}/kustomization.yaml"])["resources"]
        )
        assert node in files[f"{s}/.lynq-inputs"]
        app = yaml.safe_load(files[f"argocd/{s}/{node}.yaml"])
        assert app["spec"]["source"]["path"] == f"lynq/{HUB}/{s}/{node}"
        level = yaml.safe_load(files[f"flux/{s}/{node}/level-0.yaml"])
        assert level["spec"]["path"] == f"./lynq/{HUB}/{s}/{node}/level-0"
    shards = sorted({shard(n) for n in nodes})
    assert yaml.safe_load(files["kustomization.yaml"])["resources"] == shards
    assert yaml.safe_load(files["argocd/kustomization.yaml"])["resources"] == shards
    assert yaml.safe_load(files["flux/kustomization.yaml"])["resources"] == shards
    # The hub's own index holds only the rollout records (none here), the shards' the nodes.
    assert not [line for line in files[".lynq-inputs"].splitlines() if not line.startswith("#")]
    assert not [p for p in files if p.split("/")[0] in nodes]  # nothing flat
    assert committed(bridge) == rendered(bridge, "out")


def test_a_one_row_commit_rewrites_only_that_nodes_shard(
    bridge: Bridge, sqlite_database: Path
) -> None:
    """The point of the layout: the hub's own files and every other shard stay as they are."""
    assert bridge.sync() == 0
    SqliteDatabase(sqlite_database).execute(
        "UPDATE tenants SET replicas = 4 WHERE tenant_id = 'gamma'"
    )
    assert bridge.sync() == 0
    s = shard("gamma-web")
    changed = changed_paths(bridge)
    inside = [p for p in changed if p.startswith(f"{s}/gamma-web/")]
    assert sorted(set(changed) - set(inside)) == [f"{s}/.lynq-inputs"]
    assert f"{s}/gamma-web/level-0/lynqnode.yaml" in inside
    assert [p for p in inside if p.startswith(f"{s}/gamma-web/level-0/deployment")], inside


@pytest.mark.parametrize("at_once", [None, 2])
def test_switching_layouts_moves_every_node_once_and_leaves_nothing_behind(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, at_once: int | None
) -> None:
    """(``at_once``: as many misplaced nodes as a hub of 100,000 has, which are listed with the
    whole hub instead of one path each: too many for one command line.)"""
    if at_once is not None:
        monkeypatch.setattr("lynq_bridge.adapters.gitstore.LIST_NODES_AT_ONCE", at_once)
    set_layout(bridge, "flat")
    assert bridge.sync() == 0
    flat = committed(bridge)
    nodes = sorted(f"{row['tenant_id']}-web" for row in ROWS)
    for layout in ("sharded", "flat"):
        set_layout(bridge, layout)
        assert bridge.sync() == 0
        message = bridge.message()
        assert re.search(r"^Lynq-Nodes-Removed:$", message, re.M), message
        assert re.search(r"^Lynq-Nodes-Held:$", message, re.M), message
        assert f"Lynq-Nodes-Updated: {', '.join(nodes)}" in message
        files = committed(bridge)
        assert files == rendered(bridge, f"out-{layout}")
        where = {shard(n): n for n in nodes} if layout == "sharded" else {}
        tops = {p.split("/")[0] for p in files}
        assert tops & set(nodes) == (set() if where else set(nodes))
        assert tops & set(where) == set(where)
        # The manifests moved unchanged (the engine files name the new paths).
        for node in nodes:
            moved = f"{shard(node)}/{node}" if where else node
            for path, content in flat.items():
                if path.startswith(f"{node}/"):
                    assert files[f"{moved}/{path.removeprefix(f'{node}/')}"] == content
        head = bridge.head()
        assert bridge.sync() == 0 and bridge.head() == head  # settled: nothing more to do
    assert committed(bridge) == flat


def test_a_node_that_fails_to_render_stays_where_it_is_until_it_renders(
    bridge: Bridge,
) -> None:
    """A layout switch never drops the files a render error keeps: the failing node stays in
    its old directory, still listed, and moves with its next clean render."""
    set_layout(bridge, "flat")
    assert bridge.sync() == 0
    service = "gamma-web/level-1/service_default_gamma-app.yaml"
    before = bridge.show(PREFIX + service)
    form = (bridge.config / "form.yaml").read_text()
    broken = form.replace(
        'selector: {app: "{{ uid }}"}',
        "selector: {app: \"{{ uid }}{{ plann if uid == 'gamma' else '' }}\"}",
    )
    assert broken != form
    (bridge.config / "form.yaml").write_text(broken)
    set_layout(bridge, "sharded")
    assert bridge.sync() == 1  # gamma's service failed; everything else is committed
    files = committed(bridge)
    assert files[service] == before
    assert "gamma-web" in yaml.safe_load(files["kustomization.yaml"])["resources"]
    assert "argocd/gamma-web.yaml" in files and "flux/gamma-web/level-1.yaml" in files
    assert not [p for p in files if p.startswith(f"{shard('gamma-web')}/gamma-web/")]
    others = [f"{row['tenant_id']}-web" for row in ROWS if row["tenant_id"] != "gamma"]
    for node in others:
        assert f"{shard(node)}/{node}/level-0/lynqnode.yaml" in files
        assert not [p for p in files if p.startswith(f"{node}/")]
    (bridge.config / "form.yaml").write_text(form)
    assert bridge.sync() == 0
    assert committed(bridge) == rendered(bridge, "out")
    assert not [p for p in committed(bridge) if p.startswith("gamma-web/")]


@pytest.mark.parametrize("at_once", [None, 0])
def test_a_node_moved_by_hand_into_another_shard_is_put_back(
    bridge: Bridge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at_once: int | None
) -> None:
    if at_once is not None:
        monkeypatch.setattr("lynq_bridge.adapters.gitstore.LIST_NODES_AT_ONCE", at_once)
    assert bridge.sync() == 0
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    home = shard("beta-web")
    wrong = next(s for s in (shard(f"{r['tenant_id']}-web") for r in ROWS) if s != home)
    hub = clone / "lynq" / "default" / "tenants"
    git("-C", str(clone), "mv", f"{hub}/{home}/beta-web", f"{hub}/{wrong}/beta-web")
    commit_by_hand(clone, "move a node")
    assert f"{wrong}/beta-web/level-0/lynqnode.yaml" in committed(bridge)
    assert bridge.sync() == 0
    assert committed(bridge) == rendered(bridge, "out")


def full_renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one with every full render of a hub (``render_hub`` in a sync)."""
    import lynq_bridge.sync as sync_module

    full: list[int] = []
    real = sync_module.render_hub

    def counting(*args: Any, **options: Any) -> Any:
        full.append(1)
        return real(*args, **options)

    monkeypatch.setattr(sync_module, "render_hub", counting)
    return full


@pytest.mark.parametrize("layout", ["flat", "sharded"])
def test_a_daemon_plans_changed_and_new_rows_of_a_settled_hub_without_the_full_path(
    bridge: Bridge,
    sqlite_database: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    layout: str,
) -> None:
    """Value changes, new rows and rows that go of a settled hub take ``core.delta``; a Flux
    level that goes or a commit by someone else take the full path; either way the branch ends
    where a fresh process's render does."""
    import lynq_bridge.sync as sync_module
    from lynq_bridge.config.loading import load_config

    set_layout(bridge, layout)
    full = full_renders(monkeypatch)
    database = SqliteDatabase(sqlite_database)
    daemon = sync_module.Syncer(load_config(bridge.config))
    try:
        assert daemon.sync_all()[0].commit and len(full) == 1
        steps = [  # (statement, full renders it takes, nodes after it)
            ("UPDATE tenants SET replicas = 5 WHERE tenant_id = 'acme'", 0, 5),
            # The Ingress goes, and with it the node's last level and Flux Kustomization.
            ("UPDATE tenants SET domain = NULL WHERE tenant_id = 'beta'", 1, 5),
            ("INSERT INTO tenants (tenant_id, active) VALUES ('zeta', '1')", 0, 6),
            ("UPDATE tenants SET replicas = 2 WHERE tenant_id = 'zeta'", 0, 6),
            (
                "INSERT INTO tenants (tenant_id, active, replicas) VALUES ('eta', '1', 2), "
                "('theta', '1', 3)",
                0,
                8,
            ),
            ("UPDATE tenants SET plan = 'pro' WHERE tenant_id IN ('acme', 'gamma')", 0, 8),
            ("UPDATE tenants SET active = '0' WHERE tenant_id = 'eta'", 0, 7),  # a removal
            ("DELETE FROM tenants WHERE tenant_id = 'theta'", 0, 6),
            # Re-keyed: one node goes, one comes.
            ("UPDATE tenants SET tenant_id = 'iota' WHERE tenant_id = 'zeta'", 0, 6),
            ("UPDATE tenants SET replicas = 4 WHERE tenant_id = 'iota'", 0, 6),
        ]
        for statement, renders, nodes in steps:
            before = len(full)
            database.execute(statement)
            (result,) = daemon.sync_all()
            assert result.commit and not result.failure and not result.errors, statement
            assert (len(full) - before, result.nodes) == (renders, nodes), statement
        # A new row whose uid cannot name a node is the full path's row error, not the delta's.
        before = len(full)
        database.execute("INSERT INTO tenants (tenant_id, active) VALUES ('Not_A_Name', '1')")
        (result,) = daemon.sync_all()
        assert len(full) == before + 1 and "cannot form a node" in " ".join(result.errors)
        database.execute("DELETE FROM tenants WHERE tenant_id = 'Not_A_Name'")
        clone = tmp_path / "person"
        git("clone", "--quiet", str(bridge.remote), str(clone))
        (clone / "README.md").write_text("a person's file\n")
        commit_by_hand(clone, "a person's commit")
        database.execute("UPDATE tenants SET replicas = 4 WHERE tenant_id = 'acme'")
        before = len(full)
        assert daemon.sync_all()[0].commit and len(full) == before + 1  # not our head: full
    finally:
        daemon.close()
    head = bridge.head()
    assert bridge.sync() == 0 and bridge.head() == head  # a fresh process: nothing to do
    assert committed(bridge) == {**rendered(bridge, "fresh"), "README.md": "a person's file\n"}


@pytest.mark.parametrize("layout", ["flat", "sharded"])
def test_a_new_process_plans_a_few_rows_from_what_the_last_one_kept(
    bridge: Bridge,
    sqlite_database: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    layout: str,
) -> None:
    """Each ``sync --once`` leaves the hub's settled state in the work directory; the next
    process plans a changed or new row from it alone. A state of another commit (a person
    pushed), a damaged or a missing one is ignored: the full path runs, and the branch ends
    where a fresh render does."""
    import lynq_bridge.core.rows as rows_module
    import lynq_bridge.sync as sync_module
    from lynq_bridge.config.loading import load_config

    set_layout(bridge, layout)
    full = full_renders(monkeypatch)
    converted: list[str] = []  # the records a process turned into rows
    real_row = rows_module._row

    def converting(record: Any, names: Any) -> Any:
        converted.append(record[0])
        return real_row(record, names)

    monkeypatch.setattr(rows_module, "_row", converting)
    database = SqliteDatabase(sqlite_database)
    kept = bridge.root / "work" / "settled"

    def once(statement: str) -> tuple[int, Any]:
        """Run ``statement``, then one sync in a new process's Syncer: (full renders, result)."""
        database.execute(statement)
        before = len(full)
        converted.clear()
        syncer = sync_module.Syncer(load_config(bridge.config))
        try:
            (result,) = syncer.sync_all()
        finally:
            syncer.close()
        assert result.commit and not result.failure and not result.errors, statement
        return len(full) - before, result

    assert once("UPDATE tenants SET replicas = 1 WHERE tenant_id = 'acme'")[0] == 1
    (state,) = kept.iterdir()
    assert once("UPDATE tenants SET replicas = 5 WHERE tenant_id = 'acme'")[0] == 0
    assert converted == ["acme"]  # the other records were known by the kept state
    renders, result = once("INSERT INTO tenants (tenant_id, active) VALUES ('zeta', '1')")
    assert (renders, result.nodes, result.added) == (0, 6, 1)
    data = state.read_bytes()
    state.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of the rows flipped
    assert once("UPDATE tenants SET replicas = 2 WHERE tenant_id = 'zeta'")[0] == 1
    assert once("UPDATE tenants SET replicas = 3 WHERE tenant_id = 'zeta'")[0] == 0
    clone = tmp_path / "person"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    (clone / "README.md").write_text("a person's file\n")
    commit_by_hand(clone, "a person's commit")
    assert once("UPDATE tenants SET replicas = 4 WHERE tenant_id = 'zeta'")[0] == 1
    state.unlink()
    assert once("UPDATE tenants SET replicas = 5 WHERE tenant_id = 'zeta'")[0] == 1
    assert once("UPDATE tenants SET plan = 'pro' WHERE tenant_id = 'beta'")[0] == 0
    renders, result = once("DELETE FROM tenants WHERE tenant_id = 'gamma'")
    assert (renders, result.nodes, result.removed) == (0, 5, 1)
    head = bridge.head()
    assert bridge.sync() == 0 and bridge.head() == head  # a fresh process: nothing to do
    assert committed(bridge) == {**rendered(bridge, "fresh"), "README.md": "a person's file\n"}
