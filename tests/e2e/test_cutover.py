"""The cutover from a running Lynq, proven with the garbage collector running.

A simulated Lynq installation, built as Lynq's controllers leave one (Lynq's CRDs; a LynqHub and
LynqNodes with Lynq's finalizers, each node owned by the hub; per tenant a ConfigMap, Deployment
and Service server-side applied by ``lynq-operator`` with Lynq's annotations and a controller
ownerReference to their node). First the control: a node deleted without ``adopt`` takes its
tenant's workload with it. Then docs/migrating-from-lynq.md's sequence for the others: ``adopt``
(refused while Lynq's webhook is registered), the bridge's CRDs applied over Lynq's, every Lynq
object deleted, the garbage collector given time (a canary it must delete), every workload still
there with the same uid and spec; then ``sync --once`` and Flux take the objects over in place.
Timings are printed (``-s``) for docs/migrating-from-lynq.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import scenarios
import yaml
from apiclient import ApiClient
from e2e_bridge import eventually
from stack import GIT_USER, REPO, Stack, example, find_e2e_binaries, flux_root, start_flux

HUB_NS, HUB, FORM = "hub-cutover", "tenants", "web"
TENANTS = ("acme", "beta", "gamma")
CONTROL = "doomed"  # the tenant whose node is deleted without adopt
SOURCE = "lynq-cutover"  # own GitRepository: the shared one only fetches lynq/
GIT_PATH = "cutover"
LYNQ_CRDS = REPO / "tests" / "data" / "lynq" / "crd"
GC_TIMEOUT = 120.0  # seconds; the garbage collector acts within a few on this cluster
WEBHOOK = "lynq-validating-webhook-configuration"
LYNQ = "operator.lynq.sh/v1"

# The form as the bridge reads it (Jinja2); the bodies below are what Lynq renders from the
# same form in Go-template syntax ({{ .uid }}), so the bridge's first render matches them.
BRIDGE_FORM = f"""
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {{name: {FORM}, namespace: {HUB_NS}}}
spec:
  hubId: {HUB}
  configMaps:
    - id: settings
      nameTemplate: "{{{{ uid }}}}-settings"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {{plan: "{{{{ plan }}}}"}}
  deployments:
    - id: app
      nameTemplate: "{{{{ uid }}}}-app"
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: "{{{{ uid }}}}"}}}}
          template:
            metadata: {{labels: {{app: "{{{{ uid }}}}"}}}}
            spec:
              containers:
                - name: web
                  image: registry.example/web:1
                  env: [{{name: PLAN, value: "{{{{ plan }}}}"}}]
  services:
    - id: web
      nameTemplate: "{{{{ uid }}}}-web"
      spec:
        apiVersion: v1
        kind: Service
        spec:
          selector: {{app: "{{{{ uid }}}}"}}
          ports: [{{port: 80}}]
"""


def bodies(uid: str) -> list[dict[str, Any]]:
    """The children Lynq renders for ``uid`` (before its annotations and ownerReference)."""
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{uid}-settings"},
         "data": {"plan": "pro"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"{uid}-app"},
         "spec": {
             "replicas": 1,
             "selector": {"matchLabels": {"app": uid}},
             "template": {
                 "metadata": {"labels": {"app": uid}},
                 "spec": {"containers": [{"name": "web", "image": "registry.example/web:1",
                                          "env": [{"name": "PLAN", "value": "pro"}]}]},
             },
         }},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{uid}-web"},
         "spec": {"selector": {"app": uid}, "ports": [{"port": 80}]}},
    ]  # fmt: skip


def owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
    """What controllerutil.SetControllerReference writes."""
    meta = obj["metadata"]
    return {
        "apiVersion": LYNQ, "kind": obj["kind"], "name": meta["name"], "uid": meta["uid"],
        "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip


def server_side_apply(api: ApiClient, obj: dict[str, Any], manager: str) -> dict[str, Any]:
    meta = obj["metadata"]
    path = api.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
    answer: dict[str, Any] = api.request(
        "PATCH", path, obj, content_type="application/apply-patch+yaml",
        query={"fieldManager": manager, "force": "true"},
    )  # fmt: skip
    return answer


def get(api: ApiClient, kind: tuple[str, str], name: str) -> Any:
    return scenarios.get(api, kind[0], kind[1], name, HUB_NS)


CHILD_KINDS = (("v1", "ConfigMap"), ("apps/v1", "Deployment"), ("v1", "Service"))


def children(api: ApiClient, uid: str) -> dict[str, Any]:
    """The tenant's three objects by kind (None where missing)."""
    names = {"ConfigMap": "settings", "Deployment": "app", "Service": "web"}
    return {k[1]: get(api, k, f"{uid}-{names[k[1]]}") for k in CHILD_KINDS}


