"""The pure rules of leader election: expiry on this replica's clock, records, the fair split."""

from __future__ import annotations

import datetime as dt

import pytest

from lynq_bridge.core.leasing import (
    LeaseRecord,
    Observed,
    acquired,
    fair_share,
    held_by_other,
    hub_lease_name,
    is_free,
    lease_group,
    lease_object,
    micro_time,
    observe,
    plan_leases,
    preference,
    record_of,
    released,
    reporter_lease_name,
)

ME = "host_1_aaaa"
OTHER = "host_2_bbbb"


def seen(holder: str, *, since: float = 100.0, duration: int = 15) -> Observed:
    return Observed(LeaseRecord(holder, duration, "t0", "t1", 3), "42", since)


@pytest.mark.parametrize(
    ("observed", "now", "expected"),
    [
        (None, 0.0, False),  # no Lease yet
        (seen(""), 100.0, False),  # released: free at once
        (seen(ME), 200.0, False),  # ours
        (seen(OTHER), 100.0, True),
        (seen(OTHER), 114.999, True),  # just inside the duration
        (seen(OTHER), 115.0, False),  # expired after a full duration unchanged
        (seen(OTHER, duration=0), 100.5, True),  # a zero duration still counts as one second
    ],
)
def test_held_by_other_counts_the_duration_from_when_the_record_was_first_seen(
    observed: Observed | None, now: float, expected: bool
) -> None:
    assert held_by_other(observed, me=ME, now=now) is expected


def test_a_renewed_record_restarts_the_clock_and_an_unchanged_one_keeps_it() -> None:
    first = observe(None, LeaseRecord(OTHER, 15, "a", "r1", 0), "1", 10.0)
    same = observe(first, LeaseRecord(OTHER, 15, "a", "r1", 0), "1", 20.0)
    renewed = observe(same, LeaseRecord(OTHER, 15, "a", "r2", 0), "2", 30.0)
    assert (first.since, same.since, renewed.since) == (10.0, 10.0, 30.0)
    assert held_by_other(same, me=ME, now=24.9)
    assert not held_by_other(same, me=ME, now=25.0)
    assert held_by_other(renewed, me=ME, now=25.0)


def test_is_free_is_false_for_our_own_lease_and_for_a_live_holder() -> None:
    assert is_free(None, me=ME, now=0)
    assert is_free(seen(""), me=ME, now=0)
    assert not is_free(seen(ME), me=ME, now=0)
    assert not is_free(seen(OTHER), me=ME, now=101)
    assert is_free(seen(OTHER), me=ME, now=116)


def test_taking_a_lease_from_another_holder_counts_a_transition_and_renewing_keeps_it() -> None:
    old = LeaseRecord(OTHER, 15, "2030-01-01T00:00:00.000000Z", "x", 4)
    taken = acquired(old, me=ME, stamp="S1", duration=4)
    assert taken == LeaseRecord(ME, 4, "S1", "S1", 5)
    renewed = acquired(taken, me=ME, stamp="S2", duration=4)
    assert renewed == LeaseRecord(ME, 4, "S1", "S2", 5)
    assert acquired(None, me=ME, stamp="S", duration=15).transitions == 0
    # A released lease has no holder: taking it is not a transition away from anyone.
    assert acquired(released(taken, stamp="S3"), me=OTHER, stamp="S4", duration=4).transitions == 5


def test_released_record_has_no_holder_and_one_second() -> None:
    assert released(LeaseRecord(ME, 15, "a", "b", 7), stamp="S") == LeaseRecord("", 1, "S", "S", 7)


def test_micro_time_is_utc_rfc3339_with_six_fractional_digits() -> None:
    moment = dt.datetime(2030, 1, 2, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert micro_time(moment) == "2030-01-02T03:05:06.000007Z"


def test_record_round_trips_through_the_lease_object() -> None:
    record = LeaseRecord(ME, 4, "2030-01-01T00:00:00.000001Z", "2030-01-01T00:00:01.000001Z", 2)
    lease = lease_object(name="n", namespace="ns", record=record, labels={"a": "b"}, version="7")
    assert lease["apiVersion"] == "coordination.k8s.io/v1"
    assert lease["metadata"] == {
        "name": "n",
        "namespace": "ns",
        "labels": {"a": "b"},
        "resourceVersion": "7",
    }
    assert record_of(lease) == record
    created = lease_object(name="n", namespace="ns", record=record, labels={})
    assert "resourceVersion" not in created["metadata"]
    assert record_of({"metadata": {}}) == LeaseRecord()


@pytest.mark.parametrize(
    ("hubs", "replicas", "share"),
    [(4, 2, 2), (5, 2, 3), (1, 3, 1), (0, 2, 0), (3, 0, 3), (100, 7, 15)],
)
def test_fair_share_is_the_ceiling_of_hubs_per_live_replica(
    hubs: int, replicas: int, share: int
) -> None:
    assert fair_share(hubs, replicas) == share


HUBS = [f"default/h{i}" for i in range(6)]


def test_a_lone_replica_takes_every_free_hub() -> None:
    plan = plan_leases(hubs=HUBS, held=(), free=HUBS, replicas=1, me=ME)
    assert sorted(plan.take) == HUBS
    assert plan.release == ()


def test_a_replica_takes_no_free_hub_at_its_fair_share() -> None:
    held = sorted(HUBS, key=lambda h: preference(ME, h))[:3]
    free = [h for h in HUBS if h not in held]
    assert plan_leases(hubs=HUBS, held=held, free=free, replicas=2, me=ME).take == ()
    below = plan_leases(hubs=HUBS, held=held[:2], free=free, replicas=2, me=ME)
    assert len(below.take) == 1


def test_a_replica_above_its_share_releases_its_least_preferred_idle_hubs() -> None:
    ranked = sorted(HUBS, key=lambda h: preference(ME, h))
    plan = plan_leases(hubs=HUBS, held=HUBS, free=(), replicas=3, me=ME)
    assert (plan.take, set(plan.release)) == ((), set(ranked[-4:]))
    busy = plan_leases(hubs=HUBS, held=HUBS, free=(), replicas=3, me=ME, busy=[ranked[-1]])
    assert ranked[-1] not in busy.release
    assert len(busy.release) == 4


def test_two_replicas_starting_together_reach_for_different_hubs_first() -> None:
    first = plan_leases(hubs=HUBS, held=(), free=HUBS, replicas=2, me=ME).take
    second = plan_leases(hubs=HUBS, held=(), free=HUBS, replicas=2, me=OTHER).take
    assert len(first) == len(second) == 3
    assert set(first) != set(second)


def test_a_hub_held_elsewhere_is_never_taken() -> None:
    plan = plan_leases(hubs=HUBS, held=(), free=HUBS[:2], replicas=1, me=ME)
    assert sorted(plan.take) == HUBS[:2]


def test_lease_names_are_dns_subdomains_that_keep_namespace_and_name_apart() -> None:
    group = lease_group("https://user:secret@example.com/r.git", "main", "lynq")
    assert group == lease_group("https://example.com/r.git", "main", "lynq")
    assert group != lease_group("https://example.com/r.git", "other", "lynq")
    assert hub_lease_name(group, "a-b/c") != hub_lease_name(group, "a/b-c")
    assert hub_lease_name(group, "default/tenants") == f"lynq-bridge-hub-{group}.default.tenants"
    assert reporter_lease_name(None) == "lynq-bridge-reporter-all"
    assert reporter_lease_name("team-a") == "lynq-bridge-reporter-team-a"
