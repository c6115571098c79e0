"""The end-to-end scenarios, written once and run against Flux and against Argo CD.

Each scenario changes rows (or the form) of a running bridge and asserts on the cluster's real
state: objects and their fields, pods that kwok made Running, the LynqNode conditions the
reporter wrote. Nothing here reads the Git files. Every scenario uses its own tenants, so a
failure in one does not cascade into the next.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from apiclient import ApiClient, ApiError
from e2e_bridge import E2EBridge, eventually

FORM = "stack"
# Budget for one tenant to go from INSERT to Ready through either engine: sync, apply of three
# dependency levels with health checks, scheduling, kwok, the reporter. Typically 10-30 s.
READY_TIMEOUT = 240

EXTRA_KINDS = [
    ("v1", "Pod", "pods", True),
    ("apps/v1", "ReplicaSet", "replicasets", True),
    ("v1", "Node", "nodes", False),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "kustomizations", True),
    ("source.toolkit.fluxcd.io/v1", "GitRepository", "gitrepositories", True),
    ("argoproj.io/v1alpha1", "Application", "applications", True),
]


def register_kinds(api: ApiClient) -> None:
    for api_version, kind, plural, namespaced in EXTRA_KINDS:
        api.register(api_version, kind, plural, namespaced)


# ---------------------------------------------------------------------------- reading


def get(api: ApiClient, api_version: str, kind: str, name: str, ns: str | None) -> Any:
    """The object, or None when it does not exist."""
    try:
        return api.get(api_version, kind, name, ns)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def condition(obj: Any, kind: str) -> dict[str, Any] | None:
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c["type"] == kind:
            return dict(c)
    return None


def node_of(bridge: E2EBridge, api: ApiClient, uid: str) -> Any:
    return get(api, "operator.lynq.sh/v1", "LynqNode", f"{uid}-{FORM}", bridge.hub_namespace)


def node_ready(bridge: E2EBridge, api: ApiClient, uid: str) -> Any:
    """The LynqNode when the reporter says Ready=True for its current generation."""
    node = node_of(bridge, api, uid)
    ready = condition(node, "Ready")
    if ready and ready["status"] == "True":
        observed = node["status"].get("observedGeneration")
        if observed in (None, node["metadata"]["generation"]):
            return node
    return None


def available_deployment(api: ApiClient, ns: str) -> Any:
    deployment = get(api, "apps/v1", "Deployment", "app", ns)
    status = (deployment or {}).get("status", {})
    done = (
        condition(deployment, "Available") is not None
        and condition(deployment, "Available")["status"] == "True"  # type: ignore[index]
        and status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas") == status.get("replicas") == status.get("readyReplicas")
    )
    return deployment if done else None


def running_pods(api: ApiClient, ns: str) -> list[dict[str, Any]]:
    pods = [p for p in api.list("v1", "Pod", ns) if not p["metadata"].get("deletionTimestamp")]
    return [
        p
        for p in pods
        if p["status"].get("phase") == "Running"
        and condition(p, "Ready") is not None
        and condition(p, "Ready")["status"] == "True"  # type: ignore[index]
    ]


def config_map(api: ApiClient, name: str, ns: str) -> Any:
    return get(api, "v1", "ConfigMap", name, ns)


def wait_ready(bridge: E2EBridge, api: ApiClient, uid: str) -> dict[str, Any]:
    """Wait until the tenant's stack is up and its LynqNode Ready; returns the LynqNode."""
    ns = bridge.tenant_namespace(uid)
    eventually(f"Deployment {ns}/app available", lambda: available_deployment(api, ns),
               timeout=READY_TIMEOUT)  # fmt: skip
    node: dict[str, Any] = eventually(
        f"LynqNode {uid}-{FORM} Ready", lambda: node_ready(bridge, api, uid), timeout=60
    )
    bridge.alive()
    return node


def timestamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------- scenarios


def insert_becomes_ready(bridge: E2EBridge, api: ApiClient) -> None:
    """(1) INSERT → commit → applied → pods Running → LynqNode Ready=True."""
    bridge.insert("alpha", plan="gold")
    node = wait_ready(bridge, api, "alpha")
    ns = bridge.tenant_namespace("alpha")
    pods = running_pods(api, ns)
    assert len(pods) == 1, pods
    assert pods[0]["spec"]["nodeName"] == "kwok-node-0"
    assert pods[0]["spec"]["containers"][0]["env"] == [{"name": "PLAN", "value": "gold"}]
    assert config_map(api, "settings", ns)["data"]["plan"] == "gold"
    service = get(api, "v1", "Service", "web", ns)
    assert service["spec"]["selector"] == {"app": "web"}
    assert node["status"]["readyResources"] == node["status"]["desiredResources"] == 7
    for name in ("alpha-archive", "alpha-welcome", "alpha-profile"):
        assert config_map(api, name, bridge.hub_namespace) is not None, name


