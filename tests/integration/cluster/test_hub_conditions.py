"""The sync's conditions on a LynqHub in a real API server (SPEC §6.5, §8 roll-ups)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cluster_objects import HUB, condition, lynq_hub
from controlplane import ApiClient, ControlPlane

from lynq_bridge.adapters.cluster import ClusterClient
from lynq_bridge.hubstatus import write_hub_conditions
from lynq_bridge.sync import HubResult

T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)


def hub(api: ApiClient, namespace: str) -> dict[str, Any]:
    return api.get("operator.lynq.sh/v1", "LynqHub", HUB, namespace)


def test_hub_conditions_follow_sync_outcomes_and_skip_unchanged_writes(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    api.create(lynq_hub(namespace))
    key = f"{namespace}/{HUB}"
    with ClusterClient(str(kube.kubeconfig)) as client:
        failed = HubResult(hub=key, failure="cannot read table tenants of hub x: refused")
        assert write_hub_conditions(client, failed, now=T0)
        status = hub(api, namespace)["status"]
        source = condition(status, "SourceReady")
        assert source is not None
        assert (source["status"], source["reason"]) == ("False", "QueryFailed")
        ready = condition(status, "Ready")  # Lynq's condition and reason beside ours
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "DatabaseConnectionFailed")
        assert condition(status, "Rendered") is None  # nothing was rendered

        version = hub(api, namespace)["metadata"]["resourceVersion"]
        assert not write_hub_conditions(client, failed, now=T0 + dt.timedelta(minutes=1))
        assert hub(api, namespace)["metadata"]["resourceVersion"] == version

        held = HubResult(hub=key, held=3, errors=["failed to render resource"])
        assert write_hub_conditions(client, held, now=T0 + dt.timedelta(minutes=2))
        status = hub(api, namespace)["status"]
        guard = condition(status, "DeletionGuardTriggered")
        assert guard is not None
        assert (guard["status"], guard["reason"]) == ("True", "RemovalsHeld")
        assert "3 node removal(s) are held" in guard["message"]
        source = condition(status, "SourceReady")
        assert source is not None and source["status"] == "True"
        assert source["lastTransitionTime"] == "2030-01-01T12:02:00Z"
        rendered = condition(status, "Rendered")
        assert rendered is not None and rendered["reason"] == "RenderErrors"

        fine = HubResult(hub=key)
        assert write_hub_conditions(client, fine, now=T0 + dt.timedelta(minutes=3))
        status = hub(api, namespace)["status"]
        source = condition(status, "SourceReady")
        assert source is not None and source["lastTransitionTime"] == "2030-01-01T12:02:00Z"
        ready = condition(status, "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("True", "DatabaseConnected")
        guard = condition(status, "DeletionGuardTriggered")
        assert guard is not None and guard["status"] == "False"


def test_missing_hub_is_skipped(kube: ControlPlane, namespace: str) -> None:
    with ClusterClient(str(kube.kubeconfig)) as client:
        assert not write_hub_conditions(client, HubResult(hub=f"{namespace}/absent"))