def content(obj: dict[str, Any]) -> Any:
    return obj.get("spec", obj.get("data"))


def rollouts(api: ApiClient, uid: str) -> list[str]:
    """The uids of the tenant's ReplicaSets: a rollout would add one."""
    deployment = get(api, ("apps/v1", "Deployment"), f"{uid}-app")
    return sorted(
        rs["metadata"]["uid"]
        for rs in api.list("apps/v1", "ReplicaSet", HUB_NS)
        if any(
            r["uid"] == deployment["metadata"]["uid"]
            for r in rs["metadata"].get("ownerReferences", [])
        )
    )


def install_crds(stack: Stack, *files: Path) -> None:
    args = [a for path in files for a in ("-f", str(path))]
    stack.kubectl("apply", "--server-side", "--force-conflicts", *args)
    stack.plane.wait_established(*args)


def bridge_crds(work: Path) -> Path:
    """What ``lynq-bridge crds`` prints, as the migration guide applies it."""
    out = work / "bridge-crds.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "lynq_bridge", "crds"], capture_output=True, text=True, check=True
    )
    out.write_text(done.stdout)
    return out


def create_lynq_installation(api: ApiClient, uids: tuple[str, ...]) -> dict[str, Any]:
    """The hub, form and nodes as Lynq's hub controller leaves them; the children as its node
    controller applies them. Returns the children per uid as created."""
    hub_doc = yaml.safe_load_all(
        (REPO / "tests/data/lynq/samples/lynqnodes_v1_lynqhub.yaml").read_text()
    )
    hub_spec = next(d for d in hub_doc if d and d["kind"] == "LynqHub")["spec"]
    hub = api.create({
        "apiVersion": LYNQ, "kind": "LynqHub",
        "metadata": {"name": HUB, "namespace": HUB_NS, "finalizers": ["lynq.sh/hub-finalizer"]},
        "spec": {**hub_spec, "extraValueMappings": {"plan": "plan"}},
    })  # fmt: skip
    api.create({
        "apiVersion": LYNQ, "kind": "LynqForm",
        "metadata": {"name": FORM, "namespace": HUB_NS}, "spec": {"hubId": HUB},
    })  # fmt: skip
    created: dict[str, Any] = {}
    for uid in uids:
        node = api.create({
            "apiVersion": LYNQ, "kind": "LynqNode",
            "metadata": {
                "name": f"{uid}-{FORM}", "namespace": HUB_NS,
                "labels": {"lynq.sh/hub": HUB, "lynq.sh/uid": uid},
                "annotations": {
                    "lynq.sh/hostOrUrl": "", "lynq.sh/activate": "1",
                    "lynq.sh/extra": json.dumps({"plan": "pro"}), "lynq.sh/hubId": HUB,
                    "lynq.sh/template-generation": "1",
                },
                "finalizers": ["lynqnode.operator.lynq.sh/finalizer"],
                "ownerReferences": [owner_ref(hub)],
            },
            "spec": {"uid": uid, "templateRef": FORM},
        })  # fmt: skip
        for body in bodies(uid):
            body["metadata"].update(
                namespace=HUB_NS,
                annotations={
                    "lynq.sh/deletion-policy": "Delete",
                    "lynq.sh/applied-hash": f"{uid}-{body['kind']}-0123456789abcdef",
                    "lynq.sh/apply-start-time": "2025-01-15T10:30:00.123456789Z",
                },
                ownerReferences=[owner_ref(node)],
            )
            server_side_apply(api, body, "lynq-operator")
        created[uid] = children(api, uid)
    return created


def lynq_bridge(*args: str, stack: Stack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lynq_bridge", *args], check=False, capture_output=True, text=True,
        env={**os.environ, "KUBECONFIG": str(stack.kubeconfig)}, timeout=300,
    )  # fmt: skip


