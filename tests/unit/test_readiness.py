"""Readiness per kind (SPEC §8), one row per rule."""

from __future__ import annotations

from typing import Any

import pytest

from lynq_bridge.core.readiness import evaluate


def _workload(generation: int = 1, replicas: int | None = 2, **status: Any) -> dict[str, Any]:
    spec = {} if replicas is None else {"replicas": replicas}
    return {"metadata": {"generation": generation}, "spec": spec, "status": status}


def _conditions(*pairs: tuple[str, str], reason: str = "") -> dict[str, Any]:
    return {
        "status": {
            "conditions": [
                {"type": t, "status": s, **({"reason": reason} if reason else {})} for t, s in pairs
            ]
        }
    }


ROLLED_OUT = {
    "observedGeneration": 1,
    "updatedReplicas": 2,
    "readyReplicas": 2,
    "availableReplicas": 2,
}
STS_ROLLED_OUT = {
    "observedGeneration": 1,
    "updatedReplicas": 2,
    "readyReplicas": 2,
    "currentReplicas": 2,
}
DS_ROLLED_OUT = {
    "observedGeneration": 3,
    "desiredNumberScheduled": 4,
    "currentNumberScheduled": 4,
    "updatedNumberScheduled": 4,
    "numberReady": 4,
    "numberAvailable": 4,
}

CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    # (case id, kind, object, verdict, reason)
    ("namespace-active", "Namespace", {"status": {"phase": "Active"}}, "Ready", "Ready"),
    (
        "namespace-terminating",
        "Namespace",
        {"status": {"phase": "Terminating"}},
        "NotReady",
        "NotActive",
    ),
    ("namespace-no-phase", "Namespace", {}, "NotReady", "NotActive"),
    ("configmap", "ConfigMap", {}, "Ready", "Ready"),
    ("secret", "Secret", {}, "Ready", "Ready"),
    ("serviceaccount", "ServiceAccount", {}, "Ready", "Ready"),
    ("cronjob", "CronJob", {}, "Ready", "Ready"),
    ("pdb", "PodDisruptionBudget", {}, "Ready", "Ready"),
    ("networkpolicy", "NetworkPolicy", {}, "Ready", "Ready"),
    ("service-clusterip", "Service", {"spec": {"type": "ClusterIP"}}, "Ready", "Ready"),
    ("service-default-type", "Service", {"spec": {}}, "Ready", "Ready"),
    (
        "service-lb-pending",
        "Service",
        {"spec": {"type": "LoadBalancer"}},
        "NotReady",
        "LoadBalancerPending",
    ),
    (
        "service-lb-empty-ingress",
        "Service",
        {"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": []}}},
        "NotReady",
        "LoadBalancerPending",
    ),
    (
        "service-lb-address",
        "Service",
        {
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}},
        },
        "Ready",
        "Ready",
    ),
    ("deployment-available", "Deployment", _workload(**ROLLED_OUT), "Ready", "Ready"),
    (
        "deployment-default-one-replica",
        "Deployment",
        _workload(
            replicas=None,
            observedGeneration=1,
            updatedReplicas=1,
            readyReplicas=1,
            availableReplicas=1,
        ),
        "Ready",
        "Ready",
    ),
    (
        "deployment-generation-not-observed",
        "Deployment",
        _workload(generation=2, **ROLLED_OUT),
        "NotReady",
        "GenerationNotObserved",
    ),
    (
        "deployment-rolling",
        "Deployment",
        _workload(**{**ROLLED_OUT, "updatedReplicas": 1}),
        "NotReady",
        "RolloutInProgress",
    ),
    (
        "deployment-not-available",
        "Deployment",
        _workload(**{**ROLLED_OUT, "availableReplicas": 1}),
        "NotReady",
        "RolloutInProgress",
    ),
    (
        "deployment-surge-counts-more",
        "Deployment",
        _workload(**{**ROLLED_OUT, "readyReplicas": 3}),
        "NotReady",
        "RolloutInProgress",
    ),
    (
        "deployment-old-pod-still-counted-ready-while-the-new-one-is-pending",
        "Deployment",
        {
            **_workload(replicas=1),
            "status": {
                "observedGeneration": 1,
                "replicas": 2,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
            },
        },
        "NotReady",
        "RolloutInProgress",
    ),
    (
        "deployment-scaled-to-zero",
        "Deployment",
        _workload(replicas=0, observedGeneration=1),
        "NotReady",
        "ScaledToZero",
    ),
    (
        "deployment-no-status",
        "Deployment",
        {"metadata": {"generation": 1}, "spec": {}},
        "NotReady",
        "GenerationNotObserved",
    ),
    (
        "deployment-deadline-exceeded",
        "Deployment",
        {
            **_workload(**ROLLED_OUT),
            **{
                "status": {
                    **ROLLED_OUT,
                    "conditions": [
                        {
                            "type": "Progressing",
                            "status": "False",
                            "reason": "ProgressDeadlineExceeded",
                            "message": 'ReplicaSet "app-1" has timed out progressing.',
                        }
                    ],
                }
            },
        },
        "Failed",
        "ProgressDeadlineExceeded",
    ),
    ("statefulset-current", "StatefulSet", _workload(**STS_ROLLED_OUT), "Ready", "Ready"),
    (
        "statefulset-old-revision",
        "StatefulSet",
        _workload(**{**STS_ROLLED_OUT, "currentReplicas": 1}),
        "NotReady",
        "RolloutInProgress",
    ),
    (
        "daemonset-all-scheduled",
        "DaemonSet",
        _workload(generation=3, **DS_ROLLED_OUT),
        "Ready",
        "Ready",
    ),
    (
        "daemonset-nothing-scheduled",
        "DaemonSet",
        _workload(generation=3, **{**DS_ROLLED_OUT, "desiredNumberScheduled": 0}),
        "NotReady",
        "NothingScheduled",
    ),
    (
        "daemonset-one-not-ready",
        "DaemonSet",
        _workload(generation=3, **{**DS_ROLLED_OUT, "numberReady": 3}),
        "NotReady",
        "RolloutInProgress",
    ),
    ("job-complete", "Job", _conditions(("Complete", "True")), "Ready", "Ready"),
    (
        "job-failed",
        "Job",
        _conditions(("Failed", "True"), reason="BackoffLimitExceeded"),
        "Failed",
        "JobFailed",
    ),
    ("job-running", "Job", {"status": {"active": 1}}, "NotReady", "JobRunning"),
    ("job-complete-false", "Job", _conditions(("Complete", "False")), "NotReady", "JobRunning"),
    (
        "ingress-rules",
        "Ingress",
        {"spec": {"rules": [{"host": "a.example.com"}]}},
        "Ready",
        "Ready",
    ),
    (
        "ingress-address",
        "Ingress",
        {
            "spec": {"defaultBackend": {}},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
        },
        "Ready",
        "Ready",
    ),
    ("ingress-nothing", "Ingress", {"spec": {"defaultBackend": {}}}, "NotReady", "NoAddress"),
    ("pvc-bound", "PersistentVolumeClaim", {"status": {"phase": "Bound"}}, "Ready", "Ready"),
    (
        "pvc-pending",
        "PersistentVolumeClaim",
        {"status": {"phase": "Pending"}},
        "NotReady",
        "NotBound",
    ),
    ("pvc-lost", "PersistentVolumeClaim", {"status": {"phase": "Lost"}}, "NotReady", "NotBound"),
    ("hpa-able", "HorizontalPodAutoscaler", _conditions(("AbleToScale", "True")), "Ready", "Ready"),
    (
        "hpa-unable",
        "HorizontalPodAutoscaler",
        _conditions(("AbleToScale", "False")),
        "NotReady",
        "NotAbleToScale",
    ),
    ("hpa-no-status", "HorizontalPodAutoscaler", {}, "NotReady", "NotAbleToScale"),
    ("custom-no-conditions", "Widget", {"spec": {}}, "Ready", "Ready"),
    ("custom-empty-conditions", "Widget", {"status": {"conditions": []}}, "Ready", "Ready"),
    ("custom-ready-true", "Widget", _conditions(("Ready", "True")), "Ready", "Ready"),
    (
        "custom-ready-false",
        "Widget",
        _conditions(("Ready", "False"), reason="Provisioning"),
        "NotReady",
        "NotReady",
    ),
    ("custom-ready-unknown", "Widget", _conditions(("Ready", "Unknown")), "NotReady", "NotReady"),
    (
        "custom-other-conditions-only",
        "Widget",
        _conditions(("Synced", "True")),
        "NotReady",
        "NoReadyCondition",
    ),
    (
        "custom-stalled",
        "Widget",
        _conditions(("Ready", "False"), ("Stalled", "True")),
        "Failed",
        "Stalled",
    ),
    ("custom-garbage-conditions", "Widget", {"status": {"conditions": "oops"}}, "Ready", "Ready"),
]


@pytest.mark.parametrize(
    ("kind", "obj", "verdict", "reason"),
    [
        pytest.param(kind, obj, verdict, reason, id=case)
        for case, kind, obj, verdict, reason in CASES
    ],
)
def test_readiness_rule(kind: str, obj: dict[str, Any], verdict: str, reason: str) -> None:
    result = evaluate(kind, obj)

    assert (result.verdict, result.reason) == (verdict, reason)
    assert result.message.endswith(".")
    assert result.ready is (verdict == "Ready")


def test_failed_job_message_names_the_cause_once() -> None:
    job = {
        "status": {
            "conditions": [
                {"type": "Failed", "status": "True", "message": "Job has reached the limit."}
            ]
        }
    }

    assert evaluate("Job", job).message == "The Job failed: Job has reached the limit."


def test_rollout_message_names_the_lagging_counters() -> None:
    deployment = _workload(**{**ROLLED_OUT, "updatedReplicas": 1, "availableReplicas": 0})

    assert evaluate("Deployment", deployment).message == (
        "Rollout in progress: 1 of 2 updated, 0 of 2 available."
    )
