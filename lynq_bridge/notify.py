"""Push notification: after a push, ask Flux and Argo CD to fetch the new commit now.

Without it the engines find a commit at their next poll (Argo CD every 3 minutes, Flux at the
GitRepository's ``interval``). With ``spec.notify.enabled`` the bridge annotates, after each
pushed commit of a hub:

- Flux (``target: flux`` or ``both``): the ``GitRepository`` of ``spec.flux.sourceRef`` with
  ``reconcile.fluxcd.io/requestedAt: <now>``, Flux's reconcile request; source-controller
  fetches, and the Kustomizations follow the new artifact. An ``OCIRepository`` or ``Bucket``
  source is not fed by the bridge's push, so it is not notified;
- Argo CD (``target: argocd`` or ``both``): ``argocd.argoproj.io/refresh: normal`` on the
  Applications of ``spec.notify.applications`` (the hub's root, which creates and prunes the
  nodes' Applications) and on the Applications of the nodes whose files the commit changed.
  A node the commit adds or removes is left to the root: its Application does not exist yet,
  or is about to be pruned.

Apart from ``sync`` because it is best effort: a notification that fails is one warning
sentence and a metric, never a failed sync, and the engine's own poll still comes. Which objects
to annotate (``recipients_for``, ``changed_nodes``) is pure; ``Notifier`` does the requests
over one connection, opened at the first push and kept for the life of the daemon.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lynq_bridge.adapters.cluster import LazyConnection, ResourceType
from lynq_bridge.config.models import BridgeSpec, LynqHub
from lynq_bridge.core.layout import path_owner
from lynq_bridge.core.paths import one_line
from lynq_bridge.core.planning import HubPlan
from lynq_bridge.errors import ClusterUnavailable
from renderers.common import engine_name

log = logging.getLogger("lynq_bridge.notify")

FLUX_REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
ARGOCD_REFRESH = "argocd.argoproj.io/refresh"
GIT_REPOSITORY = ResourceType(
    "source.toolkit.fluxcd.io/v1", "GitRepository", "gitrepositories", namespaced=True
)
APPLICATION = ResourceType("argoproj.io/v1alpha1", "Application", "applications", namespaced=True)

Engine = Literal["flux", "argocd"]
Outcome = Literal["ok", "missing", "failed", "skipped"]
ENGINES: dict[str, tuple[Engine, ...]] = {
    "plain": (),
    "flux": ("flux",),
    "argocd": ("argocd",),
    "both": ("flux", "argocd"),
}
ENGINE_NAMES: dict[Engine, str] = {"flux": "Flux", "argocd": "Argo CD"}


@dataclass(frozen=True)
class Recipient:
    """One object to annotate after a push."""

    engine: Engine
    rtype: ResourceType
    namespace: str
    name: str
    # Whether its absence is a problem: the configured GitRepository and root Applications must
    # exist; a node's Application may not yet (its root has not synced the node in).
    required: bool

    def describe(self) -> str:
        return f"{self.rtype.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Notification:
    """What happened to one recipient: annotated (``ok``); a node's Application that does not
    exist yet (``missing``, expected); refused, unreachable or a configured object that does not
    exist (``failed``); not tried after the engine's connection or rights failed (``skipped``)."""

    recipient: Recipient
    outcome: Outcome


def changed_nodes(plan: HubPlan) -> list[str]:
    """The nodes whose files ``plan`` changes and that exist before and after it, sorted.

    Added and removed nodes are left out: the root's sync creates or prunes their Applications.
    """
    gone = {node.name for node in plan.added} | set(plan.removed)
    owners = {path_owner(path) for path in (*plan.written, *plan.deletes)}
    return sorted(node for node in owners if node is not None and node not in gone)


def recipients_for(spec: BridgeSpec, hub: LynqHub, nodes: Iterable[str]) -> list[Recipient]:
    """The objects to annotate after a push of ``hub`` that changed ``nodes``, in request order
    (each engine's configured objects first), without repeats."""
    engines = ENGINES[spec.target]
    found: list[Recipient] = []
    source = spec.flux.sourceRef
    if "flux" in engines and source.kind == GIT_REPOSITORY.kind:
        namespace = source.namespace or spec.flux.namespace
        found.append(Recipient("flux", GIT_REPOSITORY, namespace, source.name, required=True))
    if "argocd" in engines:
        for app in spec.notify.applications:
            namespace = app.namespace or spec.argocd.namespace
            found.append(Recipient("argocd", APPLICATION, namespace, app.name, required=True))
        for node in sorted(set(nodes)):
            name = engine_name(hub.metadata.namespace, node)  # as renderers/argocd.py names it
            found.append(
                Recipient("argocd", APPLICATION, spec.argocd.namespace, name, required=False)
            )
    seen: set[tuple[str, str, str]] = set()
    unique: list[Recipient] = []
    for recipient in found:
        key = (recipient.rtype.kind, recipient.namespace, recipient.name)
        if key not in seen:
            seen.add(key)
            unique.append(recipient)
    return unique


