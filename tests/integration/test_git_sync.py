"""Git round trips through a real bare remote: SPEC §6 and the Git rows of §11.

Rows live in SQLite here (the datasource tests cover MariaDB and PostgreSQL); what is under test
is what lands on the remote branch and what does not.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from bridge_harness import FORM, Bridge, SqliteDatabase, commit_by_hand, git

NODE = "lynq/default/tenants/acme-web"
ROWS = [
    {
        "tenant_id": "acme",
        "active": "1",
        "domain": "https://acme.example.com/x",
        "plan": "pro",
        "replicas": 3,
    },
    {"tenant_id": "beta", "active": "yes", "domain": None, "plan": None, "replicas": None},
    {"tenant_id": "gamma", "active": "0", "domain": "g.example.com", "plan": "pro", "replicas": 1},
]


@pytest.fixture
def sqlite_db(sqlite_database: Path) -> SqliteDatabase:
    return SqliteDatabase(sqlite_database)


@pytest.fixture
def bridge(tmp_path: Path, sqlite_db: SqliteDatabase, create_tenants: Any) -> Bridge:
    create_tenants(sqlite_db, ROWS)
    return Bridge(tmp_path, sqlite_db)


def test_first_sync_creates_branch_with_one_commit_of_active_rows(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    assert bridge.commits() == 1
    assert bridge.nodes() == ["acme-web", "beta-web"]
    files = bridge.files()
    assert f"{NODE}/deployment_default_acme-app.yaml" in files
    assert f"{NODE}/ingress_default_acme-web.yaml" in files
    assert "lynq/default/tenants/beta-web/ingress_default_beta-web.yaml" not in files
    assert all(f.startswith("lynq/default/tenants/") for f in files)
    deployment = bridge.load(f"{NODE}/deployment_default_acme-app.yaml")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["labels"]["lynq.sh/node"] == "acme-web"
    ingress = bridge.load(f"{NODE}/ingress_default_acme-web.yaml")
    assert ingress["spec"]["rules"][0]["host"] == "acme.example.com"


def test_second_sync_without_changes_makes_no_commit(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    head = bridge.head()
    assert bridge.sync() == 0
    assert bridge.head() == head


def test_inserted_row_adds_node_in_a_new_commit(bridge: Bridge, sqlite_db: SqliteDatabase) -> None:
    bridge.sync()
    sqlite_db.execute("INSERT INTO tenants (tenant_id, active) VALUES ('delta', 'true')")
    assert bridge.sync() == 0
    assert bridge.commits() == 2
    assert "delta-web" in bridge.nodes()
    message = bridge.message()
    assert "Lynq-Nodes-Added: delta-web" in message
    assert "Lynq-Hub: default/tenants" in message


def test_updated_column_changes_only_that_nodes_files(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    bridge.sync()
    sqlite_db.execute("UPDATE tenants SET replicas = 5 WHERE tenant_id = 'acme'")
    assert bridge.sync() == 0
    changed = git("--git-dir", str(bridge.remote), "diff", "--name-only", "HEAD~1", "HEAD").split()
    assert changed == [
        "lynq/default/tenants/.lynq-inputs",  # the render-input index records the new row
        f"{NODE}/deployment_default_acme-app.yaml",
        f"{NODE}/lynqnode.yaml",
    ]
    message = bridge.message()
    assert "Lynq-Nodes-Updated: acme-web" in message
    assert 'acme-web (uid "acme", form web): app' in message


def test_deactivated_row_removes_node_files(
    tmp_path: Path, sqlite_db: SqliteDatabase, create_tenants: Any
) -> None:
    rows = [{"tenant_id": f"t{i}", "active": "1"} for i in range(5)]
    create_tenants(sqlite_db, rows)
    bridge = Bridge(tmp_path, sqlite_db)
    bridge.sync()
    sqlite_db.execute("UPDATE tenants SET active = '0' WHERE tenant_id = 't2'")
    assert bridge.sync() == 0
    assert "t2-web" not in bridge.nodes()
    assert "Lynq-Nodes-Removed: t2-web" in bridge.message()
    kustomization = bridge.load("lynq/default/tenants/kustomization.yaml")
    assert kustomization["resources"] == ["t0-web", "t1-web", "t3-web", "t4-web"]


def test_deleted_row_is_treated_like_inactive(
    tmp_path: Path, sqlite_db: SqliteDatabase, create_tenants: Any
) -> None:
    create_tenants(sqlite_db, [{"tenant_id": f"t{i}", "active": "1"} for i in range(5)])
    bridge = Bridge(tmp_path, sqlite_db)
    bridge.sync()
    sqlite_db.execute("DELETE FROM tenants WHERE tenant_id = 't4'")
    assert bridge.sync() == 0
    assert bridge.nodes() == ["t0-web", "t1-web", "t2-web", "t3-web"]


def test_emptied_table_holds_removals_with_exit_code_3(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    bridge.sync()
    before = bridge.files()
    sqlite_db.execute("DELETE FROM tenants")
    assert bridge.sync() == 3
    assert bridge.files() == before
    assert bridge.sync("--allow-mass-delete") == 0
    assert bridge.nodes() == []


def test_guard_holds_removals_but_commits_additions(
    tmp_path: Path, sqlite_db: SqliteDatabase, create_tenants: Any
) -> None:
    create_tenants(sqlite_db, [{"tenant_id": f"t{i}", "active": "1"} for i in range(4)])
    bridge = Bridge(tmp_path, sqlite_db)
    bridge.sync()
    sqlite_db.execute(
        "UPDATE tenants SET active = '0' WHERE tenant_id IN ('t0', 't1')",
        "INSERT INTO tenants (tenant_id, active) VALUES ('t9', '1')",
    )
    assert bridge.sync() == 3
    assert bridge.nodes() == ["t0-web", "t1-web", "t2-web", "t3-web", "t9-web"]
    message = bridge.message()
    assert "Lynq-Nodes-Held: t0-web, t1-web" in message
    assert "Lynq-Nodes-Added: t9-web" in message
    kustomization = bridge.load("lynq/default/tenants/kustomization.yaml")
    assert "t0-web" in kustomization["resources"]


def test_files_outside_managed_path_are_never_touched(bridge: Bridge, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    git("-C", str(clone), "checkout", "--quiet", "-b", "main")
    (clone / "README.md").write_text("hand written\n")
    (clone / "lynq-other").mkdir()
    (clone / "lynq-other" / "x.yaml").write_text("a: 1\n")
    commit_by_hand(clone, "docs")
    assert bridge.sync() == 0
    assert "README.md" in bridge.files() and "lynq-other/x.yaml" in bridge.files()
    assert bridge.show("README.md") == "hand written\n"


def land_before_the_next_push(bridge: Bridge, other: Path, flag: Path) -> Path:
    """A pre-receive hook on the remote that, on the first push only, pushes the commit of the
    clone ``other`` first: someone else's push lands between our fetch and our push."""
    hook = bridge.remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f"if [ ! -e {flag} ]; then touch {flag}; "
        f"cd {other} && env -u GIT_DIR -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY "
        "-u GIT_ALTERNATE_OBJECT_DIRECTORIES git push --quiet origin HEAD:main; fi\n"
    )
    hook.chmod(0o755)
    return hook