def write_bridge_config(stack: Stack, root: Path) -> Path:
    config = root / "config"
    config.mkdir()
    (root / "secrets" / "git").mkdir(parents=True)
    (root / "secrets" / "git" / "password").write_text(stack.git_password + "\n")
    database = root / "tenants.db"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, active INTEGER, plan TEXT)"
        )
        connection.executemany("INSERT INTO tenants VALUES (?, 1, 'pro')", [(u,) for u in TENANTS])
    connection.close()
    url = stack.git_url("flux").replace("http://", f"http://{GIT_USER}@", 1)
    bridge = {
        "apiVersion": "bridge.lynq.sh/v1alpha1", "kind": "BridgeConfig",
        "metadata": {"name": "default"},
        "spec": {
            "git": {
                "url": url, "credentialsRef": {"name": "git", "key": "password"},
                "branch": "main", "path": GIT_PATH, "workDir": str(root / "work"),
                "author": {"name": "lynq-bridge", "email": "bridge@example.com"},
            },
            "target": "flux",
            "secretsDir": str(root / "secrets"),
            "flux": {"sourceRef": {"name": SOURCE}},
            "report": {"kubeconfig": str(stack.kubeconfig), "namespace": HUB_NS},
        },
    }  # fmt: skip
    hub = {
        "apiVersion": LYNQ, "kind": "LynqHub", "metadata": {"name": HUB, "namespace": HUB_NS},
        "spec": {
            "source": {"type": "sqlite", "sqlite": {"path": str(database), "table": "tenants"}},
            "valueMappings": {"uid": "tenant_id", "activate": "active"},
            "extraValueMappings": {"plan": "plan"},
        },
    }  # fmt: skip
    (config / "lynq-bridge.yaml").write_text(yaml.safe_dump(bridge, sort_keys=False))
    (config / "hub.yaml").write_text(yaml.safe_dump(hub, sort_keys=False))
    (config / "form.yaml").write_text(BRIDGE_FORM)
    return config


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[ApiClient]:
    with stack.plane.api() as client:
        scenarios.register_kinds(client)
        client.register(
            "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations", False,
        )  # fmt: skip
        yield client


