"""The cutover plan (``lynq_bridge.core.adoption``): what is released on which object, and how."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from lynq_bridge.adopt import engine_field_manager
from lynq_bridge.core.adoption import (
    HUB_FINALIZER,
    NODE_FINALIZER,
    HandOver,
    LynqInstallation,
    ObjectPatch,
    hand_over_fields,
    installation_of,
    merge_fields,
    plan_object,
)
from lynq_bridge.errors import ConfigError

NODE_UID = "11111111-aaaa"
HUB_UID = "22222222-bbbb"
FLUX = HandOver(frozenset({"lynq-operator"}), "kustomize-controller")
INSTALLATION = LynqInstallation(
    "tenants", "hub", frozenset({NODE_UID, HUB_UID}), frozenset({"acme-web"})
)


def owner(kind: str, uid: str, api_version: str = "operator.lynq.sh/v1") -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": kind.lower(),
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def entry(manager: str, fields: dict[str, Any], operation: str = "Apply", **extra: Any) -> Any:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": "apps/v1",
        "time": "2025-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        **extra,
    }


LYNQ_FIELDS = {
    "f:metadata": {
        "f:annotations": {"f:lynq.sh/applied-hash": {}},
        "f:ownerReferences": {f'k:{{"uid":"{NODE_UID}"}}': {}},
    },
    "f:spec": {"f:replicas": {}},
}


def child(**meta: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "app",
            "namespace": "tenants",
            "uid": "child-uid",
            "resourceVersion": "42",
            **meta,
        }
    }


def plan(obj: dict[str, Any], hand_over: HandOver | None = FLUX) -> Any:
    return plan_object(
        obj,
        api_version="apps/v1",
        kind="Deployment",
        installation=INSTALLATION,
        hand_over=hand_over,
    )


def test_owner_reference_to_the_node_is_removed_and_others_kept() -> None:
    other = owner("ReplicaSet", "rs-uid", "apps/v1")
    patch = plan(child(ownerReferences=[owner("LynqNode", NODE_UID), other]))
    assert {"op": "add", "path": "/metadata/ownerReferences", "value": [other]} in patch.operations
    assert patch.changes == ("remove ownerReference to LynqNode lynqnode",)


def test_patch_names_the_object_it_was_planned_for() -> None:
    patch = plan(child(ownerReferences=[owner("LynqNode", NODE_UID)]))
    assert (patch.api_version, patch.kind, patch.namespace, patch.name) == (
        "apps/v1",
        "Deployment",
        "tenants",
        "app",
    )
    namespace = {
        "metadata": {"name": "acme", "resourceVersion": "7", "finalizers": [HUB_FINALIZER]}
    }
    cluster_wide = plan_object(
        namespace, api_version="v1", kind="Namespace", installation=INSTALLATION, hand_over=None
    )
    assert cluster_wide is not None
    assert (cluster_wide.api_version, cluster_wide.kind) == ("v1", "Namespace")
    assert (cluster_wide.namespace, cluster_wide.name) == (None, "acme")


def test_lynqnode_loses_its_hub_owner_and_its_finalizer_in_one_patch() -> None:
    node = child(ownerReferences=[owner("LynqHub", HUB_UID)], finalizers=[NODE_FINALIZER])
    patch = plan(node, hand_over=None)
    assert patch.changes == (
        "remove ownerReference to LynqHub lynqhub",
        f"remove finalizer {NODE_FINALIZER}",
    )
    assert patch.operations == (
        {"op": "replace", "path": "/metadata/resourceVersion", "value": "42"},
        {"op": "remove", "path": "/metadata/ownerReferences"},
        {"op": "remove", "path": "/metadata/finalizers"},
    )


def test_describe_names_kind_namespace_name_and_every_change() -> None:
    patch = ObjectPatch("apps/v1", "Deployment", "tenants", "app", ("a", "b"), ())
    assert patch.describe() == "Deployment tenants/app: a; b"
    cluster_wide = ObjectPatch("v1", "Namespace", None, "acme", ("remove finalizer x",), ())
    assert cluster_wide.describe() == "Namespace acme: remove finalizer x"


def test_handing_over_two_managers_names_both_in_one_change() -> None:
    hand_over = HandOver(frozenset({"lynq-operator", "manager"}), "argocd-controller")
    fields = [entry("manager", {"f:data": {}}, "Update"), entry("lynq-operator", {"f:spec": {}})]
    patch = plan(child(managedFields=fields), hand_over=hand_over)
    assert patch.changes == ("hand the fields of lynq-operator, manager to argocd-controller",)


def test_last_owner_reference_removed_removes_the_list() -> None:
    patch = plan(child(ownerReferences=[owner("LynqNode", NODE_UID)]))
    assert {"op": "remove", "path": "/metadata/ownerReferences"} in patch.operations


def test_owner_reference_to_another_hubs_node_is_kept() -> None:
    assert plan(child(ownerReferences=[owner("LynqNode", "someone-else")])) is None


def test_owner_of_another_group_with_a_lynq_kind_is_kept() -> None:
    assert plan(child(ownerReferences=[owner("LynqNode", NODE_UID, "example.com/v1")])) is None


def test_every_patch_is_preconditioned_on_the_planned_resource_version() -> None:
    patch = plan(child(ownerReferences=[owner("LynqNode", NODE_UID)]))
    assert patch.operations[0] == {
        "op": "replace",
        "path": "/metadata/resourceVersion",
        "value": "42",
    }


@pytest.mark.parametrize("finalizer", [HUB_FINALIZER, NODE_FINALIZER])
def test_lynq_finalizers_are_removed_and_foreign_ones_kept(finalizer: str) -> None:
    patch = plan(child(finalizers=["example.com/keep", finalizer]), hand_over=None)
    assert {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/keep"]} in (
        patch.operations
    )
    assert patch.changes == (f"remove finalizer {finalizer}",)


def test_an_object_without_lynq_ties_needs_no_patch() -> None:
    fields = entry("kustomize-controller", {"f:spec": {}})
    assert plan(child(finalizers=["example.com/keep"], managedFields=[fields])) is None


def test_lynq_fields_become_the_engines_apply_entry_without_the_released_owner() -> None:
    status = entry("kube-controller-manager", {"f:status": {}}, "Update", subresource="status")
    patch = plan(
        child(
            ownerReferences=[owner("LynqNode", NODE_UID)],
            managedFields=[entry("lynq-operator", LYNQ_FIELDS), status],
        )
    )
    (managed,) = [op["value"] for op in patch.operations if op["path"] == "/metadata/managedFields"]
    assert managed == [
        status,
        entry(
            "kustomize-controller",
            {
                "f:metadata": {"f:annotations": {"f:lynq.sh/applied-hash": {}}},
                "f:spec": {"f:replicas": {}},
            },
        ),
    ]
    assert "hand the fields of lynq-operator to kustomize-controller" in patch.changes


def test_hand_over_merges_into_the_engines_existing_entry() -> None:
    engine = entry("kustomize-controller", {"f:spec": {"f:paused": {}}})
    managed, moved = hand_over_fields(
        [engine, entry("lynq-operator", {"f:spec": {"f:replicas": {}}})], FLUX, frozenset()
    )
    assert moved == {"lynq-operator"}
    assert managed == [
        entry("kustomize-controller", {"f:spec": {"f:paused": {}, "f:replicas": {}}})
    ]


def test_hand_over_never_merges_into_another_managers_entry_or_an_engine_update() -> None:
    helm = entry("helm", {"f:data": {}})  # another manager's Apply entry
    engine_update = entry("kustomize-controller", {"f:spec": {"f:paused": {}}}, "Update")
    managed, moved = hand_over_fields(
        [helm, engine_update, entry("lynq-operator", {"f:spec": {"f:replicas": {}}})],
        FLUX,
        frozenset(),
    )
    assert moved == {"lynq-operator"}
    assert managed == [
        helm,
        engine_update,
        entry("kustomize-controller", {"f:spec": {"f:replicas": {}}}),
    ]


def test_released_owner_keys_go_and_foreign_owner_keys_stay() -> None:
    foreign = 'k:{"uid":"rs-uid"}'
    fields: dict[str, Any] = {
        "f:metadata": {"f:ownerReferences": {".": {}, f'k:{{"uid":"{NODE_UID}"}}': {}, foreign: {}}}
    }
    managed, _ = hand_over_fields([entry("lynq-operator", fields)], FLUX, frozenset({NODE_UID}))
    assert managed[0]["fieldsV1"] == {"f:metadata": {"f:ownerReferences": {".": {}, foreign: {}}}}


def test_owner_references_set_of_only_the_list_itself_is_dropped() -> None:
    fields: dict[str, Any] = {
        "f:metadata": {"f:ownerReferences": {".": {}, f'k:{{"uid":"{NODE_UID}"}}': {}}}
    }
    managed, _ = hand_over_fields([entry("lynq-operator", fields)], FLUX, frozenset({NODE_UID}))
    assert managed[0]["fieldsV1"] == {"f:metadata": {}}


@pytest.mark.parametrize("released", [frozenset(), frozenset({NODE_UID})])
def test_fields_without_metadata_or_owner_references_are_handed_over_unchanged(
    released: frozenset[str],
) -> None:
    every: list[dict[str, Any]] = [{"f:spec": {"f:replicas": {}}}, {"f:metadata": {"f:labels": {}}}]
    for fields in every:
        managed, _ = hand_over_fields([entry("lynq-operator", fields)], FLUX, released)
        assert managed == [entry("kustomize-controller", fields)]


def test_owner_key_that_is_not_a_json_object_is_kept() -> None:
    odd: dict[str, Any] = {
        "f:metadata": {"f:ownerReferences": {'k:"x"': {}, "k:[1]": {}, "k:{": {}}}
    }
    managed, _ = hand_over_fields([entry("lynq-operator", odd)], FLUX, frozenset({NODE_UID}))
    assert managed[0]["fieldsV1"] == odd


def test_hand_over_leaves_subresource_entries_of_lynqs_manager() -> None:
    status = entry("lynq-operator", {"f:status": {}}, subresource="status")
    assert hand_over_fields([status], FLUX, frozenset()) == ([status], set())


def test_update_entries_of_a_named_manager_are_handed_over_too() -> None:
    hand_over = HandOver(frozenset({"lynq-operator", "manager"}), "argocd-controller")
    managed, moved = hand_over_fields(
        [entry("manager", {"f:data": {}}, "Update"), entry("lynq-operator", {"f:spec": {}})],
        hand_over,
        frozenset(),
    )
    assert moved == {"manager", "lynq-operator"}
    assert [(m["manager"], m["operation"]) for m in managed] == [("argocd-controller", "Apply")]
    assert managed[0]["fieldsV1"] == {"f:data": {}, "f:spec": {}}


def test_merge_fields_is_a_deep_union() -> None:
    left: dict[str, Any] = {"f:a": {"f:b": {}}, "f:c": {}}
    right: dict[str, Any] = {"f:a": {"f:d": {}}, "f:e": {}}
    assert merge_fields(left, right) == {"f:a": {"f:b": {}, "f:d": {}}, "f:c": {}, "f:e": {}}


def test_installation_holds_the_hub_and_its_nodes_only() -> None:
    def node(name: str, hub: str, uid: str, namespace: str = "tenants") -> dict[str, Any]:
        labels = {"lynq.sh/hub": hub}
        return {"metadata": {"name": name, "namespace": namespace, "uid": uid, "labels": labels}}

    hub = {"metadata": {"name": "hub", "namespace": "tenants", "uid": HUB_UID}}
    nodes = [node("a-web", "hub", "u1"), node("b-web", "other", "u2"), node("c", "hub", "u3", "x")]
    installation, mine = installation_of(hub, nodes, namespace="tenants", name="hub")
    assert installation.owner_uids == {HUB_UID, "u1"}
    assert installation.node_names == {"a-web"}
    assert [n["metadata"]["name"] for n in mine] == ["a-web"]
    assert installation == LynqInstallation(
        "tenants", "hub", frozenset({HUB_UID, "u1"}), frozenset({"a-web"})
    )


@pytest.mark.parametrize("hub", [None, {}, {"metadata": {"name": "hub"}}])
def test_installation_without_a_hub_uid_holds_its_nodes(hub: dict[str, Any] | None) -> None:
    labels = {"lynq.sh/hub": "hub"}
    node = {"metadata": {"name": "a-web", "namespace": "tenants", "uid": "u1", "labels": labels}}
    installation, _ = installation_of(hub, [node], namespace="tenants", name="hub")
    assert installation == LynqInstallation(
        "tenants", "hub", frozenset({"u1"}), frozenset({"a-web"})
    )
    tracking = {"lynq.sh/node": "a-web", "lynq.sh/node-namespace": "tenants"}
    assert installation.tracks({"metadata": {"name": "ns", "labels": tracking}})


@pytest.mark.parametrize(
    ("labels", "tracked"),
    [
        ({"lynq.sh/node": "acme-web", "lynq.sh/node-namespace": "tenants"}, True),
        ({"lynq.sh/node": "acme-web", "lynq.sh/node-namespace": "elsewhere"}, False),
        ({"lynq.sh/node": "other-web", "lynq.sh/node-namespace": "tenants"}, False),
        ({}, False),
    ],
)
def test_children_in_other_namespaces_are_found_by_lynqs_tracking_labels(
    labels: dict[str, str], tracked: bool
) -> None:
    assert INSTALLATION.tracks({"metadata": {"name": "ns", "labels": labels}}) is tracked


def test_children_are_found_by_an_owner_reference_to_a_node() -> None:
    assert INSTALLATION.tracks(child(ownerReferences=[owner("LynqNode", NODE_UID)]))
    assert not INSTALLATION.tracks(child(ownerReferences=[owner("LynqNode", "x")]))


@pytest.mark.parametrize(
    ("target", "override", "manager"),
    [("flux", None, "kustomize-controller"), ("argocd", None, "argocd-controller"),
     ("both", "kustomize-controller", "kustomize-controller")],
)  # fmt: skip
def test_the_engines_field_manager_follows_the_target(
    target: str, override: str | None, manager: str
) -> None:
    assert engine_field_manager(config_with(target), override) == manager


@pytest.mark.parametrize("target", ["plain", "both"])
def test_a_target_without_one_engine_needs_field_manager(target: str) -> None:
    with pytest.raises(ConfigError, match="--field-manager is required"):
        engine_field_manager(config_with(target), None)


def config_with(target: str) -> Any:
    """Just what ``engine_field_manager`` reads of a Config."""
    return SimpleNamespace(bridge=SimpleNamespace(spec=SimpleNamespace(target=target)))