def test_rejected_push_rebases_onto_concurrent_commit(
    bridge: Bridge, sqlite_db: SqliteDatabase, tmp_path: Path
) -> None:
    bridge.sync()
    # Someone else pushes between our fetch and our push: a pre-receive hook lets the first push
    # through only after it has made a concurrent commit on the remote itself.
    other = tmp_path / "other"
    git("clone", "--quiet", str(bridge.remote), str(other))
    (other / "NOTES.md").write_text("concurrent\n")
    commit_by_hand(other, "other", push=False)
    land_before_the_next_push(bridge, other, tmp_path / "raced")
    sqlite_db.execute("UPDATE tenants SET plan = 'enterprise' WHERE tenant_id = 'acme'")
    assert bridge.sync() == 0
    log = git("--git-dir", str(bridge.remote), "log", "--format=%s", "refs/heads/main").splitlines()
    assert log[0].startswith("lynq: default/tenants: update 1")
    assert log[1] == "other"
    assert "NOTES.md" in bridge.files()
    assert "enterprise" in bridge.show(f"{NODE}/deployment_default_acme-app.yaml")


def test_hand_edit_racing_our_push_is_restored_in_the_same_sync(
    bridge: Bridge, sqlite_db: SqliteDatabase, tmp_path: Path
) -> None:
    bridge.sync()
    service = f"{NODE}/service_default_acme-app.yaml"
    original = bridge.show(service)
    # A person edits acme's Service while the bridge pushes a change of another tenant: the
    # pre-receive hook lands the edit first, so our push is rejected and we re-plan on top of it.
    # acme's row did not change, so the index calls its node unchanged; only its digest, checked
    # against the files on the new head, shows the edit.
    other = tmp_path / "other"
    git("clone", "--quiet", str(bridge.remote), str(other))
    (other / service).write_text(original.replace("port: 80", "port: 8080"))
    commit_by_hand(other, "hand edit", push=False)
    hook = land_before_the_next_push(bridge, other, tmp_path / "raced")
    sqlite_db.execute("UPDATE tenants SET plan = 'enterprise' WHERE tenant_id = 'beta'")
    assert bridge.sync() == 0
    log = git("--git-dir", str(bridge.remote), "log", "--format=%s", "refs/heads/main").splitlines()
    assert log[1] == "hand edit"
    assert log[0].startswith("lynq: default/tenants: update 2")
    assert bridge.show(service) == original
    hook.unlink()
    head = bridge.head()
    assert bridge.sync() == 0
    assert bridge.head() == head  # nothing left to restore


