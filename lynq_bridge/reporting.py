"""Computing and writing LynqNode status from live objects: the reporter's machinery.

``Reporter.run`` is one straight-line pass, like ``sync.py``: list LynqNodes -> group their
inventories by (kind, namespace) -> one list call per group -> compute each node's status
(``lynq_bridge.core.status``) -> patch the statuses that changed, with their Events -> roll up
LynqHubs and LynqForms that exist. Requests grow with kinds x namespaces, not with objects. A
malformed node is reported ``Stalled`` and never stops the pass; an API error is counted,
reported in the result, and the affected nodes are left as they are until a retry.

Judging, writing and rolling up take the live objects through a small view (``LiveObjects``),
so the watching reporter (``lynq_bridge.watcher``) reuses them on its cache.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from lynq_bridge.adapters.cluster import (
    LYNQ_FORM,
    LYNQ_HUB,
    LYNQ_NODE,
    ClusterClient,
    ResourceType,
)
from lynq_bridge.config.models import LynqNode
from lynq_bridge.core import readiness, rollups
from lynq_bridge.core.conditions import format_time
from lynq_bridge.core.inventory import Malformed, parse_node, parse_previous
from lynq_bridge.core.status import (
    NodeOutcome,
    compute_malformed_status,
    compute_node_status,
    status_changed,
    status_document,
)
from lynq_bridge.errors import ClusterUnavailable

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
WRITE_WORKERS = 8  # parallel status patches; the API server handles these cheaply
GroupKey = tuple[ResourceType, str | None]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Census:
    """The LynqNodes and LynqHubs as the watching reporter's cache holds them after a round
    (statuses included): what the Lynq-named metrics are computed from (``lynq_bridge.metrics``)."""

    nodes: tuple[Mapping[str, Any], ...]
    hubs: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class ReportResult:
    """What one pass did. ``writes`` counts status patches, ``events`` Events created.
    ``census`` is set by watch rounds once the LynqNodes are listed; ``None`` otherwise."""

    nodes: int
    writes: int
    requests: int
    errors: int
    events: int = 0
    seconds: float = 0.0
    messages: tuple[str, ...] = ()
    census: Census | None = None


@dataclass
class Pass:
    """Mutable bookkeeping of one pass."""

    now: dt.datetime
    errors: list[str] = field(default_factory=list)
    writes: int = 0
    events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def result(
        self, *, nodes: int, requests: int, seconds: float, census: Census | None = None
    ) -> ReportResult:
        """What this pass (or watch round) did."""
        return ReportResult(
            nodes=nodes,
            writes=self.writes,
            requests=requests,
            errors=len(self.errors),
            events=self.events,
            seconds=seconds,
            messages=tuple(self.errors),
            census=census,
        )


@dataclass
class Judged:
    raw: Mapping[str, Any]
    outcome: NodeOutcome | None  # None: not evaluated this pass (a list call failed)
    written: dict[str, Any] | None = None  # the node as the status patch returned it


class StatusSink(Protocol):
    """Where the nodes' statuses go besides the cluster (``adapters.statustable.StatusTables``):
    never raises for its own failures."""

    def __bool__(self) -> bool: ...

    def publish(self, nodes: Sequence[Mapping[str, Any]], now: dt.datetime) -> int: ...


class LiveObjects(Protocol):
    """The live children as judging needs them, whether listed by a pass or watched."""

    types: dict[tuple[str, str], ResourceType | None]  # (apiVersion, kind) -> how to address
    undiscovered: set[tuple[str, str]]  # discovery failed: nodes using them are not judged

    def available(self, key: GroupKey) -> bool:
        """Whether the objects of (type, namespace) are known (their list succeeded)."""
        ...

    def get(self, key: GroupKey, name: str) -> Mapping[str, Any] | None: ...


@dataclass
class _Children:
    """The live children of this pass, by (kind, namespace) and name."""

    types: dict[tuple[str, str], ResourceType | None] = field(default_factory=dict)
    undiscovered: set[tuple[str, str]] = field(default_factory=set)  # discovery failed
    live: dict[GroupKey, dict[str, dict[str, Any]]] = field(default_factory=dict)
    broken: set[GroupKey] = field(default_factory=set)  # list call failed

    def available(self, key: GroupKey) -> bool:
        return key not in self.broken

    def get(self, key: GroupKey, name: str) -> Mapping[str, Any] | None:
        return self.live.get(key, {}).get(name)


def list_namespace(rtype: ResourceType, node: LynqNode, namespace: str | None) -> str | None:
    """Where to list a child: cluster-wide for cluster-scoped kinds, else its namespace."""
    if not rtype.namespaced:
        return None
    return namespace or node.metadata.namespace


class Reporter:
    """Runs passes against one ``ClusterClient``."""

    def __init__(
        self,
        client: ClusterClient,
        *,
        workers: int = WRITE_WORKERS,
        status_tables: StatusSink | None = None,
    ) -> None:
        self.client = client
        self.workers = workers
        self.status_tables = status_tables  # spec.statusTable of the hubs (adapters.statustable)

    def run(self, *, namespace: str | None = None, now: Clock | None = None) -> ReportResult:
        """One pass. Raises ``ClusterUnavailable`` only when the LynqNodes cannot be listed."""
        started = time.monotonic()
        first_request = self.client.requests
        state = Pass(now=(now or utc_now)())
        raw_nodes = self.client.list_objects(LYNQ_NODE, namespace)
        parsed = [(raw, parse_node(raw)) for raw in raw_nodes]
        children = self._read_children(parsed, state)
        judged = [self.judge(raw, node, children, state) for raw, node in parsed]
        self.write_nodes(judged, state)
        self._roll_up(judged, namespace, state)
        if self.status_tables:
            self.status_tables.publish([j.written or j.raw for j in judged], state.now)
        result = state.result(
            nodes=len(raw_nodes),
            requests=self.client.requests - first_request,
            seconds=time.monotonic() - started,
        )
        log.info(
            "status pass: %d nodes, %d status writes, %d events, %d requests, %d errors in %.2fs",
            result.nodes,
            result.writes,
            result.events,
            result.requests,
            result.errors,
            result.seconds,
        )
        for message in result.messages:
            log.warning("%s", message)
        return result

    # ------------------------------------------------------------------------- reading

    def _read_children(
        self, parsed: Sequence[tuple[Mapping[str, Any], LynqNode | Malformed]], state: Pass
    ) -> _Children:
        """List every (kind, namespace) the inventories mention, once each."""
        children = _Children()
        wanted: set[GroupKey] = set()
        for _, node in parsed:
            if isinstance(node, Malformed):
                continue
            for entry in node.spec.resources:
                kind = (entry.apiVersion, entry.kind)
                if kind not in children.types and kind not in children.undiscovered:
                    try:
                        children.types[kind] = self.client.resource_type(*kind)
                    except ClusterUnavailable as exc:
                        state.fail(str(exc))
                        children.undiscovered.add(kind)
                        continue
                rtype = children.types.get(kind)
                if rtype is not None:
                    wanted.add((rtype, list_namespace(rtype, node, entry.namespace)))
        for key in sorted(wanted, key=lambda k: (k[0].api_version, k[0].kind, k[1] or "")):
            rtype, namespace = key
            try:
                objects = self.client.list_objects(
                    rtype, namespace, metadata_only=rtype.kind in readiness.ALWAYS_READY_KINDS
                )
            except ClusterUnavailable as exc:
                state.fail(str(exc))
                children.broken.add(key)
                continue
            children.live[key] = {obj["metadata"]["name"]: obj for obj in objects}
        return children

    def judge(
        self,
        raw: Mapping[str, Any],
        node: LynqNode | Malformed,
        children: LiveObjects,
        state: Pass,
    ) -> Judged:
        generation = (raw.get("metadata") or {}).get("generation")
        previous = parse_previous(raw.get("status"))
        if isinstance(node, Malformed):
            outcome = compute_malformed_status(
                node, generation=generation, previous=previous, now=state.now
            )
            return Judged(raw, outcome)
        objects: dict[str, Mapping[str, Any] | None] = {}
        unserved: list[str] = []
        for entry in node.spec.resources:
            kind = (entry.apiVersion, entry.kind)
            if kind in children.undiscovered:
                return Judged(raw, None)  # discovery failed this pass; already reported
            rtype = children.types[kind]
            if rtype is None:
                unserved.append(entry.id)
                continue
            key = (rtype, list_namespace(rtype, node, entry.namespace))
            if not children.available(key):
                return Judged(raw, None)  # its list call failed this pass; already reported
            objects[entry.id] = children.get(key, entry.name)
        outcome = compute_node_status(
            node,
            generation=generation,
            live=objects,
            unserved=unserved,
            previous=previous,
            now=state.now,
        )
        return Judged(raw, outcome)

    # ------------------------------------------------------------------------- writing

    def write_nodes(self, judged: Sequence[Judged], state: Pass) -> None:
        changed = [
            j
            for j in judged
            if j.outcome is not None and status_changed(j.raw.get("status"), j.outcome.status)
        ]
        if not changed:
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(changed))) as pool:
            list(pool.map(lambda j: self._write_node(j, state), changed))

    def _write_node(self, judged: Judged, state: Pass) -> None:
        assert judged.outcome is not None
        raw, outcome = judged.raw, judged.outcome
        meta = raw["metadata"]
        document: dict[str, Any] = status_document(outcome.status)
        # A merge patch keeps keys it does not mention: clear the ones we no longer write.
        for key in raw.get("status") or {}:
            document.setdefault(key, None)
        try:
            written = self.client.patch_status_object(
                LYNQ_NODE, meta.get("namespace"), meta["name"], document
            )
        except ClusterUnavailable as exc:
            state.fail(str(exc))
            return
        if written is None:
            return  # deleted since it was listed
        judged.written = written
        with state.lock:
            state.writes += 1
        involved = {**raw, "apiVersion": LYNQ_NODE.api_version, "kind": LYNQ_NODE.kind}
        for event in outcome.events:
            try:
                self.client.create_event(
                    involved,
                    event_type=event.type,
                    reason=event.reason,
                    message=event.message,
                    timestamp=format_time(state.now),
                )
            except ClusterUnavailable as exc:
                state.fail(str(exc))
                continue
            with state.lock:
                state.events += 1

    # ------------------------------------------------------------------------ roll-ups

    def _roll_up(self, judged: Sequence[Judged], namespace: str | None, state: Pass) -> None:
        try:
            hubs = self.client.list_objects(LYNQ_HUB, namespace, missing_ok=True)
            forms = self.client.list_objects(LYNQ_FORM, namespace, missing_ok=True)
        except ClusterUnavailable as exc:
            state.fail(str(exc))
            return
        self.write_rollups(hubs, forms, [self.summary(j) for j in judged], state)

    def write_rollups(
        self,
        hubs: Sequence[Mapping[str, Any]],
        forms: Sequence[Mapping[str, Any]],
        summaries: Sequence[rollups.NodeSummary],
        state: Pass,
    ) -> list[dict[str, Any]]:
        """Patch the hub and form statuses that changed; the patched objects."""
        if not hubs and not forms:
            return []
        patches: list[tuple[ResourceType, Mapping[str, Any], dict[str, Any]]] = []
        for hub in hubs:
            hub_patch = rollups.hub_status(hub, summaries, forms)
            if hub_patch is not None:
                patches.append((LYNQ_HUB, hub, hub_patch))
        hub_names = {(h["metadata"].get("namespace", ""), h["metadata"]["name"]) for h in hubs}
        for form in forms:
            form_patch = rollups.form_status(form, summaries, hub_names, now=state.now)
            if form_patch is not None:
                patches.append((LYNQ_FORM, form, form_patch))
        written = []
        for rtype, obj, patch in patches:
            meta = obj["metadata"]
            try:
                answer = self.client.patch_status_object(
                    rtype, meta.get("namespace"), meta["name"], patch
                )
            except ClusterUnavailable as exc:
                state.fail(str(exc))
                continue
            if answer is not None:
                state.writes += 1
                written.append(answer)
        return written

    @staticmethod
    def summary(judged: Judged) -> rollups.NodeSummary:
        if judged.outcome is not None:
            ready, failed = judged.outcome.ready, judged.outcome.stalled
        else:  # not evaluated this pass: keep what the node said last time
            previous = rollups.conditions_of(judged.raw.get("status") or {})
            ready = any(c.type == "Ready" and c.status == "True" for c in previous)
            failed = any(c.type == "Stalled" and c.status == "True" for c in previous)
        return rollups.summarize_node(judged.raw, ready=ready, failed=failed)
