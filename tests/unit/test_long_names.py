"""Names as long as Lynq's: node names up to 253 characters, short label values, full names in
annotations, lookups that confirm the one by the other, and paths that stay within 255 bytes.

``UID_A`` and ``UID_B`` were found by a birthday search (about a million SHA-256 hashes): their
node names differ but share the 52-character prefix and the 10 hex digits of the short form,
so they get the same label value, the case the annotations exist for.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml
from targets_fixture import HUB, bridge_spec, compiled_form, plan, rows

from lynq_bridge.config.models import LynqNode
from lynq_bridge.core import naming
from lynq_bridge.core.inventory import Malformed, parse_node
from lynq_bridge.core.layout import Target, path_owner
from lynq_bridge.core.paths import MAX_COMPONENT, check_path, component_problem
from lynq_bridge.core.rendering import LABEL_NODE, LABEL_UID, HubRender, render_hub
from lynq_bridge.core.status import foreign_owner
from lynq_bridge.core.watching import project
from renderers import target_for
from renderers.argocd import application_path

FORM_NAME = "workspace-with-monitoring-and-backups-v2"  # 40 characters
UUID = "0f8c2d1e-6b7a-4c3d-9e8f-a1b2c3d4e5f6"
UID_A = f"{UUID}-tenant-workspace-284e01"
UID_B = f"{UUID}-tenant-workspace-29a94b"
LONGEST_UID = "u" * (naming.MAX_NODE_NAME - len(FORM_NAME) - 1)  # node name: 253 characters
TARGETS = ["plain", "argocd", "flux", "both"]

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: FORM_NAME, namespace: apps}
spec:
  hubId: tenants
  configMaps:
    - id: settings
      nameTemplate: "cfg-{{ uid | sha1sum }}"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {uid: "{{ uid }}"}
  services:
    - id: svc
      dependIds: [settings]
      nameTemplate: "svc-{{ uid | sha1sum }}"
      spec:
        apiVersion: v1
        kind: Service
        spec: {ports: [{port: 80}]}
""".replace("FORM_NAME", FORM_NAME)


def node_of(uid: str) -> str:
    return naming.node_name(uid, FORM_NAME)


def render(uids: list[str], target: Target | None = None) -> HubRender:
    records = [(uid, "1", None, None, None) for uid in uids]
    chosen = target if target is not None else target_for(bridge_spec("plain"))
    return render_hub(HUB, [compiled_form(FORM)], rows(records), chosen)


def written(uids: list[str], target_name: str = "plain") -> dict[str, bytes]:
    target = target_for(bridge_spec(target_name))
    return plan(target, render(uids, target)).writes


def child_metadata(result: HubRender, uid: str, rid: str = "settings") -> dict[str, Any]:
    child = next(c for c in result.nodes[node_of(uid)].children if c.entry.id == rid)
    metadata: dict[str, Any] = yaml.safe_load(child.content)["metadata"]
    return metadata


# ------------------------------------------------------------------------------ label values


@pytest.mark.parametrize("value", ["", "acme-web", "a" * 63, f"{UUID}-web"])
def test_label_value_of_63_characters_or_fewer_is_the_value_itself(value: str) -> None:
    assert naming.label_value(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "a" * 64,
        "a" * 253,
        node_of(UID_A),
        "a" * 51 + "-" + "b" * 20,  # a "-" as the last kept character
        "a" * 51 + "." + "b" * 20,  # a "." as the last kept character
    ],
)
def test_long_value_becomes_its_first_52_characters_and_10_hex_digits(value: str) -> None:
    short = naming.label_value(value)
    assert short == f"{value[:52]}-{hashlib.sha256(value.encode()).hexdigest()[:10]}"
    assert len(short) == 63 and naming.is_label_value(short)


def test_label_value_is_deterministic_and_tells_long_values_apart() -> None:
    first, second = f"{UUID}-" + "x" * 40 + "-one", f"{UUID}-" + "x" * 40 + "-two"
    assert first[:52] == second[:52]
    assert naming.label_value(first) == naming.label_value(first)
    assert naming.label_value(first) != naming.label_value(second)


def test_the_two_test_uids_share_one_short_form() -> None:
    # The premise of the lookup tests below: a genuine collision of the short form.
    assert node_of(UID_A) != node_of(UID_B)
    assert naming.label_value(node_of(UID_A)) == naming.label_value(node_of(UID_B))


# --------------------------------------------------------------------------- rendered names


def test_uuid_uid_and_40_character_form_render_with_a_short_label_and_the_full_name() -> None:
    result = render([UUID])
    node = node_of(UUID)
    assert len(node) == 77 and result.row_errors == [] and list(result.nodes) == [node]
    assert result.nodes[node].failed == {}
    metadata = child_metadata(result, UUID)
    assert metadata["labels"][LABEL_NODE] == naming.label_value(node) != node
    assert metadata["annotations"][LABEL_NODE] == node
    assert metadata["labels"][LABEL_UID] == UUID  # 36 characters: as Lynq writes it
    assert LABEL_UID not in metadata["annotations"]
    assert all(naming.is_label_value(v) for v in metadata["labels"].values())
    assert foreign_owner({"metadata": metadata}, node=node, namespace="apps") is None


