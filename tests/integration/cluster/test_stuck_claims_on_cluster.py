"""``conflictPolicy: Stuck`` before the commit, against the real API server: an object someone
else made by hand is withheld from Git (so no GitOps engine takes it over), stays in the node's
inventory and is reported Conflicted; once the person deletes it, the next sync commits it.

The bridge is real (SQLite, a bare remote, the ``flux`` target with its ``level-N``
directories); the cluster check uses ``spec.report.kubeconfig`` like the reporter.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase, free_port
from cluster_objects import Report, condition, node_status, states
from controlplane import ApiClient, ControlPlane
from unreachable import collected

from lynq_bridge import claims
from lynq_bridge.adapters.cluster import ClusterClient
from lynq_bridge.config.loading import load_config
from lynq_bridge.core.conflicts import Claim
from lynq_bridge.sync import HubResult, Syncer

pytestmark = pytest.mark.cluster

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {{name: web, namespace: {namespace}}}
spec:
  hubId: tenants
  configMaps:
    - id: profile
      nameTemplate: "{{{{ uid }}}}-profile"
      spec: {{apiVersion: v1, kind: ConfigMap, data: {{plan: "{{{{ plan | default('basic') }}}}"}}}}
    - id: after
      dependIds: [profile]
      nameTemplate: "{{{{ uid }}}}-after"
      spec: {{apiVersion: v1, kind: ConfigMap}}
    - id: settings
      nameTemplate: "{{{{ uid }}}}-settings"
      spec: {{apiVersion: v1, kind: ConfigMap}}
    - id: forced
      conflictPolicy: Force
      nameTemplate: "{{{{ uid }}}}-forced"
      spec: {{apiVersion: v1, kind: ConfigMap}}
"""

WIDGET = """  manifests:
    - id: widget
      nameTemplate: "{{ uid }}-widget"
      spec: {apiVersion: test.lynq.sh/v1, kind: Widget}
"""
# A form whose only Stuck resource is the gizmo added by the test.
FORM_GIZMO = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {{name: web, namespace: {namespace}}}
spec:
  hubId: tenants
"""
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
GIZMO_CRD = {
    "apiVersion": CRD[0],
    "kind": CRD[1],
    "metadata": {"name": "gizmos.test.lynq.sh"},
    "spec": {
        "group": "test.lynq.sh",
        "names": {"kind": "Gizmo", "plural": "gizmos", "singular": "gizmo"},
        "scope": "Cluster",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


class Hub:
    """A bridge whose hub (and so its LynqNodes and children) lives in the test namespace."""

    def __init__(self, bridge: Bridge, database: SqliteDatabase, namespace: str) -> None:
        self.bridge, self.database, self.namespace = bridge, database, namespace
        self.dir = f"lynq/{namespace}/tenants"
        self.syncer: Syncer | None = None

    def file(self, node: str, name: str) -> str | None:
        """The committed path of ``name`` (a base name) in ``node``'s directory, if any."""
        prefix = f"{self.dir}/{node}/"
        found = [f for f in self.bridge.files() if f.startswith(prefix) and f.endswith(name)]
        return found[0] if found else None

    def object_file(self, node: str, object_name: str) -> str | None:
        return self.file(node, f"/configmap_{self.namespace}_{object_name}.yaml")

    def inventory(self, node: str) -> dict[str, dict[str, Any]]:
        path = self.file(node, "/lynqnode.yaml")
        assert path is not None
        return {e["id"]: e for e in self.bridge.load(path)["spec"]["resources"]}

    def sync(self) -> HubResult:
        """One sync through one long-lived ``Syncer``, as the daemon runs it."""
        if self.syncer is None:
            self.syncer = Syncer(load_config(self.bridge.config))
        return self.syncer.sync_hub(self.syncer.compiled.config.hubs[0])

    def restart(self) -> None:
        """A fresh ``Syncer`` (as after a restart), reading the config again."""
        if self.syncer is not None:
            self.syncer.close()
        self.syncer = None

    def requests(self) -> int:
        assert self.syncer is not None and self.syncer.claims._client is not None
        return self.syncer.claims._client.requests

    def add(self, *uids: str) -> None:
        self.database.execute(
            (
                "INSERT INTO tenants (tenant_id, active) VALUES (?, '1')",
                [(uid,) for uid in uids],
            )
        )


