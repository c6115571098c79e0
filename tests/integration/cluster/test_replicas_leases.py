"""The lease keeper on the real API server: split, expiry, conflicts, release, member clean-up.

Two or three ``LeaseKeeper`` objects in one process stand for replicas; each gets its own
settable monotonic clock, so a lease duration passes without sleeping. Everything they read and
write goes through the real kube-apiserver (resourceVersion preconditions, 409s included).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controlplane import REPO, ApiClient, ControlPlane

from lynq_bridge.adapters.cluster import ClusterClient
from lynq_bridge.config.models import LeaderElectionSettings
from lynq_bridge.core.leasing import REPORTER, hub_lease_name
from lynq_bridge.leases import LeaseKeeper

pytestmark = pytest.mark.cluster

GROUP = "0123456789"
HUBS = ["default/a", "default/b", "default/c", "default/d"]
SETTINGS = LeaderElectionSettings(
    enabled=True, leaseDurationSeconds=4, renewDeadlineSeconds=3, retryPeriodSeconds=1
)
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Tick:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


OPEN: list[LeaseKeeper] = []


@pytest.fixture(autouse=True)
def _leases_registered(api: ApiClient) -> Iterator[None]:
    api.register("coordination.k8s.io/v1", "Lease", "leases")
    yield
    while OPEN:
        OPEN.pop().close()


def connect(kubeconfig: Path, target: LeaseKeeper) -> None:
    """Give ``target`` a (new) connection, closing the one it had."""
    target.close()
    target._client = ClusterClient(str(kubeconfig))


def keeper(
    kube: ControlPlane,
    namespace: str,
    name: str,
    clock: Tick,
    *,
    hubs: list[str] = HUBS,
    reporter: str | None = None,
) -> LeaseKeeper:
    made = LeaseKeeper(
        lambda: ClusterClient(str(kube.kubeconfig)),
        settings=SETTINGS,
        namespace=namespace,
        group=GROUP,
        hubs=hubs,
        reporter_lease=reporter,
        identity=f"host_{name}_{name * 4}",
        clock=clock,
    )
    OPEN.append(made)
    return made


def lease(api: ApiClient, namespace: str, hub: str) -> dict[str, Any]:
    return api.get("coordination.k8s.io/v1", "Lease", hub_lease_name(GROUP, hub), namespace)


def test_two_replicas_split_four_hubs_two_each_and_never_share_one(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    clock = Tick()
    a, b = keeper(kube, namespace, "a", clock), keeper(kube, namespace, "b", clock)
    a.round()  # a alone: it takes everything
    assert a.held() == HUBS
    b.round()  # b writes its member Lease; a sees two replicas next round
    a.round()  # a releases down to its share
    b.round()  # b takes the released ones
    a.round()
    assert len(a.held()) == len(b.held()) == 2
    assert not set(a.held()) & set(b.held())
    holders = {lease(api, namespace, hub)["spec"]["holderIdentity"] for hub in HUBS}
    assert holders == {a.identity, b.identity}


def test_a_dead_replicas_hubs_move_after_the_lease_duration_not_before(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    clock_a, clock_b = Tick(), Tick()
    a = keeper(kube, namespace, "a", clock_a)
    b = keeper(kube, namespace, "b", clock_b, hubs=HUBS[:1])
    a.round()
    b.round()
    assert (a.held(), b.held()) == (HUBS, [])
    before = lease(api, namespace, "default/a")["spec"]
    # a dies (no more rounds); b keeps its rounds.
    clock_a.now += 3.0  # a's own view: its renew deadline (3 s) has passed
    assert not a.holds("default/a")
    clock_b.now += 3.9
    b.round()
    assert b.held() == []  # 3.9 s unchanged: still a's
    clock_b.now += 0.1
    b.round()
    assert b.held() == ["default/a"]
    after = lease(api, namespace, "default/a")["spec"]
    assert after["holderIdentity"] == b.identity
    assert after["leaseTransitions"] == before["leaseTransitions"] + 1
    assert after["leaseDurationSeconds"] == 4
    assert MICRO_TIME.match(after["renewTime"]) and MICRO_TIME.match(after["acquireTime"])


def test_a_replica_that_sees_another_holder_stops_holding_at_once(
    kube: ControlPlane, namespace: str
) -> None:
    clock_a, clock_b = Tick(), Tick()
    a = keeper(kube, namespace, "a", clock_a, hubs=HUBS[:1])
    b = keeper(kube, namespace, "b", clock_b, hubs=HUBS[:1])
    a.round()
    b.round()
    clock_b.now += 5  # b thinks a is dead (a was paused, say), takes the hub
    b.round()
    assert b.holds("default/a")
    assert a.holds("default/a")  # a's deadline has not passed on its own clock ...
    a.round()  # ... but its next read shows b as the holder
    assert not a.holds("default/a")
    assert b.holds("default/a")


def test_a_renewal_refused_with_409_ends_the_hold_before_the_next_read(
    kube: ControlPlane, namespace: str
) -> None:
    clock_a, clock_b = Tick(), Tick()
    a = keeper(kube, namespace, "a", clock_a, hubs=HUBS[:1])
    b = keeper(kube, namespace, "b", clock_b, hubs=HUBS[:1])
    a.round()
    b.round()
    clock_b.now += 5
    b.round()  # b took the hub; a has not read it yet
    assert a.holds("default/a")
    assert not a._write("default/a", "hub", a._seen("default/a"))  # stale resourceVersion
    assert not a.holds("default/a")


def test_a_hub_being_synced_is_not_released_for_the_fair_split(
    kube: ControlPlane, namespace: str
) -> None:
    clock = Tick()
    a, b = keeper(kube, namespace, "a", clock), keeper(kube, namespace, "b", clock)
    a.round()
    b.round()
    with a.syncing("default/a"), a.syncing("default/b"), a.syncing("default/c"):
        a.round()  # two replicas now: a must give two hubs up, but only d is idle
    assert a.held() == HUBS[:3]
    a.round()  # idle again: down to its share
    assert len(a.held()) == 2


def test_of_two_replicas_writing_one_lease_with_the_same_version_exactly_one_wins(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    clock = Tick()
    a = keeper(kube, namespace, "a", clock, hubs=HUBS[:1])
    b = keeper(kube, namespace, "b", clock, hubs=HUBS[:1])
    a.round()
    a.release_all()  # free at once, for both
    a2 = keeper(kube, namespace, "c", clock, hubs=HUBS[:1])
    # Both read the released Lease, then both write with the version they read.
    for k in (a2, b):
        connect(kube.kubeconfig, k)
        assert k._client is not None
        found = k._client.list_leases(namespace, selector=f"bridge.lynq.sh/lease-group={GROUP}")
        k._remember({item["metadata"]["name"]: item for item in found}, clock())
    wins = [k._write("default/a", "hub", k._seen("default/a")) for k in (a2, b)]
    assert wins == [True, False]  # the second write carried a stale resourceVersion: 409
    assert (a2.holds("default/a"), b.holds("default/a")) == (True, False)
    assert lease(api, namespace, "default/a")["spec"]["holderIdentity"] == a2.identity


def test_release_all_hands_over_without_waiting_for_the_duration(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    clock = Tick()
    reporter = "lynq-bridge-reporter-" + namespace
    a = keeper(kube, namespace, "a", clock, reporter=reporter)
    b = keeper(kube, namespace, "b", clock, reporter=reporter)
    a.round()
    b.round()
    assert a.holds(REPORTER) and not b.holds(REPORTER)
    a.release_all()
    assert a.held() == []
    assert lease(api, namespace, "default/a")["spec"]["holderIdentity"] == ""
    b.round()  # same instant: no duration has passed
    assert b.held() == sorted([*HUBS, REPORTER])


def test_the_member_lease_of_a_replica_dead_for_two_durations_is_deleted(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    clock_a, clock_b = Tick(), Tick()
    a, b = keeper(kube, namespace, "a", clock_a), keeper(kube, namespace, "b", clock_b)
    a.round()
    b.round()

    def members() -> set[str]:
        return {
            item["spec"]["holderIdentity"]
            for item in api.list("coordination.k8s.io/v1", "Lease", namespace)
            if item["metadata"]["labels"].get("bridge.lynq.sh/lease-role") == "member"
        }

    assert members() == {a.identity, b.identity}
    clock_b.now += 7.9
    b.round()
    assert members() == {a.identity, b.identity}
    clock_b.now += 0.1
    b.round()
    assert members() == {b.identity}
    assert b.held() == HUBS  # a's hubs, expired since the first of those rounds


def test_an_unreachable_api_server_ends_the_hold_at_the_renew_deadline(
    kube: ControlPlane, namespace: str
) -> None:
    clock = Tick()
    a = keeper(kube, namespace, "a", clock, hubs=HUBS[:1])
    a.round()
    assert a.holds("default/a")
    connect(kube.user_kubeconfig("nobody"), a)  # 403 on every request
    clock.now += 2.9
    a.round()
    assert a.holds("default/a")
    clock.now += 0.1
    assert not a.holds("default/a")


RBAC_FILE = REPO / "examples" / "deploy" / "rbac-leases.yaml"


def test_the_shipped_lease_rbac_allows_every_round_and_nothing_else(
    kube: ControlPlane, api: ApiClient
) -> None:
    kube.kubectl("create", "namespace", "lynq-system", check=False)
    kube.kubectl("apply", "-f", str(RBAC_FILE))
    user = "leases-" + GROUP
    api.register("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings")
    api.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": user, "namespace": "lynq-system"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "lynq-bridge-leases",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
    )
    kubeconfig = kube.user_kubeconfig(user)
    clock_a, clock_b = Tick(), Tick()
    a = keeper(kube, "lynq-system", "a", clock_a, reporter="lynq-bridge-reporter-rbac")
    b = keeper(kube, "lynq-system", "b", clock_b)
    connect(kubeconfig, a)
    connect(kubeconfig, b)
    a.round()  # create: member, hubs, reporter
    a.round()  # update: renew
    b.round()
    clock_b.now += 8
    b.round()  # takes a's expired hubs and deletes a's member Lease
    assert b.held() == HUBS
    assert a._failing is False and b._failing is False
    a.round()
    assert a.held() == [REPORTER]

    def can(verb: str, resource: str, namespace: str = "lynq-system") -> str:
        answer = kube.kubectl(
            "auth", "can-i", verb, resource, "-n", namespace, f"--as={user}", check=False
        )
        return answer.stdout.strip()

    assert can("delete", "leases.coordination.k8s.io") == "yes"
    assert can("create", "leases.coordination.k8s.io", "default") == "no"
    assert {can(v, "secrets") for v in ("get", "list")} == {"no"}
