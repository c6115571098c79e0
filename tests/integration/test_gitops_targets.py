"""The GitOps targets end to end: synced through Git, built by kubectl, accepted by the API server.

For every target the rendered tree of the every-policy form (``tests/targets_fixture.py``)
is written by the real command line, then:

- ``kubectl kustomize`` builds every hub directory, every engine directory and every directory
  an Application or a Flux Kustomization points at (kubectl keeps kustomize's default load
  restrictor, so a file outside its kustomization's directory would fail here);
- the built objects (children, LynqNodes, Applications, Kustomizations) and the hand-written
  manifests of ``examples/argocd`` and ``examples/flux`` pass ``kubectl apply --server-side
  --dry-run=server`` against the test control plane with the Argo CD and Flux CRDs installed.

The CRDs come from ``scripts/fetch-gitops-crds.sh`` (``LYNQ_TEST_GITOPS_CRDS``); without them, or
without the control plane, these tests skip locally and fail in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase, commit_by_hand, git
from controlplane import ControlPlane, find_binaries, install_crds, start_control_plane
from services import missing_service
from targets_fixture import FORM_YAML

REPO = Path(__file__).resolve().parents[2]
CRDS_ENV = "LYNQ_TEST_GITOPS_CRDS"
TARGETS = ["argocd", "flux", "both"]
SHARDED = [f"{target}:sharded" for target in TARGETS]  # git.layout: sharded
HUB = "default/tenants"
FORM = FORM_YAML.replace("namespace: apps", "namespace: default")
ROWS = [
    {
        "tenant_id": "acme",
        "active": "1",
        "domain": "acme.example.com",
        "plan": "pro",
        "replicas": 2,
    },
    {"tenant_id": "beta", "active": "1"},
    {"tenant_id": "gamma", "active": "1", "plan": "basic"},
]
BRIDGE_SPEC = {
    "argocd": {"repoURL": "https://git.example.com/platform/gitops.git"},
    "deletionGuard": {"maxDeletePercent": 50},  # one row of three may go
}


def require(what: str, reason: str) -> None:
    """Skip locally, fail in CI (where a silent skip would hide a broken set-up)."""
    missing_service(what, reason)


def kubectl_binary() -> str:
    directory, missing = find_binaries()
    if "kubectl" not in missing:
        return str(directory / "kubectl")
    found = shutil.which("kubectl")
    if found is None:
        require("kubectl", "run scripts/build-control-plane.sh or set LYNQ_TEST_CONTROL_PLANE_BIN")
    return str(found)


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl_binary(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory}: {result.stderr}"
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.fixture
def bridge(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, request: pytest.FixtureRequest
) -> Bridge:
    database = SqliteDatabase(sqlite_database)
    create_tenants(database, ROWS)
    target, _, layout = request.param.partition(":")
    spec: dict[str, Any] = {"target": target, **BRIDGE_SPEC}
    if layout:
        spec["git"] = {"layout": layout}
    return Bridge(tmp_path, database, form=FORM, bridge_spec=spec)


def target_of(bridge: Bridge) -> str:
    target: str = bridge.load_config_document("lynq-bridge.yaml")["spec"]["target"]
    return target


def identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def rendered(bridge: Bridge) -> Path:
    out = bridge.root / "out"
    assert bridge.cli("render", "--out", str(out)) == 0
    return out / HUB


def engine_paths(hub: Path, git_path: str = "lynq") -> list[Path]:
    """Every directory an Application or a Flux Kustomization of the hub points at."""
    paths = []
    for engine in ("argocd", "flux"):
        for file in sorted(hub.glob(f"{engine}/**/*.yaml")):
            manifest = yaml.safe_load(file.read_text())
            if manifest["kind"] == "Application":
                paths.append(manifest["spec"]["source"]["path"])
            elif manifest["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/"):
                paths.append(manifest["spec"]["path"].removeprefix("./"))
    root = hub.parents[1]
    return [root / p.removeprefix(f"{git_path}/") for p in paths]


# ------------------------------------------------------------------------------- kustomize


@pytest.mark.parametrize("bridge", [*TARGETS, *SHARDED], indirect=True)
def test_kubectl_kustomize_builds_every_directory_an_engine_points_at(bridge: Bridge) -> None:
    hub = rendered(bridge)
    objects = kustomize(hub)
    assert {o["kind"] for o in objects} >= {"LynqNode", "Deployment", "Namespace", "Service"}
    assert not [o for o in objects if o["kind"] in ("Application", "Kustomization")]
    pointed = engine_paths(hub)
    assert pointed
    built = {}
    for directory in pointed:
        built[directory] = kustomize(directory)
        assert built[directory], f"{directory} builds to nothing"
    # Together the directories one engine points at apply each object exactly once.
    for engine in ("argocd", "flux"):
        mine = [docs for d, docs in built.items() if ("/level-" in str(d)) == (engine == "flux")]
        if (hub / engine).is_dir():
            assert sorted(map(identity, (o for docs in mine for o in docs))) == sorted(
                map(identity, objects)
            )
    for engine in ("argocd", "flux"):
        if (hub / engine).is_dir():
            kinds = {o["kind"] for o in kustomize(hub / engine)}
            assert kinds == {"Application" if engine == "argocd" else "Kustomization"}


# ----------------------------------------------------------------------------------- Git


@pytest.mark.parametrize("bridge", ["both"], indirect=True)
def test_sync_commits_engine_files_and_removes_them_with_their_row(
    bridge: Bridge, sqlite_database: Path
) -> None:
    assert bridge.sync() == 0
    files = bridge.files()
    prefix = f"lynq/{HUB}"
    assert f"{prefix}/argocd/gamma-web.yaml" in files
    assert f"{prefix}/flux/gamma-web/level-2.yaml" in files
    assert f"{prefix}/gamma-web/level-0/lynqnode.yaml" in files
    head = bridge.head()
    assert bridge.sync() == 0 and bridge.head() == head  # nothing changed, no commit
    database = SqliteDatabase(sqlite_database)
    database.execute("UPDATE tenants SET active = '0' WHERE tenant_id = 'gamma'")
    assert bridge.sync() == 0
    assert not [f for f in bridge.files() if "gamma-web" in f]
    assert "Lynq-Nodes-Removed: gamma-web" in bridge.message()
    listed = bridge.load(f"{prefix}/argocd/kustomization.yaml")["resources"]
    assert listed == ["acme-web.yaml", "beta-web.yaml"]


@pytest.mark.parametrize("bridge", ["both"], indirect=True)
def test_engine_files_of_unchanged_nodes_are_kept_listed_and_checked(
    bridge: Bridge, sqlite_database: Path, tmp_path: Path
) -> None:
    """A fresh sync that renders one changed row keeps every other node's engine files and
    lists them in the engine kustomizations; an engine file edited by hand (a node whose row
    did not change) fails the node's digest and is restored."""
    assert bridge.sync() == 0
    prefix = f"lynq/{HUB}"
    before = {p: bridge.show(p) for p in bridge.files() if "/argocd/" in p or "/flux/" in p}
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bridge.remote), str(clone))
    app = clone / prefix / "argocd" / "acme-web.yaml"
    app.write_text(app.read_text() + "# edited by hand\n")
    commit_by_hand(clone, "edit an Application")
    SqliteDatabase(sqlite_database).execute(
        "UPDATE tenants SET replicas = 7 WHERE tenant_id = 'beta'"
    )
    assert bridge.sync() == 0
    after = {p: bridge.show(p) for p in bridge.files() if "/argocd/" in p or "/flux/" in p}
    assert after.keys() == before.keys()
    assert after[f"{prefix}/argocd/acme-web.yaml"] == before[f"{prefix}/argocd/acme-web.yaml"]
    assert after[f"{prefix}/flux/kustomization.yaml"] == before[f"{prefix}/flux/kustomization.yaml"]
    assert "Lynq-Nodes-Updated: acme-web, beta-web" in bridge.message()


