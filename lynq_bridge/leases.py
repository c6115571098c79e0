"""Several ``lynq-bridge run`` replicas: the thread that keeps this replica's Leases.

With ``spec.leaderElection.enabled`` every replica runs one ``LeaseKeeper``. Each round (every
``retryPeriodSeconds``) it lists the config's Leases with one request, renews its member Lease
and the hub Leases it holds, releases hubs above its fair share, takes free ones below it, and
keeps or takes the reporter's Lease; the rules are in ``core.leasing``. Writes carry the
``resourceVersion`` read in the same round, so of two replicas reaching for one Lease exactly
one wins and the other gets a 409 (``ClusterConflict``) and backs off.

The daemon asks ``holds(hub)`` before it syncs a hub and again right before the push; a replica
that cannot renew stops ``renewDeadlineSeconds`` after its last successful write started,
before any other replica may take over. ``release_all`` (on SIGTERM, after the last sync
finished) empties the Leases so another replica takes them at its next round instead of after
a whole lease duration. Without ``spec.leaderElection.enabled`` none of this runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from lynq_bridge.adapters.cluster import ClusterClient
from lynq_bridge.config.loading import Config
from lynq_bridge.config.models import LeaderElectionSettings
from lynq_bridge.core import leasing
from lynq_bridge.core.leasing import REPORTER, Observed
from lynq_bridge.errors import ClusterConflict, ClusterUnavailable

log = logging.getLogger("lynq_bridge.leases")

Clock = Callable[[], float]
WallClock = Callable[[], dt.datetime]


def new_identity() -> str:
    """``holderIdentity``: host name, process id and a random suffix (like client-go's)."""
    return f"{socket.gethostname()}_{os.getpid()}_{secrets.token_hex(4)}"


class LeaseKeeper:
    """Holds this replica's member Lease, its share of the hub Leases and maybe the reporter's.

    Thread-safe: the keeper thread writes, the daemon thread asks ``holds`` and marks the hub
    it is syncing with ``syncing``."""

    def __init__(
        self,
        connect: Callable[[], ClusterClient],
        *,
        settings: LeaderElectionSettings,
        namespace: str,
        group: str,
        hubs: Sequence[str],
        reporter_lease: str | None = None,
        identity: str | None = None,
        clock: Clock = time.monotonic,
        wall: WallClock | None = None,
    ) -> None:
        self._connect = connect
        self._client: ClusterClient | None = None
        self.settings = settings
        self.namespace = namespace
        self.group = group
        self.hubs = sorted(hubs)
        self.identity = identity or new_identity()
        self._clock = clock
        self._wall = wall or (lambda: dt.datetime.now(dt.UTC))
        self._names = {hub: leasing.hub_lease_name(group, hub) for hub in self.hubs}
        if reporter_lease is not None:
            self._names[REPORTER] = reporter_lease
        self._member = leasing.member_lease_name(group, self.identity.rsplit("_", 1)[-1])
        self._lock = threading.Lock()
        self._valid_until: dict[str, float] = {}  # key -> monotonic deadline of our hold
        self._observed: dict[str, Observed] = {}  # lease name -> last read
        self._busy: set[str] = set()
        self._failing = False
        # Called (in the keeper thread) with a hub key right after its Lease was taken, so
        # the daemon can sync it now instead of at its next interval.
        self.on_acquired: Callable[[str], None] | None = None

    # ------------------------------------------------------------- asked by the daemon

    def holds(self, key: str) -> bool:
        """This replica holds the Lease of ``key`` (a hub or ``REPORTER``) right now."""
        with self._lock:
            return self._clock() < self._valid_until.get(key, float("-inf"))

    def held(self) -> list[str]:
        with self._lock:
            now = self._clock()
            return sorted(k for k, until in self._valid_until.items() if now < until)

    @contextlib.contextmanager
    def syncing(self, hub: str) -> Iterator[None]:
        """Mark ``hub`` busy: the fair split never releases a hub in the middle of its sync."""
        with self._lock:
            self._busy.add(hub)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(hub)

    # ------------------------------------------------------------------------- rounds

    def run(self, stop: threading.Event) -> None:
        """Rounds every ``retryPeriodSeconds`` until ``stop``; never raises for API errors."""
        period = self.settings.retryPeriodSeconds
        while not stop.is_set():
            started = self._clock()
            self.round()
            stop.wait(max(0.0, period - (self._clock() - started)))

    def round(self) -> None:
        """One round: read every Lease of the config, then renew, release and take."""
        try:
            client = self._client or self._connect()
            self._client = client
            items = client.list_leases(
                self.namespace, selector=f"{leasing.GROUP_LABEL}={self.group}"
            )
            found = {item["metadata"]["name"]: item for item in items}
            if REPORTER in self._names:
                reporter = client.get_lease(self.namespace, self._names[REPORTER])
                if reporter is not None:
                    found[self._names[REPORTER]] = reporter
        except ClusterUnavailable as exc:
            if not self._failing:  # one sentence per outage, not one per round
                log.error("cannot read the Leases in namespace %s: %s", self.namespace, exc)
            self._failing = True
            return
        if self._failing:
            log.info("the Leases in namespace %s can be read again", self.namespace)
        self._failing = False
        now = self._clock()
        self._remember(found, now)
        self._write(self._member, "member", self._observed.get(self._member))
        replicas = self._replicas(found, now)
        with self._lock:
            busy = set(self._busy)
        held = {h for h in self.hubs if self._is_mine(h)}
        free = {h for h in self.hubs if leasing.is_free(self._seen(h), me=self.identity, now=now)}
        plan = leasing.plan_leases(
            hubs=self.hubs, held=held, free=free, replicas=replicas, me=self.identity, busy=busy
        )
        for hub in sorted(held - set(plan.release)):
            self._write(hub, "hub", self._seen(hub))
        share = leasing.fair_share(len(self.hubs), replicas)
        for hub in plan.release:
            self._release(hub)
            log.info(
                "released the Lease of hub %s: %d replicas, %d hubs each", hub, replicas, share
            )
        for hub in plan.take:
            if self._write(hub, "hub", self._seen(hub)):
                log.info("acquired the Lease of hub %s as %s", hub, self.identity)
                if self.on_acquired is not None:
                    self.on_acquired(hub)
        if REPORTER in self._names:
            seen = self._seen(REPORTER)
            mine = seen is not None and seen.record.holder == self.identity
            may_take = mine or leasing.is_free(seen, me=self.identity, now=now)
            if may_take and self._write(REPORTER, "reporter", seen) and not mine:
                log.info("acquired the reporter Lease %s", self._names[REPORTER])

    def release_all(self) -> None:
        """Give every held Lease up at once (clean shutdown), so others take them next round."""
        for key in self.held():
            self._release(key)
        self._release(self._member)
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------------ helpers

    def _seen(self, key: str) -> Observed | None:
        return self._observed.get(self._names[key])

    def _remember(self, found: dict[str, dict[str, Any]], now: float) -> None:
        observed: dict[str, Observed] = {}
        for name, item in found.items():
            version = str(item["metadata"].get("resourceVersion") or "")
            record = leasing.record_of(item)
            observed[name] = leasing.observe(self._observed.get(name), record, version, now)
        self._observed = observed
        # Another holder on the server: lost at once, whatever our deadline said.
        with self._lock:
            for key, name in self._names.items():
                seen = observed.get(name)
                if key in self._valid_until and (
                    seen is None or seen.record.holder != self.identity
                ):
                    del self._valid_until[key]
                    log.warning(
                        "lost the Lease %s to %s", name, seen.record.holder if seen else "deletion"
                    )

    def _is_mine(self, key: str) -> bool:
        seen = self._seen(key)
        return seen is not None and seen.record.holder == self.identity

    def _replicas(self, found: dict[str, dict[str, Any]], now: float) -> int:
        """Live member Leases (this replica counts even before its own is written)."""
        live = {self.identity}
        for name, item in found.items():
            labels = item["metadata"].get("labels") or {}
            if labels.get(leasing.ROLE_LABEL) != "member":
                continue
            seen = self._observed[name]
            if leasing.held_by_other(seen, me=self.identity, now=now):
                live.add(seen.record.holder)
            elif seen.record.holder != self.identity and now >= seen.since + 2 * max(
                seen.record.duration_seconds, 1
            ):
                self._forget(name, seen)
        return len(live)

    def _forget(self, name: str, seen: Observed) -> None:
        """Delete the member Lease of a replica dead for two lease durations."""
        assert self._client is not None
        try:
            self._client.delete_lease(self.namespace, name, version=seen.version)
        except ClusterUnavailable as exc:  # a conflict too: it came back to life
            log.debug("cannot delete the stale member Lease %s: %s", name, exc)

    def _write(self, key: str, role: str, seen: Observed | None) -> bool:
        """Take or renew the Lease of ``key`` (a hub, ``REPORTER`` or the member Lease name)."""
        name = self._names.get(key, key)
        record = leasing.acquired(
            seen.record if seen else None,
            me=self.identity,
            stamp=leasing.micro_time(self._wall()),
            duration=self.settings.leaseDurationSeconds,
        )
        labels = {**leasing.MANAGED_BY, leasing.ROLE_LABEL: role}
        if role != "reporter":  # the reporter's scope is shared by every config
            labels[leasing.GROUP_LABEL] = self.group
        lease = leasing.lease_object(
            name=name,
            namespace=self.namespace,
            record=record,
            labels=labels,
            version=seen.version if seen else None,
        )
        started = self._clock()  # before the request: the server wrote no earlier than this
        assert self._client is not None
        try:
            self._update(self._client.write_lease(lease), started)
        except ClusterConflict:
            with self._lock:
                self._valid_until.pop(key, None)
            return False
        except ClusterUnavailable as exc:
            log.warning("cannot write the Lease %s: %s", name, exc)
            return False  # the hold runs out at its deadline unless a later round renews it
        if key != self._member:
            with self._lock:
                self._valid_until[key] = started + self.settings.renewDeadlineSeconds
        return True

    def _release(self, key: str) -> None:
        with self._lock:
            self._valid_until.pop(key, None)  # first: no push may start from now on
        name = self._names.get(key, key)
        seen = self._observed.get(name)
        if seen is None or seen.record.holder != self.identity or self._client is None:
            return
        record = leasing.released(seen.record, stamp=leasing.micro_time(self._wall()))
        labels = {**leasing.MANAGED_BY, leasing.ROLE_LABEL: _role(key, self._member)}
        if key != REPORTER:
            labels[leasing.GROUP_LABEL] = self.group
        lease = leasing.lease_object(
            name=name, namespace=self.namespace, record=record, labels=labels, version=seen.version
        )
        try:
            self._update(self._client.write_lease(lease), self._clock())
        except ClusterUnavailable as exc:
            log.warning("cannot release the Lease %s: %s", name, exc)

    def _update(self, written: dict[str, Any], now: float) -> None:
        """Remember what we wrote: its resourceVersion is the precondition of our next write."""
        name = written["metadata"]["name"]
        version = str(written["metadata"].get("resourceVersion") or "")
        record = leasing.record_of(written)
        self._observed[name] = leasing.observe(self._observed.get(name), record, version, now)


def _role(key: str, member: str) -> str:
    return "reporter" if key == REPORTER else "member" if key == member else "hub"


def keeper_for(config: Config) -> LeaseKeeper | None:
    """The keeper of ``config``'s replicas, or None without ``spec.leaderElection.enabled``."""
    spec = config.bridge.spec
    settings = spec.leaderElection
    if not settings.enabled:
        return None
    kubeconfig = settings.kubeconfig or spec.report.kubeconfig
    return LeaseKeeper(
        lambda: ClusterClient(kubeconfig, timeout=float(settings.retryPeriodSeconds)),
        settings=settings,
        namespace=settings.namespace or config.bridge.metadata.namespace,
        group=leasing.lease_group(spec.git.url, spec.git.branch, spec.git.path),
        hubs=[f"{h.metadata.namespace}/{h.metadata.name}" for h in config.hubs],
        reporter_lease=(
            leasing.reporter_lease_name(spec.report.namespace) if spec.report.enabled else None
        ),
    )


def run_while_held(
    keeper: LeaseKeeper,
    key: str,
    target: Callable[[threading.Event], None],
    stop: threading.Event,
    *,
    poll_seconds: float = 0.2,
    name: str = "reporter",
) -> None:
    """Run ``target(own_stop)`` in a thread while this replica holds ``key``'s Lease; set
    ``own_stop`` and wait for it when the Lease is lost or ``stop`` is set."""
    while not stop.is_set():
        if not keeper.holds(key):
            stop.wait(poll_seconds)
            continue
        own = threading.Event()
        thread = threading.Thread(target=target, args=(own,), name=name)
        log.info("this replica runs the %s (it holds its Lease)", name)
        thread.start()
        while not stop.is_set() and keeper.holds(key):
            stop.wait(poll_seconds)
        own.set()
        thread.join()
        if not stop.is_set():
            log.warning("stopped the %s: this replica lost its Lease", name)
