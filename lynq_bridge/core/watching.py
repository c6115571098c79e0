"""The decisions of the watching status reporter, as pure functions: no clock, no I/O.

The reporter keeps a cache of the live children and LynqNodes fed by list-then-watch. What
it keeps of each object (``project``), what a watch event means for the cache (``classify``),
how long to wait before retrying a failed list or watch (``backoff_seconds``), which watches
to hold for the (kind, namespace) pairs the inventories need (``plan_groups``) and when a
node's status must be recomputed although nothing changed in the cluster (``next_deadline``:
the readiness timeouts) are decided here, so they are table-tested without a cluster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from lynq_bridge.config.models import LynqNode, NodeStatus
from lynq_bridge.core.conditions import parse_time
from lynq_bridge.core.naming import MAX_NODE_NAME, tracked_value
from lynq_bridge.core.status import NODE_LABEL, NODE_NAMESPACE_LABEL, WAITING

# The labels ``status.foreign_owner`` reads; every other label is dropped from the cache.
OWNER_LABELS = (NODE_LABEL, NODE_NAMESPACE_LABEL)
# The spec fields ``core.readiness`` reads (Deployment/StatefulSet replicas, Service type,
# Ingress rules); everything else in a spec (pod templates, data) never affects status.
SPEC_FIELDS = ("replicas", "type", "rules")
GONE = 410  # HTTP status of an expired resourceVersion: the watch must start from a new list

Step = Literal["apply", "delete", "bookmark", "relist", "retry"]
Group = TypeVar("Group", bound=Hashable)


def project(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a live child the status computation reads: bounded memory per object.

    Two objects with the same projection give the same status, so an event whose projection
    is unchanged (a resourceVersion or managedFields bump) need not recompute anything.
    """
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    kept: dict[str, Any] = {"name": meta.get("name"), "namespace": meta.get("namespace")}
    if "generation" in meta:
        kept["generation"] = meta["generation"]
    owner = {key: labels[key] for key in OWNER_LABELS if key in labels}
    if owner:
        kept["labels"] = owner
    # A node name too long for its label is in the annotation of the same key: kept when it
    # matches the label (naming.tracked_value) and is no longer than a node name can be.
    full = tracked_value(meta, NODE_LABEL)
    if full is not None and full != labels.get(NODE_LABEL) and len(full) <= MAX_NODE_NAME:
        kept["annotations"] = {NODE_LABEL: full}
    projected: dict[str, Any] = {"metadata": kept}
    spec = obj.get("spec")
    if isinstance(spec, Mapping):
        fields = {key: spec[key] for key in SPEC_FIELDS if key in spec}
        if "rules" in fields:  # only whether there are rules matters, not their content
            fields["rules"] = [{}] if fields["rules"] else []
        if fields:
            projected["spec"] = fields
    if "status" in obj:
        projected["status"] = obj["status"]
    return projected


@dataclass(frozen=True)
class Decision:
    """What one watch event means: ``apply``/``delete`` an object, remember a ``bookmark``'s
    resourceVersion, ``relist`` (410 Gone: the version is too old) or ``retry`` after a
    backoff with a relist (any other error event)."""

    step: Step
    resource_version: str | None = None
    message: str = ""


def classify(event: Mapping[str, Any]) -> Decision:
    """The decision for one decoded watch event (``{"type": ..., "object": ...}``)."""
    kind = event.get("type")
    obj = event.get("object")
    obj = obj if isinstance(obj, Mapping) else {}
    version = (obj.get("metadata") or {}).get("resourceVersion")
    if kind in ("ADDED", "MODIFIED"):
        return Decision("apply", version)
    if kind == "DELETED":
        return Decision("delete", version)
    if kind == "BOOKMARK":
        return Decision("bookmark", version)
    code = obj.get("code")
    message = str(obj.get("message") or obj.get("reason") or "no message")
    if kind == "ERROR" and (code == GONE or obj.get("reason") in ("Expired", "Gone")):
        return Decision("relist", message=message)
    return Decision("retry", message=f"unexpected watch event {kind!r}: {message}")


def backoff_seconds(failures: int, *, cap: float, base: float = 0.5) -> float:
    """Exponential backoff after ``failures`` consecutive failures (0 → no wait), capped."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(failures - 1, 30)))


def is_newer(version: str | None, than: str | None) -> bool:
    """Whether ``version`` is at least as new as ``than``.

    resourceVersions are opaque by contract but etcd-backed servers issue increasing integers;
    comparing them keeps an event that was in flight during our own status patch from
    overwriting the newer object the patch returned. Anything not numeric counts as newer.
    """
    if version is None or than is None or not (version.isdigit() and than.isdigit()):
        return True
    return int(version) >= int(than)


def plan_groups(
    wanted: Mapping[Group, Collection[str | None]],
    *,
    cluster_wide: bool,
    threshold: int,
) -> set[tuple[Group, str | None]]:
    """The (type, namespace) watches to hold, ``None`` meaning all namespaces.

    ``wanted`` maps each type to the namespaces the inventories need (``None`` for a
    cluster-scoped type). A type needed in more than ``threshold`` namespaces gets one
    all-namespaces watch when ``cluster_wide`` is allowed (the reporter is not limited to one
    namespace): a thread and a connection per tenant namespace do not scale to thousands.
    """
    groups: set[tuple[Group, str | None]] = set()
    for rtype, namespaces in wanted.items():
        if not namespaces:
            continue
        if None in namespaces or (cluster_wide and len(namespaces) > threshold):
            groups.add((rtype, None))
        else:
            groups.update((rtype, namespace) for namespace in namespaces)
    return groups


def next_deadline(node: LynqNode, status: NodeStatus) -> dt.datetime | None:
    """When the status of ``node`` changes with no event: its earliest readiness timeout.

    A resource that is waiting (NotReady or Missing) with a start time fails ``timeoutSeconds``
    after it; a waiting resource without a start time waits on a dependency and has no clock.
    """
    timeouts = {entry.id: entry.timeoutSeconds for entry in node.spec.resources}
    moments: Iterable[dt.datetime] = (
        started + dt.timedelta(seconds=timeouts[state.id])
        for state in status.resources
        if state.state in WAITING and state.id in timeouts
        for started in (parse_time(state.since),)
        if started is not None
    )
    return min(moments, default=None)