@pytest.fixture
def make_hub(
    tmp_path: Path,
    sqlite_database: Path,
    create_tenants: Any,
    kube: ControlPlane,
    namespace: str,
) -> Iterator[Any]:
    """``make_hub(uids, kubeconfig=admin, enabled=True)``: the tenants ``uids`` and a bridge."""
    made: list[Hub] = []

    def make(uids: list[str], *, kubeconfig: str | None = None, enabled: bool = True) -> Hub:
        database = SqliteDatabase(sqlite_database)
        create_tenants(database, [{"tenant_id": uid, "active": "1"} for uid in uids])
        spec = {
            "target": "flux",
            "flux": {"namespace": namespace},
            "report": {"enabled": enabled, "kubeconfig": kubeconfig or str(kube.kubeconfig)},
        }
        bridge = Bridge(tmp_path / "bridge", database, form=FORM.format(namespace=namespace))
        bridge.write("lynq-bridge.yaml", bridge_document(bridge, spec))
        hub = bridge.load_config_document("hub.yaml")
        hub["metadata"]["namespace"] = namespace
        bridge.write("hub.yaml", hub)
        made.append(Hub(bridge, database, namespace))
        return made[-1]

    yield make
    for hub in made:
        if hub.syncer is not None:
            hub.syncer.close()


def bridge_document(bridge: Bridge, spec: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = bridge.load_config_document("lynq-bridge.yaml")
    document["spec"].update(spec)
    return document


def hand_made(api: ApiClient, namespace: str, name: str, **labels: str) -> None:
    """A ConfigMap a person created, with data the engine must not overwrite."""
    api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "data": {"owner": "a person"},
        }
    )


def withheld(result: HubResult) -> list[tuple[str, str]]:
    """(node, resource id) of every withheld object of a sync, sorted."""
    found = [re.match(r'withheld resource "([^"]+)" of node (\S+) ', e) for e in result.errors]
    return sorted((m[2], m[1]) for m in found if m)


@pytest.fixture
def logs() -> Iterator[list[logging.LogRecord]]:
    """The records of lynq_bridge.claims, on its own logger."""
    with collected("lynq_bridge.claims") as records:
        yield records


def test_hand_made_object_is_withheld_reported_conflicted_and_committed_once_deleted(
    api: ApiClient, namespace: str, make_hub: Any, report: Report
) -> None:
    hand_made(api, namespace, "golf-profile")
    hub = make_hub(["acme", "golf"])
    result = hub.sync()
    assert result.failure is None and result.commit == hub.bridge.head() is not None

    assert hub.object_file("golf-web", "golf-profile") is None  # no engine can take it over
    assert hub.object_file("golf-web", "golf-after") is None  # its dependent is skipped
    assert hub.object_file("golf-web", "golf-settings") is not None
    assert hub.object_file("golf-web", "golf-forced") is not None
    assert hub.object_file("acme-web", "acme-profile") is not None
    assert sorted(hub.inventory("golf-web")) == ["forced", "profile", "settings"]
    conflict = (
        f'withheld resource "profile" of node golf-web (hub tenants, uid golf): conflict: '
        f"ConfigMap {namespace}/golf-profile exists in the cluster and belongs to someone else "
        "(it has no lynq.sh/node label); conflictPolicy Stuck does not adopt it"
    )
    assert conflict in result.errors and len(result.errors) == 2  # and "after" skipped
    message = hub.bridge.message()
    assert f"  - {conflict}\n" in message and "Lynq-Render-Errors: 2" in message
    person = api.get("v1", "ConfigMap", "golf-profile", namespace)
    assert person["data"] == {"owner": "a person"} and not person["metadata"].get("labels")

    # The LynqNode as the engine applies it: the reporter judges the withheld entry.
    path = hub.file("golf-web", "/lynqnode.yaml")
    assert path is not None
    api.create(hub.bridge.load(path))
    report()
    status = node_status(api, namespace, "golf-web")
    assert states(status)["profile"] == "Conflicted"
    conflicted = condition(status, "Conflicted")
    assert conflicted is not None and conflicted["status"] == "True"
    (state,) = [r for r in status["resources"] if r["id"] == "profile"]
    assert (
        f"ConfigMap {namespace}/golf-profile exists but belongs to someone else"
        in (state["message"])
    )

    # Nothing changed, the conflict stands: checked again, nothing new to commit.
    head = hub.bridge.head()
    again = hub.sync()
    assert again.commit is None and hub.bridge.head() == head
    assert conflict in again.errors

    api.delete("v1", "ConfigMap", "golf-profile", namespace)
    resolved = hub.sync()
    assert resolved.commit is not None and resolved.errors == []
    assert hub.object_file("golf-web", "golf-profile") is not None
    assert hub.object_file("golf-web", "golf-after") is not None
    assert sorted(hub.inventory("golf-web")) == ["after", "forced", "profile", "settings"]
    assert "Lynq-Render-Errors: 0" in hub.bridge.message()


