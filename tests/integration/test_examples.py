"""The examples in ``examples/`` work as their READMEs say: built, validated, rendered and synced.

Each test copies one example into ``tmp_path``, creates its SQLite database from ``schema.sql``
and a bare Git remote, and runs the real command line in-process. The facts asserted are the
ones the example's README promises, so a change that breaks an example breaks a test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from services import missing_service

from lynq_bridge.cli import main
from lynq_bridge.core.inputs import INPUTS_FILE

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Directories that hold a runnable example (deploy/ holds manifests, not an example to build).
EXAMPLE_NAMES = sorted(
    p.name for p in EXAMPLES.iterdir() if (p / "config").is_dir() and (p / "schema.sql").is_file()
)
# What a user may have left behind after running an example in place.
BUILD_LEFTOVERS = shutil.ignore_patterns("tenants.db", "gitops.git", ".work", "out")


@dataclass
class Example:
    """One example built in a temporary directory."""

    root: Path

    @property
    def config(self) -> str:
        return str(self.root / "config")

    @property
    def out(self) -> Path:
        return self.root / "out"

    def sql(self, *statements: str) -> None:
        with contextlib.closing(sqlite3.connect(self.root / "tenants.db")) as connection:
            for statement in statements:
                connection.execute(statement)
            connection.commit()

    def render(self, *extra: str) -> int:
        return main(["render", "--config", self.config, "--out", str(self.out), *extra])

    def node(self, node: str, *, hub: str = "tenants", namespace: str = "default") -> Path:
        return self.out / namespace / hub / node

    def load(self, node: str, file: str, **where: str) -> Any:
        return yaml.safe_load((self.node(node, **where) / file).read_text(encoding="utf-8"))

    def files(self, *, index: bool = False) -> dict[str, bytes]:
        """Every rendered file by path under ``out``, to compare two renders; without the
        bridge's render-input index (it records every row change by design) unless asked."""
        return {
            p.relative_to(self.out).as_posix(): p.read_bytes()
            for p in sorted(self.out.rglob("*"))
            if p.is_file() and (index or p.name != INPUTS_FILE)
        }


def build_example(name: str, tmp_path: Path) -> Example:
    root = tmp_path / name
    shutil.copytree(EXAMPLES / name, root, ignore=BUILD_LEFTOVERS)
    schema = (root / "schema.sql").read_text(encoding="utf-8")
    with contextlib.closing(sqlite3.connect(root / "tenants.db")) as connection:
        connection.executescript(schema)
    subprocess.run(["git", "init", "--quiet", "--bare", str(root / "gitops.git")], check=True)
    return Example(root)


@pytest.fixture
def example(tmp_path: Path) -> Callable[[str], Example]:
    return lambda name: build_example(name, tmp_path)


@pytest.fixture
def rendered(example: Callable[[str], Example]) -> Callable[[str], Example]:
    """An example built and rendered once (the render must succeed)."""

    def build_and_render(name: str) -> Example:
        built = example(name)
        assert built.render() == 0
        return built

    return build_and_render


def changed_files(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def kubectl() -> str:
    """kubectl from PATH or the test control plane; skip locally and fail in CI without it."""
    control_plane = Path(
        os.environ.get("LYNQ_TEST_CONTROL_PLANE_BIN")
        or Path.home() / ".cache" / "lynq-bridge" / "control-plane" / "bin"
    )
    found = shutil.which("kubectl") or shutil.which("kubectl", path=str(control_plane))
    if found:
        return found
    missing_service("kubectl", "it is needed to build the rendered kustomizations")


def git(remote: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(remote), *args], check=True, capture_output=True, text=True
    ).stdout


# ----------------------------------------------------------------------------- every example


def test_examples_directory_holds_the_five_examples() -> None:
    assert EXAMPLE_NAMES == [
        "blue-green",
        "clone-to-staging",
        "ephemeral-environments",
        "feature-flags",
        "tenants",
    ]


