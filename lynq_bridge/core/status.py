"""LynqNode status from live objects: per-resource states, counters, conditions and Events.

Pure: the reporter hands over the node, the live object of each inventory entry (or ``None``),
the previous status and ``now``; this module decides. The rules (SPEC §8, issue 3):

- Resources are judged in dependency order. A dependency that failed, was skipped or is in
  conflict skips its dependents when ``skipOnDependencyFailure`` is set (Lynq's semantics); a
  dependency still waiting holds the dependent's clock.
- ``since`` marks when the reporter started waiting for the current content to become ready:
  the first pass that saw this inventory hash with every dependency ready, or the pass in which
  the object lost readiness. Persisted in status, so a reporter restart does not reset it. Not
  ready ``timeoutSeconds`` after ``since`` means failed; a missing object counts as not ready.
- ``conflictPolicy: Stuck``: an existing object without this node's ``lynq.sh/node`` label (or
  with another node's) belongs to someone else and is reported Conflicted, never adopted. A
  node name longer than 63 characters is read from the annotation of the same key.
- ``waitForReady: false`` and ``creationPolicy: Once`` resources are ready once they exist.
- Conditions come in both vocabularies: kstatus ``Ready``/``Reconciling``/``Stalled`` (the last
  two only while true, as Flux does) and Lynq's ``Progressing``/``Degraded``/``Conflicted`` with
  Lynq's reasons. ``lastTransitionTime`` moves only when a condition's status flips.
- Events are emitted for state transitions only, so an unchanged pass has nothing to write.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lynq_bridge.config.models import (
    Condition,
    InventoryEntry,
    LynqNode,
    NodeStatus,
    ResourceState,
)
from lynq_bridge.core import naming, readiness
from lynq_bridge.core.conditions import (
    DesiredCondition,
    format_time,
    merge_conditions,
    parse_time,
)
from lynq_bridge.core.inventory import Malformed, dependency_order, parse_previous

NODE_LABEL = "lynq.sh/node"
NODE_NAMESPACE_LABEL = "lynq.sh/node-namespace"

# Condition types.
READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"
PROGRESSING, DEGRADED, CONFLICTED = "Progressing", "Degraded", "Conflicted"

# Lynq's reasons (internal/controller/lynqnode_controller.go), plus the malformed-node ones.
RECONCILED = "Reconciled"
RESOURCES_FAILED_AND_CONFLICTED = "ResourcesFailedAndConflicted"
RESOURCES_CONFLICTED = "ResourcesConflicted"
RESOURCES_FAILED = "ResourcesFailed"
NOT_ALL_RESOURCES_READY = "NotAllResourcesReady"
RECONCILING_REASON, RECONCILE_COMPLETE = "Reconciling", "ReconcileComplete"
HEALTHY = "Healthy"
RESOURCE_FAILURES_AND_CONFLICTS = "ResourceFailuresAndConflicts"
RESOURCE_FAILURES, RESOURCE_CONFLICTS = "ResourceFailures", "ResourceConflicts"
RESOURCES_NOT_READY = "ResourcesNotReady"
NO_CONFLICT, RESOURCE_CONFLICT = "NoConflict", "ResourceConflict"
UNKNOWN_KIND = "UnknownKind"

State = Literal["Ready", "NotReady", "Failed", "Skipped", "Conflicted", "Missing"]
BROKEN: frozenset[str] = frozenset({"Failed", "Skipped", "Conflicted"})
WAITING: frozenset[str] = frozenset({"NotReady", "Missing"})
MAX_IDS_IN_MESSAGE = 5


@dataclass(frozen=True)
class EventRecord:
    """A Kubernetes Event to record on the LynqNode."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class NodeOutcome:
    status: NodeStatus
    events: tuple[EventRecord, ...]

    @property
    def ready(self) -> bool:
        return any(c.type == READY and c.status == "True" for c in self.status.conditions)

    @property
    def stalled(self) -> bool:
        return any(c.type == STALLED and c.status == "True" for c in self.status.conditions)


# -------------------------------------------------------------------------- per resource


def _describe(entry: InventoryEntry) -> str:
    where = f"{entry.namespace}/{entry.name}" if entry.namespace else entry.name
    return f"{entry.kind} {where}"


