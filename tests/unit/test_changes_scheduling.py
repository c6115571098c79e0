"""The daemon's choice of the next hub to sync (lynq_bridge.core.scheduling)."""

from __future__ import annotations

import pytest

from lynq_bridge.core.scheduling import Decision, HubClock, is_due, plan_next_sync


@pytest.mark.parametrize(
    ("clock", "now", "due"),
    [
        (HubClock("a/x", 30, None), 0.0, True),
        (HubClock("a/x", 30, 100.0), 110.0, False),
        (HubClock("a/x", 30, 100.0, changed=True), 100.5, True),
        (HubClock("a/x", 30, 100.0), 130.0, True),
        (HubClock("a/x", 30, 100.0), 129.9, False),
    ],
    ids=["never-synced", "within-interval", "changed", "interval-over", "just-before-interval"],
)
def test_a_hub_is_due_when_never_synced_changed_or_its_interval_is_over(
    clock: HubClock, now: float, due: bool
) -> None:
    assert is_due(clock, now=now) is due


def test_a_changed_hub_syncs_at_once_although_its_interval_is_an_hour() -> None:
    clocks = [HubClock("a/x", 3600, 10.0), HubClock("a/y", 3600, 11.0, changed=True)]
    assert plan_next_sync(clocks, now=12.0) == Decision(hub="a/y", wait_seconds=0.0)


def test_nothing_due_waits_until_the_earliest_interval_ends() -> None:
    clocks = [HubClock("a/x", 30, 10.0), HubClock("a/y", 5, 11.0)]
    assert plan_next_sync(clocks, now=12.0) == Decision(hub=None, wait_seconds=4.0)


def test_an_overdue_wait_is_never_negative() -> None:
    decision = plan_next_sync([HubClock("a/x", 30, 10.0)], now=50.0)
    assert decision == Decision(hub="a/x", wait_seconds=0.0)


def test_never_synced_hubs_go_first_in_config_order() -> None:
    clocks = [
        HubClock("a/x", 30, 1.0, changed=True),
        HubClock("a/y", 30, None),
        HubClock("a/z", 30, None),
    ]
    assert plan_next_sync(clocks, now=2.0).hub == "a/y"


def test_of_due_hubs_the_one_synced_longest_ago_goes_first() -> None:
    # a/x changes all the time; a/y's interval is over: a/y waited longer, so it goes first.
    clocks = [HubClock("a/x", 30, 50.0, changed=True), HubClock("a/y", 30, 20.0)]
    assert plan_next_sync(clocks, now=51.0).hub == "a/y"


def test_equal_last_syncs_go_in_config_order() -> None:
    clocks = [HubClock("a/x", 30, 5.0, changed=True), HubClock("a/y", 30, 5.0, changed=True)]
    assert plan_next_sync(clocks, now=6.0).hub == "a/x"


def test_no_hubs_waits_a_minute() -> None:
    assert plan_next_sync([], now=0.0) == Decision(hub=None, wait_seconds=60.0)