@pytest.fixture(scope="module")
def lynq(stack: Stack, api: ApiClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Lynq's CRDs over the bridge's and a simulated installation; the bridge's CRDs again after."""
    work = tmp_path_factory.mktemp("cutover")
    ours = bridge_crds(work)
    install_crds(stack, *sorted(LYNQ_CRDS.glob("*.yaml")))
    try:
        stack.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": HUB_NS}})
        yield work, ours, create_lynq_installation(api, (*TENANTS, CONTROL))
    finally:
        install_crds(stack, ours)


def test_deleting_a_lynqnode_that_was_not_adopted_garbage_collects_its_workload(
    lynq: Any, api: ApiClient
) -> None:
    """The danger is real: once a node's finalizer is released (Lynq's clean-up, or a person
    clearing a stuck object), the garbage collector deletes the tenant's workload."""
    _, _, created = lynq
    assert all(created[CONTROL].values())
    node = f"{CONTROL}-{FORM}"
    api.delete(LYNQ, "LynqNode", node, HUB_NS)
    release = [{"op": "remove", "path": "/metadata/finalizers"}]
    path = api.path(LYNQ, "LynqNode", HUB_NS, node)
    api.request("PATCH", path, release, content_type="application/json-patch+json")
    started = time.monotonic()
    eventually(
        "the control tenant's workload garbage-collected",
        lambda: not any(children(api, CONTROL).values()),
        timeout=GC_TIMEOUT,
    )
    seconds = time.monotonic() - started
    print(f"\ncontrol: the workload of a deleted node without adopt was gone in {seconds:.1f} s")


def test_adopted_workloads_survive_deleting_lynq_and_flux_takes_them_over_in_place(
    lynq: Any, api: ApiClient, stack: Stack
) -> None:
    work, ours, created = lynq
    config = write_bridge_config(stack, work)
    # Lynq's webhook is still registered: adopt refuses before patching anything.
    api.create({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK},
        "webhooks": [{
            "name": "vlynqhub.kb.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "clientConfig": {"url": "https://127.0.0.1:1/validate"},
            "rules": [{"apiGroups": ["operator.lynq.sh"], "apiVersions": ["v1"],
                       "operations": ["CREATE", "UPDATE"], "resources": ["lynqhubs"]}],
        }],
    })  # fmt: skip
    refused = lynq_bridge("adopt", "--config", str(config), stack=stack)
    assert refused.returncode == 1, refused
    assert WEBHOOK in refused.stderr, refused.stderr
    assert all(c["metadata"].get("ownerReferences") for c in children(api, "acme").values())
    api.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", WEBHOOK)

    planned = lynq_bridge("adopt", "--config", str(config), "--dry-run", stack=stack)
    assert planned.returncode == 0, planned
    assert planned.stdout.count("would patch") == 3 * len(TENANTS) + len(TENANTS) + 1, (
        planned.stdout
    )
    assert all(c["metadata"].get("ownerReferences") for c in children(api, "acme").values())

    started = time.monotonic()
    adopted = lynq_bridge("adopt", "--config", str(config), stack=stack)
    assert adopted.returncode == 0, adopted
    print(f"\n{adopted.stdout.splitlines()[-1]} (wall {time.monotonic() - started:.1f} s)")
    again = lynq_bridge("adopt", "--config", str(config), "--dry-run", stack=stack)
    assert "would patch" not in again.stdout, again.stdout

    # The bridge's CRDs replace Lynq's while Lynq's objects still exist: they stay readable.
    install_crds(stack, ours)
    nodes = eventually("Lynq's nodes listed", lambda: api.list(LYNQ, "LynqNode", HUB_NS))
    assert sorted(n["metadata"]["name"] for n in nodes) == [f"{u}-{FORM}" for u in TENANTS]

    # A canary per node that was not adopted: when it is gone, the GC has handled the node.
    for uid in TENANTS:
        node = api.get(LYNQ, "LynqNode", f"{uid}-{FORM}", HUB_NS)
        api.create({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"{uid}-gc-canary", "namespace": HUB_NS,
                         "ownerReferences": [owner_ref(node)]},
        })  # fmt: skip
    started = time.monotonic()
    for uid in TENANTS:
        api.delete(LYNQ, "LynqNode", f"{uid}-{FORM}", HUB_NS)
    api.delete(LYNQ, "LynqHub", HUB, HUB_NS)
    api.delete(LYNQ, "LynqForm", FORM, HUB_NS)
    eventually(
        "the garbage collector deleting every canary",
        lambda: all(get(api, ("v1", "ConfigMap"), f"{u}-gc-canary") is None for u in TENANTS),
        timeout=GC_TIMEOUT,
    )
    assert api.list(LYNQ, "LynqNode", HUB_NS) == []
    print(f"Lynq's objects deleted and garbage collected in {time.monotonic() - started:.1f} s")
    for uid in TENANTS:
        now = children(api, uid)
        for kind, before in created[uid].items():
            assert now[kind] is not None, (uid, kind)
            assert now[kind]["metadata"]["uid"] == before["metadata"]["uid"], (uid, kind)
            assert content(now[kind]) == content(before), (uid, kind)
            assert "ownerReferences" not in now[kind]["metadata"], (uid, kind)

    # The bridge's first sync (deletion guard on), then Flux applies it over the same objects.
    replica_sets = {uid: rollouts(api, uid) for uid in TENANTS}
    assert all(replica_sets.values()), replica_sets
    started = time.monotonic()
    synced = lynq_bridge("sync", "--once", "--config", str(config), stack=stack)
    assert synced.returncode == 0, synced
    if "flux" not in stack.engines:
        missing = find_e2e_binaries("flux")[1]
        assert not missing, f"Flux is not built: {missing}"
        start_flux(stack)
    repository = example("flux/gitrepository.yaml")[0]
    repository["metadata"]["name"] = SOURCE
    repository["spec"].update(
        url=stack.git_url("flux"), secretRef={"name": "gitops-auth"}, interval="10s",
        ignore=f"/*\n!/{GIT_PATH}/\n",
    )  # fmt: skip
    root = flux_root(HUB_NS, HUB, git_path=GIT_PATH)
    root["spec"]["sourceRef"]["name"] = SOURCE
    stack.apply(repository, root)

    def taken_over(uid: str) -> Any:
        found = children(api, uid)
        labelled = all(
            o and "kustomize.toolkit.fluxcd.io/name" in o["metadata"].get("labels", {})
            for o in found.values()
        )
        return found if labelled and get(api, (LYNQ, "LynqNode"), f"{uid}-{FORM}") else None

    for uid in TENANTS:
        after = eventually(
            f"Flux applying {uid}'s objects", lambda u=uid: taken_over(u), timeout=240
        )
        for kind, before in created[uid].items():
            meta = after[kind]["metadata"]
            assert meta["uid"] == before["metadata"]["uid"], (uid, kind)  # not recreated
            assert content(after[kind]) == content(before), (uid, kind)
            managers = {m["manager"] for m in meta.get("managedFields", [])}
            assert "lynq-operator" not in managers, (uid, kind, managers)
            assert rollouts(api, uid) == replica_sets[uid], uid  # no new ReplicaSet: no rollout
            # Lynq's bookkeeping annotation was handed to Flux, which removed it on apply.
            assert "lynq.sh/applied-hash" not in meta.get("annotations", {}), (uid, kind)
    print(
        f"sync --once + Flux took {len(TENANTS)} tenants over in {time.monotonic() - started:.1f} s"
    )
