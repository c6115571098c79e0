"""Hostile row values and form fields: per-resource errors, never a broken tree or a forged line.

Row values are data. A value that cannot become a file name, that a YAML consumer (kustomize,
PyYAML, a YAML 1.2 reader) cannot carry, or that renders an object another node already renders
is a per-resource error naming the node, the resource and the uid; every other resource still
renders, the planner never raises, and commit messages and log lines stay one line per value.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import targets_fixture as fixture
import yaml
from ruamel.yaml import YAML

from lynq_bridge.core.inputs import CommittedInputs, node_blobs, object_files
from lynq_bridge.core.messages import Stamp, commit_message, parse_trailers
from lynq_bridge.core.planning import DeletionGuard, HubPlan, blob_id
from lynq_bridge.core.rendering import HubRender, NodeRender, render_hub
from lynq_bridge.core.yamltext import dump_manifest, reads_as_non_string, string_problem
from lynq_bridge.logs import JsonFormatter, TextFormatter
from renderers.plain import PlainTarget

TARGET = PlainTarget()

# kind from the "plan" column, data from "domain", a constant dependent of the templated one.
FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: apps}
spec:
  hubId: tenants
  configMaps:
    - id: settings
      nameTemplate: "{{ uid }}-settings"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {motd: "{{ domain }}"}
    - id: custom
      nameTemplate: "{{ uid }}-custom"
      spec:
        apiVersion: example.com/v1
        kind: "{{ plan }}"
    - id: after
      dependIds: [custom]
      nameTemplate: "{{ uid }}-after"
      spec: {apiVersion: v1, kind: ConfigMap}
"""

# Every row renders the ConfigMap "shared" in namespace apps: one object, several nodes.
SHARED_FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: apps}
spec:
  hubId: tenants
  configMaps:
    - id: shared
      nameTemplate: "shared"
      spec: {apiVersion: v1, kind: ConfigMap, data: {owner: "{{ uid }}"}}
    - id: own
      dependIds: [shared]
      nameTemplate: "{{ uid }}-own"
      spec: {apiVersion: v1, kind: ConfigMap}
