"""Leader election with ``coordination.k8s.io/v1`` Leases: the decisions, without I/O.

Several ``lynq-bridge run`` replicas split the hubs of one config: one Lease per hub, one per
replica (its "member" Lease, which is how replicas count each other), one for the status
reporter of a namespace scope. ``lynq_bridge.leases`` reads and writes the objects; this module
decides what they mean and what to write, so every rule is unit-tested with plain numbers.

Timing follows client-go's ``leaderelection``: a Lease held by someone else is expired when this
replica has seen the same record, unchanged, for ``leaseDurationSeconds`` of its own monotonic
clock. Clocks of different machines are never compared; ``renewTime`` and ``acquireTime`` are
written (MicroTime, RFC 3339 with microseconds) for people and other tools, not trusted. The
holder stops syncing ``renewDeadlineSeconds`` after the start of its last successful write,
which is before anyone else may take the Lease (the deadline is shorter than the duration).

The fair split: with ``n`` hubs and ``r`` live replicas a replica holds at most
``ceil(n / r)`` hub Leases. It takes a free Lease only below that share and releases its least
preferred ones above it (a replica that joins gets its share from the others within a few
rounds). Preferences are rendezvous hashes of (identity, hub), so replicas that start together
reach for different hubs instead of racing for the same ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lynq_bridge.core.credentials import strip_credentials

API_VERSION = "coordination.k8s.io/v1"
GROUP_LABEL = "bridge.lynq.sh/lease-group"  # the Leases of one config (hubs and members)
ROLE_LABEL = "bridge.lynq.sh/lease-role"  # "hub" or "member"
MANAGED_BY = {"app.kubernetes.io/managed-by": "lynq-bridge"}
REPORTER = "reporter"  # key of the reporter's Lease among the hub keys ("namespace/name")


@dataclass(frozen=True)
class LeaseRecord:
    """The ``spec`` of a Lease, as leader election reads and writes it."""

    holder: str = ""
    duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0


@dataclass(frozen=True)
class Observed:
    """A Lease as this replica last read it, and since when its record has not changed."""

    record: LeaseRecord
    version: str  # metadata.resourceVersion: the precondition of the next write
    since: float  # monotonic seconds when this record was first seen


@dataclass(frozen=True)
class LeasePlan:
    """Which hub Leases to take and which to give up in one round."""

    take: tuple[str, ...]
    release: tuple[str, ...]


def lease_group(url: str, branch: str, path: str) -> str:
    """The Leases of every replica writing the same directory of the same remote branch.

    Two bridges that write different remotes never wait for each other, even for hubs of the
    same name."""
    text = f"{strip_credentials(url)}\0{branch}\0{path}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def hub_lease_name(group: str, hub: str) -> str:
    """``lynq-bridge-hub-<group>.<namespace>.<name>``: hub namespaces and names are DNS labels,
    so the dots keep ``a-b/c`` and ``a/b-c`` apart and the name stays a DNS subdomain."""
    namespace, _, name = hub.partition("/")
    return f"lynq-bridge-hub-{group}.{namespace}.{name}"


def member_lease_name(group: str, token: str) -> str:
    return f"lynq-bridge-member-{group}.{token}"


def reporter_lease_name(namespace: str | None) -> str:
    """One reporter per namespace scope: ``lynq-bridge-reporter-<namespace or all>``."""
    return f"lynq-bridge-reporter-{namespace or 'all'}"


def micro_time(moment: dt.datetime) -> str:
    """A Kubernetes MicroTime: UTC, RFC 3339 with exactly six fractional digits."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_of(lease: Mapping[str, Any]) -> LeaseRecord:
    """The record in a Lease read from the API server (missing fields are empty)."""
    spec = lease.get("spec") or {}
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=spec.get("acquireTime"),
        renew_time=spec.get("renewTime"),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def observe(previous: Observed | None, record: LeaseRecord, version: str, now: float) -> Observed:
    """Remember ``record``; the clock restarts only when the record changed (a renewal does)."""
    if previous is not None and previous.record == record:
        return Observed(record, version, previous.since)
    return Observed(record, version, now)


def held_by_other(observed: Observed | None, *, me: str, now: float) -> bool:
    """Someone else holds this Lease and it has not expired on this replica's clock.

    A released Lease (empty holder) is free at once: that is how a clean shutdown hands over."""
    if observed is None:
        return False
    record = observed.record
    if not record.holder or record.holder == me:
        return False
    return now < observed.since + max(record.duration_seconds, 1)


def is_free(observed: Observed | None, *, me: str, now: float) -> bool:
    """Nobody (live) holds this Lease, so this replica may take it."""
    if observed is not None and observed.record.holder == me:
        return False
    return not held_by_other(observed, me=me, now=now)


def acquired(old: LeaseRecord | None, *, me: str, stamp: str, duration: int) -> LeaseRecord:
    """The record that takes (or renews, when ``me`` holds it) a Lease at ``stamp``."""
    if old is not None and old.holder == me:
        return LeaseRecord(me, duration, old.acquire_time or stamp, stamp, old.transitions)
    transitions = 0 if old is None else old.transitions + (1 if old.holder else 0)
    return LeaseRecord(me, duration, stamp, stamp, transitions)


def released(old: LeaseRecord, *, stamp: str) -> LeaseRecord:
    """The record that gives a Lease up (client-go's release: no holder, one second)."""
    return LeaseRecord("", 1, stamp, stamp, old.transitions)


def fair_share(hubs: int, replicas: int) -> int:
    """At most this many hub Leases per replica: ``ceil(hubs / live replicas)``."""
    return math.ceil(hubs / max(replicas, 1))


def preference(me: str, hub: str) -> str:
    """Rendezvous rank of ``hub`` for replica ``me`` (lower is preferred)."""
    return hashlib.sha256(f"{me}\0{hub}".encode()).hexdigest()


def plan_leases(
    *,
    hubs: Sequence[str],
    held: Collection[str],
    free: Collection[str],
    replicas: int,
    me: str,
    busy: Collection[str] = (),
) -> LeasePlan:
    """Take free hubs up to the fair share; above it release the least preferred idle ones.

    ``busy`` hubs (being synced right now) are never released: a release mid-sync would only
    throw the sync away at the push."""
    share = fair_share(len(hubs), replicas)
    mine = sorted((h for h in hubs if h in held), key=lambda h: preference(me, h))
    if len(mine) > share:
        idle = [h for h in reversed(mine) if h not in busy]
        return LeasePlan(take=(), release=tuple(idle[: len(mine) - share]))
    candidates = sorted(
        (h for h in hubs if h in free and h not in held), key=lambda h: preference(me, h)
    )
    return LeasePlan(take=tuple(candidates[: share - len(mine)]), release=())


def lease_object(
    *,
    name: str,
    namespace: str,
    record: LeaseRecord,
    labels: Mapping[str, str],
    version: str | None = None,
) -> dict[str, Any]:
    """A whole Lease for create (no ``version``) or replace (``version`` is the precondition)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if version is not None:
        metadata["resourceVersion"] = version
    spec: dict[str, Any] = {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.duration_seconds,
        "leaseTransitions": record.transitions,
    }
    if record.acquire_time is not None:
        spec["acquireTime"] = record.acquire_time
    if record.renew_time is not None:
        spec["renewTime"] = record.renew_time
    return {"apiVersion": API_VERSION, "kind": "Lease", "metadata": metadata, "spec": spec}
