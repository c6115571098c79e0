"""The plan of a cutover from the Lynq operator: which objects to release, and the JSON patches.

Lynq applies every child of a LynqNode in the node's namespace with an ownerReference to the node
(``controller: true``, ``blockOwnerDeletion: true``) and tracks the others (other namespaces,
Namespaces, ``deletionPolicy: Retain``) by the labels ``lynq.sh/node`` and
``lynq.sh/node-namespace``; its finalizers sit on LynqHubs and LynqNodes; it server-side applies
with the field manager ``lynq-operator``. Deleting Lynq's objects as they are would let the
garbage collector delete every tenant's workload. Adopting an installation therefore:

- removes every ownerReference that points at one of the hub's LynqHub or LynqNodes (the GitOps
  engine then tracks the object by its own inventory; nothing re-points it at another owner);
- removes Lynq's finalizers from the hub and its nodes (nothing runs their clean-up any more);
- hands the fields Lynq's field managers own on each child to the engine's field manager
  (``kustomize-controller`` for Flux, ``argocd-controller`` for Argo CD with server-side apply)
  by rewriting ``metadata.managedFields``. Without it both managers co-own each field and a field
  the bridge stops rendering is never removed; Flux also skips objects whose dry-run shows no
  drift, so it would never take the fields over by applying.

This module is pure: it decides and describes; ``lynq_bridge.adopt`` lists the objects and sends
the patches. Every patch carries the object's ``resourceVersion`` (a stale plan is refused with a
409 and planned again) and only removes or renames: it never deletes an object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

LYNQ_GROUP: Final = "operator.lynq.sh"
LYNQ_KINDS: Final = frozenset({"LynqHub", "LynqNode", "LynqForm"})
LABEL_HUB: Final = "lynq.sh/hub"
LABEL_NODE: Final = "lynq.sh/node"
LABEL_NODE_NAMESPACE: Final = "lynq.sh/node-namespace"
# Lynq's finalizers (internal/controller: FinalizerLynqHub, LynqNodeFinalizer).
HUB_FINALIZER: Final = "lynq.sh/hub-finalizer"
NODE_FINALIZER: Final = "lynqnode.operator.lynq.sh/finalizer"
LYNQ_FINALIZERS: Final = frozenset({HUB_FINALIZER, NODE_FINALIZER})
# Lynq's server-side apply field manager (internal/apply/ssa.go: FieldManager).
LYNQ_FIELD_MANAGER: Final = "lynq-operator"
# The managers the GitOps engines apply with: kustomize-controller's SSA owner and Argo CD's
# ServerSideApply manager. ``plain`` and ``both`` have no single engine: the caller must name one.
ENGINE_FIELD_MANAGERS: Final = {"flux": "kustomize-controller", "argocd": "argocd-controller"}
# The kinds Lynq's node controller owns or tracks (SetupWithManager: Owns and Watches).
LYNQ_CHILD_KINDS: Final = (
    ("v1", "Namespace"),
    ("v1", "ServiceAccount"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
)


@dataclass(frozen=True)
class HandOver:
    """Field ownership to move: every entry of ``from_managers`` becomes ``to_manager``'s."""

    from_managers: frozenset[str]
    to_manager: str


@dataclass(frozen=True)
class LynqInstallation:
    """One hub as Lynq left it: the uids of its LynqHub and LynqNodes, the nodes' names."""

    namespace: str
    hub: str
    owner_uids: frozenset[str]
    node_names: frozenset[str]

    def tracks(self, obj: Mapping[str, Any]) -> bool:
        """True when ``obj`` is one of this hub's children: owned by the hub or one of its
        nodes, or carrying Lynq's tracking labels for one of its nodes."""
        meta = obj.get("metadata") or {}
        if any(_lynq_owner(ref) and ref.get("uid") in self.owner_uids for ref in _owners(meta)):
            return True
        labels = meta.get("labels") or {}
        return (
            labels.get(LABEL_NODE_NAMESPACE) == self.namespace
            and labels.get(LABEL_NODE) in self.node_names
        )