def foreign_owner(obj: Mapping[str, Any], *, node: str, namespace: str) -> str | None:
    """Why an existing object belongs to someone else rather than to LynqNode
    ``namespace``/``node`` (``None``: it is the node's). The one rule for ``conflictPolicy:
    Stuck``, shared by the reporter and by the sync's check before it commits a new object."""
    metadata = obj.get("metadata") or {}
    # The full node name: a name longer than 63 characters is in the annotation of the same
    # key, its short form in the label (naming.tracked_value confirms the one by the other).
    owner = naming.tracked_value(metadata, NODE_LABEL)
    owner_namespace = (metadata.get("labels") or {}).get(NODE_NAMESPACE_LABEL)
    if owner == node and owner_namespace in (None, namespace):
        return None
    if owner is None:
        return f"it has no {NODE_LABEL} label"
    return f"its {NODE_LABEL} label names {owner_namespace or '?'}/{owner}"


def _managed_by_node(obj: Mapping[str, Any], node: LynqNode) -> tuple[bool, str]:
    why = foreign_owner(obj, node=node.metadata.name, namespace=node.metadata.namespace)
    return why is None, why or ""


def _since(
    entry: InventoryEntry, previous: ResourceState | None, *, now: str, lost_readiness: bool
) -> str:
    if previous is None or previous.hash != entry.hash or previous.since is None:
        return now
    if lost_readiness:
        return now
    return previous.since


def _judge(
    node: LynqNode, entry: InventoryEntry, obj: Mapping[str, Any] | None, served: bool
) -> tuple[State, str, str]:
    """State, reason and message from the object alone (no dependencies, no clock)."""
    what = _describe(entry)
    if not served:
        return (
            "Failed",
            UNKNOWN_KIND,
            f"The API server does not serve kind {entry.kind} of {entry.apiVersion}.",
        )
    if obj is None:
        return "Missing", "NotFound", f"{what} does not exist yet (not applied)."
    if entry.conflictPolicy == "Stuck":
        managed, why = _managed_by_node(obj, node)
        if not managed:
            return (
                "Conflicted",
                "NotManagedByNode",
                f"{what} exists but belongs to someone else: {why}; "
                "conflictPolicy Stuck does not adopt it.",
            )
    if not entry.waitForReady:
        return "Ready", "Exists", f"{what} exists; waitForReady is false."
    if entry.creationPolicy == "Once":
        return "Ready", "Exists", f"{what} exists; creationPolicy Once does not track it further."
    verdict = readiness.evaluate(entry.kind, obj)
    state: State = "NotReady" if verdict.verdict == "NotReady" else verdict.verdict
    return state, verdict.reason, verdict.message


def evaluate_resource(
    node: LynqNode,
    entry: InventoryEntry,
    *,
    obj: Mapping[str, Any] | None,
    served: bool,
    dependencies: Mapping[str, ResourceState],
    previous: ResourceState | None,
    now: dt.datetime,
) -> ResourceState:
    """The state of one inventory entry, given the states of the entries it depends on."""
    stamp = format_time(now)
    deps = [dependencies[d] for d in entry.dependIds if d in dependencies]
    broken = next((d for d in deps if d.state in BROKEN), None)
    if broken is not None and entry.skipOnDependencyFailure:
        return ResourceState(
            id=entry.id,
            state="Skipped",
            reason="DependencyFailed",
            message=f'Skipped because dependency "{broken.id}" is {broken.state.lower()}.',
            hash=entry.hash,
        )
    state, reason, message = _judge(node, entry, obj, served)
    if state not in WAITING:
        since = _since(entry, previous, now=stamp, lost_readiness=False)
        return ResourceState(
            id=entry.id, state=state, reason=reason, message=message, since=since, hash=entry.hash
        )
    waiting_on = next((d for d in deps if d.state in WAITING), None)
    if waiting_on is not None:
        # Argo CD waves and Flux dependsOn apply this resource only after its dependencies are
        # ready, so its clock has not started yet.
        return ResourceState(
            id=entry.id,
            state=state,
            reason=reason,
            message=f'{message} Waiting for dependency "{waiting_on.id}".',
            hash=entry.hash,
        )
    lost = previous is not None and previous.state == "Ready" and previous.hash == entry.hash
    since = _since(entry, previous, now=stamp, lost_readiness=lost)
    started = parse_time(since) or now
    if (now - started).total_seconds() >= entry.timeoutSeconds:
        return ResourceState(
            id=entry.id,
            state="Failed",
            reason="Timeout",
            message=f"Not ready {entry.timeoutSeconds}s after its current content was first "
            f"observed at {since}: {message}",
            since=since,
            hash=entry.hash,
        )
    return ResourceState(
        id=entry.id, state=state, reason=reason, message=message, since=since, hash=entry.hash
    )