def test_examples_index_links_every_example() -> None:
    index = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in EXAMPLE_NAMES:
        assert f"]({name}/)" in index


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_readme_shows_how_to_run_it(name: str) -> None:
    readme = (EXAMPLES / name / "README.md").read_text(encoding="utf-8")
    assert "sqlite3 tenants.db < schema.sql" in readme
    assert "git init --bare gitops.git" in readme
    assert "lynq-bridge sync --once --config config" in readme


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_config_validates(name: str, example: Callable[[str], Example]) -> None:
    assert main(["validate", "--config", example(name).config]) == 0


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_renders_kustomize_directories_listing_their_files(
    name: str, rendered: Callable[[str], Example]
) -> None:
    built = rendered(name)
    node_dirs = [p.parent for p in built.out.rglob("lynqnode.yaml")]
    assert node_dirs
    for node_dir in node_dirs:
        kustomization = yaml.safe_load((node_dir / "kustomization.yaml").read_text())
        listed = set(kustomization["resources"])
        present = {p.name for p in node_dir.iterdir()} - {"kustomization.yaml"}
        assert listed == present
        node = yaml.safe_load((node_dir / "lynqnode.yaml").read_text())
        assert node["kind"] == "LynqNode"
        assert node["metadata"]["name"] == node_dir.name
        assert node_dir.name == f"{node['spec']['uid']}-{node['spec']['templateRef']}"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_output_builds_with_kubectl_kustomize(
    name: str, rendered: Callable[[str], Example]
) -> None:
    built = rendered(name)
    for hub_dir in sorted(p.parent for p in built.out.glob("*/*/kustomization.yaml")):
        result = subprocess.run(
            [kubectl(), "kustomize", str(hub_dir)], check=True, capture_output=True, text=True
        )
        objects = [d for d in yaml.safe_load_all(result.stdout) if d]
        files = [p for p in hub_dir.glob("*/*.yaml") if p.name != "kustomization.yaml"]
        assert len(objects) == len(files)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_sync_commits_the_rendered_tree_to_its_bare_remote_once(
    name: str, example: Callable[[str], Example]
) -> None:
    built = example(name)
    assert main(["sync", "--once", "--config", built.config]) == 0
    assert built.render() == 0
    remote = built.root / "gitops.git"
    committed = set(git(remote, "ls-tree", "-r", "--name-only", "main").split())
    assert committed == {f"lynq/{p}" for p in built.files(index=True)}
    assert main(["sync", "--once", "--config", built.config]) == 0
    assert git(remote, "rev-list", "--count", "main").strip() == "1"


# ----------------------------------------------------------------------------------- tenants


