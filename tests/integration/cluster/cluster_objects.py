"""Builders for the objects the cluster tests create: LynqNodes, their children, hubs and forms.

Children carry the labels the bridge puts on every child (``lynq.sh/node`` and friends) unless a
test wants a conflict. Specs are minimal but valid for the API server, which validates them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controlplane import ApiClient

from lynq_bridge.reporter import ReportResult

Report = Callable[..., ReportResult]  # the ``report`` fixture: one pass on the test namespace


@dataclass
class Clock:
    """A settable clock for the reporter (the ``clock`` fixture); starts at a fixed instant."""

    current: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=seconds)


HUB, FORM, UID = "tenants", "web", "acme"

API_VERSIONS = {
    "ConfigMap": "v1",
    "Service": "v1",
    "PersistentVolumeClaim": "v1",
    "Secret": "v1",
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "Widget": "test.lynq.sh/v1",
}


def labels_for(node: str, namespace: str) -> dict[str, str]:
    return {
        "lynq.sh/node": node,
        "lynq.sh/node-namespace": namespace,
        "lynq.sh/hub": HUB,
        "lynq.sh/uid": UID,
    }


def _body(kind: str, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]},
    }
    if kind == "Deployment":
        return {
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": pod}
        }
    if kind == "Job":
        template = {**pod, "spec": {**pod["spec"], "restartPolicy": "Never"}}
        return {"spec": {"backoffLimit": 0, "template": template}}
    if kind == "PersistentVolumeClaim":
        return {
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            }
        }
    if kind == "Service":
        return {"spec": {"ports": [{"port": 80}], "selector": {"app": name}}}
    if kind == "ConfigMap":
        return {"data": {"key": "value"}}
    if kind == "Widget":
        return {"spec": {"size": 1}}
    raise ValueError(kind)


def child(
    kind: str,
    name: str,
    namespace: str,
    node: str,
    *,
    labels: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A child object labelled for ``node`` (pass ``labels={}`` for someone else's object)."""
    body = _body(kind, name)
    if spec:
        body["spec"] = {**body.get("spec", {}), **spec}
    return {
        "apiVersion": API_VERSIONS[kind],
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels_for(node, namespace) if labels is None else labels),
        },
        **body,
    }


def entry(
    resource_id: str,
    kind: str,
    name: str,
    namespace: str | None,
    **fields: Any,
) -> dict[str, Any]:
    """One inventory entry, as the renderer writes it into ``LynqNode.spec.resources``."""
    content = f"{resource_id}/{kind}/{name}/{fields.pop('content', 1)}"
    result: dict[str, Any] = {
        "id": resource_id,
        "apiVersion": fields.pop("apiVersion", API_VERSIONS.get(kind, "v1")),
        "kind": kind,
        "name": name,
        "hash": hashlib.sha256(content.encode()).hexdigest(),
    }
    if namespace is not None:
        result["namespace"] = namespace
    result.update(fields)
    return result


def lynq_node(
    name: str, namespace: str, resources: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any]:
    """A LynqNode; ``resources=None`` leaves the inventory out (a malformed node)."""
    spec: dict[str, Any] = {"uid": UID, "templateRef": FORM, "hubId": HUB}
    if resources is not None:
        spec["resources"] = list(resources)
    return {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqNode",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"lynq.sh/hub": HUB, "lynq.sh/uid": UID, "lynq.sh/form": FORM},
        },
        "spec": spec,
    }


def lynq_hub(namespace: str, name: str = HUB) -> dict[str, Any]:
    return {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqHub",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {"type": "sqlite", "sqlite": {"path": "tenants.db", "table": "tenants"}},
            "valueMappings": {"uid": "tenant_id", "activate": "active"},
        },
    }


def lynq_form(namespace: str, name: str = FORM, hub: str = HUB) -> dict[str, Any]:
    return {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqForm",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hubId": hub},
    }


def node_status(api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = api.get("operator.lynq.sh/v1", "LynqNode", name, namespace).get(
        "status", {}
    )
    return status


def condition(status: Mapping[str, Any], condition_type: str) -> dict[str, Any] | None:
    for item in status.get("conditions", []):
        if item["type"] == condition_type:
            return dict(item)
    return None


def states(status: Mapping[str, Any]) -> dict[str, str]:
    """Resource id -> state."""
    return {r["id"]: r["state"] for r in status.get("resources", [])}


def events_for(api: ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    return [
        e
        for e in api.list("v1", "Event", namespace)
        if e["involvedObject"].get("name") == name and e["involvedObject"].get("kind") == "LynqNode"
    ]