def test_failed_push_leaves_remote_unchanged_and_next_run_converges(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    bridge.sync()
    head = bridge.head()
    hook = bridge.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'simulated crash' >&2\nexit 1\n")
    hook.chmod(0o755)
    sqlite_db.execute("UPDATE tenants SET replicas = 7 WHERE tenant_id = 'acme'")
    assert bridge.sync() == 1  # commit made locally, push refused: a crash between the two
    assert bridge.head() == head
    hook.unlink()
    assert bridge.sync() == 0
    assert bridge.load(f"{NODE}/deployment_default_acme-app.yaml")["spec"]["replicas"] == 7
    assert bridge.commits() == 2


def test_lost_work_dir_is_rebuilt_from_the_remote(bridge: Bridge) -> None:
    bridge.sync()
    head = bridge.head()
    subprocess.run(["rm", "-rf", str(bridge.root / "work")], check=True)
    assert bridge.sync() == 0
    assert bridge.head() == head


def test_render_error_keeps_the_committed_file_and_commits_the_rest(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    bridge.sync()
    before = bridge.show(f"{NODE}/service_default_acme-app.yaml")
    form = (bridge.config / "form.yaml").read_text()
    broken = form.replace('selector: {app: "{{ uid }}"}', 'selector: {app: "{{ uid }}{{ plann }}"}')
    assert broken != form
    (bridge.config / "form.yaml").write_text(broken)
    sqlite_db.execute("UPDATE tenants SET replicas = 4 WHERE tenant_id = 'acme'")
    assert bridge.sync() == 1
    assert bridge.show(f"{NODE}/service_default_acme-app.yaml") == before
    assert bridge.load(f"{NODE}/deployment_default_acme-app.yaml")["spec"]["replicas"] == 4
    assert f"{NODE}/ingress_default_acme-web.yaml" in bridge.files()  # skipped dependent kept
    inventory = {e["id"] for e in bridge.load(f"{NODE}/lynqnode.yaml")["spec"]["resources"]}
    assert inventory == {"app", "svc", "web"}
    kustomization = bridge.load(f"{NODE}/kustomization.yaml")
    assert "service_default_acme-app.yaml" in kustomization["resources"]
    assert 'undefined variable "plann"' in bridge.message()


def test_path_like_uid_is_a_row_error_and_writes_nothing_outside(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    sqlite_db.execute(
        "INSERT INTO tenants (tenant_id, active) VALUES ('../../etc', '1')",
        "INSERT INTO tenants (tenant_id, active) VALUES ('Upper', '1')",
    )
    assert bridge.sync() == 1
    assert bridge.nodes() == ["acme-web", "beta-web"]
    assert all(f.startswith("lynq/default/tenants/") for f in bridge.files())
    message = bridge.message()
    assert 'uid "../../etc"' in message and 'uid "Upper"' in message


def test_row_value_with_template_syntax_is_rendered_literally(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    sqlite_db.execute("UPDATE tenants SET plan = '{{ 7*7 }}' WHERE tenant_id = 'acme'")
    assert bridge.sync() == 0
    deployment = bridge.load(f"{NODE}/deployment_default_acme-app.yaml")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "{{ 7*7 }}"


def test_unreachable_database_changes_nothing_in_git(
    bridge: Bridge, sqlite_db: SqliteDatabase
) -> None:
    bridge.sync()
    head = bridge.head()
    Path(sqlite_db.database).rename(Path(sqlite_db.database + ".moved"))
    sqlite_db.database  # noqa: B018 - the hub still points at the old path
    assert bridge.sync() == 1
    assert bridge.head() == head


def test_commit_message_trailers_record_revision_and_snapshot(bridge: Bridge) -> None:
    bridge.sync()
    trailers = git(
        "--git-dir",
        str(bridge.remote),
        "log",
        "-1",
        "--format=%(trailers:only,unfold)",
        "refs/heads/main",
    )
    keys = [line.split(":")[0] for line in trailers.splitlines() if line]
    for key in ("Lynq-Hub", "Lynq-Nodes-Added", "Lynq-Form-Revision", "Lynq-Snapshot"):
        assert key in keys
    author = git(
        "--git-dir", str(bridge.remote), "log", "-1", "--format=%an <%ae>", "refs/heads/main"
    )
    assert author.strip() == "lynq-bridge <bridge@example.com>"


def test_hand_edited_managed_file_is_restored(bridge: Bridge, tmp_path: Path) -> None:
    bridge.sync()
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    target = clone / NODE / "service_default_acme-app.yaml"
    original = target.read_text()
    target.write_text(original + "# edited by hand\n")
    (clone / NODE / "stray.yaml").write_text("a: 1\n")
    commit_by_hand(clone, "edit")
    assert bridge.sync() == 0
    assert bridge.show(f"{NODE}/service_default_acme-app.yaml") == original
    assert f"{NODE}/stray.yaml" not in bridge.files()


def test_failing_hub_does_not_stop_the_other_hubs(bridge: Bridge, tmp_path: Path) -> None:
    broken = bridge.load_config_document("hub.yaml")
    broken["metadata"]["name"] = "lost"
    broken["spec"]["source"]["sqlite"]["path"] = str(tmp_path / "missing.db")
    bridge.write("hub-lost.yaml", broken)
    form = (bridge.config / "form.yaml").read_text().replace("hubId: tenants", "hubId: lost")
    (bridge.config / "form-lost.yaml").write_text(form.replace("name: web,", "name: other,"))
    assert bridge.sync() == 1
    assert bridge.nodes() == ["acme-web", "beta-web"]
    assert not [f for f in bridge.files() if f.startswith("lynq/default/lost/")]


def test_unsafe_commit_of_one_hub_is_not_pushed_and_the_other_hubs_sync(
    bridge: Bridge, monkeypatch: Any
) -> None:
    from lynq_bridge.config.loading import load_config
    from lynq_bridge.sync import Compiled, Syncer

    second = bridge.load_config_document("hub.yaml")
    second["metadata"]["name"] = "second"
    bridge.write("hub-second.yaml", second)
    form = (bridge.config / "form.yaml").read_text().replace("hubId: tenants", "hubId: second")
    (bridge.config / "form-second.yaml").write_text(form.replace("name: web,", "name: other,"))
    real = Compiled.hub_dir

    def escaping(self: Compiled, hub: Any) -> str:
        # A bug that points one hub outside git.path: the check before the push must catch it.
        where: str = real(self, hub)
        return where.replace("lynq/", "outside/") if hub.metadata.name == "second" else where

    monkeypatch.setattr(Compiled, "hub_dir", escaping)
    syncer = Syncer(load_config(bridge.config))
    try:
        results = {r.hub: r for r in syncer.sync_all()}
    finally:
        syncer.close()
    assert results["default/tenants"].commit and not results["default/tenants"].failure
    failure = results["default/second"].failure
    assert failure and "outside" in failure and "\n" not in failure
    assert not [f for f in bridge.files() if not f.startswith("lynq/")]
    assert bridge.commits() == 1


def test_signed_commit_verifies_with_the_configured_ssh_key(
    tmp_path: Path, sqlite_db: SqliteDatabase, create_tenants: Any
) -> None:
    key = tmp_path / "signing-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bridge", "-f", str(key)], check=True
    )
    create_tenants(sqlite_db, ROWS)
    bridge = Bridge(
        tmp_path / "b",
        sqlite_db,
        bridge_spec={"git": {"signing": {"format": "ssh", "key": str(key)}}},
    )
    assert bridge.sync() == 0
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"bridge@example.com {(tmp_path / 'signing-key.pub').read_text()}")
    verified = subprocess.run(
        [
            "git",
            "--git-dir",
            str(bridge.remote),
            "-c",
            f"gpg.ssh.allowedSignersFile={signers}",
            "verify-commit",
            "refs/heads/main",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for bridge@example.com' in verified.stderr


def test_host_or_url_mapping_yields_host_and_host_or_url(
    tmp_path: Path, sqlite_db: SqliteDatabase, create_tenants: Any
) -> None:
    create_tenants(sqlite_db, ROWS)
    form = FORM.replace('host: "{{ domain | toHost }}"', 'host: "{{ host }}-{{ hostOrUrl }}"')
    bridge = Bridge(tmp_path, sqlite_db, form=form)
    hub = bridge.load_config_document("hub.yaml")
    hub["spec"]["valueMappings"]["hostOrUrl"] = "domain"
    bridge.write("hub.yaml", hub)
    assert bridge.sync() == 0
    ingress = bridge.load(f"{NODE}/ingress_default_acme-web.yaml")
    assert ingress["spec"]["rules"][0]["host"] == "acme.example.com-https://acme.example.com/x"


def test_unchanged_rows_and_forms_skip_rendering(bridge: Bridge, monkeypatch: Any) -> None:
    import lynq_bridge.sync as sync_module
    from lynq_bridge.config.loading import load_config

    assert bridge.sync() == 0

    def must_not_render(*_: Any, **__: Any) -> None:
        raise AssertionError("rendered although rows and forms were unchanged")

    monkeypatch.setattr(sync_module, "render_hub", must_not_render)
    syncer = sync_module.Syncer(load_config(bridge.config))
    try:
        (result,) = syncer.sync_all()
    finally:
        syncer.close()
    assert result.unchanged and result.commit is None and result.nodes == 2
    assert not result.failure


def test_new_form_revision_that_changes_no_file_refreshes_the_index_once(
    bridge: Bridge, monkeypatch: Any
) -> None:
    # After an upgrade (or a form edit that renders the same files) every index key is stale;
    # without one commit of the refreshed index, every later sync would render the whole hub.
    import lynq_bridge.sync as sync_module
    from lynq_bridge.config.loading import load_config

    assert bridge.sync() == 0
    before = bridge.commits()
    monkeypatch.setattr(sync_module, "__version__", "99.0.0-upgrade")

    def sync_in_process() -> Any:
        syncer = sync_module.Syncer(load_config(bridge.config))
        try:
            (result,) = syncer.sync_all()
        finally:
            syncer.close()
        return result

    refreshed = sync_in_process()
    assert refreshed.commit and bridge.commits() == before + 1
    changed = git("--git-dir", str(bridge.remote), "diff", "--name-only", "main~1", "main")
    assert changed.split() == ["lynq/default/tenants/.lynq-inputs"]
    message = git("--git-dir", str(bridge.remote), "log", "-1", "--format=%B", "main")
    assert message.startswith("lynq: default/tenants: refresh hub files, no node changed")

    def must_not_render(*_: Any, **__: Any) -> None:
        raise AssertionError("rendered although only the revision changed, and was committed")

    monkeypatch.setattr(sync_module, "render_hub", must_not_render)
    settled = sync_in_process()
    assert settled.unchanged and settled.commit is None and bridge.commits() == before + 1


@pytest.mark.parametrize("trailer", [True, False], ids=["node-count-trailer", "older-commit"])
def test_settled_sync_counts_nodes_from_the_trailer_or_else_the_tree(
    bridge: Bridge, monkeypatch: Any, trailer: bool
) -> None:
    import lynq_bridge.sync as sync_module
    from lynq_bridge.adapters.gitstore import GitStore
    from lynq_bridge.config.loading import load_config

    assert bridge.sync() == 0
    if trailer:  # listing 100,000 node directories to count them costs 0.2 s

        def must_not_list(*_: Any) -> list[str]:
            raise AssertionError("listed the hub although the commit says how many nodes")

        monkeypatch.setattr(GitStore, "list_dirs", must_not_list)
    else:  # a commit made before the trailer existed
        monkeypatch.setattr(sync_module, "settled_node_count", lambda _message: None)
    syncer = sync_module.Syncer(load_config(bridge.config))
    try:
        (result,) = syncer.sync_all()
    finally:
        syncer.close()
    assert result.unchanged and result.commit is None and result.nodes == 2


def test_fresh_sync_renders_only_the_changed_row(
    bridge: Bridge, sqlite_db: SqliteDatabase, monkeypatch: Any
) -> None:
    from lynq_bridge.config.loading import load_config
    from lynq_bridge.core import rendering
    from lynq_bridge.sync import Syncer

    sqlite_db.execute("INSERT INTO tenants (tenant_id, active) VALUES ('delta', '1')")
    assert bridge.sync() == 0
    sqlite_db.execute("UPDATE tenants SET replicas = 9 WHERE tenant_id = 'beta'")
    rendered: list[str] = []
    real = rendering.render_node

    def counting(hub: Any, form: Any, row: Any, target: Any, **options: Any) -> Any:
        rendered.append(row.uid)
        return real(hub, form, row, target, **options)

    monkeypatch.setattr(rendering, "render_node", counting)  # the full path's
    monkeypatch.setattr("lynq_bridge.sync.render_node", counting)  # the delta's (core.delta)
    syncer = Syncer(load_config(bridge.config))  # a new process has no render cache
    try:
        (result,) = syncer.sync_all()
    finally:
        syncer.close()
    assert rendered == ["beta"]
    assert result.commit and result.nodes == 3 and result.updated == 1
    assert (
        bridge.load("lynq/default/tenants/beta-web/deployment_default_beta-app.yaml")["spec"][
            "replicas"
        ]
        == 9
    )
    assert bridge.nodes() == ["acme-web", "beta-web", "delta-web"]


def test_form_change_touches_only_the_nodes_whose_output_changes(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    form = bridge.config / "form.yaml"
    form.write_text(form.read_text().replace("default('basic')", "default('starter')"))
    assert bridge.sync() == 0
    changed = git("--git-dir", str(bridge.remote), "diff", "--name-only", "HEAD~1", "HEAD").split()
    assert changed == [
        "lynq/default/tenants/.lynq-inputs",
        "lynq/default/tenants/beta-web/deployment_default_beta-app.yaml",
        "lynq/default/tenants/beta-web/lynqnode.yaml",
    ]
    assert "Lynq-Nodes-Updated: beta-web" in bridge.message()


def test_fresh_sync_lists_the_files_of_the_changed_node_only(
    bridge: Bridge, sqlite_db: SqliteDatabase, monkeypatch: Any
) -> None:
    """The index is checked against one level of the hub's tree (each node directory's id):
    the files of unchanged nodes are never listed, the whole hub is never listed."""
    from lynq_bridge.adapters.gitstore import GitStore
    from lynq_bridge.config.loading import load_config
    from lynq_bridge.sync import Syncer

    assert bridge.sync() == 0
    sqlite_db.execute("UPDATE tenants SET replicas = 9 WHERE tenant_id = 'beta'")
    listed: list[str] = []
    real = GitStore.list_nodes

    def recording(
        self: GitStore, commit: Any, prefix: str, nodes: Any, **options: Any
    ) -> dict[str, str]:
        nodes = list(nodes)
        listed.extend(nodes)
        return real(self, commit, prefix, nodes, **options)

    def whole_hub(*_: Any) -> None:
        raise AssertionError("listed every file of the hub")

    monkeypatch.setattr(GitStore, "list_nodes", recording)
    monkeypatch.setattr(GitStore, "list_tree", whole_hub)
    syncer = Syncer(load_config(bridge.config))
    try:
        (result,) = syncer.sync_all()
    finally:
        syncer.close()
    assert result.commit and result.updated == 1
    assert listed == ["beta-web"]


def test_hand_edit_of_an_unchanged_node_is_seen_by_its_directory_id(
    bridge: Bridge, sqlite_db: SqliteDatabase, tmp_path: Path
) -> None:
    """A person's edit in a node whose row did not change: the node's directory id no longer
    matches the index, so the node is rendered and restored while another row changes."""
    assert bridge.sync() == 0
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    target = clone / NODE / "service_default_acme-app.yaml"
    original = target.read_text()
    target.write_text(original.replace("port: 80", "port: 81"))
    commit_by_hand(clone, "edit")
    sqlite_db.execute("UPDATE tenants SET replicas = 9 WHERE tenant_id = 'beta'")
    assert bridge.sync() == 0
    assert bridge.show(f"{NODE}/service_default_acme-app.yaml") == original
    assert "Lynq-Nodes-Updated: acme-web, beta-web" in bridge.message()


def test_node_directories_are_listed_literally(bridge: Bridge, tmp_path: Path) -> None:
    """A directory a person named ``acme-*`` lists its own files, not those of acme-web."""
    from lynq_bridge.adapters.gitstore import GitStore
    from lynq_bridge.config.loading import load_config

    assert bridge.sync() == 0
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    (clone / "lynq/default/tenants/acme-*").mkdir()
    (clone / "lynq/default/tenants/acme-*/x.yaml").write_text("a: 1\n")
    commit_by_hand(clone, "odd directory")
    config = load_config(bridge.config)
    store = GitStore(config.bridge.spec.git, tmp_path / "work2")
    store.open()
    try:
        head = store.fetch_head().commit
        listing = store.list_hub(head, "lynq/default/tenants")
        assert {"acme-*", "acme-web", "beta-web"} <= set(listing.nodes)
        files = store.list_nodes(head, "lynq/default/tenants", ["acme-*"])
    finally:
        store.close()
    assert files.keys() == {"acme-*/x.yaml"}


def test_a_remote_head_this_mirror_has_is_not_fetched_again_nor_checked_twice(
    bridge: Bridge, tmp_path: Path
) -> None:
    """``fetch_head`` asks the remote for its head every time, but fetches only when the head is
    not the one this mirror last fetched or pushed; a person's push is fetched. The mirror's
    damage check runs once a minute, and again after any git command failed."""
    from lynq_bridge.adapters.gitstore import GitStore
    from lynq_bridge.config.loading import load_config

    assert bridge.sync() == 0
    config = load_config(bridge.config)
    store = GitStore(config.bridge.spec.git, tmp_path / "work2")
    calls: list[str] = []
    real = store._git

    def recording(*args: str, **options: Any) -> Any:
        calls.append(args[0])
        return real(*args, **options)

    store._git = recording  # type: ignore[method-assign]
    store.open()
    try:
        first = store.fetch_head().commit
        assert calls.count("fetch") == 1
        checks = calls.count("for-each-ref")  # the mirror's damage check
        assert store.fetch_head().commit == first and calls.count("fetch") == 1
        assert calls.count("for-each-ref") == checks  # checked less than a minute ago
        store._git("cat-file", "-e", "0" * 40, check=False)  # a git command fails
        assert store.fetch_head().commit == first and calls.count("for-each-ref") == checks + 1
        clone = tmp_path / "clone"
        git("clone", "--quiet", str(bridge.remote), str(clone))
        (clone / "README.md").write_text("hello\n")
        commit_by_hand(clone, "a person's commit")
        second = store.fetch_head().commit
        assert second == bridge.head() != first and calls.count("fetch") == 2
        assert store.read_files(second or "", ["README.md"]) == {"README.md": b"hello\n"}
    finally:
        store.close()


def test_the_collector_is_paused_for_the_reads_and_back_after_the_pass(
    bridge: Bridge, monkeypatch: Any
) -> None:
    import gc

    from lynq_bridge.adapters import settledfile
    from lynq_bridge.config.loading import load_config
    from lynq_bridge.errors import TemporaryError
    from lynq_bridge.sync import Syncer

    assert bridge.sync() == 0  # leaves the state a new process restores
    paused: dict[str, bool] = {}
    syncer = Syncer(load_config(bridge.config))
    query, restore = syncer.datasources.fetch_records, settledfile.load

    def fetch(hub: Any) -> Any:
        paused["query"] = not gc.isenabled()
        return query(hub)

    def load(*args: Any) -> Any:
        paused["state"] = not gc.isenabled()
        return restore(*args)

    monkeypatch.setattr(syncer.datasources, "fetch_records", fetch)
    monkeypatch.setattr(settledfile, "load", load)
    try:
        (result,) = syncer.sync_all()
        assert paused == {"query": True, "state": True} and not result.failure
        assert gc.isenabled() and gc.get_freeze_count() == 0

        def unreachable(hub: Any) -> Any:
            raise TemporaryError("database unreachable")

        monkeypatch.setattr(syncer.datasources, "fetch_records", unreachable)
        (result,) = syncer.sync_all()
        assert result.failure == "database unreachable"
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        syncer.close()