@pytest.mark.parametrize("bridge", ["flux"], indirect=True)
def test_render_error_keeps_the_level_file_and_its_kustomization(
    bridge: Bridge, sqlite_database: Path
) -> None:
    assert bridge.sync() == 0
    prefix = f"lynq/{HUB}/acme-web"
    before = bridge.show(f"{prefix}/level-2/service_t-acme_acme-app.yaml")
    form = (bridge.config / "form.yaml").read_text()
    broken = form.replace('selector: {app: "{{ uid }}"}', 'selector: {app: "{{ plann }}"}')
    assert broken != form
    (bridge.config / "form.yaml").write_text(broken)
    database = SqliteDatabase(sqlite_database)
    database.execute("UPDATE tenants SET replicas = 4 WHERE tenant_id = 'acme'")
    assert bridge.sync() == 1
    assert bridge.show(f"{prefix}/level-2/service_t-acme_acme-app.yaml") == before
    assert bridge.load(f"{prefix}/level-2/deployment_t-acme_acme-app.yaml")["spec"]["replicas"] == 4
    level = bridge.load(f"{prefix}/level-2/kustomization.yaml")["resources"]
    assert "service_t-acme_acme-app.yaml" in level
    assert f"lynq/{HUB}/flux/acme-web/level-2.yaml" in bridge.files()