def update_rolls_only_that_tenant(bridge: E2EBridge, api: ApiClient) -> None:
    """(2) UPDATE a column → only that tenant's Deployment rolls."""
    bridge.insert("bravo", plan="basic")
    bridge.insert("charlie", plan="basic")
    wait_ready(bridge, api, "bravo")
    wait_ready(bridge, api, "charlie")
    before = {
        uid: available_deployment(api, bridge.tenant_namespace(uid)) for uid in ("bravo", "charlie")
    }
    charlie_pods = {
        p["metadata"]["uid"] for p in running_pods(api, bridge.tenant_namespace("charlie"))
    }

    bridge.execute("UPDATE tenants SET plan = 'gold' WHERE tenant_id = 'bravo'")

    def rolled() -> Any:
        deployment = available_deployment(api, bridge.tenant_namespace("bravo"))
        env = (deployment or {}).get("spec", {}).get("template", {}).get("spec", {})
        containers = env.get("containers", [{}])
        return (
            deployment if containers[0].get("env") == [{"name": "PLAN", "value": "gold"}] else None
        )

    after = eventually("bravo's Deployment rolled to plan gold", rolled, timeout=READY_TIMEOUT)
    assert after["metadata"]["generation"] == before["bravo"]["metadata"]["generation"] + 1
    pods = running_pods(api, bridge.tenant_namespace("bravo"))
    eventually(
        "bravo's pods replaced by the new template",
        lambda: (
            all(
                p["spec"]["containers"][0]["env"][0]["value"] == "gold"
                for p in running_pods(api, bridge.tenant_namespace("bravo"))
            )
            and running_pods(api, bridge.tenant_namespace("bravo"))
        ),
        timeout=60,
    )
    del pods
    wait_ready(bridge, api, "bravo")
    charlie = get(api, "apps/v1", "Deployment", "app", bridge.tenant_namespace("charlie"))
    assert charlie["metadata"]["generation"] == before["charlie"]["metadata"]["generation"]
    assert (
        charlie["metadata"]["resourceVersion"] == before["charlie"]["metadata"]["resourceVersion"]
    )
    now = {p["metadata"]["uid"] for p in running_pods(api, bridge.tenant_namespace("charlie"))}
    assert now == charlie_pods


def delete_prunes_except_retain(bridge: E2EBridge, api: ApiClient) -> None:
    """(3) DELETE the row → the stack is pruned; the Retain ConfigMap stays, unchanged."""
    bridge.insert("delta", plan="silver")
    wait_ready(bridge, api, "delta")
    ns = bridge.tenant_namespace("delta")
    archive = config_map(api, "delta-archive", bridge.hub_namespace)
    assert archive["data"] == {"plan": "silver"}

    bridge.execute("DELETE FROM tenants WHERE tenant_id = 'delta'")

    eventually(
        f"namespace {ns} deleted (finalized by the namespace controller)",
        lambda: get(api, "v1", "Namespace", ns, None) is None,
        timeout=READY_TIMEOUT,
    )
    eventually(
        "the LynqNode and the Delete-policy objects pruned",
        lambda: (
            node_of(bridge, api, "delta") is None
            and config_map(api, "delta-profile", bridge.hub_namespace) is None
            and config_map(api, "delta-welcome", bridge.hub_namespace) is None
        ),
        timeout=READY_TIMEOUT,
    )
    kept = config_map(api, "delta-archive", bridge.hub_namespace)
    assert kept is not None, "the Retain ConfigMap was deleted"
    assert kept["data"] == {"plan": "silver"}
    assert kept["metadata"]["uid"] == archive["metadata"]["uid"]  # the same object, not a new one
    assert not api.list("v1", "Pod", ns)


