"""The informer's list/watch/relist loop against a scripted fake of our ClusterClient interface.

The fake answers ``list_versioned`` and ``watch_objects`` from a script and records the
resourceVersion every watch started from, so the tests state which version a watch resumes
from after bookmarks, a normal end, a 410 Gone and an error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, cast

from lynq_bridge.adapters.cluster import ClusterClient, ResourceType, WatchStream
from lynq_bridge.errors import ClusterUnavailable
from lynq_bridge.informers import Informer

CONFIGMAPS = ResourceType("v1", "ConfigMap", "configmaps", True)
Event = dict[str, Any]


def _obj(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "t1", "resourceVersion": version}}


class FakeClient:
    """Lists and watches from scripts; the last watch blocks until the stream is closed."""

    def __init__(self, lists: list[tuple[list[dict[str, Any]], str]], watches: list[Any]) -> None:
        self.lists = lists
        self.watches = watches
        self.watched_from: list[str | None] = []
        self.listed = 0
        self.done = threading.Event()

    def list_versioned(
        self, rtype: ResourceType, namespace: str | None, **_: object
    ) -> tuple[list[dict[str, Any]], str | None]:
        self.listed += 1
        return self.lists.pop(0)

    def watch_objects(
        self,
        rtype: ResourceType,
        namespace: str | None,
        resource_version: str | None,
        *,
        timeout_seconds: int,
        metadata_only: bool = False,
        stream: WatchStream | None = None,
    ) -> Iterator[Event]:
        self.watched_from.append(resource_version)
        if not self.watches:
            self.done.set()
            assert stream is not None
            while not stream.closed:
                threading.Event().wait(0.01)
            return
        script = self.watches.pop(0)
        if isinstance(script, Exception):
            raise script
        yield from script


class Recorder:
    def __init__(self) -> None:
        self.lists: list[list[str]] = []
        self.events: list[tuple[bool, str]] = []
        self.errors: list[str] = []

    def on_list(self, informer: Informer, objects: list[dict[str, Any]]) -> None:
        self.lists.append([o["metadata"]["name"] for o in objects])

    def on_event(self, informer: Informer, deleted: bool, obj: Mapping[str, Any]) -> None:
        self.events.append((deleted, obj["metadata"]["name"]))

    def on_error(self, informer: Informer, message: str) -> None:
        self.errors.append(message)


def _run(client: FakeClient) -> tuple[Recorder, Informer]:
    sink = Recorder()
    informer = Informer(cast(ClusterClient, client), CONFIGMAPS, "t1", sink=sink, retry_cap=0.01)
    informer.start()
    assert client.done.wait(5), "the informer never reached its last watch"
    informer.close()
    assert informer.join(1.0), "the informer thread outlived close() by more than a second"
    return sink, informer


def test_bookmarks_and_a_normal_end_resume_from_the_last_version_without_a_relist() -> None:
    client = FakeClient(
        lists=[([_obj("a", "10")], "10")],
        watches=[
            [
                {"type": "ADDED", "object": _obj("b", "11")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
            ],
            [{"type": "DELETED", "object": _obj("a", "16")}],
        ],
    )
    sink, informer = _run(client)
    assert client.watched_from == ["10", "15", "16"]
    assert client.listed == 1
    assert sink.events == [(False, "b"), (True, "a")]
    assert informer.lists == 1


def test_gone_relists_and_the_watch_continues_from_the_new_list() -> None:
    client = FakeClient(
        lists=[([_obj("a", "10")], "10"), ([_obj("a", "30"), _obj("c", "31")], "31")],
        watches=[
            [{"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}],
            [{"type": "MODIFIED", "object": _obj("c", "32")}],
        ],
    )
    sink, _ = _run(client)
    assert sink.lists == [["a"], ["a", "c"]]
    assert client.watched_from == ["10", "31", "32"]
    assert sink.errors == []  # an expired version is routine, not an error


def test_a_broken_watch_is_reported_and_relisted() -> None:
    client = FakeClient(
        lists=[([], "10"), ([_obj("a", "12")], "12")],
        watches=[ClusterUnavailable("Cannot watch configmaps: the watch broke (reset).")],
    )
    sink, _ = _run(client)
    assert sink.lists == [[], ["a"]]
    assert client.watched_from == ["10", "12"]
    assert sink.errors == ["Cannot watch configmaps: the watch broke (reset)."]


def test_an_error_event_is_reported_and_relisted() -> None:
    client = FakeClient(
        lists=[([], "10"), ([], "20")],
        watches=[[{"type": "ERROR", "object": {"code": 500, "message": "etcd timeout"}}]],
    )
    sink, _ = _run(client)
    assert client.listed == 2
    assert len(sink.errors) == 1 and "etcd timeout" in sink.errors[0]