def test_object_labelled_for_this_node_is_committed_and_another_nodes_is_withheld(
    api: ApiClient, namespace: str, make_hub: Any
) -> None:
    ours = {"lynq.sh/node": "golf-web", "lynq.sh/node-namespace": namespace}
    hand_made(api, namespace, "golf-profile", **ours)
    hand_made(api, namespace, "acme-profile", **{**ours, "lynq.sh/node": "zulu-web"})
    hub = make_hub(["acme", "golf"])
    result = hub.sync()
    assert hub.object_file("golf-web", "golf-profile") is not None
    assert hub.object_file("acme-web", "acme-profile") is None
    assert any(f"its lynq.sh/node label names {namespace}/zulu-web" in e for e in result.errors)


def test_without_cluster_access_nothing_is_looked_up_and_the_engine_adopts(
    api: ApiClient, namespace: str, make_hub: Any, tmp_path: Path
) -> None:
    hand_made(api, namespace, "golf-profile")
    hub = make_hub(["golf"], kubeconfig=str(tmp_path / "no-such-kubeconfig"), enabled=False)
    result = hub.sync()
    assert result.errors == [] and hub.object_file("golf-web", "golf-profile") is not None
    assert hub.syncer is not None and hub.syncer.claims._client is None


def unreachable_kubeconfig(kube: ControlPlane, path: Path) -> Path:
    """The admin kubeconfig pointed at a port nothing listens on."""
    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    path.write_text(yaml.safe_dump(config))
    return path


def test_unreachable_api_server_withholds_the_new_stuck_objects_and_commits_the_rest(
    namespace: str, make_hub: Any, kube: ControlPlane, tmp_path: Path, logs: list[logging.LogRecord]
) -> None:
    hub = make_hub(["acme"])
    assert hub.sync().errors == []  # acme's objects are committed while the cluster answers
    kubeconfig = unreachable_kubeconfig(kube, tmp_path / "kubeconfig")
    report = {"report": {"enabled": True, "kubeconfig": str(kubeconfig)}}
    hub.bridge.write("lynq-bridge.yaml", bridge_document(hub.bridge, report))
    hub.restart()
    hub.add("golf")
    hub.database.execute("UPDATE tenants SET plan = 'pro' WHERE tenant_id = 'acme'")
    started = time.monotonic()
    result = hub.sync()
    assert time.monotonic() - started < 30
    assert result.failure is None and result.commit == hub.bridge.head() is not None
    assert "plan: pro" in hub.bridge.show(hub.object_file("acme-web", "acme-profile") or "")
    assert hub.object_file("golf-web", "golf-forced") is not None
    for name in ("golf-profile", "golf-after", "golf-settings"):
        assert hub.object_file("golf-web", name) is None
    assert sorted(hub.inventory("golf-web")) == ["after", "forced", "profile", "settings"]
    assert withheld(result) == [
        ("golf-web", "after"),
        ("golf-web", "profile"),
        ("golf-web", "settings"),
    ]
    waiting = [e for e in result.errors if "waits for the cluster check" in e]
    assert len(waiting) == 3 == len(result.errors)
    assert waiting[0].startswith(
        f'withheld resource "profile" of node golf-web (hub tenants, uid golf): ConfigMap '
        f"{namespace}/golf-profile waits for the cluster check of conflictPolicy Stuck, which "
        "failed: cannot get ConfigMap"
    )
    assert "did not answer" in waiting[0]
    (warning,) = [r.getMessage() for r in logs if r.levelno == logging.WARNING]
    assert warning.startswith(
        f"could not check 3 new conflictPolicy Stuck object(s) of hub {namespace}/tenants in "
        "the cluster: cannot get ConfigMap"
    )
    assert warning.endswith("; they are withheld from Git until a sync can check them")


