"""End to end through real Argo CD: argocd-application-controller and argocd-repo-server sync the
per-node Applications the bridge commits (app-of-apps), kube-controller-manager, the scheduler and
kwok run them, the reporter reports, and the shipped Lua check turns that into health.

The scenarios are in ``scenarios.py`` (shared with Flux); the tests run in file order on one
bridge daemon, each with its own tenants.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import scenarios
from apiclient import ApiClient
from e2e_bridge import E2EBridge, eventually
from stack import ARGOCD_NAMESPACE, Stack


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[ApiClient]:
    with stack.plane.api() as client:
        scenarios.register_kinds(client)
        yield client


def application(api: ApiClient, bridge: E2EBridge, uid: str) -> Any:
    """The Application of one tenant's node (found by the bridge's labels)."""
    for app in api.list("argoproj.io/v1alpha1", "Application", ARGOCD_NAMESPACE):
        labels = app["metadata"].get("labels", {})
        if labels.get("lynq.sh/uid") == uid and labels.get("lynq.sh/node-namespace") == (
            bridge.hub_namespace
        ):
            return app
    return None


def health(api: ApiClient, bridge: E2EBridge, uid: str) -> str | None:
    app = application(api, bridge, uid)
    return (app or {}).get("status", {}).get("health", {}).get("status")


def test_insert_becomes_running_pods_and_a_ready_lynqnode(
    argocd_bridge: E2EBridge, api: ApiClient
) -> None:
    scenarios.insert_becomes_ready(argocd_bridge, api)


def test_application_health_is_the_lynqnodes_through_the_shipped_lua_check(
    argocd_bridge: E2EBridge, api: ApiClient
) -> None:
    """(8) The node's Application is Healthy once the LynqNode is Ready, and its LynqNode
    resource carries the health message the Lua check derived from the Ready condition."""
    eventually(
        "alpha's Application Healthy", lambda: health(api, argocd_bridge, "alpha") == "Healthy"
    )
    app = application(api, argocd_bridge, "alpha")
    assert app["status"]["sync"]["status"] == "Synced"
    (node,) = [r for r in app["status"]["resources"] if r["kind"] == "LynqNode"]
    assert node["health"]["status"] == "Healthy"
    ready = scenarios.condition(scenarios.node_of(argocd_bridge, api, "alpha"), "Ready")
    assert ready is not None
    assert node["health"].get("message") == (ready.get("message") or ready["reason"])


def test_update_rolls_only_that_tenants_deployment(
    argocd_bridge: E2EBridge, api: ApiClient
) -> None:
    scenarios.update_rolls_only_that_tenant(argocd_bridge, api)


def test_delete_prunes_the_stack_but_keeps_retain_objects(
    argocd_bridge: E2EBridge, api: ApiClient
) -> None:
    scenarios.delete_prunes_except_retain(argocd_bridge, api)


def test_create_once_objects_are_not_updated(argocd_bridge: E2EBridge, api: ApiClient) -> None:
    scenarios.create_once_is_not_updated(argocd_bridge, api)


def test_dependency_order_is_observed(argocd_bridge: E2EBridge, api: ApiClient) -> None:
    scenarios.dependency_order(argocd_bridge, api)


def test_stuck_conflict_is_reported_and_the_application_is_degraded(
    argocd_bridge: E2EBridge, api: ApiClient
) -> None:
    scenarios.stuck_conflict_is_reported(argocd_bridge, api)
    eventually(
        "golf's Application Degraded (the Lua check reads Stalled)",
        lambda: health(api, argocd_bridge, "golf") == "Degraded",
    )


def test_broken_form_keeps_that_tenants_object_and_updates_the_others(
    argocd_bridge: E2EBridge, api: ApiClient
) -> None:
    scenarios.broken_form_keeps_previous_object(argocd_bridge, api)


def test_controllers_are_still_running(stack: Stack) -> None:
    assert stack.check_alive() == []
