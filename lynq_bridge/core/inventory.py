"""Reading LynqNodes as listed from the cluster: validation, malformed nodes, dependency order.

A LynqNode in the cluster was written by the bridge, but Git can be edited by hand and the CRD
schema cannot express every rule: a node without an inventory, with a field the model rejects,
with a duplicate resource id or with a dependency cycle cannot be evaluated. Such a node becomes a
``Malformed`` with a CamelCase reason and a sentence, which the status module turns into
``Stalled=True``; it never stops the pass for other nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lynq_bridge.config.models import InventoryEntry, LynqNode, NodeStatus

INVALID_SPEC, INVENTORY_MISSING = "InvalidSpec", "InventoryMissing"
DUPLICATE_RESOURCE_ID, DEPENDENCY_CYCLE = "DuplicateResourceId", "DependencyCycle"


@dataclass(frozen=True)
class Malformed:
    """Why a LynqNode cannot be evaluated at all."""

    reason: str
    message: str


def parse_node(raw: Mapping[str, Any]) -> LynqNode | Malformed:
    """Validate a LynqNode as listed from the cluster; problems become a ``Malformed``."""
    meta = raw.get("metadata") or {}
    spec = raw.get("spec")
    if not isinstance(spec, Mapping) or "resources" not in spec:
        return Malformed(INVENTORY_MISSING, "The node has no spec.resources inventory.")
    document = {
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace", "default"),
            "labels": meta.get("labels") or {},
        },
        "spec": spec,
    }
    try:
        node = LynqNode.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return Malformed(INVALID_SPEC, f"The node is invalid at {where}: {first['msg']}.")
    problem = _inventory_problem(node.spec.resources)
    return problem or node


def parse_previous(raw_status: Any) -> NodeStatus | None:
    """The status the reporter wrote last time, or ``None`` when absent or unreadable."""
    if not isinstance(raw_status, Mapping) or not raw_status:
        return None
    try:
        return NodeStatus.model_validate(raw_status)
    except ValidationError:
        return None


def _inventory_problem(entries: Sequence[InventoryEntry]) -> Malformed | None:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            return Malformed(
                DUPLICATE_RESOURCE_ID, f'Resource id "{entry.id}" appears more than once.'
            )
        seen.add(entry.id)
    try:
        dependency_order(entries)
    except ValueError as exc:
        return Malformed(DEPENDENCY_CYCLE, str(exc))
    return None


def dependency_order(entries: Sequence[InventoryEntry]) -> list[InventoryEntry]:
    """Dependencies first, otherwise inventory order; ids not in the inventory are ignored
    (an excluded resource counts as satisfied). Raises ``ValueError`` naming a cycle."""
    by_id = {e.id: e for e in entries}
    done: set[str] = set()
    order: list[InventoryEntry] = []
    pending = list(entries)
    while pending:
        progressed = [e for e in pending if all(d in done or d not in by_id for d in e.dependIds)]
        if not progressed:
            cycle = ", ".join(sorted(e.id for e in pending))
            raise ValueError(f"The dependIds of resources {cycle} form a cycle.")
        ready_ids = {e.id for e in progressed}
        order.extend(progressed)
        done |= ready_ids
        pending = [e for e in pending if e.id not in ready_ids]
    return order