def test_unreachable_api_server_costs_one_request_whatever_the_number_of_kinds(
    namespace: str, make_hub: Any, kube: ControlPlane, tmp_path: Path
) -> None:
    kubeconfig = unreachable_kubeconfig(kube, tmp_path / "kubeconfig")
    hub = make_hub(["golf"], kubeconfig=str(kubeconfig))
    (hub.bridge.config / "form.yaml").write_text(FORM.format(namespace=namespace) + WIDGET)
    result = hub.sync()
    assert hub.requests() == 1  # the Widget's discovery failed: the ConfigMaps are not tried
    assert withheld(result) == [
        ("golf-web", "after"),
        ("golf-web", "profile"),
        ("golf-web", "settings"),
        ("golf-web", "widget"),
    ]
    assert all("which failed: cannot discover test.lynq.sh/v1" in e for e in result.errors)


def test_unreadable_kubeconfig_withholds_the_new_stuck_objects(
    namespace: str, make_hub: Any, tmp_path: Path
) -> None:
    hub = make_hub(["golf"], kubeconfig=str(tmp_path / "no-such-kubeconfig"))
    result = hub.sync()
    assert result.failure is None and result.commit is not None
    assert hub.object_file("golf-web", "golf-profile") is None
    assert hub.object_file("golf-web", "golf-forced") is not None
    assert all("which failed: cannot load kubeconfig" in e for e in result.errors)
    assert len(result.errors) == 3


def test_more_than_twenty_objects_of_a_kind_cost_one_list_and_fewer_a_get_each(
    api: ApiClient, namespace: str, make_hub: Any, logs: list[logging.LogRecord]
) -> None:
    uids = [f"t{i:02d}" for i in range(8)]  # 8 nodes x 3 Stuck ConfigMaps = 24 > GET_LIMIT
    assert 3 * len(uids) > claims.GET_LIMIT
    hand_made(api, namespace, "t05-settings")
    hub = make_hub(uids)
    result = hub.sync()
    assert hub.requests() == 1  # one page of one list: ConfigMaps need no discovery
    assert [e for e in result.errors if "conflict:" in e] == [
        f'withheld resource "settings" of node t05-web (hub tenants, uid t05): conflict: '
        f"ConfigMap {namespace}/t05-settings exists in the cluster and belongs to someone else "
        "(it has no lynq.sh/node label); conflictPolicy Stuck does not adopt it"
    ]
    debug = [r.getMessage() for r in logs if r.levelno == logging.DEBUG]
    assert any("checked 24 new conflictPolicy Stuck object(s)" in m and "requests=1" in m
               for m in debug)  # fmt: skip

    hub.add("u1", "u2")  # 6 new objects: a GET each; the committed ones cost nothing
    hand_made(api, namespace, "u2-after")
    result = hub.sync()
    assert hub.requests() == 1 + 6 + 1  # and t05-settings, still withheld, once more
    assert withheld(result) == [("t05-web", "settings"), ("u2-web", "after")]


