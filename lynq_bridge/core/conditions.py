"""Kubernetes status conditions: the one place that decides ``lastTransitionTime``.

Conventions (``metav1.Condition``, Flux's fluxcd/pkg ``conditions``): a condition's
``lastTransitionTime`` changes only when its status flips, not when its reason or message does;
reasons are CamelCase constants and messages are sentences. Times are RFC 3339 in UTC with
second precision, the format the API server itself uses, so a value written and read back
compares equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lynq_bridge.config.models import Condition

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class DesiredCondition:
    """A condition as computed, before its transition time is known."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


def format_time(moment: dt.datetime) -> str:
    """RFC 3339, UTC, whole seconds (``2025-01-31T12:00:00Z``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> dt.datetime | None:
    """The inverse of ``format_time``; ``None`` for absent or unreadable values."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def merge_conditions(
    previous: Sequence[Condition],
    desired: Sequence[DesiredCondition],
    *,
    now: dt.datetime,
    generation: int | None,
    keep_others: bool = False,
) -> list[Condition]:
    """The new condition list: ``desired`` in its order, each keeping the previous
    ``lastTransitionTime`` unless its status flipped.

    Previous conditions of types not in ``desired`` are dropped, or with ``keep_others`` kept
    unchanged after ours (conditions another writer owns, e.g. the sync's on a LynqHub).
    """
    before = {c.type: c for c in previous}
    stamp = format_time(now)
    result = []
    for want in desired:
        old = before.get(want.type)
        moved = old is None or old.status != want.status
        result.append(
            Condition(
                type=want.type,
                status=want.status,
                reason=want.reason,
                message=want.message,
                lastTransitionTime=stamp if moved or old is None else old.lastTransitionTime,
                observedGeneration=generation,
            )
        )
    if keep_others:
        ours = {want.type for want in desired}
        result.extend(c for c in previous if c.type not in ours)
    return result