def create_once_is_not_updated(bridge: E2EBridge, api: ApiClient) -> None:
    """(4) ``creationPolicy: Once``: created, later changes not applied (the others are)."""
    bridge.insert("echo", plan="basic")
    wait_ready(bridge, api, "echo")
    welcome = config_map(api, "echo-welcome", bridge.hub_namespace)
    assert welcome["data"] == {"plan_at_signup": "basic"}

    bridge.execute("UPDATE tenants SET plan = 'platinum' WHERE tenant_id = 'echo'")

    eventually(
        "the WhenNeeded ConfigMap updated",
        lambda: config_map(api, "echo-archive", bridge.hub_namespace)["data"]["plan"] == "platinum",
        timeout=READY_TIMEOUT,
    )
    wait_ready(bridge, api, "echo")
    welcome = config_map(api, "echo-welcome", bridge.hub_namespace)
    assert welcome["data"] == {"plan_at_signup": "basic"}


def dependency_order(bridge: E2EBridge, api: ApiClient) -> None:
    """(5) The Namespace exists before what lives in it; the Service is created only after the
    Deployment it depends on became Available (waves / ``dependsOn`` with health checks)."""
    bridge.insert("foxtrot")
    wait_ready(bridge, api, "foxtrot")
    ns = bridge.tenant_namespace("foxtrot")
    namespace = get(api, "v1", "Namespace", ns, None)
    settings = config_map(api, "settings", ns)
    deployment = get(api, "apps/v1", "Deployment", "app", ns)
    service = get(api, "v1", "Service", "web", ns)
    created = {
        name: timestamp(obj["metadata"]["creationTimestamp"])
        for name, obj in (
            ("namespace", namespace),
            ("settings", settings),
            ("deployment", deployment),
            ("service", service),
        )
    }
    assert (
        created["namespace"] <= created["settings"] <= created["deployment"] <= created["service"]
    )
    available = timestamp(condition(deployment, "Available")["lastTransitionTime"])  # type: ignore[index]
    assert available <= created["service"], (available, created["service"])


def stuck_conflict_is_reported(bridge: E2EBridge, api: ApiClient) -> None:
    """(6) A ``conflictPolicy: Stuck`` object a person created first: the LynqNode reports the
    conflict, the person's object is left as it is, the rest of the tenant's stack is applied."""
    api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "golf-profile", "namespace": bridge.hub_namespace},
            "data": {"owner": "someone else"},
        }
    )
    bridge.insert("golf")

    def conflicted() -> Any:
        node = node_of(bridge, api, "golf")
        conflict = condition(node, "Conflicted")
        return node if conflict and conflict["status"] == "True" else None

    node = eventually("LynqNode golf-stack Conflicted=True", conflicted, timeout=READY_TIMEOUT)
    assert "profile" in condition(node, "Conflicted")["message"]  # type: ignore[index]
    ns = bridge.tenant_namespace("golf")
    eventually(f"Deployment {ns}/app available", lambda: available_deployment(api, ns),
               timeout=READY_TIMEOUT)  # fmt: skip
    node = node_of(bridge, api, "golf")
    assert condition(node, "Ready")["status"] != "True"  # type: ignore[index]
    theirs = config_map(api, "golf-profile", bridge.hub_namespace)
    assert theirs["data"] == {"owner": "someone else"}
    assert "lynq.sh/node" not in theirs["metadata"].get("labels", {})
    bridge.alive()


def broken_form_keeps_previous_object(bridge: E2EBridge, api: ApiClient) -> None:
    """(7) A form change that breaks one resource for one tenant: that tenant's previous object
    stays applied, unchanged; the other tenants get the change."""
    bridge.insert("hotel", quota=0)
    bridge.insert("india", quota=4)
    wait_ready(bridge, api, "hotel")
    wait_ready(bridge, api, "india")
    hotel_before = config_map(api, "settings", bridge.tenant_namespace("hotel"))

    # 100 // quota: a ZeroDivisionError for hotel's row only.
    bridge.write_form(quota_line='per_seat: "{{ 100 // (quota | int) }}"')
    bridge.restart()

    eventually(
        "india's settings carry the new key",
        lambda: (
            config_map(api, "settings", bridge.tenant_namespace("india"))["data"].get("per_seat")
            == "25"
        ),
        timeout=READY_TIMEOUT,
    )
    bridge.alive()
    hotel = config_map(api, "settings", bridge.tenant_namespace("hotel"))
    assert hotel["data"] == hotel_before["data"]
    assert hotel["metadata"]["resourceVersion"] == hotel_before["metadata"]["resourceVersion"]
    assert available_deployment(api, bridge.tenant_namespace("hotel")) is not None
    assert running_pods(api, bridge.tenant_namespace("hotel"))