"""


def render(records: list[tuple[Any, ...]], form: str = FORM, **kw: Any) -> HubRender:
    return fixture.render(TARGET, records, form, **kw)


def plan(render_: HubRender, existing: dict[str, str] | None = None, **kw: Any) -> HubPlan:
    guard = kw.pop("guard", DeletionGuard(100, allow_mass_delete=True))
    return fixture.plan(TARGET, render_, existing, guard=guard, **kw)


def files_of(render_: HubRender) -> list[str]:
    return sorted(c.file for node in render_.nodes.values() for c in node.children)


# ------------------------------------------------------------------ names that become paths


@pytest.mark.parametrize(
    "kind",
    ["../../x", "/x", "a\nb", ".git", "Secret\x00", "Config Map", "x" * 64, "1Kind", "Ünï"],
)
def test_unusable_rendered_kind_is_a_per_resource_error(kind: str) -> None:
    out = render([("acme", "1", "hello", kind, None)])
    node = out.nodes["acme-web"]
    assert "custom" in node.failed and "after" in node.skipped
    message = node.failed["custom"]
    assert 'resource "custom"' in message and "node acme-web" in message and "uid acme" in message
    assert "kind" in message and "\n" not in message and "\x00" not in message
    assert [c.entry.id for c in node.children] == ["settings"]  # the rest still renders


@pytest.mark.parametrize("api_version", ["", "/v1", "a/b/v1", "Example.com/v1", "x/V1", "v1 "])
def test_unusable_api_version_is_a_per_resource_error(api_version: str) -> None:
    form = FORM.replace("apiVersion: example.com/v1", 'apiVersion: "{{ domain }}"')
    node = render([("acme", "1", api_version, "Widget", None)], form).nodes["acme-web"]
    assert "apiVersion" in node.failed["custom"] or "non-empty" in node.failed["custom"]


def test_valid_custom_kind_and_group_render() -> None:
    node = render([("acme", "1", "hello", "Widget", None)]).nodes["acme-web"]
    assert not node.failed
    assert "widget_apps_acme-custom.yaml" in [c.file for c in node.children]


def test_planner_ignores_unusable_committed_paths_instead_of_raising() -> None:
    out = render([("acme", "1", "hello", "Widget", None)])
    existing = {
        "a b-c/x.yaml": blob_id(b"x"),
        ".git-x/y.yaml": blob_id(b"y"),
        "zz-\ud800/y.yaml": blob_id(b"z"),
        "acme-web/bad\nname.yaml": blob_id(b"w"),
    }
    result = plan(out, existing)
    listed = yaml.safe_load(result.writes["kustomization.yaml"])["resources"]
    assert listed == ["acme-web"]
    assert "acme-web/bad\nname.yaml" in result.deletes
    held = plan(out, existing, guard=DeletionGuard(0))  # the unusable nodes are kept whole
    assert held.held and yaml.safe_load(held.writes["kustomization.yaml"])["resources"] == [
        "acme-web"
    ]


def test_hand_edited_inventory_entry_with_unusable_kind_is_ignored() -> None:
    good = render([("acme", "1", "hello", "Widget", None)])
    broken = render([("acme", "1", "hello", "../x", None)])
    lynqnode = plan(good).writes["acme-web/lynqnode.yaml"].replace(b"kind: Widget", b"kind: ../x")
    result = plan(broken, {"acme-web/lynqnode.yaml": blob_id(lynqnode)}, previous={})
    assert "acme-web/lynqnode.yaml" in result.writes  # planned, no exception


# ------------------------------------------------------------------ consumer-safe YAML

REFUSED = {
    "DEL": "a\x7fb",
    "C1": "a\x80b",
    "NEL": "a\x85b",
    "U+FFFE": "a\ufffeb",
    "U+FFFF": "\uffff",
    "lone surrogate": "a\ud800b",
    "leading tab, multi-line": "\ta\nb",
}
CARRIED = [
    "\x00", "a\x01b", "\x1b[0m", "a\tb", "\t", "a\n\tb", "\n\ta", " \ta\nb", "\u2028", "\ufeff",
    "\ufdd0", "\U0001fffe", "\U0010ffff", "😀", "a\r\nb", "{{ uid }}", "..", "'\"",
]  # fmt: skip


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_value_kustomize_cannot_carry_has_a_problem(value: str) -> None:
    assert string_problem(value)


@pytest.mark.parametrize("value", CARRIED)
def test_carried_value_reads_back_in_pyyaml_and_yaml_1_2(value: str) -> None:
    assert string_problem(value) is None
    text = dump_manifest({"data": {"k": value, value: "v"}})
    assert yaml.safe_load(text) == {"data": {"k": value, value: "v"}}
    assert YAML(typ="safe", pure=True).load(text) == {"data": {"k": value, value: "v"}}


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_refused_value_is_a_per_resource_error_naming_field_and_column(value: str) -> None:
    node = render([("acme", "1", value, "Widget", None)]).nodes["acme-web"]
    message = node.failed["settings"]
    assert "field data.motd" in message and 'column variable "domain"' in message
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in message)
    assert {c.entry.id for c in node.children} == {"custom", "after"}


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_rendered_number_kubernetes_cannot_carry_is_a_per_resource_error(value: int) -> None:
    form = FORM.replace('data: {motd: "{{ domain }}"}', 'spec: {x: "{{ domain | int }}"}')
    node = render([("acme", "1", str(value), "Widget", None)], form).nodes["acme-web"]
    assert "outside the 64-bit integer range" in node.failed["settings"]
    assert {c.entry.id for c in node.children} == {"custom", "after"}


def test_largest_int64_renders_as_a_number() -> None:
    form = FORM.replace('data: {motd: "{{ domain }}"}', 'spec: {x: "{{ domain | int }}"}')
    node = render([("acme", "1", str(2**63 - 1), "Widget", None)], form).nodes["acme-web"]
    assert not node.failed
    assert f"x: {2**63 - 1}\n" in node.children[0].content.decode()


@pytest.mark.parametrize("field", ["x: .nan", "x: .inf", "x: -.inf", f"x: {2**64}"])
def test_constant_number_kubernetes_cannot_carry_fails_validation(field: str) -> None:
    from lynq_bridge.config.models import LynqForm
    from lynq_bridge.core.forms import compile_form
    from lynq_bridge.core.templating import TemplateEngine

    text = FORM.replace('data: {motd: "{{ domain }}"}', f"spec: {{{field}}}")
    form = LynqForm.model_validate(yaml.safe_load(text))
    compiled, problems, _ = compile_form(form, engine=TemplateEngine())
    assert compiled is None
    assert len(problems) == 1 and 'resource "settings", spec.spec.x:' in problems[0]


@pytest.mark.parametrize("key", ["0", "true", "example.com/1.5", "null", "2001-12-14", "a b", "-a"])
def test_label_or_annotation_key_that_is_not_a_string_name_is_an_error(key: str) -> None:
    for field in ("labelsTemplate", "annotationsTemplate"):
        form = FORM.replace(
            '      nameTemplate: "{{ uid }}-settings"\n',
            '      nameTemplate: "{{ uid }}-settings"\n'
            f"      {field}: {{{json.dumps(key)}: x}}\n",
        )
        node = render([("acme", "1", "hello", "Widget", None)], form).nodes["acme-web"]
        assert "key" in node.failed["settings"], field


def test_non_string_detection_covers_what_yaml_readers_resolve() -> None:
    words = ["0", "007", "1.5", "1e3", "0x1F", "0o17", "0b101", "1_000", "1:20", "~", "null",
             "True", "off", "Yes", "2001-12-14", ".inf", "=", "<<", ".5", "1."]  # fmt: skip
    for word in words:
        assert reads_as_non_string(word), word
    for word in ["a", "app", "v1", "1a", "1.2.3", "10Gi", "x-1", "a_b"]:
        assert not reads_as_non_string(word), word
        assert yaml.safe_load(f"{word}: v") == {word: "v"}


# ------------------------------------------------------------------ one object, two nodes


def test_object_of_two_nodes_goes_to_the_first_uid_and_the_other_is_a_conflict() -> None:
    out = render([("beta", "1", None, None, None), ("acme", "1", None, None, None)], SHARED_FORM)
    assert not out.nodes["acme-web"].failed
    beta = out.nodes["beta-web"]
    assert beta.failed["shared"].endswith(
        "conflict: object ConfigMap apps/shared is already rendered by node acme-web"
    )
    assert "own" in beta.skipped and not beta.children
    assert files_of(out).count("configmap_apps_shared.yaml") == 1
    result = plan(out)
    assert [p for p in result.writes if p.endswith("configmap_apps_shared.yaml")] == [
        "acme-web/configmap_apps_shared.yaml"
    ]


def test_conflict_outcome_is_the_same_whether_or_not_the_loser_was_cached() -> None:
    """beta was committed alone (unchanged, not re-rendered); acme arrives and takes the object
    because its uid is first: the tree equals a fresh render of both rows."""
    revision = "r1"
    first = render([("beta", "1", None, None, None)], SHARED_FORM, revision=revision)
    committed_plan = plan(first)
    existing = {p: blob_id(c) for p, c in committed_plan.writes.items()}
    index = committed_plan.writes[".lynq-inputs"]
    from lynq_bridge.core.inputs import trusted_inputs

    committed = trusted_inputs(existing, index)
    assert "beta-web" in committed
    both = [("beta", "1", None, None, None), ("acme", "1", None, None, None)]
    again = render(both, SHARED_FORM, revision=revision, committed=committed)
    assert "beta-web" not in again.unchanged  # rendered again: it may share an object
    previous = {"beta-web": committed_plan.writes["beta-web/lynqnode.yaml"]}
    result = plan(again, existing, previous=previous)
    after = {p: blob_id(c) for p, c in committed_plan.writes.items()}
    after.update({p: blob_id(c) for p, c in result.writes.items()})
    for path in result.deletes:
        del after[path]
    fresh_render = render(both, SHARED_FORM, revision=revision)
    for name in ("acme-web", "beta-web"):
        assert again.nodes[name].failed == fresh_render.nodes[name].failed
        assert again.nodes[name].skipped == fresh_render.nodes[name].skipped
    fresh = plan(fresh_render).writes
    # The winner's files are the same; the loser's skipped dependent keeps its committed file
    # (a failed resource never removes what runs), its conflicting object file is removed.
    assert {p: c for p, c in after.items() if p.startswith("acme-web/")} == {
        p: blob_id(c) for p, c in fresh.items() if p.startswith("acme-web/")
    }
    assert "beta-web/configmap_apps_shared.yaml" in result.deletes
    assert "beta-web/configmap_apps_beta-own.yaml" in after


def test_cached_winner_keeps_its_object_and_new_later_uid_is_the_conflict() -> None:
    first = render([("acme", "1", None, None, None)], SHARED_FORM, revision="r")
    done = plan(first)
    existing = {p: blob_id(c) for p, c in done.writes.items()}
    committed = CommittedInputs({"acme-web": first.nodes["acme-web"].input_key}, {})
    committed = CommittedInputs(committed, object_files(node_blobs(existing)))
    both = [("acme", "1", None, None, None), ("beta", "1", None, None, None)]
    again = render(both, SHARED_FORM, revision="r", committed=committed)
    assert "conflict" in again.nodes["beta-web"].failed["shared"]
    assert not plan(again, existing).writes.keys() & {"beta-web/configmap_apps_shared.yaml"}


# ------------------------------------------------------------------ messages and logs


def test_uid_cannot_forge_a_trailer_or_put_a_nul_into_the_commit_message() -> None:
    hostile = "x\nLynq-Nodes-Removed: acme-web\x00"
    out = render([("acme", "1", None, "Widget", None)])
    node = out.nodes["acme-web"]
    node.uid = hostile
    result = plan(out)
    result.added = [node]
    result.updated = {"acme-web": ["settings"]}
    message = commit_message(
        result, Stamp("apps/tenants", "rev", "snap"), [f"row {hostile}", hostile]
    )
    assert parse_trailers(message).get("Lynq-Nodes-Removed") == ""
    assert "\x00" not in message
    assert sum(line.startswith("Lynq-Nodes-Removed") for line in message.splitlines()) == 1


def test_row_error_for_hostile_uid_quotes_it_on_one_line() -> None:
    uid = "x\nLynq-Nodes-Removed: acme-web"
    out = render([(uid, "1", None, "Widget", None), (uid, "1", None, "Widget", None)])
    assert len(out.row_errors) == 2
    assert all("\n" not in e and '"x\\nLynq' in e for e in out.row_errors)


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("lynq_bridge.sync", logging.WARNING, __file__, 1, message, (), None)


def test_text_log_line_cannot_be_forged() -> None:
    line = TextFormatter().format(record("bad uid a\nINFO synced hub x\x00\ud800"))
    assert "\n" not in line and "\x00" not in line and line.startswith("WARNING ")
    line.encode("utf-8")  # no lone surrogate left to break the stream


def test_json_log_line_stays_one_valid_ascii_json_object() -> None:
    line = JsonFormatter().format(record("bad\nvalue\x00 \ud800 \u2028 é"))
    assert "\n" not in line and line.isascii()
    assert json.loads(line)["message"] == "bad\nvalue\x00 \ud800 \u2028 é"


@pytest.mark.parametrize("namespace", ["../x", "a.b", "Upper", "a_b", "-a", "x" * 64])
def test_rendered_namespace_that_is_no_namespace_name_is_a_per_resource_error(
    namespace: str,
) -> None:
    form = FORM.replace(
        '      nameTemplate: "{{ uid }}-settings"\n',
        '      nameTemplate: "{{ uid }}-settings"\n      targetNamespace: "{{ plan }}"\n',
    )
    node = render([("acme", "1", "hello", namespace, None)], form).nodes["acme-web"]
    assert "is not a valid namespace name" in node.failed["settings"]
    assert "settings" not in [c.entry.id for c in node.children]


WIDGET_FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: apps}
spec:
  hubId: tenants
  manifests:
    - id: widget
      nameTemplate: "shared"
      targetNamespace: "{{ plan | default('apps') }}"
      spec:
        apiVersion: "{{ domain }}"
        kind: Widget
        spec: {items: [fixed, "{{ plan }}"]}
"""


