"""Readiness of one live Kubernetes object, per kind (SPEC §8), as a pure function.

The rules are Lynq's (``internal/readiness``): workloads are ready when their controller observed
the current generation and every replica is updated, ready and available; Jobs when they
completed; claims when bound; plain configuration objects as soon as they exist; anything else
(custom resources) when it has no conditions or a ``Ready=True`` condition. Two signals count as
failure rather than "not yet": a Job with ``Failed=True`` and a Deployment whose rollout exceeded
its progress deadline, the same as Lynq; a custom resource with kstatus ``Stalled=True`` also
fails. Time plays no part here: timeouts are decided by ``lynq_bridge.core.status``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Verdict = Literal["Ready", "NotReady", "Failed"]

ALWAYS_READY_KINDS = frozenset(
    {"ConfigMap", "Secret", "ServiceAccount", "CronJob", "PodDisruptionBudget", "NetworkPolicy"}
)


@dataclass(frozen=True)
class Readiness:
    """What the object's own status says: a verdict, a CamelCase reason and a sentence."""

    verdict: Verdict
    reason: str
    message: str

    @property
    def ready(self) -> bool:
        return self.verdict == "Ready"


Check = Callable[[str, Mapping[str, Any]], Readiness]


def _ready(message: str) -> Readiness:
    return Readiness("Ready", "Ready", message)


