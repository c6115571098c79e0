"""The GitOps targets in the planner: who owns the engine files (held, blocked, failed and
removed nodes, a change of target), the hub's engine directories, ``validate`` warnings and the
helpers the renderers share. The fixture is ``tests/targets_fixture.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from targets_fixture import (
    FORM_YAML,
    HUB,
    RECORDS,
    bridge_spec,
    compiled_form,
    plan,
    render,
    rows,
    tree,
)

from lynq_bridge.config.models import BridgeConfig
from lynq_bridge.core.layout import directory_kustomizations, path_owner
from lynq_bridge.core.planning import DeletionGuard, blob_id
from lynq_bridge.core.rendering import render_hub
from lynq_bridge.core.reviewing import diff_trees
from renderers import target_for
from renderers.common import engine_name, jq_path, json_pointer

TARGETS = ["argocd", "flux", "both"]


def load(files: dict[str, bytes], path: str) -> Any:
    return yaml.safe_load(files[path])


def committed(files: dict[str, bytes]) -> dict[str, str]:
    return {path: blob_id(content) for path, content in files.items()}


# ---------------------------------------------------------------- ownership of engine files


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("kustomization.yaml", None),
        ("acme-web/lynqnode.yaml", "acme-web"),
        ("acme-web/level-0/lynqnode.yaml", "acme-web"),
        ("argocd/acme-web.yaml", "acme-web"),
        ("argocd/kustomization.yaml", None),
        ("flux/acme-web/level-0.yaml", "acme-web"),
        ("flux/kustomization.yaml", None),
    ],
)
def test_path_owner_reads_the_node_off_the_path(path: str, owner: str | None) -> None:
    assert path_owner(path) == owner


@pytest.mark.parametrize("name", TARGETS)
def test_removed_node_loses_its_engine_files(name: str) -> None:
    target = target_for(bridge_spec(name))
    first = plan(target, render(target)).writes
    second = plan(target, render(target, RECORDS[:1]), committed(first), guard=DeletionGuard(50))
    assert second.removed == ["beta-web"]
    assert sorted(second.deletes) == sorted(p for p in first if path_owner(p) == "beta-web")
    assert any(p.startswith(("argocd/beta-web", "flux/beta-web/")) for p in second.deletes)
    for directory in target.engine_dirs:
        listed = load(second.writes, f"{directory}/kustomization.yaml")["resources"]
        assert listed and not [p for p in listed if "beta-web" in p]


@pytest.mark.parametrize("name", TARGETS)
def test_held_node_keeps_its_engine_files_and_stays_listed(name: str) -> None:
    target = target_for(bridge_spec(name))
    first = plan(target, render(target)).writes
    second = plan(target, render(target, RECORDS[:1]), committed(first))  # 1 of 2 > 25 %
    assert second.held == ["beta-web"]
    assert not second.deletes and not second.writes


@pytest.mark.parametrize("name", TARGETS)
def test_node_blocked_by_a_name_collision_keeps_every_committed_file(name: str) -> None:
    target = target_for(bridge_spec(name))
    records = [*RECORDS, ("be-ta", "1", None, None, None)]
    first = plan(target, render(target, records)).writes
    # A new form "ta-web" and a row "be" make a second be-ta-web: neither is rendered.
    other = compiled_form(FORM_YAML.replace("name: web,", "name: ta-web,"))
    more = [*records, ("be", "1", None, None, None)]
    result = render_hub(HUB, [compiled_form(), other], rows(more), target)
    assert "be-ta-web" in result.blocked_nodes and "be-ta-web" not in result.nodes
    second = plan(target, result, committed(first), guard=DeletionGuard(100))
    assert not [p for p in second.deletes if path_owner(p) == "be-ta-web"]
    assert not [p for p in second.writes if path_owner(p) == "be-ta-web"]
    for directory in target.engine_dirs:
        listed = load({**first, **second.writes}, f"{directory}/kustomization.yaml")["resources"]
        assert [p for p in listed if p.startswith("be-ta-web")]


@pytest.mark.parametrize("name", TARGETS)
def test_failed_resource_keeps_its_file_where_it_was_and_its_engine_config(name: str) -> None:
    target = target_for(bridge_spec(name))
    first = plan(target, render(target)).writes
    broken = FORM_YAML.replace('nameTemplate: "{{ uid }}-settings"', 'nameTemplate: "{{ plann }}"')
    result = render(target, text=broken)
    assert sorted(result.nodes["acme-web"].failed) == ["settings"]
    assert sorted(result.nodes["acme-web"].skipped) == ["app", "svc", "web"]
    node = "acme-web/level-0/lynqnode.yaml" if name != "argocd" else "acme-web/lynqnode.yaml"
    second = plan(target, result, committed(first), previous={"acme-web": first[node]})
    assert not [p for p in second.deletes if p.startswith("acme-web/")]
    merged = {**first, **second.writes}
    inventory = {e["id"] for e in load(merged, node)["spec"]["resources"]}
    assert inventory == {"ns", "sa", "settings", "app", "svc", "pdb", "web"}
    if name == "argocd":
        app = load(merged, "argocd/acme-web.yaml")
        assert {d["kind"] for d in app["spec"]["ignoreDifferences"]} == {
            "ConfigMap",
            "Deployment",
            "Ingress",
        }
    else:
        assert (
            "deployment_t-acme_acme-app.yaml"
            in load(merged, "acme-web/level-2/kustomization.yaml")["resources"]
        )
        assert "flux/acme-web/level-2.yaml" in merged


def test_changing_the_target_moves_files_without_removing_nodes() -> None:
    flux = target_for(bridge_spec("flux"))
    argocd = target_for(bridge_spec("argocd"))
    first = plan(flux, render(flux)).writes
    second = plan(argocd, render(argocd), committed(first))
    assert not second.removed and not second.held and not second.added
    assert sorted(second.updated) == ["acme-web", "beta-web"]
    assert "flux/kustomization.yaml" in second.deletes
    assert "acme-web/level-2/deployment_t-acme_acme-app.yaml" in second.deletes
    assert "argocd/acme-web.yaml" in second.writes
    assert "acme-web/deployment_t-acme_acme-app.yaml" in second.writes


@pytest.mark.parametrize("name", TARGETS)
def test_engine_directory_stays_when_the_last_node_goes(name: str) -> None:
    target = target_for(bridge_spec(name))
    first = plan(target, render(target)).writes
    second = plan(target, render(target, []), committed(first), guard=DeletionGuard(25, True))
    assert sorted(second.removed) == ["acme-web", "beta-web"]
    for directory in target.engine_dirs:
        assert load(second.writes, f"{directory}/kustomization.yaml")["resources"] == []


def test_unchanged_tree_plans_nothing_for_every_target() -> None:
    for name in TARGETS:
        target = target_for(bridge_spec(name))
        first = plan(target, render(target)).writes
        assert not plan(target, render(target), committed(first)).changed


# ------------------------------------------------------------------------------- warnings


def warnings(name: str, **spec: Any) -> list[str]:
    return target_for(bridge_spec(name, **spec)).warnings([compiled_form()])


def test_validate_warns_about_every_argocd_gap_naming_form_and_ids() -> None:
    found = warnings("argocd")
    assert any(w.startswith('form web, resource "settings": creationPolicy Once') for w in found)
    assert any(w.startswith('form web, resource "pdb": waitForReady false') for w in found)
    assert any(
        w.startswith('form web, resource "pdb": skipOnDependencyFailure false') for w in found
    )
    stuck = [w for w in found if "conflictPolicy Stuck" in w]
    assert stuck == [
        'form web, resources "app", "ns", "sa", "settings", "svc", "web": conflictPolicy Stuck '
        "has no Argo CD equivalent (the engine takes over an object that already exists): with "
        "spec.report.enabled the sync keeps a new object that belongs to someone else out of Git "
        "and the status reporter reports it as Conflicted; without cluster access the engine "
        "adopts it"
    ]
    assert not [w for w in found if "ignoreFields" in w]


def test_validate_warns_about_every_flux_gap_naming_form_and_ids() -> None:
    found = warnings("flux")
    assert any(
        w.startswith('form web, resources "app", "web": ignoreFields has no Flux') for w in found
    )
    assert any("conflictPolicy Stuck has no Flux equivalent" in w for w in found)
    assert not [w for w in found if "creationPolicy Once" in w or "waitForReady" in w]
    with_rules = warnings("flux", flux={"ignoreRules": True})
    assert any(w.startswith('form web, resource "web": ignoreFields with [*]') for w in with_rules)


def test_validate_for_both_lists_each_gap_once() -> None:
    found = warnings("both")
    assert len([w for w in found if "conflictPolicy Stuck" in w]) == 1
    assert any("Stuck has no Argo CD or Flux equivalent" in w for w in found)
    assert any("creationPolicy Once" in w for w in found)
    assert any("ignoreFields has no Flux" in w for w in found)


def test_argocd_warns_when_the_repository_is_a_local_path() -> None:
    target = target_for(bridge_spec("argocd", git={"url": "/srv/gitops.git"}))
    assert any("argocd.repoURL is not set" in w for w in target.warnings([]))
    assert not target_for(bridge_spec("argocd")).warnings([])


# ---------------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("path", "pointer", "jq"),
    [
        ("$.spec.replicas", "/spec/replicas", ".spec.replicas"),
        ("$.a[0].b", "/a/0/b", ".a[0].b"),
        ("$.metadata.annotations['x.io/y~z']", "/metadata/annotations/x.io~1y~0z", None),
        ("$.spec.rules[*].host", None, ".spec.rules[].host"),
        ("$.data['a.b']", "/data/a.b", '.data["a.b"]'),
    ],
)
def test_ignore_fields_become_json_pointers_or_jq_paths(
    path: str, pointer: str | None, jq: str | None
) -> None:
    assert json_pointer(path) == pointer
    if jq is not None:
        assert jq_path(path) == jq


def test_engine_names_stay_unique_and_within_63_characters() -> None:
    assert engine_name("apps", "acme-web", "0") == "apps.acme-web.0"
    long_a = engine_name("n" * 40, "a" * 60, "1")
    long_b = engine_name("n" * 40, "a" * 60, "2")
    assert len(long_a) <= 63 and len(long_b) <= 63 and long_a != long_b
    assert long_a[-1].isalnum()


def test_directory_kustomizations_list_files_and_subdirectories() -> None:
    made = directory_kustomizations(["level-0/a.yaml", "level-1/b.yaml", "level-1/c.yaml"])
    assert yaml.safe_load(made["kustomization.yaml"])["resources"] == ["level-0", "level-1"]
    assert yaml.safe_load(made["level-1/kustomization.yaml"])["resources"] == ["b.yaml", "c.yaml"]


@pytest.mark.parametrize("name", TARGETS)
def test_diff_counts_engine_files_with_their_node(name: str) -> None:
    base = {f"apps/tenants/{p}": c for p, c in tree(name).items()}
    target = target_for(bridge_spec(name))
    head = {
        f"apps/tenants/{p}": c for p, c in plan(target, render(target, RECORDS[:1])).writes.items()
    }
    result = diff_trees(base, head)
    assert result.nodes_total == 2
    assert result.nodes_removed == ["apps/tenants/beta-web"]
    assert result.nodes_changed == []


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_example_bridge_config_matches_the_example_root_object(engine: str) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / engine
    config = BridgeConfig.model_validate(
        yaml.safe_load((examples / "bridge" / "lynq-bridge.yaml").read_text(encoding="utf-8"))
    )
    assert config.spec.target == engine
    target = target_for(config.spec)
    assert not [w for w in target.warnings([]) if "repoURL" in w]
    root_file = "root-application.yaml" if engine == "argocd" else "root-kustomization.yaml"
    root = yaml.safe_load((examples / root_file).read_text(encoding="utf-8"))
    hub_dir = f"{config.spec.git.path}/default/tenants/{engine}"
    if engine == "argocd":
        assert root["spec"]["source"]["path"] == hub_dir
        assert root["spec"]["project"] == config.spec.argocd.project
        assert root["spec"]["source"]["repoURL"] == config.spec.argocd.repoURL
    else:
        assert root["spec"]["path"] == f"./{hub_dir}"
        assert root["spec"]["sourceRef"]["name"] == config.spec.flux.sourceRef.name
        source = yaml.safe_load((examples / "gitrepository.yaml").read_text(encoding="utf-8"))
        assert source["metadata"]["name"] == config.spec.flux.sourceRef.name
        assert source["spec"]["ref"]["branch"] == config.spec.git.branch
