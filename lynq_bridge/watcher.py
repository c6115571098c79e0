"""The watching status reporter: caches fed by watches, only changed nodes recomputed.

``reporter.watch`` runs a ``StatusWatcher``. It holds one ``Informer`` (list-then-watch) for
the LynqNodes, one each for LynqHubs and LynqForms, and one per (kind, namespace) the
inventories name; a kind needed in more than ``CLUSTER_WIDE_THRESHOLD`` namespaces gets one
all-namespaces watch instead, when the reporter is not limited to one namespace (a thread and
a connection per tenant namespace do not scale to thousands; no label selector, because a
``conflictPolicy: Stuck`` object without our labels must still be seen). The cache keeps
only what the status computation reads (``core.watching.project``).

An event marks the nodes that name its object dirty (an index from (type, namespace, name)
to nodes); after a short debounce, one round recomputes the dirty nodes alone, patches those
whose status changed (``reporting.Reporter``) and rolls up hubs and forms when a node's
summary changed. Readiness timeouts that pass with no event are woken by a deadline per node.
Every ``resync_seconds`` all nodes are recomputed from the cache (no requests). An idle
cluster therefore costs the open watches alone: one request per watch every five minutes or
so, when the server ends it and it is re-opened.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from lynq_bridge.adapters.cluster import LYNQ_FORM, LYNQ_HUB, LYNQ_NODE, ClusterClient, ResourceType
from lynq_bridge.config.models import LynqNode
from lynq_bridge.core import readiness, rollups
from lynq_bridge.core.inventory import Malformed, parse_node
from lynq_bridge.core.watching import is_newer, next_deadline, plan_groups, project
from lynq_bridge.errors import ClusterUnavailable
from lynq_bridge.informers import Informer, StoreKey, store_key
from lynq_bridge.reporting import (
    Census,
    Clock,
    GroupKey,
    Judged,
    Pass,
    Reporter,
    ReportResult,
    StatusSink,
    list_namespace,
)

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.1  # gather a burst of events (a rollout touches several objects) in one round
RESYNC_SECONDS = 600.0  # recompute every node from the cache: a guard against our own bugs
CLUSTER_WIDE_THRESHOLD = 8  # namespaces of one kind above which one all-namespaces watch is held
STOP_SECONDS = 1.0  # how long closing waits for the watch threads
POLL_SECONDS = 0.25  # how often an idle round loop looks at ``stop`` (no requests)
ROUND_NODES = 1000  # nodes recomputed per round: bounds the outcomes and answers held at once
SLIMMED = ("managedFields",)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
Ref = tuple[ResourceType, str | None, str]  # (type, list namespace, name) of one child


def _slim(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A LynqNode, hub or form without what no computation reads (and which can be large)."""
    meta = dict(raw.get("metadata") or {})
    for key in SLIMMED:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, Mapping) and LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return {**raw, "metadata": meta}


