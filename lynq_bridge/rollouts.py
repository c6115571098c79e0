"""Progressive rollouts inside a sync: what ``core.rollout`` needs from Git and the cluster, and
the LynqForm status its decisions lead to.

Only forms with ``spec.rollout.maxSkew > 0`` cost anything, and only while one of them has a
node whose only change is the form (or an open rollout in the hub's render-input index): then
the sync lists the hub namespace's LynqNodes once, reads the committed inventory of the updated
nodes the cluster reports Ready (once per process and node content), and asks Git when the
updating nodes' files were committed. ``maxSkew > 0`` needs cluster access
(``spec.report.enabled``), which the config loader enforces.

Fail closed: when the cluster cannot answer, every pending node is held, nothing is halted and
the record stays as it is; the next sync asks again.

A form whose ``maxSkew`` is 0 has no rollout: as Lynq does, its LynqForm shows no
``status.rollout`` (nor the ``Progressing`` condition this sync writes). The first sync that
renders a form revision with ``maxSkew: 0`` reads its LynqForm once (per process and revision)
and clears both if an earlier rollout left them; only with cluster access
(``spec.report.enabled``).

The rollout's clock is ``Rollouts.clock`` (``time.time``): a test replaces it to pass a
progress deadline without waiting for it (the commit times stay real).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lynq_bridge.adapters.cluster import LYNQ_FORM, LYNQ_NODE, LazyConnection
from lynq_bridge.adapters.gitstore import GitStore
from lynq_bridge.config.models import BridgeSpec, LynqHub
from lynq_bridge.core import rollout
from lynq_bridge.core.forms import CompiledForm
from lynq_bridge.core.inputs import CommittedInputs
from lynq_bridge.core.layout import Target, path_owner
from lynq_bridge.core.naming import NODE_FILE
from lynq_bridge.core.paths import one_line
from lynq_bridge.core.planning import nodes_changing, previous_inventory
from lynq_bridge.core.rendering import HubRender, form_key_of
from lynq_bridge.errors import ClusterUnavailable

log = logging.getLogger("lynq_bridge.rollouts")

TIMEOUT = 10.0  # seconds per request: how long a sync waits for a silent API server


@dataclass
class HubRollout:
    """One hub's rollout step: the decisions, the index records they leave and whether those
    differ from the committed ones (then the index is committed even if nothing else changed)."""

    decisions: list[rollout.Decision] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    changed: bool = False
    deadlines: dict[str, int] = field(default_factory=dict)
    unreadable: bool = False  # the cluster did not answer: no status is written either

    def message(self) -> tuple[list[str], dict[str, str]]:
        return rollout.message_parts(self.decisions)


class Rollouts(LazyConnection):
    """The sync's rollout step over one lazily opened cluster connection."""

    clock: Callable[[], float] = staticmethod(time.time)  # the test hook (see the docstring)

    def __init__(self, spec: BridgeSpec, git: GitStore) -> None:
        super().__init__(spec.report.kubeconfig, timeout=TIMEOUT)
        self.sharded = spec.git.layout == "sharded"
        self.git = git
        self.cluster_access = spec.report.enabled
        # (namespace, form, fingerprint) of maxSkew 0 forms whose LynqForm status was checked
        self._cleared: set[tuple[str, str, str]] = set()
        # (node, digest of its committed entries) -> its inventory (id -> content hash)
        self._inventories: dict[tuple[str, str], dict[str, str]] = {}

    def step(
        self,
        hub: LynqHub,
        forms: Sequence[CompiledForm],
        render: HubRender,
        *,
        revision: str,
        committed: CommittedInputs,
        existing: Mapping[str, str],
        commit: str | None,
        hub_dir: str,
        target: Target,
    ) -> HubRollout:
        """Decide each rolling form's step and hold its held nodes in ``render`` (they move to
        ``render.unchanged`` with their committed key, so planning keeps them byte for byte)."""
        out = HubRollout()
        rolling = [f for f in forms if f.form.spec.rollout.maxSkew > 0]
        self.clear_stopped(hub, [f for f in forms if f.form.spec.rollout.maxSkew == 0])
        records = rollout.records_of(committed.records)
        if not rolling:
            out.changed = bool(records)  # maxSkew went back to 0: the records go
            return out
        now = int(self.clock())
        nodes: list[tuple[rollout.FormNodes, rollout.Record | None, set[str]]] = []
        for form in rolling:
            found, written = self._form_nodes(
                hub, form, render, revision, committed, existing, target
            )
            record = records.get(form.name)
            if found.pending or record is not None:
                nodes.append((found, record, written))
                out.deadlines[form.name] = form.form.spec.rollout.progressDeadlineSeconds
        if nodes:
            try:
                live = self._live_nodes(hub)
            except ClusterUnavailable as exc:
                cause = one_line(str(exc))
                log.warning("rollouts of hub %s wait: %s", hub.metadata.name, cause)
                out.unreadable = True
                out.decisions = [rollout.hold_all(n, r, cause=cause) for n, r, _ in nodes]
            else:
                for found, record, written in nodes:
                    ready = self._ready(found, live, render, committed, commit, hub_dir)
                    start = max(record.started, record.resumed) if record is not None else now
                    # Files written by this sync (new rows, row changes) are new: their clock
                    # starts now. The others' from their last commit, the start or the resume.
                    waiting = set(found.current) - ready - written
                    times = (
                        self.git.change_times(
                            commit, hub_dir, waiting, since=start, sharded=self.sharded
                        )
                        if record is not None and waiting
                        else {}
                    )
                    changed_at = {n: times.get(n, start) for n in waiting}
                    seen = _with(found, ready=ready, changed_at=changed_at)
                    out.decisions.append(rollout.decide(seen, record, now=now))
        for decision in out.decisions:
            for name in decision.hold:
                render.nodes.pop(name)
                render.unchanged[name] = committed[name]
        kept = {d.form: d.record for d in out.decisions}
        after = {f.name: kept[f.name] if f.name in kept else records.get(f.name) for f in rolling}
        out.records = rollout.record_lines(r for r in after.values() if r is not None)
        out.changed = out.records != rollout.record_lines(records.values())
        return out

    def clear_stopped(self, hub: LynqHub, forms: Sequence[CompiledForm]) -> None:
        """Remove ``status.rollout`` and ``Progressing`` from the LynqForms of ``forms`` (all
        with ``maxSkew: 0``), each once per process and form revision. An unreachable cluster
        is logged and asked again by the next sync that renders."""
        if not self.cluster_access:
            return
        namespace = hub.metadata.namespace
        for form in forms:
            key = (namespace, form.name, form.fingerprint)
            if key in self._cleared:
                continue
            try:
                client = self._connect()
                live = client.get_object(LYNQ_FORM, namespace, form.name)
                patch = rollout.cleared_status_patch(live) if live is not None else None
                if patch is not None:
                    client.patch_status(LYNQ_FORM, namespace, form.name, patch)
            except ClusterUnavailable as exc:
                log.warning(
                    "cannot clear the rollout status of LynqForm %s/%s (maxSkew is 0): %s",
                    namespace,
                    form.name,
                    one_line(str(exc)),
                )
                return  # one timeout per sync is enough: the others wait as well
            self._cleared.add(key)

    def _form_nodes(
        self,
        hub: LynqHub,
        form: CompiledForm,
        render: HubRender,
        revision: str,
        committed: CommittedInputs,
        existing: Mapping[str, str],
        target: Target,
    ) -> tuple[rollout.FormNodes, set[str]]:
        """The form's nodes, and those of its rendered nodes whose files this sync writes
        unless held."""
        key = form_key_of(revision, form)
        rendered = [n for n, node in render.nodes.items() if node.form == form.name]
        changing = nodes_changing(hub, render, existing, rendered, target=target)
        pending = sorted(
            n
            for n in rendered
            if n in changing
            and rollout.only_form_changed(committed.get(n), render.nodes[n].input_key)
        )
        unchanged = [n for n, k in render.unchanged.items() if k.endswith(key)]
        spec = form.form.spec.rollout
        found = rollout.FormNodes(
            settings=rollout.Settings(form.name, spec.maxSkew, spec.progressDeadlineSeconds),
            revision=key,
            pending=pending,
            current=sorted({*rendered, *unchanged} - set(pending)),
        )
        return found, changing - set(pending)

    def _live_nodes(self, hub: LynqHub) -> dict[str, Mapping[str, Any]]:
        items = self._connect().list_objects(LYNQ_NODE, hub.metadata.namespace, missing_ok=True)
        return {str(i["metadata"]["name"]): i for i in items}

    def _ready(
        self,
        nodes: rollout.FormNodes,
        live: Mapping[str, Mapping[str, Any]],
        render: HubRender,
        committed: CommittedInputs,
        commit: str | None,
        hub_dir: str,
    ) -> frozenset[str]:
        """The current nodes Ready in the cluster with exactly their committed content."""
        inventories: dict[str, dict[str, str]] = {}
        unread: list[str] = []
        for name in nodes.current:
            if name not in live or not rollout.live_ready(live[name], _claimed(live[name])):
                continue  # not Ready for whatever content it has: no need to read Git
            node = render.nodes.get(name)
            if node is not None:
                entries = [c.entry for c in node.children] + list(node.withheld.values())
                inventories[name] = {e.id: e.hash for e in entries}
            elif (name, committed.digests.get(name, "")) in self._inventories:
                inventories[name] = self._inventories[(name, committed.digests.get(name, ""))]
            else:
                unread.append(name)
        if unread and commit is not None:
            files = self.git.list_nodes(commit, hub_dir, unread, sharded=self.sharded)
            paths = {
                owner: p
                for p in files
                if p.endswith(f"/{NODE_FILE}") and (owner := path_owner(p)) is not None
            }
            blobs = self.git.read_blobs([files[p] for p in paths.values()])
            for name, path in paths.items():
                inventory = previous_inventory(blobs.get(files[path]))
                found = {rid: e.hash for rid, e in inventory.items()}
                inventories[name] = found
                self._inventories[(name, committed.digests.get(name, ""))] = found
        return frozenset(n for n, inv in inventories.items() if rollout.live_ready(live[n], inv))

    def write_status(
        self, hub: LynqHub, result: HubRollout, *, now: dt.datetime | None = None
    ) -> int:
        """Patch each rolling form's ``status.rollout`` and ``Progressing`` condition where
        they changed; the number of writes. Errors are logged, never raised: the next sync
        writes again."""
        writes = 0
        namespace = hub.metadata.namespace
        if result.unreadable:  # warned once already; the next sync writes
            return writes
        for decision in result.decisions:
            try:
                client = self._connect()
                form = client.get_object(LYNQ_FORM, namespace, decision.form)
                if form is None:
                    continue
                patch = rollout.form_status_patch(
                    form,
                    decision,
                    result.deadlines.get(decision.form, 600),
                    now=now or dt.datetime.now(dt.UTC),
                )
                if patch is not None and client.patch_status(
                    LYNQ_FORM, namespace, decision.form, patch
                ):
                    writes += 1
            except ClusterUnavailable as exc:
                log.warning(
                    "cannot write the rollout status of LynqForm %s/%s: %s",
                    namespace,
                    decision.form,
                    one_line(str(exc)),
                )
        return writes


def _claimed(live: Mapping[str, Any]) -> dict[str, str]:
    """The inventory a listed LynqNode's spec claims (id -> hash)."""
    spec = live.get("spec") or {}
    entries = spec.get("resources") or [] if isinstance(spec, Mapping) else []
    return {str(e.get("id")): str(e.get("hash")) for e in entries if isinstance(e, Mapping)}


def _with(nodes: rollout.FormNodes, **changes: Any) -> rollout.FormNodes:
    return rollout.FormNodes(
        settings=nodes.settings,
        revision=nodes.revision,
        pending=nodes.pending,
        current=nodes.current,
        ready=changes.get("ready", nodes.ready),
        changed_at=changes.get("changed_at", nodes.changed_at),
    )