def test_large_group_in_one_namespace_needs_list_rights_in_that_namespace_only(
    api: ApiClient, namespace: str, make_hub: Any, kube: ControlPlane
) -> None:
    user = f"claims-{namespace}"
    api.register("rbac.authorization.k8s.io/v1", "Role", "roles")
    api.register("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings")
    rbac = "rbac.authorization.k8s.io"
    api.create(
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "Role",
            "metadata": {"name": "read-configmaps", "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        }
    )
    api.create(
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "read-configmaps", "namespace": namespace},
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "read-configmaps"},
            "subjects": [{"apiGroup": rbac, "kind": "User", "name": user}],
        }
    )
    hand_made(api, namespace, "t03-profile")
    hub = make_hub([f"t{i:02d}" for i in range(8)], kubeconfig=str(kube.user_kubeconfig(user)))
    result = hub.sync()
    assert hub.requests() == 1
    assert withheld(result) == [("t03-web", "profile")]


def test_large_group_of_a_cluster_scoped_custom_kind_is_matched_by_name(
    api: ApiClient, namespace: str, make_hub: Any, kube: ControlPlane
) -> None:
    gizmos = "gizmos.test.lynq.sh"
    if not any(c["metadata"]["name"] == gizmos for c in api.list(*CRD, None)):
        api.create(GIZMO_CRD)
        kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{gizmos}")
    api.register("test.lynq.sh/v1", "Gizmo", "gizmos", namespaced=False)
    prefix = namespace[2:]  # cluster-scoped: names unique to this test
    api.create(
        {"apiVersion": "test.lynq.sh/v1", "kind": "Gizmo", "metadata": {"name": f"{prefix}-t07"}}
    )
    uids = [f"t{i:02d}" for i in range(claims.GET_LIMIT + 1)]
    hub = make_hub(uids)
    gizmo = (
        "  manifests:\n"
        "    - id: gizmo\n"
        f'      nameTemplate: "{prefix}-{{{{ uid }}}}"\n'
        "      spec: {apiVersion: test.lynq.sh/v1, kind: Gizmo}\n"
    )
    (hub.bridge.config / "form.yaml").write_text(FORM_GIZMO.format(namespace=namespace) + gizmo)
    result = hub.sync()
    assert hub.requests() == 2  # discovery of test.lynq.sh/v1 and one list
    assert withheld(result) == [("t07-web", "gizmo")]


def test_kind_the_api_server_does_not_serve_is_not_a_conflict(
    namespace: str, make_hub: Any
) -> None:
    hub = make_hub(["golf"])
    form = (
        FORM.format(namespace=namespace)
        + WIDGET
        + (
            "    - id: gadget\n"
            '      nameTemplate: "{{ uid }}-gadget"\n'
            "      spec: {apiVersion: nothere.example.com/v1, kind: Gadget}\n"
        )
    )
    (hub.bridge.config / "form.yaml").write_text(form)
    result = hub.sync()
    assert result.errors == []
    assert hub.file("golf-web", f"/gadget_{namespace}_golf-gadget.yaml") is not None
    assert hub.file("golf-web", f"/widget_{namespace}_golf-widget.yaml") is not None


def test_lookups_read_metadata_only_so_no_secret_data_reaches_the_bridge(
    api: ApiClient, namespace: str, kube: ControlPlane
) -> None:
    api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "golf-token", "namespace": namespace},
            "stringData": {"token": "s3cret"},
        }
    )
    many = [
        Claim(f"t{i:02d}-web", "token", "v1", "Secret", namespace, f"t{i:02d}-token")
        for i in range(claims.GET_LIMIT)
    ]
    secret = Claim("golf-web", "token", "v1", "Secret", namespace, "golf-token")
    with ClusterClient(str(kube.kubeconfig)) as client:
        got = claims.fetch_claimed(client, [secret])
        listed = claims.fetch_claimed(client, [secret, *many])
        assert client.requests == 2  # a GET, then one list
    for found in (got, listed):
        assert list(found) == [("golf-web", "token")]
        obj = found[("golf-web", "token")]
        assert obj["metadata"]["name"] == "golf-token" and "data" not in obj
