"""The pure core from rows to a planned tree: golden files, typed values, isolation, planning.

Golden files live in ``tests/unit/golden/``; regenerate them with ``LYNQ_UPDATE_GOLDEN=1``
after an intended change and review the diff like any other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import targets_fixture as fixture
import yaml
from targets_fixture import HUB, rows

from lynq_bridge.config.models import InventoryEntry
from lynq_bridge.core.planning import DeletionGuard, HubPlan, blob_id
from lynq_bridge.core.rendering import Child, HubRender, render_hub
from renderers.plain import PlainTarget

GOLDEN = Path(__file__).parent / "golden"

FORM_YAML = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: apps}
spec:
  hubId: tenants
  namespaces:
    - id: ns
      nameTemplate: "t-{{ uid }}"
      spec: {apiVersion: v1, kind: Namespace}
  configMaps:
    - id: settings
      dependIds: [ns]
      nameTemplate: "{{ uid }}-settings"
      targetNamespace: "t-{{ uid }}"
      labelsTemplate: {plan: "{{ plan | default('basic') }}"}
      annotationsTemplate: {example.com/replicas: "{{ replicas | int }}"}
      spec:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          labels: {team: platform}
        data:
          replicas: "{{ replicas | int }}"
          config.yaml: |
            plan: {{ plan | default('basic') }}
            domain: {{ domain | toHost }}
  deployments:
    - id: app
      dependIds: [settings]
      nameTemplate: "{{ uid }}-app"
      targetNamespace: "t-{{ uid }}"
      deletionPolicy: Retain
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          replicas: "{{ replicas | default('1') | int }}"
          paused: "{{ plan == 'frozen' }}"
          selector: {matchLabels: {app: "{{ uid }}"}}
          template:
            metadata: {labels: {app: "{{ uid }}"}}
            spec:
              nodeSelector: {tier: "{{ replicas | int }}"}
              containers:
                - name: app
                  image: nginx:1.27
                  args: ["--ratio", "{{ '0.5' | float }}", "--debug={{ plan == 'dev' }}"]
                  env:
                    - {name: DEBUG, value: "{{ (plan == 'dev') | bool }}"}
  ingresses:
    - id: web
      dependIds: [app]
      includeWhen: "{{ domain != '' }}"
      nameTemplate: "{{ uid }}-web"
      targetNamespace: "t-{{ uid }}"
      spec:
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        spec:
          rules: [{host: "{{ domain | toHost }}"}]
"""

RECORDS = [
    ("acme", "1", "https://acme.example.com:8443/shop", "pro", 3),
    ("beta", "yes", None, None, None),
    ("gone", "0", "x.example.com", "pro", 1),
]


def compiled_form(text: str = FORM_YAML) -> Any:
    return fixture.compiled_form(text)


def render(records: list[tuple[Any, ...]] = RECORDS, text: str = FORM_YAML) -> HubRender:
    return fixture.render(PlainTarget(), records, text)


def plan(render_: HubRender, existing: dict[str, str] | None = None, **kw: Any) -> HubPlan:
    return fixture.plan(PlainTarget(), render_, existing, **kw)


def test_rendered_tree_matches_golden_files() -> None:
    files = plan(render()).writes
    if os.environ.get("LYNQ_UPDATE_GOLDEN"):
        for path, content in files.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_bytes(content)
    golden = {
        p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in GOLDEN.rglob("*") if p.is_file()
    }
    assert sorted(files) == sorted(golden)
    for path, content in files.items():
        assert content == golden[path], f"{path} differs from its golden file"


def test_inventory_entries_equal_validated_ones_and_stay_copyable() -> None:
    nodes = render().nodes
    entries = [c.entry for n in sorted(nodes) for c in nodes[n].children]
    for entry in entries:
        assert InventoryEntry.model_validate(entry.model_dump()) == entry
        assert entry.model_fields_set == set(InventoryEntry.model_fields)
    # The entries share one set of given fields: a copy with an update must not change it.
    copied = entries[0].model_copy(update={"hash": "x"})
    assert copied.hash == "x" and entries[1].hash != "x"
    assert entries[1].model_fields_set == set(InventoryEntry.model_fields)
    # A child built from an entry gives that entry back.
    assert all(Child.of(e, depth=0, content=b"").entry == e for e in entries)


