"""Names as long as Lynq's, end to end: rows with a UUID uid, a 40-character form name, a
253-character node name and two node names sharing one short label value go through
``lynq-bridge sync`` into a real Git remote, the rendered tree is applied to the real API server
(our CRDs), and the status reporter tells every node's objects apart.

``UID_A`` and ``UID_B`` make node names whose short label values collide (see
tests/unit/test_long_names.py): only the ``lynq.sh/node`` annotation tells their objects apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from bridge_harness import Bridge, SqliteDatabase
from cluster_objects import Report
from controlplane import ControlPlane

from lynq_bridge.core import naming
from lynq_bridge.core.layout import path_owner

FORM_NAME = "workspace-with-monitoring-and-backups-v2"  # 40 characters
UUID = "0f8c2d1e-6b7a-4c3d-9e8f-a1b2c3d4e5f6"
UID_A = f"{UUID}-tenant-workspace-284e01"
UID_B = f"{UUID}-tenant-workspace-29a94b"
LONGEST_UID = "u" * (naming.MAX_NODE_NAME - len(FORM_NAME) - 1)
TOO_LONG_UID = LONGEST_UID + "u"
UIDS = [UUID, UID_A, UID_B, LONGEST_UID]

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: FORM_NAME, namespace: NAMESPACE}
spec:
  hubId: tenants
  configMaps:
    - id: settings
      nameTemplate: "cfg-{{ uid | sha1sum }}"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {uid: "{{ uid }}"}
"""


def node_of(uid: str) -> str:
    return f"{uid}-{FORM_NAME}"


def long_names_bridge(root: Path, sqlite_database: Path, create_tenants: Any, ns: str) -> Bridge:
    db = SqliteDatabase(sqlite_database)
    rows = [{"tenant_id": uid, "active": "1"} for uid in [*UIDS, TOO_LONG_UID]]
    create_tenants(db, rows)
    form = FORM.replace("FORM_NAME", FORM_NAME).replace("NAMESPACE", ns)
    bridge = Bridge(root, db, form=form, bridge_spec={"target": "both"})
    hub = bridge.load_config_document("hub.yaml")
    hub["metadata"]["namespace"] = ns
    bridge.write("hub.yaml", hub)
    return bridge


def kubectl_json(kube: ControlPlane, *args: str) -> Any:
    return json.loads(kube.kubectl(*args, "-o", "json").stdout)


def test_long_node_names_sync_apply_and_report_apart(
    kube: ControlPlane,
    namespace: str,
    report: Report,
    tmp_path: Path,
    sqlite_database: Path,
    create_tenants: Any,
    capsys: Any,
) -> None:
    bridge = long_names_bridge(tmp_path, sqlite_database, create_tenants, namespace)
    assert bridge.sync() == 1  # the 254-character node name is a row error; the rest is pushed
    assert f'row with uid "{TOO_LONG_UID}" of hub tenants' in capsys.readouterr().err
    hub = f"lynq/{namespace}/tenants"
    files = bridge.files()
    owners = {path_owner(f.removeprefix(f"{hub}/")) for f in files}
    assert owners - {None} == {node_of(uid) for uid in UIDS}
    longest = node_of(LONGEST_UID)
    assert f"{hub}/argocd/{longest}/application.yaml" in files  # <node>.yaml would be 258 bytes
    assert f"{hub}/argocd/{node_of(UUID)}.yaml" in files
    assert all(len(part) <= 255 for f in files for part in f.split("/"))

    out = tmp_path / "out"
    assert bridge.cli("render", "--out", str(out)) == 1  # the same row error, every file written
    hub_dir = out / namespace / "tenants"
    for engine in ("argocd", "flux"):  # the engine files build, the Application in its directory
        built = yaml.safe_load_all(kube.kubectl("kustomize", str(hub_dir / engine)).stdout)
        names = {d["metadata"].get("annotations", {}).get("lynq.sh/node") for d in built if d}
        assert longest in names
    applied = kube.kubectl("apply", "--server-side", "-k", str(hub_dir)).stdout
    assert f"lynqnode.operator.lynq.sh/{longest} serverside-applied" in applied

    by_uid = kubectl_json(
        kube,
        "get",
        "configmap",
        "-n",
        namespace,
        "-l",
        f"lynq.sh/uid={naming.label_value(LONGEST_UID)}",
    )
    [item] = by_uid["items"]  # the 210-character uid: a short label, the full uid beside it
    assert item["metadata"]["annotations"]["lynq.sh/uid"] == item["data"]["uid"] == LONGEST_UID
    short = naming.label_value(node_of(UID_A))
    shared = kubectl_json(kube, "get", "configmap", "-n", namespace, "-l", f"lynq.sh/node={short}")
    assert sorted(i["metadata"]["annotations"]["lynq.sh/node"] for i in shared["items"]) == sorted(
        [node_of(UID_A), node_of(UID_B)]
    )

    assert report().errors == 0
    for uid in UIDS:
        node = kubectl_json(kube, "get", "lynqnode", "-n", namespace, node_of(uid))
        assert node["status"]["readyResources"] == 1, (uid, node["status"])
        assert node["status"]["conflictedResources"] == 0
    # B's object made to name A in its annotation: the label still matches B's short form, but
    # the lookup confirms the full name, so B reports a conflict and A is untouched.
    [object_b] = [i for i in shared["items"] if i["data"]["uid"] == UID_B]
    kube.kubectl(
        "annotate",
        "-n",
        namespace,
        "configmap",
        object_b["metadata"]["name"],
        f"lynq.sh/node={node_of(UID_A)}",
        "--overwrite",
    )
    # The 253-character node's object without its annotation: the short label alone cannot
    # confirm the name, so that object is reported as someone else's (with an Event).
    [object_longest] = by_uid["items"]
    kube.kubectl(
        "annotate",
        "-n",
        namespace,
        "configmap",
        object_longest["metadata"]["name"],
        "lynq.sh/node-",
    )
    assert report().errors == 0
    node_longest = kubectl_json(kube, "get", "lynqnode", "-n", namespace, longest)
    assert node_longest["status"]["conflictedResources"] == 1
    events = kubectl_json(
        kube, "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={longest}"
    )
    assert [e["reason"] for e in events["items"]] == ["ResourceConflict"]
    assert len(events["items"][0]["metadata"]["name"]) <= 253
    node_b = kubectl_json(kube, "get", "lynqnode", "-n", namespace, node_of(UID_B))
    assert node_b["status"]["conflictedResources"] == 1
    node_a = kubectl_json(kube, "get", "lynqnode", "-n", namespace, node_of(UID_A))
    assert node_a["status"]["readyResources"] == 1
    assert node_a["status"]["conflictedResources"] == 0