def test_lynqnode_of_a_uuid_uid_and_40_character_form_is_a_valid_lynqnode() -> None:
    files = written([UUID])
    document = yaml.safe_load(files[f"{node_of(UUID)}/lynqnode.yaml"])
    lynqnode = LynqNode.model_validate(document)
    assert lynqnode.metadata.name == node_of(UUID)
    assert naming.is_dns_subdomain(lynqnode.metadata.name)
    assert all(naming.is_label_value(v) for v in lynqnode.metadata.labels.values())
    assert document["spec"]["uid"] == UUID and document["spec"]["templateRef"] == FORM_NAME


def test_uid_longer_than_63_characters_is_shortened_on_the_lynqnode_and_kept_whole() -> None:
    document = yaml.safe_load(written([LONGEST_UID])[f"{node_of(LONGEST_UID)}/lynqnode.yaml"])
    metadata = document["metadata"]
    assert metadata["labels"][LABEL_UID] == naming.label_value(LONGEST_UID)
    assert metadata["annotations"][LABEL_UID] == LONGEST_UID
    assert document["spec"]["uid"] == LONGEST_UID


def test_uid_ending_in_a_dash_makes_a_node_without_a_uid_label() -> None:
    result = render(["a-"])
    metadata = child_metadata(result, "a-")
    assert result.nodes[node_of("a-")].failed == {}
    assert LABEL_UID not in metadata["labels"] and LABEL_UID not in metadata["annotations"]


def test_node_name_of_254_characters_is_a_row_error_naming_hub_and_uid() -> None:
    too_long = LONGEST_UID + "u"
    result = render([UUID, too_long, LONGEST_UID])
    assert sorted(result.nodes) == sorted([node_of(UUID), node_of(LONGEST_UID)])
    assert all(not node.failed for node in result.nodes.values())
    [error] = result.row_errors
    assert f'row with uid "{too_long}" of hub tenants' in error  # the whole uid, not cut
    assert "longer than 253 characters" in error


@pytest.mark.parametrize("uid", ["", "Acme", "a_b", "a/b", "../x"])
def test_uid_that_cannot_form_a_subdomain_is_a_row_error(uid: str) -> None:
    result = render([uid, UUID])
    assert list(result.nodes) == [node_of(UUID)]
    assert len(result.row_errors) == 1 and "of hub tenants" in result.row_errors[0]


# ------------------------------------------------------------------------------ lookups


def test_two_names_sharing_a_short_form_share_the_label_and_are_kept_apart() -> None:
    result = render([UID_A, UID_B])
    meta_a, meta_b = child_metadata(result, UID_A), child_metadata(result, UID_B)
    assert meta_a["labels"][LABEL_NODE] == meta_b["labels"][LABEL_NODE]
    object_a = {"metadata": meta_a}
    assert foreign_owner(object_a, node=node_of(UID_A), namespace="apps") is None
    why = foreign_owner(object_a, node=node_of(UID_B), namespace="apps")
    assert why == f"its lynq.sh/node label names apps/{node_of(UID_A)}"


def test_short_name_equal_to_a_long_names_short_form_does_not_claim_its_objects() -> None:
    long_name = node_of(UID_A)
    short_name = naming.label_value(long_name)  # a valid 63-character node name of its own
    metadata = {"labels": {LABEL_NODE: short_name}, "annotations": {LABEL_NODE: long_name}}
    assert foreign_owner({"metadata": metadata}, node=short_name, namespace="apps") is not None
    assert foreign_owner({"metadata": metadata}, node=long_name, namespace="apps") is None


def test_long_name_is_not_confirmed_without_its_annotation() -> None:
    long_name = node_of(UID_A)
    metadata = {"labels": {LABEL_NODE: naming.label_value(long_name)}}
    assert foreign_owner({"metadata": metadata}, node=long_name, namespace="apps") is not None


def test_annotation_that_does_not_shorten_to_its_label_is_ignored() -> None:
    metadata = {"labels": {LABEL_NODE: "acme-web"}, "annotations": {LABEL_NODE: node_of(UID_A)}}
    assert naming.tracked_value(metadata, LABEL_NODE) == "acme-web"
    assert foreign_owner({"metadata": metadata}, node="acme-web", namespace="apps") is None
    assert naming.tracked_value({"annotations": {LABEL_NODE: "x"}}, LABEL_NODE) is None