def _version(obj: Mapping[str, Any] | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


def _identity(obj: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """What makes a node need re-indexing: its inventory and labels (hub, form)."""
    meta = obj.get("metadata") or {}
    return obj.get("spec"), meta.get("labels"), meta.get("generation")


class StatusWatcher:
    """The cache, its index of children to nodes, and the round loop (``run``)."""

    def __init__(
        self,
        client: ClusterClient,
        *,
        namespace: str | None,
        now: Clock,
        retry_cap: float,
        resync_seconds: float = RESYNC_SECONDS,
        debounce_seconds: float = DEBOUNCE_SECONDS,
        threshold: int = CLUSTER_WIDE_THRESHOLD,
        on_result: Callable[[ReportResult], None] | None = None,
        status_tables: StatusSink | None = None,
    ) -> None:
        self.client = client
        self.reporter = Reporter(client, status_tables=status_tables)
        self.namespace = namespace
        self.now = now
        self.retry_cap = retry_cap
        self.resync_seconds = resync_seconds
        self.debounce_seconds = debounce_seconds
        self.threshold = threshold
        self.on_result = on_result
        self.lock = threading.Condition()
        # The cache (all under ``lock``).
        self.nodes: dict[StoreKey, dict[str, Any]] = {}
        self.refs: dict[StoreKey, frozenset[Ref]] = {}
        self.index: dict[Ref, tuple[StoreKey, ...]] = {}  # tuples: most refs have one node
        self.wanted: dict[ResourceType, Counter[str | None]] = {}
        self.types: dict[tuple[str, str], ResourceType | None] = {}
        self.undiscovered: set[tuple[str, str]] = set()
        self.summaries: dict[StoreKey, rollups.NodeSummary] = {}
        self.children: dict[GroupKey, Informer] = {}
        self.closed: list[Informer] = []
        # Work for the next round.
        self.dirty: set[StoreKey] = set()
        self.reindex: set[StoreKey] = set()
        self.rollup_dirty = False
        self.replan = False  # the set of (kind, namespace) watches may have to change
        self.errors: list[str] = []
        self.deadlines: list[tuple[dt.datetime, StoreKey]] = []
        self.rediscover_at: float | None = None
        self.resync_at = time.monotonic() + resync_seconds
        self.rounds = 0
        self.backlog = False  # the last round left dirty nodes for the next one
        self.node_informer = self._informer(LYNQ_NODE, namespace)
        self.hub_informer = self._informer(LYNQ_HUB, namespace, missing_ok=True)
        self.form_informer = self._informer(LYNQ_FORM, namespace, missing_ok=True)

    def _informer(
        self, rtype: ResourceType, namespace: str | None, *, missing_ok: bool = False
    ) -> Informer:
        return Informer(
            self.client,
            rtype,
            namespace,
            sink=self,
            metadata_only=rtype.kind in readiness.ALWAYS_READY_KINDS,
            missing_ok=missing_ok,
            retry_cap=self.retry_cap,
            absent_retry=self.resync_seconds,
            keep=project if rtype not in (LYNQ_NODE, LYNQ_HUB, LYNQ_FORM) else _slim,
        )

    # ------------------------------------------------------------- the cache as judged

    def available(self, key: GroupKey) -> bool:
        return self._serving(key) is not None

    def get(self, key: GroupKey, name: str) -> Mapping[str, Any] | None:
        informer = self._serving(key)
        return None if informer is None else informer.store.get((key[1], name))

    def _serving(self, key: GroupKey) -> Informer | None:
        for candidate in (key, (key[0], None)):
            informer = self.children.get(candidate)
            if informer is not None and informer.synced:
                return informer
        return None

    # ------------------------------------------------------- sink (informer threads)

    def on_list(self, informer: Informer, objects: list[dict[str, Any]]) -> None:
        with self.lock:
            if informer is self.node_informer:
                fresh = {store_key(o): _slim(o) for o in objects}
                for key in set(self.nodes) - set(fresh):
                    self._drop_node(key)
                for key, obj in fresh.items():
                    self._upsert_node(key, obj)
            elif informer in (self.hub_informer, self.form_informer):
                informer.store = {store_key(o): _slim(o) for o in objects}
                self.rollup_dirty = True
            elif self.children.get(informer.key) is not informer:
                return  # closed by a new plan; its last list arrived late
            else:
                projected = {store_key(o): project(o) for o in objects}
                old, informer.store = informer.store, projected
                if informer.synced:
                    changed = {
                        k for k in old.keys() | projected.keys() if old.get(k) != projected.get(k)
                    }
                    for key in changed:
                        self.dirty.update(self.index.get((informer.rtype, *key), ()))
                else:  # first list: every node waiting on this group can be judged now
                    for (rtype, namespace, _), nodes in self.index.items():
                        if rtype == informer.rtype and informer.namespace in (None, namespace):
                            self.dirty.update(nodes)
            informer.synced = True
            self.lock.notify()

    def on_event(self, informer: Informer, deleted: bool, obj: Mapping[str, Any]) -> None:
        key = store_key(obj)
        with self.lock:
            if informer is self.node_informer:
                if deleted:
                    self._drop_node(key)
                else:
                    self._upsert_node(key, _slim(obj))
            elif informer in (self.hub_informer, self.form_informer):
                if deleted:
                    informer.store.pop(key, None)
                elif is_newer(_version(obj), _version(informer.store.get(key))):
                    informer.store[key] = _slim(obj)
                else:
                    return
                self.rollup_dirty = True
            elif self.children.get(informer.key) is not informer:
                return  # closed by a new plan
            else:
                projected = None if deleted else project(obj)
                if informer.store.get(key) == projected:
                    return  # nothing the status reads changed
                if projected is None:
                    informer.store.pop(key, None)
                else:
                    informer.store[key] = projected
                self.dirty.update(self.index.get((informer.rtype, *key), ()))
            self.lock.notify()

    def on_error(self, informer: Informer, message: str) -> None:
        log.error("%s", message)
        with self.lock:
            self.errors.append(message)
            self.lock.notify()

    def _upsert_node(self, key: StoreKey, obj: dict[str, Any]) -> None:
        old = self.nodes.get(key)
        if old is not None and not is_newer(_version(obj), _version(old)):
            return  # older than what our own status patch returned
        self.nodes[key] = obj
        if old is None or _identity(old) != _identity(obj):
            self.reindex.add(key)
            self.dirty.add(key)
        elif old.get("status") != obj.get("status"):
            self.dirty.add(key)  # someone else wrote the status: put ours back

    def _drop_node(self, key: StoreKey) -> None:
        self.nodes.pop(key, None)
        self.replan = self._set_refs(key, frozenset()) or self.replan
        self.dirty.discard(key)
        self.reindex.discard(key)
        if self.summaries.pop(key, None) is not None:
            self.rollup_dirty = True

    # --------------------------------------------------------------------- indexing

    def _set_refs(self, key: StoreKey, refs: frozenset[Ref]) -> bool:
        """Index ``key`` under ``refs``; whether the set of watched groups may change."""
        old = self.refs.pop(key, frozenset())
        if refs:
            self.refs[key] = refs
        replan = False
        for ref in old - refs:
            remaining = tuple(k for k in self.index[ref] if k != key)
            if remaining:
                self.index[ref] = remaining
            else:
                del self.index[ref]
            counter = self.wanted[ref[0]]
            counter[ref[1]] -= 1
            if counter[ref[1]] <= 0:
                del counter[ref[1]]
                replan = True
        for ref in refs - old:
            self.index[ref] = (*self.index.get(ref, ()), key)
            counter = self.wanted.setdefault(ref[0], Counter())
            replan = replan or counter[ref[1]] == 0
            counter[ref[1]] += 1
        return replan

    def _index_node(self, key: StoreKey, state: Pass) -> bool:
        # Parsed models are not kept: they cost ten times the JSON; a round parses again.
        node = parse_node(self.nodes[key])
        refs: set[Ref] = set()
        if isinstance(node, LynqNode):
            for entry in node.spec.resources:
                kind = (entry.apiVersion, entry.kind)
                if kind not in self.types:
                    try:
                        self.types[kind] = self.client.resource_type(*kind)
                    except ClusterUnavailable as exc:
                        state.fail(str(exc))
                        self.undiscovered.add(kind)
                        self.rediscover_at = time.monotonic() + self.retry_cap
                        continue
                    self.undiscovered.discard(kind)
                rtype = self.types[kind]
                if rtype is not None:
                    namespace = list_namespace(rtype, node, entry.namespace)
                    refs.add((rtype, namespace, entry.name))
        return self._set_refs(key, frozenset(refs))

    def _replan(self) -> None:
        wanted = {rtype: set(counter) for rtype, counter in self.wanted.items() if counter}
        groups = plan_groups(wanted, cluster_wide=self.namespace is None, threshold=self.threshold)
        self.closed = [i for i in self.closed if not i.join(0)]  # keep the running ones
        for key in set(self.children) - groups:
            informer = self.children.pop(key)
            informer.close()
            informer.store = {}
            self.closed.append(informer)
        for rtype, namespace in sorted(
            groups - set(self.children), key=lambda g: (g[0].api_version, g[0].kind, g[1] or "")
        ):
            informer = self._informer(rtype, namespace)
            self.children[(rtype, namespace)] = informer
            informer.start()

    # ----------------------------------------------------------------------- rounds

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set; then every watch thread ends within a second."""
        for informer in (self.node_informer, self.hub_informer, self.form_informer):
            informer.start()
        try:
            while self._wait(stop):
                if not self.backlog:
                    stop.wait(self.debounce_seconds)  # one round for a burst of events
                if stop.is_set():
                    break
                result = self.round()
                if self.on_result is not None:
                    self.on_result(result)
        finally:
            self.close()

    def close(self) -> None:
        with self.lock:
            informers = [self.node_informer, self.hub_informer, self.form_informer]
            informers += [*self.children.values(), *self.closed]
        for informer in informers:
            informer.close()
        deadline = time.monotonic() + STOP_SECONDS
        for informer in informers:
            informer.join(max(0.0, deadline - time.monotonic()))

    def _has_work(self) -> bool:
        return bool(self.dirty or self.reindex or self.rollup_dirty or self.errors or self.replan)

    def _wait(self, stop: threading.Event) -> bool:
        """Block until there is work (or a deadline or resync is due); ``False``: stopped."""
        with self.lock:
            while not stop.is_set():
                self._due()
                if self._has_work():
                    return True
                self.lock.wait(POLL_SECONDS)
        return False

    def _due(self) -> None:
        """Move what is due by the clock into the round's work (under ``lock``)."""
        now = self.now()
        while self.deadlines and self.deadlines[0][0] <= now:
            _, key = heapq.heappop(self.deadlines)
            if key in self.nodes:
                self.dirty.add(key)
        moment = time.monotonic()
        if self.rediscover_at is not None and moment >= self.rediscover_at:
            self.rediscover_at = None
            self.types = {k: v for k, v in self.types.items() if k not in self.undiscovered}
            self.undiscovered.clear()
            self.reindex |= set(self.nodes)
        if moment >= self.resync_at:
            self.resync_at = moment + self.resync_seconds
            self.dirty |= set(self.nodes)

    def round(self) -> ReportResult:
        """Recompute the dirty nodes, write what changed, roll up if a summary changed."""
        started, first_request = time.monotonic(), self.client.requests
        state = Pass(now=self.now())
        with self.lock:
            self.rounds += 1
            for message in self.errors:
                state.fail(message)
            reported = len(state.errors)  # already logged by on_error
            self.errors = []
            for key in sorted(self.reindex):
                self.replan = self._index_node(key, state) or self.replan
            self.reindex = set()
            if self.replan:
                self.replan = False
                self._replan()
            keys = sorted(self.dirty)[:ROUND_NODES]
            self.dirty.difference_update(keys)
            self.backlog = bool(self.dirty)
            parsed = {key: parse_node(self.nodes[key]) for key in keys if key in self.nodes}
            judged = [
                (key, self.reporter.judge(self.nodes[key], node, self, state))
                for key, node in parsed.items()
            ]
        self.reporter.write_nodes([j for _, j in judged], state)
        with self.lock:
            self._after_writes(judged, parsed)
            hubs = list(self.hub_informer.store.values())
            forms = list(self.form_informer.store.values())
            summaries = [self.summaries[k] for k in sorted(self.summaries)]
            rollup = (
                self.rollup_dirty
                and self.node_informer.synced
                and len(self.summaries) == len(self.nodes)
            )
            if rollup:
                self.rollup_dirty = False
        if rollup:
            written = self.reporter.write_rollups(hubs, forms, summaries, state)
            with self.lock:
                for obj in written:
                    store = (
                        self.hub_informer if obj.get("kind") == "LynqHub" else self.form_informer
                    )
                    key = store_key(obj)
                    if is_newer(_version(obj), _version(store.store.get(key))):
                        store.store[key] = _slim(obj)
        if self.reporter.status_tables and self.node_informer.synced:
            with self.lock:
                nodes = list(self.nodes.values())
            self.reporter.status_tables.publish(nodes, state.now)
        return self._result(state, len(judged), reported, started, first_request)

    def _after_writes(
        self, judged: list[tuple[StoreKey, Judged]], parsed: Mapping[StoreKey, LynqNode | Malformed]
    ) -> None:
        for key, outcome in judged:
            written = outcome.written
            if (
                written
                and key in self.nodes
                and is_newer(_version(written), _version(self.nodes[key]))
            ):
                self.nodes[key] = _slim(written)  # not dirty: this is the status just computed
            summary = self.reporter.summary(outcome)
            if self.summaries.get(key) != summary and key in self.nodes:
                self.summaries[key] = summary
                self.rollup_dirty = True
            node = parsed.get(key)
            if outcome.outcome is not None and isinstance(node, LynqNode):
                deadline = next_deadline(node, outcome.outcome.status)
                if deadline is not None:
                    heapq.heappush(self.deadlines, (deadline, key))

    def _result(
        self, state: Pass, judged: int, reported: int, started: float, first_request: int
    ) -> ReportResult:
        with self.lock:
            nodes = len(self.nodes)
            census = (  # for the metrics: references to the cached objects, no copies
                Census(tuple(self.nodes.values()), tuple(self.hub_informer.store.values()))
                if self.node_informer.synced
                else None
            )
        result = state.result(
            nodes=nodes,
            requests=self.client.requests - first_request,
            seconds=time.monotonic() - started,
            census=census,
        )
        level = logging.INFO if result.writes or result.errors else logging.DEBUG
        log.log(
            level,
            "status round: %d of %d nodes recomputed, %d status writes, %d events, "
            "%d requests, %d errors in %.2fs",
            judged,
            nodes,
            result.writes,
            result.events,
            result.requests,
            result.errors,
            result.seconds,
        )
        for message in result.messages[reported:]:
            log.warning("%s", message)
        return result