def annotation_of(recipient: Recipient, now: dt.datetime) -> dict[str, str]:
    """The annotation that asks the recipient's engine to fetch now."""
    if recipient.engine == "flux":
        # Microseconds: Flux acts when the value differs from the last one it handled, and two
        # pushes may come within a second.
        return {FLUX_REQUESTED_AT: now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    return {ARGOCD_REFRESH: "normal"}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Notifier(LazyConnection):
    """Notifies the engines of a config's pushes over one lazily opened cluster connection."""

    def __init__(
        self,
        spec: BridgeSpec,
        *,
        now: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        super().__init__(
            spec.notify.kubeconfig or spec.report.kubeconfig,
            timeout=float(spec.notify.timeoutSeconds),
        )
        self.spec = spec
        self.settings = spec.notify
        self._now = now

    def notify(self, hub: LynqHub, nodes: Sequence[str], *, commit: str) -> list[Notification]:
        """Annotate the recipients of a push of ``commit``; never raises for the cluster's sake.

        After a refused or unanswered request, the rest of that engine's recipients are skipped
        (they would fail the same way): an unreachable API server costs one timeout and one
        warning per engine, not one per node.
        """
        if not self.settings.enabled:
            return []
        recipients = recipients_for(self.spec, hub, nodes)
        if not recipients:
            return []
        started = time.monotonic()
        where = f"of commit {commit[:12]} of hub {hub.metadata.namespace}/{hub.metadata.name}"
        try:
            client = self._connect()
        except ClusterUnavailable as exc:
            engines = sorted({ENGINE_NAMES[r.engine] for r in recipients})
            _warn(f"could not notify {' and '.join(engines)} {where}: {_cause(exc)}")
            return [Notification(r, "failed") for r in recipients]
        now = self._now()
        broken: set[Engine] = set()
        out: list[Notification] = []
        for index, recipient in enumerate(recipients):
            if recipient.engine in broken:
                out.append(Notification(recipient, "skipped"))
                continue
            engine = ENGINE_NAMES[recipient.engine]
            try:
                found = client.patch_annotations(
                    recipient.rtype,
                    recipient.namespace,
                    recipient.name,
                    annotation_of(recipient, now),
                )
            except ClusterUnavailable as exc:
                broken.add(recipient.engine)
                rest = sum(1 for r in recipients[index + 1 :] if r.engine == recipient.engine)
                more = f"; {rest} more object(s) not tried" if rest else ""
                _warn(
                    f"could not notify {engine} {where} through {recipient.describe()}: "
                    f"{_cause(exc)}{more}"
                )
                out.append(Notification(recipient, "failed"))
                continue
            out.append(self._found(recipient, found=found, where=where))
        counts = {o: sum(1 for n in out if n.outcome == o) for o in ("ok", "missing", "failed")}
        log.debug(
            "notified the engines %s: ok=%d missing=%d failed=%d skipped=%d seconds=%.3f",
            where,
            counts["ok"],
            counts["missing"],
            counts["failed"],
            len(out) - sum(counts.values()),
            time.monotonic() - started,
        )
        return out

    @staticmethod
    def _found(recipient: Recipient, *, found: bool, where: str) -> Notification:
        """The outcome of an answered request: annotated, or the object does not exist."""
        if found:
            return Notification(recipient, "ok")
        engine = ENGINE_NAMES[recipient.engine]
        if recipient.required:
            _warn(
                f"could not notify {engine} {where}: {recipient.describe()} does not exist "
                "(or its CRD is not installed)"
            )
            return Notification(recipient, "failed")
        log.debug("not notifying %s: %s does not exist yet", engine, recipient.describe())
        return Notification(recipient, "missing")


def _cause(exc: Exception) -> str:
    """An adapter's sentence as the end of ours."""
    return str(exc).strip().rstrip(".")


def _warn(message: str) -> None:
    log.warning("%s", one_line(message))
