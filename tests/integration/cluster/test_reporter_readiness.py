"""The reporter against a real API server: children move through their states as controllers
would move them (by patching the status subresource) and LynqNode status follows."""

from __future__ import annotations

import pytest
from cluster_objects import (
    Clock,
    Report,
    child,
    condition,
    entry,
    events_for,
    lynq_node,
    node_status,
    states,
)
from controlplane import ApiClient

pytestmark = pytest.mark.cluster


def test_deployment_rollout_flips_node_ready_when_all_replicas_are_available(
    api: ApiClient, namespace: str, report: Report, clock: Clock
) -> None:
    deployment = api.create(child("Deployment", "app", namespace, "acme-web"))
    api.create(child("ConfigMap", "settings", namespace, "acme-web"))
    node = api.create(
        lynq_node(
            "acme-web",
            namespace,
            [
                entry("settings", "ConfigMap", "settings", namespace),
                entry("app", "Deployment", "app", namespace, dependIds=["settings"]),
            ],
        )
    )
    rolling = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
    }
    api.patch_status(deployment, rolling)

    first = report()

    assert (first.nodes, first.writes, first.errors) == (1, 1, 0)
    status = node_status(api, namespace, "acme-web")
    assert status["observedGeneration"] == node["metadata"]["generation"]
    assert (status["desiredResources"], status["readyResources"]) == (2, 1)
    assert states(status) == {"settings": "Ready", "app": "NotReady"}
    ready = condition(status, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "NotAllResourcesReady")
    assert condition(status, "Reconciling") is not None
    assert condition(status, "Stalled") is None
    progressing = condition(status, "Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("True", "Reconciling")
    degraded = condition(status, "Degraded")
    assert degraded is not None
    assert (degraded["status"], degraded["reason"]) == ("True", "ResourcesNotReady")
    conflicted = condition(status, "Conflicted")
    assert conflicted is not None
    assert (conflicted["status"], conflicted["reason"]) == ("False", "NoConflict")
    first_flip = ready["lastTransitionTime"]

    clock.advance(30)
    api.patch_status(
        deployment, {**rolling, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    )
    second = report()

    assert (second.writes, second.errors) == (1, 0)
    status = node_status(api, namespace, "acme-web")
    assert (status["readyResources"], status["failedResources"]) == (2, 0)
    ready = condition(status, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("True", "Reconciled")
    assert ready["lastTransitionTime"] != first_flip
    assert condition(status, "Reconciling") is None
    conflicted = condition(status, "Conflicted")
    assert conflicted is not None
    assert conflicted["lastTransitionTime"] == "2030-01-01T12:00:00Z"  # no flip, no move
    assert [e["reason"] for e in events_for(api, namespace, "acme-web")] == ["RolloutComplete"]


def test_failed_job_fails_the_node_and_skips_its_dependents(
    api: ApiClient, namespace: str, report: Report
) -> None:
    job = api.create(child("Job", "migrate", namespace, "acme-web"))
    api.create(child("Deployment", "app", namespace, "acme-web"))
    api.create(child("ConfigMap", "extra", namespace, "acme-web"))
    api.create(
        lynq_node(
            "acme-web",
            namespace,
            [
                entry("migrate", "Job", "migrate", namespace),
                entry("app", "Deployment", "app", namespace, dependIds=["migrate"]),
                entry(
                    "extra",
                    "ConfigMap",
                    "extra",
                    namespace,
                    dependIds=["migrate"],
                    skipOnDependencyFailure=False,
                ),
            ],
        )
    )
    now = "2030-01-01T12:00:00Z"
    api.patch_status(
        job,
        {
            "startTime": now,
            "failed": 1,
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastTransitionTime": now,
                },
            ],
        },
    )

    result = report()

    assert result.errors == 0
    status = node_status(api, namespace, "acme-web")
    assert states(status) == {"migrate": "Failed", "app": "Skipped", "extra": "Ready"}
    counters = (
        status["readyResources"],
        status["failedResources"],
        status["skippedResources"],
    )
    assert counters == (1, 1, 1)
    ready, stalled = condition(status, "Ready"), condition(status, "Stalled")
    assert ready is not None and stalled is not None
    assert (ready["status"], ready["reason"]) == ("False", "ResourcesFailed")
    assert (stalled["status"], stalled["reason"]) == ("True", "ResourcesFailed")
    degraded = condition(status, "Degraded")
    assert degraded is not None
    assert (degraded["status"], degraded["reason"]) == ("True", "ResourceFailures")
    assert condition(status, "Reconciling") is None
    reasons = sorted(e["reason"] for e in events_for(api, namespace, "acme-web"))
    assert reasons == ["DependencySkipped", "RolloutAborted"]


def test_pending_claim_becomes_ready_when_bound(
    api: ApiClient, namespace: str, report: Report
) -> None:
    claim = api.create(child("PersistentVolumeClaim", "data", namespace, "acme-web"))
    api.create(
        lynq_node(
            "acme-web", namespace, [entry("data", "PersistentVolumeClaim", "data", namespace)]
        )
    )
    api.patch_status(claim, {"phase": "Pending"})

    report()
    pending = node_status(api, namespace, "acme-web")
    api.patch_status(claim, {"phase": "Bound"})
    report()
    bound = node_status(api, namespace, "acme-web")

    assert states(pending) == {"data": "NotReady"}
    assert pending["resources"][0]["reason"] == "NotBound"
    assert states(bound) == {"data": "Ready"}
    ready = condition(bound, "Ready")
    assert ready is not None and ready["status"] == "True"


def test_load_balancer_service_is_ready_only_with_an_ingress_address(
    api: ApiClient, namespace: str, report: Report
) -> None:
    lb = api.create(
        child("Service", "public", namespace, "acme-web", spec={"type": "LoadBalancer"})
    )
    api.create(child("Service", "internal", namespace, "acme-web"))
    api.create(
        lynq_node(
            "acme-web",
            namespace,
            [
                entry("public", "Service", "public", namespace),
                entry("internal", "Service", "internal", namespace),
            ],
        )
    )

    report()
    waiting = node_status(api, namespace, "acme-web")
    api.patch_status(lb, {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}})
    report()
    served = node_status(api, namespace, "acme-web")

    assert states(waiting) == {"public": "NotReady", "internal": "Ready"}
    assert waiting["resources"][0]["reason"] == "LoadBalancerPending"
    assert states(served) == {"public": "Ready", "internal": "Ready"}


def test_custom_resource_readiness_follows_its_ready_condition(
    api: ApiClient, namespace: str, report: Report
) -> None:
    plain = api.create(child("Widget", "plain", namespace, "acme-web"))
    gated = api.create(child("Widget", "gated", namespace, "acme-web"))
    api.create(
        lynq_node(
            "acme-web",
            namespace,
            [
                entry("plain", "Widget", "plain", namespace),
                entry("gated", "Widget", "gated", namespace),
            ],
        )
    )
    api.patch_status(
        gated, {"conditions": [{"type": "Ready", "status": "False", "reason": "Provisioning"}]}
    )

    report()
    before = node_status(api, namespace, "acme-web")
    api.patch_status(gated, {"conditions": [{"type": "Ready", "status": "True", "reason": "Done"}]})
    report()
    after = node_status(api, namespace, "acme-web")

    assert plain["kind"] == "Widget"
    assert states(before) == {"plain": "Ready", "gated": "NotReady"}
    assert "Provisioning" in before["resources"][1]["message"]
    assert states(after) == {"plain": "Ready", "gated": "Ready"}
    ready = condition(after, "Ready")
    assert ready is not None and ready["status"] == "True"