# --------------------------------------------------------------------------- node level


def _ids(states: Sequence[ResourceState], wanted: Collection[str]) -> str:
    ids = [s.id for s in states if s.state in wanted]
    shown = ", ".join(ids[:MAX_IDS_IN_MESSAGE])
    more = len(ids) - MAX_IDS_IN_MESSAGE
    return f"{shown} and {more} more" if more > 0 else shown


def _conditions(states: Sequence[ResourceState]) -> list[DesiredCondition]:
    counts = Counter(s.state for s in states)
    desired, ready = len(states), counts["Ready"]
    failed, conflicted, skipped = counts["Failed"], counts["Conflicted"], counts["Skipped"]
    waiting = counts["NotReady"] + counts["Missing"]
    failed_ids, conflicted_ids = _ids(states, {"Failed"}), _ids(states, {"Conflicted"})
    skipped_note = f"; {skipped} skipped as dependents" if skipped else ""

    if ready == desired:
        ready_c = DesiredCondition(READY, "True", RECONCILED, f"All {desired} resources are ready.")
    elif failed and conflicted:
        ready_c = DesiredCondition(
            READY,
            "False",
            RESOURCES_FAILED_AND_CONFLICTED,
            f"{failed} resources failed ({failed_ids}) and {conflicted} are in conflict "
            f"({conflicted_ids}){skipped_note}.",
        )
    elif conflicted:
        ready_c = DesiredCondition(
            READY,
            "False",
            RESOURCES_CONFLICTED,
            f"{conflicted} resources are in conflict ({conflicted_ids}){skipped_note}.",
        )
    elif failed:
        ready_c = DesiredCondition(
            READY,
            "False",
            RESOURCES_FAILED,
            f"{failed} resources failed ({failed_ids}){skipped_note}.",
        )
    else:
        ready_c = DesiredCondition(
            READY,
            "False",
            NOT_ALL_RESOURCES_READY,
            f"{ready} of {desired} resources are ready; waiting for {_ids(states, WAITING)}.",
        )
    result = [ready_c]
    if waiting:
        result.append(
            DesiredCondition(
                RECONCILING,
                "True",
                NOT_ALL_RESOURCES_READY,
                f"Waiting for {waiting} resources to become ready: {_ids(states, WAITING)}.",
            )
        )
    if failed or conflicted:
        unknown = any(s.reason == UNKNOWN_KIND for s in states)
        reason = UNKNOWN_KIND if unknown else ready_c.reason
        result.append(DesiredCondition(STALLED, "True", reason, ready_c.message))
    result.append(
        DesiredCondition(
            PROGRESSING, "True", RECONCILING_REASON, f"Waiting for {waiting} resources."
        )
        if waiting
        else DesiredCondition(
            PROGRESSING, "False", RECONCILE_COMPLETE, "No resource is waiting to become ready."
        )
    )
    if ready == desired:
        degraded = DesiredCondition(DEGRADED, "False", HEALTHY, "All resources are healthy.")
    elif failed and conflicted:
        degraded = DesiredCondition(
            DEGRADED,
            "True",
            RESOURCE_FAILURES_AND_CONFLICTS,
            f"{failed} resources failed and {conflicted} are in conflict.",
        )
    elif failed:
        degraded = DesiredCondition(
            DEGRADED, "True", RESOURCE_FAILURES, f"{failed} resources failed."
        )
    elif conflicted:
        degraded = DesiredCondition(
            DEGRADED, "True", RESOURCE_CONFLICTS, f"{conflicted} resources are in conflict."
        )
    else:
        degraded = DesiredCondition(
            DEGRADED, "True", RESOURCES_NOT_READY, f"{ready} of {desired} resources are ready."
        )
    result.append(degraded)
    result.append(
        DesiredCondition(
            CONFLICTED,
            "True",
            RESOURCE_CONFLICT,
            f"Resources owned by someone else: {conflicted_ids}.",
        )
        if conflicted
        else DesiredCondition(CONFLICTED, "False", NO_CONFLICT, "No resource conflicts.")
    )
    return result