def test_rendering_twice_gives_identical_bytes() -> None:
    assert plan(render()).writes == plan(render()).writes


def test_typed_fields_become_numbers_and_booleans_except_string_fields() -> None:
    node = render().nodes["acme-web"]
    by_id = {c.entry.id: yaml.safe_load(c.content) for c in node.children}
    deployment = by_id["app"]
    assert deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["--ratio", 0.5, "--debug=false"]
    assert container["env"][0]["value"] is False
    assert deployment["spec"]["paused"] == "false"  # a comparison is not a typed function
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"tier": "3"}
    settings = by_id["settings"]
    assert settings["data"]["replicas"] == "3"
    assert settings["metadata"]["annotations"]["example.com/replicas"] == "3"
    assert settings["metadata"]["labels"]["plan"] == "pro"
    assert settings["metadata"]["labels"]["team"] == "platform"


def test_include_when_false_leaves_the_resource_out() -> None:
    node = render().nodes["beta-web"]
    assert [c.entry.id for c in node.children] == ["ns", "settings", "app"]
    assert not node.failed and not node.skipped


def test_inactive_row_renders_no_node() -> None:
    assert sorted(render().nodes) == ["acme-web", "beta-web"]


def test_cluster_scoped_kind_has_no_namespace() -> None:
    node = render().nodes["acme-web"]
    namespace = yaml.safe_load(node.children[0].content)
    assert namespace["kind"] == "Namespace" and "namespace" not in namespace["metadata"]
    assert node.children[0].entry.namespace is None


def test_render_error_is_isolated_to_the_resource_and_its_dependents() -> None:
    broken = FORM_YAML.replace('"{{ uid }}-app"', '"{{ uid }}-{{ plann }}"')
    result = render(text=broken)
    node = result.nodes["acme-web"]
    assert sorted(node.failed) == ["app"]
    assert sorted(node.skipped) == ["web"]
    assert node.failed["app"] == (
        'failed to render resource "app" of node acme-web (hub tenants, uid acme): '
        'undefined variable "plann"'
    )
    assert [c.entry.id for c in node.children] == ["ns", "settings"]
    assert "beta-web" in result.nodes


def test_dependent_without_skip_on_failure_still_renders() -> None:
    text = FORM_YAML.replace('"{{ uid }}-app"', '"{{ plann }}"').replace(
        "      includeWhen:", "      skipOnDependencyFailure: false\n      includeWhen:"
    )
    node = render(text=text).nodes["acme-web"]
    assert "web" in {c.entry.id for c in node.children}


def test_invalid_rendered_name_is_a_resource_error() -> None:
    node = render(
        records=[("acme", "1", "", "Pro_Plan", 1)],
        text=FORM_YAML.replace('"{{ uid }}-settings"', '"{{ uid }}-{{ plan }}"'),
    ).nodes["acme-web"]
    assert 'name "acme-Pro_Plan" is not a valid Kubernetes object name' in node.failed["settings"]


@pytest.mark.parametrize(
    ("uid", "problem"),
    [
        ("", "the uid is empty"),
        ("Acme", "is not a DNS-1123 subdomain"),
        ("a_b", "is not a DNS-1123 subdomain"),
        ("../../etc", "is not a DNS-1123 subdomain"),
        ("a/b", "is not a DNS-1123 subdomain"),
        ("x" * 250, "longer than 253 characters"),
    ],
)
def test_unusable_uid_is_a_row_error_that_spares_other_rows(uid: str, problem: str) -> None:
    result = render(records=[(uid, "1", "", "", ""), *RECORDS])
    assert sorted(result.nodes) == ["acme-web", "beta-web"]
    assert len(result.row_errors) == 1
    assert f'uid "{uid}" of hub tenants' in result.row_errors[0] and problem in result.row_errors[0]