def _not_ready(reason: str, message: str) -> Readiness:
    return Readiness("NotReady", reason, message)


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _int(obj: Mapping[str, Any], *path: str, default: int = 0) -> int:
    value = _get(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    conditions = _get(obj, "status", "conditions")
    if not isinstance(conditions, Sequence):
        return {}
    return {str(c.get("type")): c for c in conditions if isinstance(c, Mapping) and c.get("type")}


def _is_true(conditions: Mapping[str, Mapping[str, Any]], condition_type: str) -> bool:
    return conditions.get(condition_type, {}).get("status") == "True"


def _detail(condition: Mapping[str, Any], fallback: str) -> str:
    """The condition's message (or reason) without a trailing full stop, for embedding."""
    text = str(condition.get("message") or condition.get("reason") or fallback)
    return text.rstrip(". ")


def _generation_observed(obj: Mapping[str, Any]) -> bool:
    return _int(obj, "status", "observedGeneration") >= _int(obj, "metadata", "generation")


# Status counters in words, for messages.
_COUNTER_WORDS = {
    "updatedReplicas": "updated",
    "readyReplicas": "ready",
    "availableReplicas": "available",
    "currentReplicas": "at the current revision",
    "currentNumberScheduled": "scheduled",
    "updatedNumberScheduled": "updated",
    "numberReady": "ready",
    "numberAvailable": "available",
}


def _lagging(obj: Mapping[str, Any], counters: Sequence[str], desired: int) -> str:
    """``"1 of 2 updated, 0 of 2 available"`` for the counters that differ from ``desired``."""
    values = {name: _int(obj, "status", name) for name in counters}
    return ", ".join(
        f"{value} of {desired} {_COUNTER_WORDS[name]}"
        for name, value in values.items()
        if value != desired
    )


def _replicated(kind: str, obj: Mapping[str, Any], counters: Sequence[str]) -> Readiness:
    if not _generation_observed(obj):
        return _not_ready(
            "GenerationNotObserved",
            f"The {kind} controller has not observed generation "
            f"{_int(obj, 'metadata', 'generation')} yet.",
        )
    replicas = _int(obj, "spec", "replicas", default=1)
    if replicas == 0:
        return _not_ready("ScaledToZero", f"The {kind} is scaled to zero replicas.")
    lagging = _lagging(obj, counters, replicas)
    if lagging:
        return _not_ready("RolloutInProgress", f"Rollout in progress: {lagging}.")
    return _ready(f"All {replicas} replicas are updated, ready and available.")


def _deployment(kind: str, obj: Mapping[str, Any]) -> Readiness:
    progressing = _conditions(obj).get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Readiness(
            "Failed",
            "ProgressDeadlineExceeded",
            f"The rollout exceeded its progress deadline: "
            f"{_detail(progressing, 'no message given')}.",
        )
    found = _replicated(kind, obj, ("updatedReplicas", "readyReplicas", "availableReplicas"))
    # Mid-rollout, the old pods still count as ready and available (one replica: 1 = 1 = 1
    # while the new pod is Pending); like `kubectl rollout status` (and Lynq's rollout check),
    # the rollout is done only when no old replica is left.
    old = _int(obj, "status", "replicas") - _int(obj, "status", "updatedReplicas")
    if found.ready and old > 0:
        return _not_ready(
            "RolloutInProgress", f"Rollout in progress: {old} old replica(s) still running."
        )
    return found


def _statefulset(kind: str, obj: Mapping[str, Any]) -> Readiness:
    return _replicated(kind, obj, ("updatedReplicas", "readyReplicas", "currentReplicas"))


def _daemonset(kind: str, obj: Mapping[str, Any]) -> Readiness:
    if not _generation_observed(obj):
        return _not_ready(
            "GenerationNotObserved", "The DaemonSet controller has not observed the spec yet."
        )
    desired = _int(obj, "status", "desiredNumberScheduled")
    if desired == 0:
        return _not_ready("NothingScheduled", "The DaemonSet has no nodes to run on.")
    names = ("currentNumberScheduled", "updatedNumberScheduled", "numberReady", "numberAvailable")
    lagging = _lagging(obj, names, desired)
    if lagging:
        return _not_ready("RolloutInProgress", f"Rollout in progress: {lagging}.")
    return _ready(f"All {desired} scheduled pods are updated, ready and available.")


def _job(kind: str, obj: Mapping[str, Any]) -> Readiness:
    conditions = _conditions(obj)
    if _is_true(conditions, "Failed"):
        detail = _detail(conditions["Failed"], "no reason given")
        return Readiness("Failed", "JobFailed", f"The Job failed: {detail}.")
    if _is_true(conditions, "Complete"):
        return _ready("The Job completed.")
    return _not_ready("JobRunning", "The Job has not completed yet.")


def _has_ingress_address(obj: Mapping[str, Any]) -> bool:
    ingress = _get(obj, "status", "loadBalancer", "ingress")
    return isinstance(ingress, Sequence) and len(ingress) > 0


def _service(kind: str, obj: Mapping[str, Any]) -> Readiness:
    if _get(obj, "spec", "type") != "LoadBalancer":
        return _ready("The Service exists.")
    if _has_ingress_address(obj):
        return _ready("The load balancer has an ingress address.")
    return _not_ready("LoadBalancerPending", "The load balancer has no ingress address yet.")


def _ingress(kind: str, obj: Mapping[str, Any]) -> Readiness:
    if _has_ingress_address(obj):
        return _ready("The Ingress has a load-balancer address.")
    rules = _get(obj, "spec", "rules")
    if isinstance(rules, Sequence) and rules:
        return _ready("The Ingress has rules.")
    return _not_ready("NoAddress", "The Ingress has neither rules nor a load-balancer address.")


def _phase(expected: str) -> Check:
    def check(kind: str, obj: Mapping[str, Any]) -> Readiness:
        phase = _get(obj, "status", "phase")
        if phase == expected:
            return _ready(f"The {kind} is {expected}.")
        return _not_ready(
            f"Not{expected}", f"The {kind} is {phase or 'without a phase'}, not {expected}."
        )

    return check


def _hpa(kind: str, obj: Mapping[str, Any]) -> Readiness:
    if _is_true(_conditions(obj), "AbleToScale"):
        return _ready("The HorizontalPodAutoscaler is able to scale.")
    return _not_ready("NotAbleToScale", "The HorizontalPodAutoscaler is not able to scale yet.")


def _generic(kind: str, obj: Mapping[str, Any]) -> Readiness:
    conditions = _conditions(obj)
    if _is_true(conditions, "Stalled"):
        detail = _detail(conditions["Stalled"], "no reason given")
        return Readiness("Failed", "Stalled", f"The {kind} is stalled: {detail}.")
    if not conditions:
        return _ready(f"The {kind} exists and reports no conditions.")
    if _is_true(conditions, "Ready"):
        return _ready(f"The {kind} reports Ready=True.")
    ready = conditions.get("Ready")
    if ready is None:
        return _not_ready("NoReadyCondition", f"The {kind} has conditions but no Ready condition.")
    detail = _detail(ready, f"Ready={ready.get('status')}")
    return _not_ready("NotReady", f"The {kind} is not ready: {detail}.")


_CHECKS: dict[str, Check] = {
    "Namespace": _phase("Active"),
    "PersistentVolumeClaim": _phase("Bound"),
    "Service": _service,
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "Job": _job,
    "Ingress": _ingress,
    "HorizontalPodAutoscaler": _hpa,
}


def evaluate(kind: str, obj: Mapping[str, Any]) -> Readiness:
    """The readiness of one live object of ``kind``.

    The kind is passed separately because the items of a list response carry no ``kind``.
    """
    if kind in ALWAYS_READY_KINDS:
        return _ready(f"The {kind} exists.")
    return _CHECKS.get(kind, _generic)(kind, obj)