def _events(
    entries: Sequence[InventoryEntry],
    states: Sequence[ResourceState],
    previous: Mapping[str, ResourceState],
) -> list[EventRecord]:
    events: list[EventRecord] = []
    for entry, state in zip(entries, states, strict=True):
        before = previous.get(entry.id)
        if before is not None and before.state == state.state:
            continue
        label = f'Resource "{entry.id}" ({_describe(entry)})'
        if state.state == "Ready" and before is not None:
            recovered = before.state in BROKEN
            events.append(
                EventRecord(
                    "Normal",
                    "ResourceRecovered" if recovered else "RolloutComplete",
                    f"{label} is ready.",
                )
            )
        elif state.state == "Failed":
            reason = "ReadinessTimeout" if state.reason == "Timeout" else "RolloutAborted"
            events.append(EventRecord("Warning", reason, f"{label}: {state.message}"))
        elif state.state == "Conflicted":
            events.append(EventRecord("Warning", "ResourceConflict", f"{label}: {state.message}"))
        elif state.state == "Skipped":
            events.append(EventRecord("Warning", "DependencySkipped", f"{label}: {state.message}"))
    return events


def compute_node_status(
    node: LynqNode,
    *,
    generation: int | None,
    live: Mapping[str, Mapping[str, Any] | None],
    unserved: Collection[str] = (),
    previous: NodeStatus | None,
    now: dt.datetime,
) -> NodeOutcome:
    """The whole status of one well-formed node (``live`` maps resource id -> object)."""
    entries = node.spec.resources
    before = {s.id: s for s in previous.resources} if previous else {}
    computed: dict[str, ResourceState] = {}
    for entry in dependency_order(entries):
        computed[entry.id] = evaluate_resource(
            node,
            entry,
            obj=live.get(entry.id),
            served=entry.id not in unserved,
            dependencies=computed,
            previous=before.get(entry.id),
            now=now,
        )
    states = [computed[e.id] for e in entries]
    counts = Counter(s.state for s in states)
    status = NodeStatus(
        observedGeneration=generation,
        desiredResources=len(states),
        readyResources=counts["Ready"],
        failedResources=counts["Failed"],
        skippedResources=counts["Skipped"],
        skippedResourceIds=[s.id for s in states if s.state == "Skipped"],
        conflictedResources=counts["Conflicted"],
        resources=states,
        conditions=merge_conditions(
            previous.conditions if previous else [],
            _conditions(states),
            now=now,
            generation=generation,
        ),
    )
    return NodeOutcome(status, tuple(_events(entries, states, before)))


def compute_malformed_status(
    problem: Malformed,
    *,
    generation: int | None,
    previous: NodeStatus | None,
    now: dt.datetime,
) -> NodeOutcome:
    """Status of a node that cannot be evaluated: Stalled, not Ready, with the cause."""
    desired = [
        DesiredCondition(READY, "False", problem.reason, problem.message),
        DesiredCondition(STALLED, "True", problem.reason, problem.message),
        DesiredCondition(PROGRESSING, "False", RECONCILE_COMPLETE, "The node cannot be evaluated."),
        DesiredCondition(DEGRADED, "True", problem.reason, problem.message),
        DesiredCondition(CONFLICTED, "False", NO_CONFLICT, "No resource conflicts."),
    ]
    old: Sequence[Condition] = previous.conditions if previous else []
    conditions = merge_conditions(old, desired, now=now, generation=generation)
    was = next((c for c in old if c.type == STALLED and c.status == "True"), None)
    events: tuple[EventRecord, ...] = ()
    if was is None or was.reason != problem.reason or was.message != problem.message:
        events = (EventRecord("Warning", problem.reason, problem.message),)
    status = NodeStatus(observedGeneration=generation, conditions=conditions)
    return NodeOutcome(status, events)


def status_document(status: NodeStatus) -> dict[str, Any]:
    """The status as written to the API (no nulls, so it round-trips through the schema)."""
    return status.model_dump(mode="json", exclude_none=True)


def status_changed(raw_status: Any, status: NodeStatus) -> bool:
    """Whether writing ``status`` would change what the cluster holds."""
    previous = parse_previous(raw_status)
    if previous is None:  # nothing written yet, or something we cannot read: overwrite it
        return True
    new = status_document(status)
    return status_document(previous) != new or bool(set(raw_status) - set(new))