def test_duplicate_uid_uses_the_first_row_and_reports_the_other() -> None:
    result = render(records=[("acme", "1", "", "zzz", 1), *RECORDS])
    assert 'duplicate uid "acme"' in result.row_errors[0]
    deployment = yaml.safe_load(
        next(c.content for c in result.nodes["acme-web"].children if c.entry.id == "app")
    )
    # Rows with equal uids are ordered by their values as text ("" < "https://..."), so the
    # choice does not depend on the order the database returned them in.
    assert deployment["spec"]["replicas"] == 1


def test_colliding_node_names_render_neither() -> None:
    form_a = compiled_form(FORM_YAML.replace("name: web,", "name: c,"))
    form_b = compiled_form(FORM_YAML.replace("name: web,", "name: b-c,"))
    result = render_hub(
        HUB, [form_a, form_b], rows([("a-b", "1", "", "", 1), ("a", "1", "", "", 1)]), PlainTarget()
    )
    assert "a-b-c" not in result.nodes
    assert "a-b-c" in result.blocked_nodes
    assert any(
        "(uid a, form b-c) and (uid a-b, form c)" in e
        or "(uid a-b, form c) and (uid a, form b-c)" in e
        for e in result.row_errors
    )
    assert "a-c" in result.nodes and "a-b-b-c" in result.nodes


def test_row_value_is_data_not_template() -> None:
    text = FORM_YAML.replace("labelsTemplate: {plan: \"{{ plan | default('basic') }}\"}", "")
    node = render(records=[("acme", "1", "", "{{ 7*7 }}", 1)], text=text).nodes["acme-web"]
    settings = yaml.safe_load(next(c.content for c in node.children if c.entry.id == "settings"))
    assert "plan: {{ 7*7 }}" in settings["data"]["config.yaml"]


def test_plan_against_identical_tree_changes_nothing() -> None:
    first = plan(render())
    existing = {p: blob_id(c) for p, c in first.writes.items()}
    second = plan(render(), existing)
    assert not second.changed and not second.added and not second.updated


def test_plan_removes_node_and_lists_it() -> None:
    first = plan(render())
    existing = {p: blob_id(c) for p, c in first.writes.items()}
    second = plan(render(records=RECORDS[1:]), existing, guard=DeletionGuard(50))
    assert second.removed == ["acme-web"]
    assert all(p.startswith("acme-web/") for p in second.deletes)
    assert "kustomization.yaml" in second.writes


@pytest.mark.parametrize(
    ("existing", "removing", "percent", "held"),
    [
        (4, 1, 25, False),
        (4, 2, 25, True),
        (1, 1, 100, True),
        (10, 10, 100, True),
        (3, 0, 0, False),
        (100, 26, 25, True),
    ],
)
def test_deletion_guard_threshold(existing: int, removing: int, percent: int, held: bool) -> None:
    assert DeletionGuard(percent).holds(removing, existing) is held
    assert DeletionGuard(percent, allow_mass_delete=True).holds(removing, existing) is False


def test_failed_resource_keeps_previous_file_and_inventory_entry() -> None:
    first = plan(render())
    existing = {p: blob_id(c) for p, c in first.writes.items()}
    broken = FORM_YAML.replace('"{{ uid }}-app"', '"{{ uid }}-{{ plann }}"')
    second = plan(
        render(text=broken), existing, previous={"acme-web": first.writes["acme-web/lynqnode.yaml"]}
    )
    assert not [p for p in second.deletes if p.startswith("acme-web/")]
    kustomization = yaml.safe_load(
        second.writes.get(
            "acme-web/kustomization.yaml", first.writes["acme-web/kustomization.yaml"]
        )
    )
    assert "deployment_t-acme_acme-app.yaml" in kustomization["resources"]
    assert "ingress_t-acme_acme-web.yaml" in kustomization["resources"]