@pytest.mark.parametrize("bridge", ["both"], indirect=True)
def test_validate_warns_about_engine_gaps_naming_form_and_resource(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bridge.cli("validate") == 0
    err = capsys.readouterr().err
    assert 'warning: form web, resource "settings": creationPolicy Once has no Argo CD' in err
    assert 'warning: form web, resources "app", "web": ignoreFields has no Flux' in err
    assert "conflictPolicy Stuck has no Argo CD or Flux equivalent" in err


# ------------------------------------------------------------------- API server, dry-run


@pytest.fixture(scope="module")
def gitops_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The test control plane with our CRDs and the Argo CD and Flux CRDs installed."""
    bin_dir, missing = find_binaries()
    if missing:
        require(
            "the test control plane",
            f"{', '.join(missing)} missing in {bin_dir}; run scripts/build-control-plane.sh",
        )
    crds = os.environ.get(CRDS_ENV)
    if not crds or not list(Path(crds).glob("*.yaml")):
        require("the Argo CD and Flux CRDs", f"{CRDS_ENV} is not set; run scripts/test.sh")
    plane = start_control_plane(bin_dir, tmp_path_factory.mktemp("gitops-control-plane"))
    try:
        install_crds(plane, Path(str(crds)))
        for namespace in ("argocd", "flux-system"):
            plane.kubectl("create", "namespace", namespace)
        yield plane
    finally:
        plane.stop()


def as_list(documents: list[dict[str, Any]]) -> str:
    """A JSON ``List`` (JSON, not YAML: no YAML 1.1 reading of strings like "y" or "on")."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": documents})


def dry_run(plane: ControlPlane, documents: list[dict[str, Any]]) -> None:
    """Create the namespaces for real (a dry-run one does not exist for the next object), then
    apply everything with a server-side dry-run."""
    namespaces = [d for d in documents if d["kind"] == "Namespace"]
    if namespaces:
        plane.kubectl("apply", "--server-side", "-f", "-", input_text=as_list(namespaces))
    result = plane.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=lynq-test",
        "-f",
        "-",
        input_text=as_list(documents),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(documents)


@pytest.mark.cluster
@pytest.mark.parametrize("bridge", [*TARGETS, *SHARDED], indirect=True)
def test_rendered_tree_is_accepted_by_the_api_server(
    bridge: Bridge, gitops_plane: ControlPlane
) -> None:
    hub = rendered(bridge)
    documents = kustomize(hub)
    for engine in ("argocd", "flux"):
        if (hub / engine).is_dir():
            documents += kustomize(hub / engine)
    kinds = {d["kind"] for d in documents}
    assert "LynqNode" in kinds
    assert ("Application" in kinds) == (target_of(bridge) != "flux")
    assert ("Kustomization" in kinds) == (target_of(bridge) != "argocd")
    dry_run(gitops_plane, documents)


@pytest.mark.cluster
def test_example_manifests_are_accepted_by_the_api_server(gitops_plane: ControlPlane) -> None:
    documents = [
        doc
        for engine in ("argocd", "flux")
        for file in sorted((REPO / "examples" / engine).glob("*.yaml"))
        for doc in yaml.safe_load_all(file.read_text(encoding="utf-8"))
        if doc
    ]
    assert {d["kind"] for d in documents} == {
        "AppProject",
        "Application",
        "ConfigMap",
        "GitRepository",
        "Kustomization",
    }
    dry_run(gitops_plane, documents)


@pytest.mark.parametrize("bridge", ["both", "both:sharded"], indirect=True)
def test_daemon_reuses_what_it_committed_and_ends_where_a_fresh_sync_does(
    bridge: Bridge, sqlite_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-lived Syncer knows the listing and index of the commit it pushed: its next sync
    reads neither. Through inserts, updates and removals it reaches the tree a fresh process
    computes, which then finds nothing to commit."""
    from lynq_bridge.adapters.gitstore import GitStore
    from lynq_bridge.config.loading import load_config
    from lynq_bridge.sync import Syncer

    database = SqliteDatabase(sqlite_database)
    daemon = Syncer(load_config(bridge.config))
    listed: list[str] = []
    real = GitStore.list_hub

    def recording(self: GitStore, commit: Any, prefix: str, **options: Any) -> Any:
        listed.append(commit)
        return real(self, commit, prefix, **options)

    monkeypatch.setattr(GitStore, "list_hub", recording)
    try:
        assert daemon.sync_all()[0].commit
        steps = [
            "UPDATE tenants SET replicas = 5 WHERE tenant_id = 'acme'",
            "INSERT INTO tenants (tenant_id, active) VALUES ('delta', '1')",
            "UPDATE tenants SET active = '0' WHERE tenant_id = 'gamma'",
            "UPDATE tenants SET replicas = 4 WHERE tenant_id = 'delta'",
        ]
        removed = []
        for statement in steps:
            database.execute(statement)
            (result,) = daemon.sync_all()
            assert result.commit and not result.failure, statement
            removed.append(result.removed)
        assert removed == [0, 0, 1, 0]  # gamma-web is gone once, not again in the next commit
    finally:
        daemon.close()
    assert len(listed) == 1  # only the first sync listed the hub
    head = bridge.head()
    assert bridge.sync() == 0 and bridge.head() == head  # a fresh process: nothing to do
    out = bridge.root / "fresh"
    assert bridge.cli("render", "--out", str(out)) == 0
    prefix = f"lynq/{HUB}/"
    committed = {p.removeprefix(prefix): bridge.show(p) for p in bridge.files()}
    written = {
        str(f.relative_to(out / HUB)): f.read_text() for f in (out / HUB).rglob("*") if f.is_file()
    }
    assert committed == written