def test_watch_cache_keeps_the_full_name_of_a_short_label_and_nothing_else() -> None:
    long_name = node_of(UID_A)
    labels = {LABEL_NODE: naming.label_value(long_name), "app": "x"}
    annotations = {LABEL_NODE: long_name, "note": "n" * 10_000}
    kept = project({"metadata": {"name": "x", "labels": labels, "annotations": annotations}})
    assert kept["metadata"]["annotations"] == {LABEL_NODE: long_name}
    assert foreign_owner(kept, node=long_name, namespace="apps") is None
    plain = project({"metadata": {"name": "x", "labels": {LABEL_NODE: "acme-web"}}})
    assert "annotations" not in plain["metadata"]


# ----------------------------------------------------------------------- determinism


@pytest.mark.parametrize("target_name", TARGETS)
def test_long_names_render_byte_identical_files_twice(target_name: str) -> None:
    uids = [UUID, UID_A, UID_B, LONGEST_UID]
    assert written(uids, target_name) == written(list(reversed(uids)), target_name)


# --------------------------------------------------------------------------------- paths


@pytest.mark.parametrize("target_name", TARGETS)
def test_longest_node_name_fits_every_path_component_of_every_target(target_name: str) -> None:
    node = node_of(LONGEST_UID)
    assert len(node) == naming.MAX_NODE_NAME
    target = target_for(bridge_spec(target_name))
    result = render([LONGEST_UID], target)
    assert result.row_errors == [] and result.nodes[node].failed == {}
    files = plan(target, result).writes
    owned = [path for path in files if path_owner(path) == node]
    assert len(owned) >= 4  # two objects, the LynqNode, the kustomization (+ engine files)
    for path in files:
        assert check_path(path) == path
        assert all(len(part.encode()) <= MAX_COMPONENT for part in path.split("/"))
    for path in owned:
        if path.startswith(("argocd/", "flux/")):
            engine = yaml.safe_load(files[path])
            assert engine["metadata"]["labels"][LABEL_NODE] == naming.label_value(node)
            assert engine["metadata"]["annotations"][LABEL_NODE] == node
            assert engine["metadata"]["annotations"][LABEL_UID] == LONGEST_UID


@pytest.mark.parametrize(
    ("length", "path"),
    [(250, "argocd/{node}.yaml"), (251, "argocd/{node}/application.yaml")],
)
def test_application_file_moves_into_a_directory_only_past_250_characters(
    length: int, path: str
) -> None:
    node = "a" * (length - 4) + "-web"
    assert application_path(node) == path.format(node=node)
    assert path_owner(application_path(node)) == node


def test_child_file_name_past_255_characters_is_cut_and_ends_in_a_hash() -> None:
    namespace, name = "n" * 63, "o" * 253
    file = naming.child_file_name("ConfigMap", namespace, name)
    other = naming.child_file_name("ConfigMap", namespace, "o" * 252 + "p")
    assert len(file) == MAX_COMPONENT and component_problem(file) is None
    assert file.startswith(f"configmap_{namespace}_ooo") and "__" in file
    assert file.endswith(".yaml") and file != other
    assert naming.child_file_name("ConfigMap", namespace, name) == file
    short = naming.child_file_name("ConfigMap", "apps", "acme")
    assert short == "configmap_apps_acme.yaml"


def test_object_whose_file_name_would_pass_255_characters_renders() -> None:
    form = FORM.replace("cfg-{{ uid | sha1sum }}", "c" * 200 + "-{{ uid | sha1sum }}")
    target = target_for(bridge_spec("plain"))
    result = render_hub(HUB, [compiled_form(form)], rows([(UUID, "1", None, None, None)]), target)
    node = result.nodes[node_of(UUID)]
    assert node.failed == {}
    settings = next(c for c in node.children if c.entry.id == "settings")
    assert len(settings.entry.name) == 241 and "__" in settings.file


@pytest.mark.parametrize("cut", ["-", "."])
def test_event_name_of_a_253_character_object_is_a_subdomain(cut: str) -> None:
    token = "0123456789abcdef"
    involved = "a" * 235 + cut + "b" * 17  # the cut falls right after the "-" or "."
    name = naming.event_name(involved, token)
    assert naming.is_dns_subdomain(name) and name.endswith(f".{token}")
    assert naming.event_name("acme-web", token) == f"acme-web.{token}"


def test_listed_lynqnode_with_a_253_character_name_is_judged_not_malformed() -> None:
    def listed(name: str, namespace: str = "apps") -> Any:
        spec = {"uid": "u", "templateRef": "web", "hubId": "tenants", "resources": []}
        return parse_node({"metadata": {"name": name, "namespace": namespace}, "spec": spec})

    assert not isinstance(listed(node_of(LONGEST_UID)), Malformed)
    too_long = listed(node_of(LONGEST_UID + "u"))
    assert isinstance(too_long, Malformed) and "253 characters at most" in too_long.message
    assert isinstance(listed("acme-web", namespace="a.b"), Malformed)  # still a DNS label