def test_tenants_deployment_replicas_come_from_the_column_as_integers(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("tenants")
    replicas = {
        uid: built.load(f"{uid}-web", f"deployment_tenant-{uid}_{uid}-app.yaml")["spec"]["replicas"]
        for uid in ("acme", "globex", "initech")
    }
    assert replicas == {"acme": 3, "globex": 2, "initech": 1}


def test_tenants_inactive_tenant_has_no_node(rendered: Callable[[str], Example]) -> None:
    built = rendered("tenants")
    assert not built.node("hooli-web").exists()
    hub = built.out / "default" / "tenants"
    assert sorted(p.name for p in hub.iterdir() if p.name != INPUTS_FILE) == [
        "acme-web",
        "globex-web",
        "initech-web",
        "kustomization.yaml",
    ]


def test_tenants_configmap_carries_the_plan_settings_as_text(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("tenants")
    acme = built.load("acme-web", "configmap_tenant-acme_acme-settings.yaml")["data"]
    initech = built.load("initech-web", "configmap_tenant-initech_initech-settings.yaml")["data"]
    assert acme["PLAN"] == "enterprise"
    assert acme["MAX_USERS"] == "10000"
    assert acme["PUBLIC_HOST"] == "acme.example.com"
    assert initech == {
        "TENANT_ID": "initech",
        "PLAN": "basic",
        "REGION": "eu-west-1",
        "PUBLIC_HOST": "",
        "MAX_USERS": "50",
        "STORAGE_GB": "5",
        "RATE_LIMIT_RPS": "10",
    }


def test_tenants_namespace_labels_come_from_plan_and_region_columns(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("tenants")
    labels = built.load("globex-web", "namespace_tenant-globex.yaml")["metadata"]["labels"]
    assert labels["tenants.example.com/plan"] == "pro"
    assert labels["tenants.example.com/region"] == "us-east-1"
    assert labels["lynq.sh/uid"] == "globex"


def test_tenants_deployment_resources_come_from_the_plan(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("tenants")
    deployment = built.load("acme-web", "deployment_tenant-acme_acme-app.yaml")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert pod["nodeSelector"] == {"topology.kubernetes.io/region": "eu-west-1"}


def test_tenants_ingress_host_is_the_host_of_the_domain_column(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("tenants")
    ingress = built.load("globex-web", "ingress_tenant-globex_globex-web.yaml")
    assert ingress["spec"]["rules"][0]["host"] == "globex.example.com"
    assert not list(built.node("initech-web").glob("ingress_*"))


def test_tenants_pdb_exists_only_for_tenants_with_more_than_one_replica(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("tenants")
    assert (built.node("acme-web") / "poddisruptionbudget_tenant-acme_acme-app.yaml").is_file()
    assert (
        built.node("globex-web") / "poddisruptionbudget_tenant-globex_globex-app.yaml"
    ).is_file()
    assert not list(built.node("initech-web").glob("poddisruptionbudget_*"))


def test_tenants_plan_update_changes_only_the_tenants_on_that_plan(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("tenants")
    before = built.files()
    built.sql("UPDATE plans SET max_users = 2000 WHERE plan = 'pro'")
    assert built.render() == 0
    assert changed_files(before, built.files()) == {
        "default/tenants/globex-web/configmap_tenant-globex_globex-settings.yaml",
        "default/tenants/globex-web/deployment_tenant-globex_globex-app.yaml",  # checksum
        "default/tenants/globex-web/lynqnode.yaml",  # content hashes
    }
    settings = built.load("globex-web", "configmap_tenant-globex_globex-settings.yaml")
    assert settings["data"]["MAX_USERS"] == "2000"


# ----------------------------------------------------------------------------- feature-flags

AI_FILES = (
    "configmap_tenant-{uid}_{uid}-ai-assistant.yaml",
    "deployment_tenant-{uid}_{uid}-ai-assistant.yaml",
    "service_tenant-{uid}_{uid}-ai-assistant.yaml",
)


def test_feature_flags_ai_assistant_is_rendered_only_for_the_flagged_tenant(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("feature-flags")
    for file in AI_FILES:
        assert (built.node("acme-app") / file.format(uid="acme")).is_file()
        assert not (built.node("globex-app") / file.format(uid="globex")).exists()
        assert not (built.node("initech-app") / file.format(uid="initech")).exists()
    assert not built.node("umbrella-app").exists()  # flag on, tenant inactive
    inventory = built.load("globex-app", "lynqnode.yaml")["spec"]["resources"]
    assert sorted(r["id"] for r in inventory) == ["app", "namespace", "svc"]


def test_feature_flags_setting_of_the_flagged_tenant_reaches_the_assistant(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("feature-flags")
    config = built.load("acme-app", "configmap_tenant-acme_acme-ai-assistant.yaml")
    assert config["data"] == {"MODEL": "large", "TENANT_ID": "acme"}


def test_feature_flags_app_is_told_the_assistant_url_only_when_the_flag_is_on(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("feature-flags")

    def env(uid: str) -> dict[str, str]:
        deployment = built.load(f"{uid}-app", f"deployment_tenant-{uid}_{uid}-app.yaml")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        return {e["name"]: e["value"] for e in container["env"]}

    assert env("acme")["AI_ASSISTANT_URL"] == "http://acme-ai-assistant"
    assert env("globex")["AI_ASSISTANT_URL"] == ""


def test_feature_flags_turning_the_flag_off_removes_only_the_assistant(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("feature-flags")
    before = built.files()
    built.sql("UPDATE feature_flags SET ai_assistant = 0 WHERE tenant_id = 'acme'")
    assert built.render() == 0
    node = "default/tenants/acme-app"
    assert changed_files(before, built.files()) == {
        *(f"{node}/{file.format(uid='acme')}" for file in AI_FILES),
        f"{node}/deployment_tenant-acme_acme-app.yaml",  # AI_ASSISTANT_URL emptied
        f"{node}/kustomization.yaml",
        f"{node}/lynqnode.yaml",
    }
    assert not list(built.node("acme-app").glob("*ai-assistant*"))


# -------------------------------------------------------------------------------- blue-green


def test_blue_green_live_service_selects_the_active_version(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("blue-green")
    acme = built.load("acme-web", "service_tenant-acme_acme.yaml")
    globex = built.load("globex-web", "service_tenant-globex_globex.yaml")
    assert acme["spec"]["selector"] == {"app": "acme", "version": "blue"}
    assert globex["spec"]["selector"] == {"app": "globex", "version": "green"}


def test_blue_green_preview_service_selects_the_idle_version(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("blue-green")
    preview = built.load("acme-web", "service_tenant-acme_acme-preview.yaml")
    assert preview["spec"]["selector"] == {"app": "acme", "version": "green"}


def test_blue_green_every_tenant_runs_both_colours_with_their_images(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("blue-green")
    for uid in ("acme", "globex"):
        for colour, image in (("blue", "1.4.2"), ("green", "1.5.0")):
            deployment = built.load(f"{uid}-web", f"deployment_tenant-{uid}_{uid}-{colour}.yaml")
            template = deployment["spec"]["template"]
            assert template["metadata"]["labels"] == {"app": uid, "version": colour}
            assert template["spec"]["containers"][0]["image"] == f"ghcr.io/example/shop:{image}"


def test_blue_green_idle_colour_runs_standby_replicas(rendered: Callable[[str], Example]) -> None:
    built = rendered("blue-green")

    def replicas(uid: str, colour: str) -> int:
        file = f"deployment_tenant-{uid}_{uid}-{colour}.yaml"
        value: int = built.load(f"{uid}-web", file)["spec"]["replicas"]
        return value

    assert (replicas("acme", "blue"), replicas("acme", "green")) == (3, 3)  # standby = full
    assert (replicas("globex", "green"), replicas("globex", "blue")) == (2, 1)


def test_blue_green_switch_is_one_update_that_changes_only_the_services(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("blue-green")
    before = built.files()
    built.sql("UPDATE tenants SET active_version = 'green' WHERE tenant_id = 'acme'")
    assert built.render() == 0
    node = "default/tenants/acme-web"
    assert changed_files(before, built.files()) == {
        f"{node}/service_tenant-acme_acme.yaml",
        f"{node}/service_tenant-acme_acme-preview.yaml",
        f"{node}/lynqnode.yaml",
    }
    live = built.load("acme-web", "service_tenant-acme_acme.yaml")
    assert live["spec"]["selector"]["version"] == "green"


# -------------------------------------------------------------------- ephemeral-environments

LIVE_PREVIEWS = ["main-preview", "pr-101-preview", "pr-102-preview", "pr-103-preview"]


def preview_nodes(built: Example) -> list[str]:
    hub = built.out / "default" / "previews"
    return sorted(p.name for p in hub.iterdir() if p.is_dir())


def expire(built: Example, *env_ids: str) -> None:
    marks = ", ".join(f"'{env_id}'" for env_id in env_ids)
    built.sql(
        "UPDATE preview_environments SET expires_at = datetime('now', '-1 minute') "
        f"WHERE env_id IN ({marks})"
    )


def test_ephemeral_expired_environment_has_no_node_directory(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("ephemeral-environments")
    assert not built.node("pr-99-preview", hub="previews").exists()
    assert preview_nodes(built) == LIVE_PREVIEWS  # main never expires


def test_ephemeral_namespace_records_branch_and_expiry(rendered: Callable[[str], Example]) -> None:
    built = rendered("ephemeral-environments")
    pr = built.load("pr-101-preview", "namespace_preview-pr-101.yaml", hub="previews")
    main_env = built.load("main-preview", "namespace_preview-main.yaml", hub="previews")
    assert pr["metadata"]["annotations"]["previews.example.com/branch"] == "feature/checkout"
    assert pr["metadata"]["annotations"]["previews.example.com/expires-at"] > "2000-01-01"
    assert main_env["metadata"]["annotations"]["previews.example.com/expires-at"] == "never"
    ingress = built.load("pr-101-preview", "ingress_preview-pr-101_app.yaml", hub="previews")
    assert ingress["spec"]["rules"][0]["host"] == "pr-101.preview.example.com"


def test_ephemeral_environment_expiring_is_removed_at_the_next_render(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("ephemeral-environments")
    expire(built, "pr-103")
    assert built.render() == 0
    assert preview_nodes(built) == ["main-preview", "pr-101-preview", "pr-102-preview"]


def test_ephemeral_extending_the_ttl_keeps_the_environment(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("ephemeral-environments")
    built.sql(
        "UPDATE preview_environments SET expires_at = datetime('now', '+7 days') "
        "WHERE env_id = 'pr-99'"
    )
    assert built.render() == 0
    assert "pr-99-preview" in preview_nodes(built)


def test_ephemeral_many_expiring_at_once_are_held_by_the_deletion_guard(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("ephemeral-environments")
    expire(built, "pr-101", "pr-102", "pr-103")  # 3 of 4 nodes: more than maxDeletePercent 50
    assert built.render() == 3
    assert preview_nodes(built) == LIVE_PREVIEWS
    assert built.render("--allow-mass-delete") == 0
    assert preview_nodes(built) == ["main-preview"]


def test_ephemeral_half_expiring_at_once_passes_the_tuned_guard(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("ephemeral-environments")
    expire(built, "pr-102", "pr-103")  # 2 of 4 nodes: exactly maxDeletePercent 50
    assert built.render() == 0
    assert preview_nodes(built) == ["main-preview", "pr-101-preview"]


# -------------------------------------------------------------------------- clone-to-staging

CLONE_GLOBEX = """
INSERT INTO tenants (tenant_id, active, environment, cloned_from, domain, plan, replicas, image)
SELECT tenant_id || '-staging', 1, 'staging', tenant_id, 'staging.' || domain, plan, 1, image
FROM tenants
WHERE environment = 'production' AND tenant_id = 'globex'
"""


def test_clone_staging_node_exists_for_the_cloned_tenant(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("clone-to-staging")
    nodes = sorted(p.name for p in (built.out / "default" / "tenants").iterdir() if p.is_dir())
    assert nodes == ["acme-staging-web", "acme-web", "globex-web", "initech-web"]
    namespace = built.load("acme-staging-web", "namespace_tenant-acme-staging.yaml")
    assert namespace["metadata"]["labels"]["tenants.example.com/cloned-from"] == "acme"
    assert namespace["metadata"]["labels"]["tenants.example.com/environment"] == "staging"


def test_clone_staging_copy_has_its_own_size_domain_and_settings(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("clone-to-staging")
    node = "acme-staging-web"
    deployment = built.load(node, "deployment_tenant-acme-staging_acme-staging-app.yaml")
    ingress = built.load(node, "ingress_tenant-acme-staging_acme-staging-web.yaml")
    settings = built.load(node, "configmap_tenant-acme-staging_acme-staging-settings.yaml")
    production = built.load("acme-web", "deployment_tenant-acme_acme-app.yaml")
    assert deployment["spec"]["replicas"] == 1
    assert production["spec"]["replicas"] == 4
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == production["spec"]["template"]["spec"]["containers"][0]["image"]
    assert ingress["spec"]["rules"][0]["host"] == "staging.acme.example.com"
    assert settings["data"] == {"ENVIRONMENT": "staging", "MAIL_MODE": "sink", "PLAN": "enterprise"}


def test_clone_another_tenant_adds_one_node_and_leaves_production_untouched(
    rendered: Callable[[str], Example],
) -> None:
    built = rendered("clone-to-staging")
    before = built.files()
    built.sql(CLONE_GLOBEX)
    assert built.render() == 0
    changed = changed_files(before, built.files())
    assert changed - {"default/tenants/kustomization.yaml"} == {
        p for p in built.files() if p.startswith("default/tenants/globex-staging-web/")
    }
    assert not before.keys() - built.files().keys()
