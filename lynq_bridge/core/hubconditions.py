"""The conditions the sync owns on a LynqHub: is its source readable, did the guard hold.

The reporter owns the hub's counters and leaves these alone (``merge_conditions`` with
``keep_others``); this module decides them from a sync's outcome. Messages are stable
sentences, so an unchanged outcome computes an unchanged status and nothing is written.

``Ready`` is Lynq's hub condition with Lynq's reasons (``DatabaseConnected``,
``DatabaseConnectionFailed``) and Lynq's meaning: the hub's table was read. It stands beside the
bridge's own conditions, which say more (``SourceReady`` with the query's error,
``DeletionGuardTriggered``, ``Rendered``), so that Lynq's printer column, dashboards and
``kubectl wait --for=condition=Ready lynqhub/...`` keep working after a cutover.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from lynq_bridge.core.conditions import DesiredCondition, merge_conditions
from lynq_bridge.core.rollups import conditions_of

READY = "Ready"
DATABASE_CONNECTED, DATABASE_CONNECTION_FAILED = "DatabaseConnected", "DatabaseConnectionFailed"
SOURCE_READY = "SourceReady"
DELETION_GUARD = "DeletionGuardTriggered"
RENDERED = "Rendered"


def sync_conditions(*, failure: str | None, held: int, errors: int) -> list[DesiredCondition]:
    """The desired sync conditions of a hub after one sync."""
    if failure:
        source = DesiredCondition(SOURCE_READY, "False", "QueryFailed", failure)
        ready = DesiredCondition(READY, "False", DATABASE_CONNECTION_FAILED, failure)
    else:
        read = "The hub's table was read."
        source = DesiredCondition(SOURCE_READY, "True", "QuerySucceeded", read)
        ready = DesiredCondition(READY, "True", DATABASE_CONNECTED, read)
    if held:
        guard = DesiredCondition(
            DELETION_GUARD,
            "True",
            "RemovalsHeld",
            f"{held} node removal(s) are held; rerun with --allow-mass-delete if intended.",
        )
    else:
        guard = DesiredCondition(DELETION_GUARD, "False", "NoRemovalsHeld", "No removal is held.")
    if errors:
        rendered = DesiredCondition(
            RENDERED,
            "False",
            "RenderErrors",
            f"{errors} row(s) or resource(s) failed to render; their committed files were kept.",
        )
    else:
        rendered = DesiredCondition(RENDERED, "True", "AllRendered", "Every row rendered.")
    conditions = [ready, source, guard]
    if not failure:  # rendering did not happen: keep whatever the last sync said
        conditions.append(rendered)
    return conditions


def hub_status_patch(
    hub: Mapping[str, Any], desired: list[DesiredCondition], *, now: dt.datetime
) -> dict[str, Any] | None:
    """The status patch that sets ``desired`` on ``hub``, or None when nothing would change."""
    status = hub.get("status") or {}
    previous = conditions_of(status)
    merged = merge_conditions(previous, desired, now=now, generation=None, keep_others=True)
    if {c.type: c for c in merged} == {c.type: c for c in previous}:
        return None
    return {"conditions": [c.model_dump(mode="json", exclude_none=True) for c in merged]}
