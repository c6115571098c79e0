"""The watcher's cache: which events make a node dirty, with fakes of our ClusterClient.

No threads run here: the tests call the sink methods the informer threads would call, and
``round()`` as the round loop would, so each guard is checked by what ends up dirty.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, cast

from lynq_bridge.adapters.cluster import BUILTIN_TYPES, ClusterClient, ResourceType, WatchStream
from lynq_bridge.informers import Informer
from lynq_bridge.watcher import StatusWatcher

NOW = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
CONFIGMAPS = BUILTIN_TYPES[("v1", "ConfigMap")]


class FakeClient:
    """Our ClusterClient's surface the watcher uses, answering status patches locally."""

    requests = 0

    def __init__(self) -> None:
        self.patched: list[str] = []
        self.version = 100

    def resource_type(self, api_version: str, kind: str) -> ResourceType | None:
        return BUILTIN_TYPES.get((api_version, kind))

    def patch_status_object(
        self, rtype: ResourceType, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        self.patched.append(name)
        self.version += 1
        meta = {"name": name, "namespace": namespace, "resourceVersion": str(self.version)}
        return {"metadata": meta, "spec": NODE["spec"], "status": dict(status)}

    def create_event(self, involved: Mapping[str, Any], **_: object) -> None:
        return None


NODE: dict[str, Any] = {
    "metadata": {"name": "acme-web", "namespace": "t1", "resourceVersion": "10"},
    "spec": {
        "uid": "acme",
        "templateRef": "web",
        "hubId": "tenants",
        "resources": [
            {
                "id": "settings",
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "namespace": "t1",
                "name": "settings",
                "hash": "h",
            }
        ],
    },
}
CONFIGMAP = {
    "metadata": {
        "name": "settings",
        "namespace": "t1",
        "resourceVersion": "11",
        "labels": {"lynq.sh/node": "acme-web", "lynq.sh/node-namespace": "t1"},
    }
}


class Unstarted(Informer):
    """An informer whose thread never starts: the test plays its part."""

    def start(self) -> None:
        return None


class Threadless(StatusWatcher):
    def _informer(
        self, rtype: ResourceType, namespace: str | None, *, missing_ok: bool = False
    ) -> Informer:
        return Unstarted(self.client, rtype, namespace, sink=self)


def _watcher() -> tuple[StatusWatcher, FakeClient]:
    client = FakeClient()
    watcher = Threadless(
        cast(ClusterClient, client), namespace="t1", now=lambda: NOW, retry_cap=1.0
    )
    return watcher, client


def _settled() -> tuple[StatusWatcher, FakeClient, Informer]:
    """A watcher that has listed the node and its ConfigMap and written the status once."""
    watcher, client = _watcher()
    watcher.on_list(watcher.node_informer, [dict(NODE)])
    watcher.on_list(watcher.hub_informer, [])
    watcher.on_list(watcher.form_informer, [])
    watcher.round()  # indexes the node; plans (and would start) the ConfigMap watch
    informer = watcher.children[(CONFIGMAPS, "t1")]
    watcher.on_list(informer, [dict(CONFIGMAP)])
    watcher.round()
    assert client.patched == ["acme-web"]
    return watcher, client, informer


def test_a_listed_child_makes_its_node_written_once_and_leaves_nothing_dirty() -> None:
    watcher, _, _ = _settled()
    assert watcher.dirty == set()
    status = watcher.nodes[("t1", "acme-web")]["status"]
    assert status["readyResources"] == 1


def test_the_event_of_our_own_status_write_does_not_make_the_node_dirty() -> None:
    watcher, _, _ = _settled()
    echoed = dict(watcher.nodes[("t1", "acme-web")])
    watcher.on_event(watcher.node_informer, False, echoed)
    assert watcher.dirty == set()


def test_a_stale_node_event_does_not_overwrite_the_status_our_write_returned() -> None:
    watcher, _, _ = _settled()
    written = watcher.nodes[("t1", "acme-web")]
    watcher.on_event(watcher.node_informer, False, dict(NODE))  # version 10, no status
    assert watcher.nodes[("t1", "acme-web")] is written
    assert watcher.dirty == set()


def test_someone_elses_status_write_makes_the_node_dirty() -> None:
    watcher, client, _ = _settled()
    overwritten = {**NODE, "metadata": {**NODE["metadata"], "resourceVersion": "900"}}
    overwritten["status"] = {"readyResources": 0}
    watcher.on_event(watcher.node_informer, False, overwritten)
    assert watcher.dirty == {("t1", "acme-web")}
    watcher.round()
    assert client.patched == ["acme-web", "acme-web"]


def test_a_child_event_that_changes_nothing_status_reads_makes_nothing_dirty() -> None:
    watcher, _, informer = _settled()
    bumped = {**CONFIGMAP, "metadata": {**CONFIGMAP["metadata"], "resourceVersion": "50"}}
    watcher.on_event(informer, False, bumped)
    assert watcher.dirty == set()


def test_a_deleted_child_makes_its_node_dirty_and_missing() -> None:
    watcher, _, informer = _settled()
    watcher.on_event(informer, True, CONFIGMAP)
    assert watcher.dirty == {("t1", "acme-web")}
    watcher.round()
    status = watcher.nodes[("t1", "acme-web")]["status"]
    assert status["resources"][0]["state"] == "Missing"


def test_a_deleted_node_leaves_the_index_and_its_watch_is_closed() -> None:
    watcher, _, informer = _settled()
    watcher.on_event(watcher.node_informer, True, NODE)
    watcher.round()
    assert watcher.index == {}
    assert watcher.children == {}
    assert informer in watcher.closed


def test_a_closed_watch_that_still_delivers_keeps_nothing() -> None:
    watcher, _, informer = _settled()
    watcher.on_event(watcher.node_informer, True, NODE)
    watcher.round()
    watcher.on_list(informer, [dict(CONFIGMAP)])
    watcher.on_event(informer, False, CONFIGMAP)
    assert informer.store == {}


class GoneAtOnce:
    """Lists fine, but every watch answers 410 Gone before any event."""

    def __init__(self) -> None:
        self.listed = 0

    def list_versioned(self, *_: object, **__: object) -> tuple[list[dict[str, Any]], str]:
        self.listed += 1
        return [], "5"

    def watch_objects(
        self, *_: object, stream: WatchStream | None = None, **__: object
    ) -> Iterator[dict[str, Any]]:
        yield {"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}


class Quiet:
    def on_list(self, informer: Informer, objects: list[dict[str, Any]]) -> None: ...

    def on_event(self, informer: Informer, deleted: bool, obj: Mapping[str, Any]) -> None: ...

    def on_error(self, informer: Informer, message: str) -> None: ...


def test_a_version_that_expires_right_after_its_list_backs_off_instead_of_spinning() -> None:
    client = GoneAtOnce()
    informer = Informer(cast(ClusterClient, client), CONFIGMAPS, "t1", sink=Quiet(), retry_cap=5)
    informer.start()
    time.sleep(1.2)
    informer.close()
    assert informer.join(1.0)
    assert client.listed <= 3  # immediately, after 0.5 s, after 1 s more at most
    assert not any(t.name.startswith("watch ") and t.is_alive() for t in threading.enumerate())


def test_an_all_namespaces_watch_serves_the_nodes_of_every_namespace() -> None:
    client = FakeClient()
    watcher = Threadless(
        cast(ClusterClient, client), namespace=None, now=lambda: NOW, retry_cap=1.0, threshold=0
    )
    watcher.on_list(watcher.node_informer, [dict(NODE)])
    watcher.round()
    assert set(watcher.children) == {(CONFIGMAPS, None)}
    elsewhere = {**CONFIGMAP, "metadata": {**CONFIGMAP["metadata"], "namespace": "t2"}}
    watcher.on_list(watcher.children[(CONFIGMAPS, None)], [elsewhere, dict(CONFIGMAP)])
    assert watcher.dirty == {("t1", "acme-web")}
    watcher.round()
    assert watcher.nodes[("t1", "acme-web")]["status"]["readyResources"] == 1