def test_same_kind_and_name_in_another_api_group_is_no_conflict() -> None:
    rows = [
        ("acme", "1", "a.example.com/v1", None, None),
        ("beta", "1", "b.example.com/v1", None, None),
    ]
    out = render(rows, WIDGET_FORM)
    assert not out.nodes["acme-web"].failed and not out.nodes["beta-web"].failed
    # Both groups' objects have one file name: a third node conflicts with the right one.
    for third, owner in (("a.example.com/v2", "acme-web"), ("b.example.com/v1", "beta-web")):
        out = render([*rows, ("gamma", "1", third, None, None)], WIDGET_FORM)
        assert not out.nodes["acme-web"].failed and not out.nodes["beta-web"].failed
        assert f"already rendered by node {owner}" in out.nodes["gamma-web"].failed["widget"]
    third = [
        ("gamma", "1", "c.example.com/v1", None, None),
        ("delta", "1", "c.example.com/v1", None, None),
    ]
    out = render([*rows, *third], WIDGET_FORM)
    assert not out.nodes["delta-web"].failed  # the first uid of the two keeps it
    assert "already rendered by node delta-web" in out.nodes["gamma-web"].failed["widget"]


def test_conflicts_are_found_whichever_names_the_bitmap_lets_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the file names more than one child has are compared (``conflicts._shared``, a
    bitmap that lets a few others through): with every name let through, the outcome is the
    same; with none, the conflicts would go unseen, so the bitmap is what finds them."""
    from lynq_bridge.core import conflicts

    rows = [
        ("acme", "1", "a.example.com/v1", None, None),
        ("beta", "1", "b.example.com/v1", None, None),
        ("gamma", "1", "a.example.com/v2", "ns-a", None),
        ("delta", "1", "a.example.com/v1", None, None),
    ]

    def outcome() -> dict[str, dict[str, str]]:
        return {name: node.failed for name, node in render(rows, WIDGET_FORM).nodes.items()}

    found = outcome()
    assert "already rendered by node acme-web" in found["delta-web"]["widget"]
    assert [n for n, failed in found.items() if failed] == ["delta-web"]
    every = lambda nodes: {hash(c.file) for n in nodes for c in n.children}  # noqa: E731
    monkeypatch.setattr(conflicts, "_shared", every)
    assert outcome() == found
    monkeypatch.setattr(conflicts, "_shared", lambda nodes: set())
    assert not any(outcome().values())


def test_the_bitmap_names_every_file_name_more_than_one_child_has() -> None:
    from lynq_bridge.core.conflicts import _shared
    from lynq_bridge.core.rendering import Child, InventoryEntry

    entries = [
        InventoryEntry(id="w", apiVersion="v1", kind="Widget", name=f"w{i}", hash="")
        for i in range(5000)
    ]
    files = [f"widget_w{i}.yaml" for i in range(5000)]
    nodes = []
    for i in range(0, 5000, 5):
        node = NodeRender(name=f"n{i}", uid=f"n{i}", form="web")
        # Each node's fifth object is the first one of the node before it.
        mine = [*entries[i : i + 4], entries[i - 5] if i else entries[4]]
        node.children = [Child.of(e, depth=0, content=b"") for e in mine]
        assert [c.file for c in node.children][:4] == files[i : i + 4]
        nodes.append(node)
    twice = {hash(files[i]) for i in range(0, 4995, 5)}  # the last node's first: once
    found = _shared(nodes)
    assert twice <= found and len(found) < 2 * len(twice)


def test_same_kind_and_name_in_another_namespace_is_no_conflict() -> None:
    rows = [
        ("acme", "1", "a.example.com/v1", "ns-a", None),
        ("beta", "1", "a.example.com/v1", "ns-b", None),
    ]
    out = render(rows, WIDGET_FORM)
    assert not out.nodes["acme-web"].failed and not out.nodes["beta-web"].failed
    rows = [
        ("acme", "1", "a.example.com/v1", "ns-a", None),
        ("beta", "1", "a.example.com/v2", "ns-a", None),
    ]
    out = render(rows, WIDGET_FORM)  # another version of the same group: the same object
    assert "conflict: object Widget ns-a/shared" in out.nodes["beta-web"].failed["widget"]


def test_unusable_list_item_is_named_by_its_index_and_column() -> None:
    rows = [("acme", "1", "a.example.com/v1", "ns\x7fa", None)]
    form = WIDGET_FORM.replace("targetNamespace: \"{{ plan | default('apps') }}\"", "")
    message = render(rows, form).nodes["acme-web"].failed["widget"]
    assert "field spec.items[1] is unusable" in message
    assert 'column variable "plan"' in message


def test_unusable_constant_key_is_named_as_a_key() -> None:
    form = FORM.replace('data: {motd: "{{ domain }}"}', 'data: {"mo\\x7ftd": "{{ domain }}"}')
    message = render([("acme", "1", "hello", "Widget", None)], form).nodes["acme-web"].failed
    assert 'the key of field "data.mo\\u007ftd" is unusable' in message["settings"]


def test_leading_tab_of_a_multi_line_value_names_the_column_it_came_from() -> None:
    message = render([("acme", "1", "\tfirst\nsecond", "Widget", None)]).nodes["acme-web"]
    assert "starts with a tab" in message.failed["settings"]
    assert message.failed["settings"].endswith('(from column variable "domain")')


def test_new_node_cannot_take_an_object_of_a_node_the_deletion_guard_holds() -> None:
    form = SHARED_FORM.replace(
        'nameTemplate: "shared"', "nameTemplate: \"{{ domain | default('x') }}\""
    )
    rows = [(uid, "1", f"{uid}-obj", None, None) for uid in ("acme", "beta", "gamma", "delta")]
    first = plan(render(rows, form))
    existing = {path: blob_id(content) for path, content in first.writes.items()}
    # Every old row is gone (a truncated table?) and a new row renders acme's object.
    second = render([("zeta", "1", "acme-obj", None, None)], form)
    result = plan(second, existing, guard=DeletionGuard(25))
    assert result.held == ["acme-web", "beta-web", "delta-web", "gamma-web"]
    zeta = result.nodes["zeta-web"]
    assert zeta.failed["shared"].endswith(
        "conflict: object ConfigMap apps/acme-obj is already rendered by node acme-web"
    )
    assert not [p for p in result.writes if p.endswith("configmap_apps_acme-obj.yaml")]
    assert "zeta-web/configmap_apps_zeta-own.yaml" not in result.writes  # its dependent: skipped
    # Without the guard the removal goes through and the new node takes the object over.
    released = plan(render([("zeta", "1", "acme-obj", None, None)], form), existing)
    assert "zeta-web/configmap_apps_acme-obj.yaml" in released.writes


def test_tab_from_a_column_named_when_the_line_break_comes_from_the_template() -> None:
    form = FORM.replace('data: {motd: "{{ domain }}"}', 'data: {motd: "{{ domain }}\\nmore"}')
    failed = render([("acme", "1", "\tindented", "Widget", None)], form).nodes["acme-web"].failed
    assert failed["settings"].endswith('(from column variable "domain")')
    clean = render([("acme", "1", "x", "Widget", None)], form).nodes["acme-web"]
    assert "settings" not in clean.failed


ORDERED_FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: apps}
spec:
  hubId: tenants
  configMaps:
    - id: own
      nameTemplate: "{{ uid }}-own"
      spec: {apiVersion: v1, kind: ConfigMap}
    - id: shared
      nameTemplate: "shared"
      spec: {apiVersion: v1, kind: ConfigMap}
    - id: after
      dependIds: [shared]
      nameTemplate: "{{ uid }}-after"
      spec: {apiVersion: v1, kind: ConfigMap}
    - id: later
      dependIds: [after]
      nameTemplate: "{{ uid }}-later"
      spec: {apiVersion: v1, kind: ConfigMap}
    - id: free
      skipOnDependencyFailure: false
      dependIds: [shared]
      nameTemplate: "{{ uid }}-free"
      spec: {apiVersion: v1, kind: ConfigMap}
  namespaces:
    - id: space
      nameTemplate: "shared-space"
      spec: {apiVersion: v1, kind: Namespace}
"""


