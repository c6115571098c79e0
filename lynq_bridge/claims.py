"""``conflictPolicy: Stuck`` before the commit: look up the objects new to a node in the cluster.

Argo CD and Flux apply with server-side apply and force: an object the bridge commits is taken
over even when a person made it by hand, and once it carries the node's labels the reporter can
no longer tell. Lynq's ``Stuck`` never touches an object that belongs to someone else, so with
cluster access (``spec.report.enabled``, through ``spec.report.kubeconfig``) a sync asks the
cluster about every ``Stuck`` object that has no committed file in its node yet
(``core.conflicts.stuck_claims``); one that exists and belongs to someone else (the reporter's
rule, ``core.status.foreign_owner``) is withheld from Git and stays in the node's inventory, so
the reporter reports the node Conflicted. The node is rendered and checked again every sync
until the person deletes the object or the form says ``conflictPolicy: Force``. Without cluster
access nothing is looked up, and the engine adopts such an object.

Fail closed: when the cluster cannot answer (unreachable, refused, timed out), the objects not
yet checked are withheld too, with a message saying they wait for the check; everything else is
committed and the next sync asks again. One warning sentence per sync, not one per object.

Cost (SPEC §12): a kind with at most ``GET_LIMIT`` objects to check costs one GET each; a larger
group (the first sync of thousands of rows) one paged list of that kind's metadata, in the one
namespace the objects share or else in all namespaces. Objects already committed cost nothing,
so a steady daemon does no lookups at all. The connection is opened at the first lookup and
kept for the life of the ``Syncer``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lynq_bridge.adapters.cluster import ClusterClient, LazyConnection
from lynq_bridge.config.models import BridgeSpec, LynqHub
from lynq_bridge.core.conflicts import Claim, Withheld, stuck_claims, withhold_foreign
from lynq_bridge.core.inputs import node_blobs, object_files
from lynq_bridge.core.paths import one_line
from lynq_bridge.core.rendering import HubRender
from lynq_bridge.core.status import foreign_owner
from lynq_bridge.errors import ClusterUnavailable

log = logging.getLogger("lynq_bridge.claims")

GET_LIMIT = 20  # objects of one kind looked up one by one; above it, one list of the kind
TIMEOUT = 10.0  # seconds per request: how long a sync waits for a silent API server


class ClaimCheck(LazyConnection):
    """Looks up a hub's new ``Stuck`` objects over one lazily opened cluster connection."""

    def __init__(self, spec: BridgeSpec) -> None:
        super().__init__(spec.report.kubeconfig, timeout=TIMEOUT)
        self.enabled = spec.report.enabled

    def would_ask(self, render: HubRender, existing: Mapping[str, str]) -> bool:
        """Whether ``withhold`` would ask the cluster about objects of ``render``."""
        return self.enabled and bool(stuck_claims(render, object_files(node_blobs(existing))))

    def withhold(self, hub: LynqHub, render: HubRender, existing: Mapping[str, str]) -> None:
        """Withhold from ``render`` the ``Stuck`` objects new to their node (``existing``: the
        committed hub directory, paths relative to it) that belong to someone else or could not
        be checked; never raises for the cluster's sake."""
        if not self.enabled:
            return
        claims = stuck_claims(render, object_files(node_blobs(existing)))
        if not claims:
            return
        started = time.monotonic()
        groups: dict[tuple[str, str], list[Claim]] = {}
        for claim in claims:
            groups.setdefault((claim.api_version, claim.kind), []).append(claim)
        ordered = [groups[k] for k in sorted(groups)]
        found: dict[tuple[str, str], Mapping[str, Any]] = {}
        unchecked: list[Claim] = []
        cause = ""
        requests = 0
        try:
            client = self._connect()
        except ClusterUnavailable as exc:
            unchecked, cause = claims, _clause(exc)
        else:
            before = client.requests
            for index, group in enumerate(ordered):
                try:
                    found.update(fetch_claimed(client, group))
                except ClusterUnavailable as exc:
                    # The other kinds would wait the same way: one timeout, not one per kind.
                    unchecked = [c for g in ordered[index:] for c in g]
                    cause = _clause(exc)
                    break
            requests = client.requests - before
        namespace = hub.metadata.namespace
        withheld = {c.key: Withheld(cause, checked=False) for c in unchecked}
        for claim in claims:
            obj = found.get(claim.key)
            why = None if obj is None else foreign_owner(obj, node=claim.node, namespace=namespace)
            if why is not None:
                withheld[claim.key] = Withheld(why, checked=True)
        withhold_foreign(render, hub.metadata.name, withheld)
        where = f"hub {namespace}/{hub.metadata.name}"
        if unchecked:
            log.warning(
                "%s",
                one_line(
                    f"could not check {len(unchecked)} new conflictPolicy Stuck object(s) of "
                    f"{where} in the cluster: {cause}; they are withheld from Git until a sync "
                    "can check them"
                ),
            )
        log.debug(
            "checked %d new conflictPolicy Stuck object(s) of %s in the cluster: requests=%d "
            "foreign=%d unchecked=%d seconds=%.3f",
            len(claims),
            where,
            requests,
            len(withheld) - len(unchecked),
            len(unchecked),
            time.monotonic() - started,
        )


def fetch_claimed(
    client: ClusterClient, claims: Sequence[Claim]
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The objects of ``claims`` (all of one kind) that exist, as metadata, by claim key; a
    kind the API server does not serve has none. Raises ``ClusterUnavailable``.

    Up to ``GET_LIMIT`` objects cost a GET each; more cost one paged list of the kind, in the
    one namespace they share or else in all namespaces."""
    first = claims[0]
    rtype = client.resource_type(first.api_version, first.kind)
    if rtype is None:
        return {}

    def address(claim: Claim) -> tuple[str | None, str]:
        # A cluster-scoped kind ignores the namespace the renderer may have given it.
        return (claim.namespace if rtype.namespaced else None, claim.name)

    wanted: dict[tuple[str | None, str], list[Claim]] = {}
    for claim in claims:
        wanted.setdefault(address(claim), []).append(claim)
    objects: dict[tuple[str | None, str], Mapping[str, Any]] = {}
    if len(wanted) <= GET_LIMIT:
        for namespace, name in sorted(wanted, key=lambda k: (k[0] or "", k[1])):
            obj = client.get_object(rtype, namespace, name, metadata_only=True)
            if obj is not None:
                objects[(namespace, name)] = obj
    else:
        namespaces = {namespace for namespace, _ in wanted}
        scope = namespaces.pop() if len(namespaces) == 1 else None
        for obj in client.list_objects(rtype, scope, missing_ok=True, metadata_only=True):
            meta = obj.get("metadata") or {}
            key = (meta.get("namespace") if rtype.namespaced else None, meta.get("name", ""))
            if key in wanted:
                objects[key] = obj
    return {c.key: obj for key, obj in objects.items() for c in wanted[key]}


def _clause(exc: ClusterUnavailable) -> str:
    """An adapter's sentence as a clause inside ours."""
    text = str(exc).strip().rstrip(".")
    return text[:1].lower() + text[1:]
