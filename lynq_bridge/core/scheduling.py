"""Which hub the daemon syncs next, and how long it may sleep until then.

A pure decision, kept apart from ``daemon.py`` so that it can be tested without clocks or
threads: the daemon passes the monotonic time and what it knows of each hub. A hub is due when
it has never been synced, when its change feed reported a change since its last sync started,
or when its ``syncInterval`` has passed since its last sync ended. Of the due hubs the one that
waited longest goes first, so a hub whose table changes all the time cannot starve the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class HubClock:
    """What the scheduler knows of one hub."""

    key: str  # "namespace/name"
    interval_seconds: float  # the hub's syncInterval: the period of a full resync
    last_sync: float | None  # monotonic time its last sync ended; None: never synced
    changed: bool = False  # its feed reported a change after its last sync started


@dataclass(frozen=True)
class Decision:
    """Sync ``hub`` now, or (``hub`` None) sleep at most ``wait_seconds`` and decide again."""

    hub: str | None
    wait_seconds: float


def is_due(clock: HubClock, *, now: float) -> bool:
    """Whether ``clock``'s hub should be synced at ``now``."""
    if clock.last_sync is None or clock.changed:
        return True
    return now - clock.last_sync >= clock.interval_seconds


def plan_next_sync(clocks: Sequence[HubClock], *, now: float) -> Decision:
    """The due hub that waited longest (never-synced first, then config order), else a wait.

    The wait is the time until the earliest interval ends; a change reported meanwhile wakes
    the daemon earlier. With no hubs the wait is one minute (only a stop can end it).
    """
    due = [(i, c) for i, c in enumerate(clocks) if is_due(c, now=now)]
    if due:
        _, first = min(
            due, key=lambda ic: (ic[1].last_sync is not None, ic[1].last_sync or 0.0, ic[0])
        )
        return Decision(hub=first.key, wait_seconds=0.0)
    if not clocks:
        return Decision(hub=None, wait_seconds=60.0)
    ends = [(c.last_sync or 0.0) + c.interval_seconds - now for c in clocks]
    return Decision(hub=None, wait_seconds=max(min(ends), 0.0))