def test_conflict_after_an_unshared_child_fails_it_and_skips_its_dependents_transitively() -> None:
    out = render([("acme", "1", None, None, None), ("beta", "1", None, None, None)], ORDERED_FORM)
    beta = out.nodes["beta-web"]
    assert beta.failed["shared"] == (
        'failed to render resource "shared" of node beta-web (hub tenants, uid beta): '
        "conflict: object ConfigMap apps/shared is already rendered by node acme-web"
    )
    assert beta.failed["space"].endswith(
        "object Namespace shared-space is already rendered by node acme-web"
    )
    assert beta.skipped["after"] == (
        'skipped resource "after" of node beta-web (hub tenants, uid beta): '
        'dependency "shared" failed'
    )
    assert 'dependency "after" failed' in beta.skipped["later"]
    assert sorted(c.entry.id for c in beta.children) == ["free", "own"]
    assert sorted(c.entry.id for c in out.nodes["acme-web"].children) == [
        "after", "free", "later", "own", "shared", "space",
    ]  # fmt: skip


def test_node_blocked_by_a_name_collision_keeps_its_committed_objects() -> None:
    two_forms = [
        fixture.compiled_form(SHARED_FORM.replace("name: web,", "name: b-web,")),
        fixture.compiled_form(SHARED_FORM.replace("name: web,", "name: web,")),
    ]
    # uid "a" with form "b-web" and uid "a-b" with form "web" both make node "a-b-web".
    rows = fixture.rows(
        [("a", "1", None, None, None), ("a-b", "1", None, None, None), ("c", "1", None, None, None)]
    )
    committed = {
        "a-b-web/configmap_apps_shared.yaml": blob_id(b"x"),
        "a-b-web/lynqnode.yaml": blob_id(b"y"),
    }
    inputs = CommittedInputs({}, objects=object_files(node_blobs(committed)))
    out = render_hub(fixture.HUB, two_forms, rows, TARGET, committed=inputs)
    assert "a-b-web" in out.blocked_nodes
    assert out.nodes["c-web"].failed["shared"].endswith("already rendered by node a-b-web")
    # On a first sync the blocked node has nothing committed: it keeps nothing, and the first
    # uid of the others keeps the object.
    out = render_hub(fixture.HUB, two_forms, rows, TARGET)
    assert "a-b-web" in out.blocked_nodes and not out.nodes["a-web"].failed
    assert out.nodes["c-web"].failed["shared"].endswith("already rendered by node a-web")


def test_unusable_constant_value_names_no_column() -> None:
    form = FORM.replace(
        'data: {motd: "{{ domain }}"}', 'data: {motd: "{{ domain }}", fixed: "a\\x7fb"}'
    )
    message = render([("acme", "1", "hello", "Widget", None)], form).nodes["acme-web"].failed
    assert message["settings"].endswith(
        "field data.fixed is unusable: it contains the control character U+007F, which kustomize "
        "cannot carry"
    )
