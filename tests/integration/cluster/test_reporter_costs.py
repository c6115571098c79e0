"""What a pass costs and what it may touch: requests, writes, RBAC and API errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_objects import (
    Report,
    child,
    condition,
    entry,
    lynq_form,
    lynq_hub,
    lynq_node,
    node_status,
)
from controlplane import REPO, ApiClient, ApiError, ControlPlane

from lynq_bridge.errors import ClusterUnavailable

pytestmark = pytest.mark.cluster

RBAC_FILE = REPO / "examples" / "deploy" / "rbac-reporter.yaml"
KINDS = ("ConfigMap", "Secret", "Service", "Deployment", "ServiceAccount")


def _stack(namespace: str, index: int) -> list[dict[str, Any]]:
    node = f"tenant{index:03d}-web"
    objects = [
        child(kind, f"{node}-{kind.lower()}", namespace, node)
        for kind in KINDS
        if kind not in ("Secret", "ServiceAccount")
    ]
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": f"{node}-secret",
                "namespace": namespace,
                "labels": {"lynq.sh/node": node},
            },
        }
    )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": f"{node}-serviceaccount",
                "namespace": namespace,
                "labels": {"lynq.sh/node": node},
            },
        }
    )
    objects.append(
        lynq_node(
            node,
            namespace,
            [
                entry(
                    kind.lower(),
                    kind,
                    f"{node}-{kind.lower()}",
                    namespace,
                    apiVersion="apps/v1" if kind == "Deployment" else "v1",
                )
                for kind in KINDS
            ],
        )
    )
    return objects


def _create_all(api: ApiClient, objects: list[dict[str, Any]]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(api.create, objects))


def _node_versions(api: ApiClient, namespace: str) -> dict[str, str]:
    return {
        n["metadata"]["name"]: n["metadata"]["resourceVersion"]
        for n in api.list("operator.lynq.sh/v1", "LynqNode", namespace)
    }


def test_requests_grow_with_kinds_not_objects_and_an_unchanged_pass_writes_nothing(
    api: ApiClient, namespace: str, report: Report
) -> None:
    _create_all(api, [obj for i in range(50) for obj in _stack(namespace, i)])
    api.create(lynq_hub(namespace))
    api.create(lynq_form(namespace))

    first = report()
    versions = _node_versions(api, namespace)
    second = report()

    # LynqNodes + one list per kind (5) + hubs + forms, then one patch per node and the hub and
    # form roll-ups. Nothing is fetched per object.
    assert (first.nodes, first.errors, first.writes) == (50, 0, 52)
    assert first.requests == 1 + len(KINDS) + 2 + 52
    assert (second.writes, second.events, second.errors) == (0, 0, 0)
    assert second.requests == 1 + len(KINDS) + 2
    assert _node_versions(api, namespace) == versions
    status = node_status(api, namespace, "tenant000-web")
    assert (status["desiredResources"], status["readyResources"]) == (5, 4)


def _bind(
    kube: ControlPlane, api: ApiClient, user: str, *, role: str = "", rules: Any = None
) -> Path:
    """A kubeconfig for ``user``, bound to ClusterRole ``role`` or to a new one with ``rules``."""
    if not role:
        role = f"test-{user}"
        api.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": role},
                "rules": rules,
            }
        )
    api.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"test-{user}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
    )
    return kube.user_kubeconfig(user)


@pytest.fixture(scope="module")
def shipped_role(kube: ControlPlane) -> str:
    """examples/deploy/rbac-reporter.yaml applied as it ships; the name of its ClusterRole."""
    kube.kubectl("create", "namespace", "lynq-system", check=False)
    kube.kubectl("apply", "-f", str(RBAC_FILE))
    documents = list(yaml.safe_load_all(RBAC_FILE.read_text()))
    name: str = next(d for d in documents if d["kind"] == "ClusterRole")["metadata"]["name"]
    return name


def _shipped_rules() -> list[dict[str, Any]]:
    documents = list(yaml.safe_load_all(RBAC_FILE.read_text()))
    rules: list[dict[str, Any]] = next(d for d in documents if d["kind"] == "ClusterRole")["rules"]
    return rules


def _mixed_namespace(api: ApiClient, namespace: str) -> None:
    job = child("Job", "migrate", namespace, "with-job")
    api.create(job)
    api.create(child("ConfigMap", "settings", namespace, "plain"))
    api.create(lynq_node("with-job", namespace, [entry("migrate", "Job", "migrate", namespace)]))
    api.create(
        lynq_node("plain", namespace, [entry("settings", "ConfigMap", "settings", namespace)])
    )
    api.create(lynq_hub(namespace))
    api.create(lynq_form(namespace))


def test_shipped_reporter_rbac_allows_a_whole_pass(
    kube: ControlPlane, api: ApiClient, namespace: str, report: Report, shipped_role: str
) -> None:
    kubeconfig = _bind(kube, api, f"reporter-{namespace}", role=shipped_role)
    _mixed_namespace(api, namespace)

    result = report(kubeconfig=str(kubeconfig))

    assert (result.errors, result.messages) == (0, ())
    assert result.writes == 4  # two nodes, the hub and the form
    assert result.events == 0


def test_shipped_reporter_rbac_cannot_write_workloads_or_node_specs(
    kube: ControlPlane, namespace: str, api: ApiClient, shipped_role: str
) -> None:
    user = f"writer-{namespace}"
    _bind(kube, api, user, role=shipped_role)

    def can(verb: str, resource: str, *extra: str) -> str:
        answer = kube.kubectl(
            "auth", "can-i", verb, resource, "-n", namespace, f"--as={user}", *extra, check=False
        )
        return answer.stdout.strip()

    resources = ("deployments.apps", "secrets", "jobs.batch", "lynqnodes.operator.lynq.sh")
    verbs = ("create", "update", "patch", "delete")
    assert {can(v, r) for v in verbs for r in resources} == {"no"}
    assert can("patch", "lynqnodes.operator.lynq.sh", "--subresource=status") == "yes"
    assert can("list", "deployments.apps") == "yes"


def test_forbidden_list_is_reported_and_other_nodes_are_still_written(
    kube: ControlPlane, api: ApiClient, namespace: str, report: Report
) -> None:
    rules = [r for r in _shipped_rules() if r["apiGroups"] != ["batch"]]
    kubeconfig = _bind(kube, api, f"nojobs-{namespace}", rules=rules)
    _mixed_namespace(api, namespace)

    result = report(kubeconfig=str(kubeconfig))

    assert result.errors == 1
    assert "jobs.batch" in result.messages[0] and "403" in result.messages[0]
    assert node_status(api, namespace, "with-job") == {}  # left alone, retried next pass
    plain = condition(node_status(api, namespace, "plain"), "Ready")
    assert plain is not None and plain["status"] == "True"


def test_unreachable_or_forbidden_cluster_raises_cluster_unavailable(
    kube: ControlPlane, api: ApiClient, namespace: str, report: Report
) -> None:
    kubeconfig = kube.user_kubeconfig(f"nobody-{namespace}")

    with pytest.raises(ClusterUnavailable, match=r"refused to list lynqnodes\.operator\.lynq\.sh"):
        report(kubeconfig=str(kubeconfig))
    with pytest.raises(ClusterUnavailable, match="Cannot load kubeconfig"):
        report(kubeconfig=str(kube.work_dir / "no-such-kubeconfig"))
    with pytest.raises(ApiError):
        api.get("operator.lynq.sh/v1", "LynqNode", "missing", namespace)
