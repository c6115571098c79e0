"""End to end through real Flux: source-controller and kustomize-controller apply what the bridge
commits, kube-controller-manager, the scheduler and kwok run it, the reporter reports it.

The scenarios are in ``scenarios.py`` (shared with Argo CD); the tests run in file order on one
bridge daemon, each with its own tenants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import scenarios
from apiclient import ApiClient
from e2e_bridge import E2EBridge, eventually
from stack import FLUX_NAMESPACE, Stack


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[ApiClient]:
    with stack.plane.api() as client:
        scenarios.register_kinds(client)
        yield client


def test_insert_becomes_running_pods_and_a_ready_lynqnode(
    flux_bridge: E2EBridge, api: ApiClient
) -> None:
    scenarios.insert_becomes_ready(flux_bridge, api)


def test_each_level_is_a_kustomization_that_depends_on_the_one_before(
    flux_bridge: E2EBridge, api: ApiClient
) -> None:
    """(5, Flux's side) The levels of alpha are Kustomizations chained with dependsOn, and all
    of them become Ready (each health-checks its level: ``wait: true``)."""

    def alphas() -> dict[str, Any]:
        return {
            k["metadata"]["name"]: k
            for k in api.list("kustomize.toolkit.fluxcd.io/v1", "Kustomization", FLUX_NAMESPACE)
            if k["metadata"].get("labels", {}).get("lynq.sh/uid") == "alpha"
        }

    def all_ready() -> dict[str, Any] | None:
        found = alphas()
        ready = [scenarios.condition(k, "Ready") for k in found.values()]
        return found if all(r and r["status"] == "True" for r in ready) else None

    kustomizations = eventually("alpha's Kustomizations Ready", all_ready)
    names = sorted(kustomizations)
    assert len(names) == 4, names  # namespace, settings, app, service: depths 0-3
    for index, name in enumerate(names):
        depends = [d["name"] for d in kustomizations[name]["spec"].get("dependsOn", [])]
        assert depends == ([names[index - 1]] if index else []), (name, depends)
        # This bridge uses git.layout: sharded: each level is applied from the node's shard.
        node = kustomizations[name]["metadata"]["labels"]["lynq.sh/node"]
        shard = hashlib.sha256(node.encode()).hexdigest()[:2]
        path = f"./lynq/{flux_bridge.hub_namespace}/tenants/{shard}/{node}/level-{index}"
        assert kustomizations[name]["spec"]["path"] == path


def test_update_rolls_only_that_tenants_deployment(flux_bridge: E2EBridge, api: ApiClient) -> None:
    scenarios.update_rolls_only_that_tenant(flux_bridge, api)


def test_delete_prunes_the_stack_but_keeps_retain_objects(
    flux_bridge: E2EBridge, api: ApiClient
) -> None:
    scenarios.delete_prunes_except_retain(flux_bridge, api)


def test_create_once_objects_are_not_updated(flux_bridge: E2EBridge, api: ApiClient) -> None:
    scenarios.create_once_is_not_updated(flux_bridge, api)


def test_dependency_order_is_observed(flux_bridge: E2EBridge, api: ApiClient) -> None:
    scenarios.dependency_order(flux_bridge, api)


def test_stuck_conflict_is_reported_on_the_lynqnode(flux_bridge: E2EBridge, api: ApiClient) -> None:
    scenarios.stuck_conflict_is_reported(flux_bridge, api)


def test_broken_form_keeps_that_tenants_object_and_updates_the_others(
    flux_bridge: E2EBridge, api: ApiClient
) -> None:
    scenarios.broken_form_keeps_previous_object(flux_bridge, api)


def test_controllers_are_still_running(stack: Stack) -> None:
    assert stack.check_alive() == []
