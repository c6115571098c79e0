"""LynqHub and LynqForm roll-ups: node counts and conditions derived from node statuses.

Pure, like ``lynq_bridge.core.status``: the reporter passes a summary of every node it judged in
this pass, the hub or form as listed, and ``now``. The shapes follow Lynq: a hub counts its
``desired``/``ready``/``failed`` nodes and the forms that reference it; a form counts
``totalNodes``/``readyNodes`` and carries ``Valid`` (its hub exists) and ``Applied`` (all its
nodes are ready) with Lynq's reasons. Hub conditions are left alone: the database condition
belongs to the sync, which is the only part that talks to the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lynq_bridge.config.models import Condition
from lynq_bridge.core.conditions import DesiredCondition, merge_conditions

VALID, APPLIED = "Valid", "Applied"
VALIDATION_PASSED, VALIDATION_FAILED = "ValidationPassed", "ValidationFailed"
ALL_NODES_READY, NOT_ALL_NODES_READY, NO_NODES = "AllNodesReady", "NotAllNodesReady", "NoNodes"


@dataclass(frozen=True)
class NodeSummary:
    """What a roll-up needs to know about one node."""

    namespace: str
    name: str
    hub: str
    form: str
    ready: bool
    failed: bool


def _meta(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = raw.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _spec(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = raw.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _status(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    status = raw.get("status")
    return status if isinstance(status, Mapping) else {}


def _generation(raw: Mapping[str, Any]) -> int | None:
    generation = _meta(raw).get("generation")
    return generation if isinstance(generation, int) else None


def summarize_node(raw: Mapping[str, Any], *, ready: bool, failed: bool) -> NodeSummary:
    """A summary from a listed node; hub and form fall back to the node's labels."""
    meta, spec = _meta(raw), _spec(raw)
    labels = meta.get("labels") or {}
    return NodeSummary(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        hub=str(spec.get("hubId") or labels.get("lynq.sh/hub") or ""),
        form=str(spec.get("templateRef") or labels.get("lynq.sh/form") or ""),
        ready=ready,
        failed=failed,
    )


def conditions_of(raw_status: Mapping[str, Any]) -> list[Condition]:
    """The readable conditions of a listed status (unreadable entries are ignored)."""
    result = []
    for item in raw_status.get("conditions") or []:
        try:
            result.append(Condition.model_validate(item))
        except ValidationError:
            continue
    return result


def _changed(raw: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    old = _status(raw)
    return any(old.get(key) != value for key, value in status.items())


def hub_status(
    hub: Mapping[str, Any], nodes: Sequence[NodeSummary], forms: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The status fields the reporter owns on one LynqHub, or ``None`` when nothing changed."""
    meta = _meta(hub)
    namespace, name = meta.get("namespace"), meta.get("name")
    mine = [n for n in nodes if n.namespace == namespace and n.hub == name]
    templates = {n.form for n in mine if n.form}
    templates |= {
        str(_meta(f).get("name"))
        for f in forms
        if _meta(f).get("namespace") == namespace and _spec(f).get("hubId") == name
    }
    status: dict[str, Any] = {
        "desired": len(mine),
        "ready": sum(n.ready for n in mine),
        "failed": sum(n.failed for n in mine),
        # Lynq's field is the count (int32); the names are the bridge's own field.
        "referencingTemplates": len(templates),
        "referencingTemplateNames": sorted(templates),
    }
    generation = _generation(hub)
    if generation is not None:
        status["observedGeneration"] = generation
    return status if _changed(hub, status) else None


def form_status(
    form: Mapping[str, Any],
    nodes: Sequence[NodeSummary],
    hub_names: set[tuple[str, str]],
    *,
    now: dt.datetime,
) -> dict[str, Any] | None:
    """The status fields the reporter owns on one LynqForm, or ``None`` when nothing changed.

    ``hub_names`` holds (namespace, name) of every LynqHub in the cluster.
    """
    meta = _meta(form)
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    hub = str(_spec(form).get("hubId", ""))
    mine = [n for n in nodes if n.namespace == namespace and n.form == name]
    total, ready = len(mine), sum(n.ready for n in mine)
    if (namespace, hub) in hub_names:
        valid = DesiredCondition(
            VALID, "True", VALIDATION_PASSED, f'The LynqHub "{hub}" exists in {namespace}.'
        )
    else:
        valid = DesiredCondition(
            VALID,
            "False",
            VALIDATION_FAILED,
            f'The LynqHub "{hub}" named by spec.hubId does not exist in {namespace}.',
        )
    if total == 0:
        applied = DesiredCondition(APPLIED, "False", NO_NODES, "No node uses this form.")
    elif ready == total:
        applied = DesiredCondition(
            APPLIED, "True", ALL_NODES_READY, f"All {total} nodes are ready."
        )
    else:
        applied = DesiredCondition(
            APPLIED, "False", NOT_ALL_NODES_READY, f"{ready} of {total} nodes are ready."
        )
    generation = _generation(form)
    conditions = merge_conditions(
        conditions_of(_status(form)),
        [valid, applied],
        now=now,
        generation=generation,
        keep_others=True,
    )
    status: dict[str, Any] = {
        "totalNodes": total,
        "readyNodes": ready,
        "conditions": [c.model_dump(mode="json", exclude_none=True) for c in conditions],
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status if _changed(form, status) else None