@dataclass(frozen=True)
class ObjectPatch:
    """The changes to one object and the JSON patch (RFC 6902) that makes them."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    changes: tuple[str, ...]
    operations: tuple[dict[str, Any], ...]

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}: {'; '.join(self.changes)}"


def installation_of(
    hub: Mapping[str, Any] | None, nodes: Iterable[Mapping[str, Any]], *, namespace: str, name: str
) -> tuple[LynqInstallation, list[Mapping[str, Any]]]:
    """The installation of hub ``namespace/name`` and its LynqNodes (Lynq labels each node with
    ``lynq.sh/hub``: nodes of other hubs in the namespace are left alone)."""
    mine = [
        node
        for node in nodes
        if ((node.get("metadata") or {}).get("labels") or {}).get(LABEL_HUB) == name
        and (node.get("metadata") or {}).get("namespace") == namespace
    ]
    uids = {str(n["metadata"]["uid"]) for n in mine if n["metadata"].get("uid")}
    if hub is not None and hub.get("metadata", {}).get("uid"):
        uids.add(str(hub["metadata"]["uid"]))
    names = frozenset(str(n["metadata"]["name"]) for n in mine)
    return LynqInstallation(namespace, name, frozenset(uids), names), mine


def plan_object(
    obj: Mapping[str, Any],
    *,
    api_version: str,
    kind: str,
    installation: LynqInstallation,
    hand_over: HandOver | None,
) -> ObjectPatch | None:
    """The patch that releases ``obj`` from Lynq, or None when nothing of Lynq's is left on it.

    Removes ownerReferences to the installation's hub and nodes and Lynq's finalizers; with
    ``hand_over``, renames the listed field managers' entries (merging into an existing entry
    of the target manager, so the object keeps one entry per manager).
    """
    meta = obj.get("metadata") or {}
    changes: list[str] = []
    operations: list[dict[str, Any]] = []
    owners = list(_owners(meta))
    released = [r for r in owners if _lynq_owner(r) and r.get("uid") in installation.owner_uids]
    if released:
        kept = [r for r in owners if r not in released]
        operations.append(_set("/metadata/ownerReferences", kept))
        changes += [f"remove ownerReference to {r.get('kind')} {r.get('name')}" for r in released]
    finalizers = list(meta.get("finalizers") or [])
    dropped = [f for f in finalizers if f in LYNQ_FINALIZERS]
    if dropped:
        operations.append(_set("/metadata/finalizers", [f for f in finalizers if f not in dropped]))
        changes += [f"remove finalizer {f}" for f in dropped]
    if hand_over is not None:
        released_uids = frozenset(str(r.get("uid")) for r in released)
        entries = meta.get("managedFields") or []
        renamed, moved = hand_over_fields(entries, hand_over, released_uids)
        if moved:
            operations.append(_set("/metadata/managedFields", renamed))
            managers = ", ".join(sorted(moved))
            changes.append(f"hand the fields of {managers} to {hand_over.to_manager}")
    if not operations:
        return None
    # The precondition: the patch applies to the version planned from, or is refused (409).
    version = {"op": "replace", "path": "/metadata/resourceVersion"}
    operations.insert(0, {**version, "value": str(meta.get("resourceVersion") or "")})
    return ObjectPatch(
        api_version=api_version,
        kind=kind,
        namespace=meta.get("namespace"),
        name=str(meta.get("name")),
        changes=tuple(changes),
        operations=tuple(operations),
    )


def hand_over_fields(
    entries: Iterable[Mapping[str, Any]], hand_over: HandOver, released_uids: frozenset[str]
) -> tuple[list[dict[str, Any]], set[str]]:
    """``managedFields`` with the entries of ``from_managers`` merged into one ``Apply`` entry
    of ``to_manager``, and the names moved. Subresource entries (``status``) stay as they are;
    ownership of the released ownerReferences is dropped with them."""
    kept: list[dict[str, Any]] = []
    sources: list[Mapping[str, Any]] = []
    target: dict[str, Any] | None = None
    for entry in entries:
        manager, sub = entry.get("manager"), entry.get("subresource")
        if manager in hand_over.from_managers and not sub:
            sources.append(entry)
            continue
        copy = dict(entry)
        if manager == hand_over.to_manager and entry.get("operation") == "Apply" and not sub:
            target = copy
        kept.append(copy)
    if not sources:
        return kept, set()
    fields: dict[str, Any] = dict((target or {}).get("fieldsV1") or {})
    for source in sources:
        fields = merge_fields(fields, source.get("fieldsV1") or {})
    fields = _without_owner_keys(fields, released_uids)
    if target is None:
        first = sources[0]
        target = {
            "manager": hand_over.to_manager,
            "operation": "Apply",
            "apiVersion": first.get("apiVersion"),
            "time": first.get("time"),
            "fieldsType": "FieldsV1",
        }
        kept.append(target)
    target["fieldsV1"] = fields
    return kept, {str(s.get("manager")) for s in sources}


def merge_fields(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """The union of two ``fieldsV1`` trees (each key a field, list key or value; ``{}`` a leaf)."""
    merged = dict(left)
    for key, value in right.items():
        if key in merged and isinstance(merged[key], Mapping) and isinstance(value, Mapping):
            merged[key] = merge_fields(merged[key], value)
        else:
            merged.setdefault(key, value)
    return merged


def _without_owner_keys(fields: Mapping[str, Any], uids: frozenset[str]) -> dict[str, Any]:
    """``fields`` without the ownerReferences list entries of ``uids`` (``k:{"uid":…}`` keys)."""
    meta = fields.get("f:metadata")
    if not uids or not isinstance(meta, Mapping) or "f:ownerReferences" not in meta:
        return dict(fields)
    refs = {
        key: value
        for key, value in (meta.get("f:ownerReferences") or {}).items()
        if _list_key_uid(key) not in uids
    }
    new_meta = {k: v for k, v in meta.items() if k != "f:ownerReferences"}
    if set(refs) - {"."}:
        new_meta["f:ownerReferences"] = refs
    return {**fields, "f:metadata": new_meta}


def _list_key_uid(key: str) -> str | None:
    if not key.startswith("k:"):
        return None
    try:
        value = json.loads(key[2:])
    except ValueError:
        return None
    return str(value.get("uid")) if isinstance(value, dict) else None


def _owners(meta: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in meta.get("ownerReferences") or [] if isinstance(r, Mapping)]


def _lynq_owner(ref: Mapping[str, Any]) -> bool:
    group = str(ref.get("apiVersion") or "").rpartition("/")[0]
    return group == LYNQ_GROUP and ref.get("kind") in LYNQ_KINDS


def _set(path: str, value: list[Any]) -> dict[str, Any]:
    """Replace a list, or remove it when nothing is left (``add`` also replaces: the key
    exists)."""
    if not value:
        return {"op": "remove", "path": path}
    return {"op": "add", "path": path, "value": value}
