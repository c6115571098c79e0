"""The GitOps targets: golden trees and what each Lynq policy becomes for Argo CD and Flux.

Golden trees live in ``tests/unit/golden-targets/<target>/``; regenerate them with
``LYNQ_UPDATE_GOLDEN=1`` after an intended change and review the diff like any other. The
fixture (``tests/targets_fixture.py``) uses every policy in a three-level dependency graph.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from targets_fixture import (
    FORM_YAML,
    bridge_spec,
    plan,
    render,
    tree,
)

from renderers import target_for

GOLDEN = Path(__file__).parent / "golden-targets"
TARGETS = ["argocd", "flux", "both"]


def load(files: dict[str, bytes], path: str) -> Any:
    return yaml.safe_load(files[path])


def annotations(files: dict[str, bytes], path: str) -> dict[str, str]:
    value: dict[str, str] = load(files, path)["metadata"].get("annotations", {})
    return value


# ------------------------------------------------------------------------------ golden trees


@pytest.mark.parametrize("name", TARGETS)
def test_rendered_tree_matches_golden_files(name: str) -> None:
    files = tree(name)
    golden = GOLDEN / name
    if os.environ.get("LYNQ_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        for path, content in files.items():
            (golden / path).parent.mkdir(parents=True, exist_ok=True)
            (golden / path).write_bytes(content)
    expected = {p.relative_to(golden).as_posix(): p.read_bytes() for p in golden.rglob("*.yaml")}
    assert sorted(files) == sorted(expected)
    for path, content in files.items():
        assert content == expected[path], f"{name}: {path} differs from its golden file"


@pytest.mark.parametrize("name", TARGETS)
def test_rendering_twice_gives_identical_bytes(name: str) -> None:
    assert tree(name) == tree(name)


@pytest.mark.parametrize("name", TARGETS)
def test_every_directory_lists_exactly_its_manifests_and_subdirectories(name: str) -> None:
    files = tree(name)
    for path, content in files.items():
        if not path.endswith("kustomization.yaml"):
            continue
        directory = path.rpartition("/")[0]
        prefix = f"{directory}/" if directory else ""
        below = {p[len(prefix) :] for p in files if p.startswith(prefix) and p != path}
        inside = {p.split("/")[0] for p in below}
        if directory in ("argocd", "flux"):
            inside = {p for p in below if p != "kustomization.yaml"}  # engine files, recursively
        elif not directory:
            inside = {p for p in inside if "-" in p}  # the hub lists its node directories
        assert set(yaml.safe_load(content)["resources"]) == inside, path


# ------------------------------------------------------------------------------ Argo CD


@pytest.mark.parametrize(
    ("file", "wave", "options"),
    [
        ("namespace_t-acme.yaml", "0", "Prune=false,Delete=false,ServerSideApply=true"),
        ("configmap_t-acme_acme-settings.yaml", "1", None),  # merge: client-side apply
        ("serviceaccount_t-acme_acme-app.yaml", "1", None),
        ("deployment_t-acme_acme-app.yaml", "2", "ServerSideApply=true"),
        (
            "service_t-acme_acme-app.yaml",
            "2",
            "Prune=false,Delete=false,Replace=true,SkipDryRunOnMissingResource=true",
        ),
        ("lynqnode.yaml", "3", None),
    ],
)
def test_argocd_waves_follow_depth_and_sync_options_combine_in_one_value(
    file: str, wave: str, options: str | None
) -> None:
    found = annotations(tree("argocd"), f"acme-web/{file}")
    assert found["argocd.argoproj.io/sync-wave"] == wave
    assert found.get("argocd.argoproj.io/sync-options") == options


def test_argocd_application_points_at_the_node_directory_and_cascades_deletion() -> None:
    app = load(tree("argocd"), "argocd/acme-web.yaml")
    assert app["metadata"]["name"] == "apps.acme-web"
    assert app["metadata"]["namespace"] == "argocd"
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert app["spec"]["source"] == {
        "repoURL": "https://git.example.com/platform/gitops.git",
        "targetRevision": "main",
        "path": "lynq/apps/tenants/acme-web",
    }
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_argocd_ignore_fields_and_once_become_ignore_differences() -> None:
    app = load(tree("argocd"), "argocd/acme-web.yaml")
    assert app["spec"]["syncPolicy"]["syncOptions"] == ["RespectIgnoreDifferences=true"]
    ignored = {d["kind"]: d for d in app["spec"]["ignoreDifferences"]}
    assert ignored["ConfigMap"] == {  # Once: the body, never the identity or metadata
        "kind": "ConfigMap",
        "name": "acme-settings",
        "namespace": "t-acme",
        "jsonPointers": ["/data"],
    }
    assert ignored["Deployment"]["group"] == "apps"
    assert ignored["Deployment"]["jsonPointers"] == [
        "/spec/replicas",
        "/spec/template/metadata/annotations/example.com~1restartedAt",
    ]
    assert ignored["Ingress"]["jqPathExpressions"] == [".spec.rules[].host"]
    assert set(ignored) == {"ConfigMap", "Deployment", "Ingress"}


def test_argocd_application_without_ignores_has_no_respect_option() -> None:
    form = yaml.safe_load(FORM_YAML)
    for entries in form["spec"].values():
        for entry in entries if isinstance(entries, list) else []:
            entry.pop("ignoreFields", None)
            entry.pop("creationPolicy", None)
    target = target_for(bridge_spec("argocd"))
    files = plan(target, render(target, text=yaml.safe_dump(form))).writes
    spec = load(files, "argocd/acme-web.yaml")["spec"]
    assert "ignoreDifferences" not in spec and "syncOptions" not in spec["syncPolicy"]


def test_argocd_settings_shape_the_application() -> None:
    files = tree(
        "argocd",
        argocd={
            "namespace": "gitops",
            "project": "tenants",
            "destinationServer": "https://prod.example.com",
            "repoURL": "ssh://git@git.example.com/gitops.git",
            "targetRevision": "release",
            "syncPolicy": {"automated": False, "retryLimit": 0},
        },
    )
    app = load(files, "argocd/acme-web.yaml")
    assert app["metadata"]["namespace"] == "gitops"
    assert app["spec"]["project"] == "tenants"
    assert app["spec"]["destination"]["server"] == "https://prod.example.com"
    assert app["spec"]["source"]["repoURL"] == "ssh://git@git.example.com/gitops.git"
    assert app["spec"]["source"]["targetRevision"] == "release"
    assert app["spec"]["syncPolicy"] == {"syncOptions": ["RespectIgnoreDifferences=true"]}


# ---------------------------------------------------------------------------------- Flux


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("level-0/namespace_t-acme.yaml", {"kustomize.toolkit.fluxcd.io/prune": "disabled"}),
        (  # Once wins over merge
            "level-1/configmap_t-acme_acme-settings.yaml",
            {"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"},
        ),
        (
            "level-1/serviceaccount_t-acme_acme-app.yaml",
            {"kustomize.toolkit.fluxcd.io/ssa": "Merge"},
        ),
        ("level-2/deployment_t-acme_acme-app.yaml", {}),  # apply: Flux's default
        (
            "level-2/service_t-acme_acme-app.yaml",
            {
                "kustomize.toolkit.fluxcd.io/force": "enabled",
                "kustomize.toolkit.fluxcd.io/prune": "disabled",
            },
        ),
    ],
)
def test_flux_policies_become_kustomize_controller_annotations(
    file: str, expected: dict[str, str]
) -> None:
    found = annotations(tree("flux"), f"acme-web/{file}")
    flux = {k: v for k, v in found.items() if k.startswith("kustomize.toolkit.fluxcd.io/")}
    assert flux == expected


def test_flux_renders_one_kustomization_per_level_chained_by_depends_on() -> None:
    files = tree("flux")
    levels = [load(files, f"flux/acme-web/level-{n}.yaml") for n in range(3)]
    assert [k["metadata"]["name"] for k in levels] == [f"apps.acme-web.{n}" for n in range(3)]
    assert [k["spec"].get("dependsOn") for k in levels] == [
        None,
        [{"name": "apps.acme-web.0"}],
        [{"name": "apps.acme-web.1"}],
    ]
    assert [k["spec"]["path"] for k in levels] == [
        f"./lynq/apps/tenants/acme-web/level-{n}" for n in range(3)
    ]
    assert levels[0]["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "lynq-bridge"}
    assert [k["spec"]["timeout"] for k in levels] == ["300s", "300s", "600s"]


def test_flux_lynqnode_is_applied_first_and_health_checked_by_the_last_level() -> None:
    files = tree("flux")
    assert "acme-web/level-0/lynqnode.yaml" in files
    first, middle, last = (load(files, f"flux/acme-web/level-{n}.yaml")["spec"] for n in range(3))
    # Level 0 applies the LynqNode but must not wait for it: its readiness needs every level.
    assert "wait" not in first
    assert first["healthChecks"] == [{"apiVersion": "v1", "kind": "Namespace", "name": "t-acme"}]
    assert middle["wait"] is True and "healthChecks" not in middle
    # The last level waits for its resources that wait (not the PodDisruptionBudget, which has
    # waitForReady: false) and for the LynqNode: it is Ready when the tenant is.
    assert "wait" not in last
    assert [(c["kind"], c["name"]) for c in last["healthChecks"]] == [
        ("Deployment", "acme-app"),
        ("Ingress", "acme-web"),
        ("LynqNode", "acme-web"),
        ("Service", "acme-app"),
    ]
    assert {"kind": "LynqNode", "name": "acme-web", "namespace": "apps"}.items() <= next(
        c for c in last["healthChecks"] if c["kind"] == "LynqNode"
    ).items()


def test_flux_single_level_node_waits_for_everything_it_applies() -> None:
    form = yaml.safe_load(FORM_YAML)
    form["spec"] = {"hubId": "tenants", "configMaps": form["spec"]["configMaps"]}
    form["spec"]["configMaps"][0]["dependIds"] = []
    target = target_for(bridge_spec("flux"))
    files = plan(target, render(target, text=yaml.safe_dump(form))).writes
    assert sorted(p for p in files if p.startswith("flux/acme-web/")) == [
        "flux/acme-web/level-0.yaml"
    ]
    spec = load(files, "flux/acme-web/level-0.yaml")["spec"]
    assert spec["wait"] is True and "dependsOn" not in spec


def test_flux_ignore_rules_are_opt_in_and_skip_wildcards() -> None:
    assert "ignore" not in load(tree("flux"), "flux/acme-web/level-2.yaml")["spec"]
    spec = load(tree("flux", flux={"ignoreRules": True}), "flux/acme-web/level-2.yaml")["spec"]
    assert spec["ignore"] == [
        {
            "paths": [
                "/spec/replicas",
                "/spec/template/metadata/annotations/example.com~1restartedAt",
            ],
            "target": {
                "group": "apps",
                "version": "v1",
                "kind": "Deployment",
                "name": "acme-app",
                "namespace": "t-acme",
            },
        }
    ]


def test_flux_settings_shape_the_kustomizations() -> None:
    files = tree(
        "flux",
        flux={
            "namespace": "tenants-flux",
            "sourceRef": {"kind": "OCIRepository", "name": "gitops", "namespace": "flux-system"},
            "interval": "1h",
            "prune": False,
            "wait": False,
            "timeout": "2m",
            "serviceAccountName": "tenant-applier",
        },
    )
    spec = load(files, "flux/acme-web/level-2.yaml")["spec"]
    assert load(files, "flux/acme-web/level-2.yaml")["metadata"]["namespace"] == "tenants-flux"
    assert spec["sourceRef"] == {
        "kind": "OCIRepository",
        "name": "gitops",
        "namespace": "flux-system",
    }
    assert (spec["interval"], spec["prune"], spec["timeout"]) == ("1h", False, "2m")
    assert spec["serviceAccountName"] == "tenant-applier"
    assert "wait" not in spec and "healthChecks" not in spec


# ---------------------------------------------------------------------------------- both


def test_both_carries_both_annotation_sets_and_both_engines_files() -> None:
    files = tree("both")
    found = annotations(files, "acme-web/level-2/service_t-acme_acme-app.yaml")
    assert found["argocd.argoproj.io/sync-wave"] == "2"
    assert found["kustomize.toolkit.fluxcd.io/force"] == "enabled"
    assert annotations(files, "acme-web/level-0/lynqnode.yaml") == {
        "argocd.argoproj.io/sync-wave": "3"
    }
    assert "argocd/acme-web.yaml" in files and "flux/acme-web/level-2.yaml" in files
    # Argo CD builds the whole node through its kustomization.yaml.
    app = load(files, "argocd/acme-web.yaml")
    assert app["spec"]["source"]["path"] == "lynq/apps/tenants/acme-web"
    assert load(files, "acme-web/kustomization.yaml")["resources"] == [
        "level-0",
        "level-1",
        "level-2",
    ]


def test_plain_target_adds_no_engine_annotations_or_files() -> None:
    files = tree("plain")
    assert not any(p.startswith(("argocd/", "flux/")) for p in files)
    # (The form itself sets one Argo CD sync option on the Service, which stays as written.)
    assert not any(b"sync-wave" in c or b"fluxcd.io" in c for c in files.values())
