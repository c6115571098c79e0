"""The watching reporter on the real API server: latency, idle cost, relist, timeouts, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster_objects import child, condition, entry, lynq_form, lynq_hub, lynq_node, node_status
from controlplane import ApiClient, ControlPlane

from lynq_bridge.adapters.cluster import LYNQ_NODE, ClusterClient
from lynq_bridge.core.watching import classify
from lynq_bridge.informers import Informer
from lynq_bridge.reporter import ReportResult, watch
from lynq_bridge.reporting import utc_now
from lynq_bridge.watcher import StatusWatcher

pytestmark = pytest.mark.cluster

ROLLED_OUT = {
    "observedGeneration": 1,
    "replicas": 2,
    "updatedReplicas": 2,
    "readyReplicas": 2,
    "availableReplicas": 2,
}


def _until(check: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``check()`` held; fails the test after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not true within {seconds}s")


def _ready(api: ApiClient, namespace: str, node: str) -> bool:
    ready = condition(node_status(api, namespace, node), "Ready")
    return ready is not None and ready["status"] == "True"


class Running:
    """A StatusWatcher on its own client and thread, stopped at the end of the test."""

    def __init__(self, kube: ControlPlane, namespace: str, **options: Any) -> None:
        self.client = ClusterClient(str(kube.kubeconfig))
        self.results: list[ReportResult] = []
        self.watcher = StatusWatcher(
            self.client,
            namespace=namespace,
            now=utc_now,
            retry_cap=1.0,
            on_result=self.results.append,
            **options,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watcher.run, args=(self.stop,))
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.client.close()


@pytest.fixture
def running(kube: ControlPlane, namespace: str) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(**options: Any) -> Running:
        started.append(Running(kube, namespace, **options))
        return started[-1]

    yield start
    for run in started:
        run.close()


def test_a_child_status_change_reaches_its_node_within_a_second(
    api: ApiClient, namespace: str, running: Callable[..., Running]
) -> None:
    deployment = api.create(child("Deployment", "app", namespace, "acme-web"))
    api.create(lynq_node("acme-web", namespace, [entry("app", "Deployment", "app", namespace)]))
    run = running()
    _until(lambda: bool(node_status(api, namespace, "acme-web")), 10)
    assert not _ready(api, namespace, "acme-web")

    api.patch_status(deployment, ROLLED_OUT)
    latency = _until(lambda: _ready(api, namespace, "acme-web"), 5)

    assert latency < 1.0, f"status followed the Deployment after {latency:.2f}s"
    assert sum(r.errors for r in run.results) == 0


def test_an_idle_reporter_sends_no_requests(
    api: ApiClient, namespace: str, running: Callable[..., Running]
) -> None:
    api.create(child("Deployment", "app", namespace, "acme-web"))
    api.create(child("ConfigMap", "settings", namespace, "acme-web"))
    api.create(
        lynq_node(
            "acme-web",
            namespace,
            [
                entry("app", "Deployment", "app", namespace),
                entry("settings", "ConfigMap", "settings", namespace),
            ],
        )
    )
    api.create(lynq_hub(namespace))
    api.create(lynq_form(namespace))
    run = running()
    _until(lambda: bool(node_status(api, namespace, "acme-web")), 10)
    time.sleep(1.0)  # let the rounds of our own writes' events settle

    before, rounds = run.client.requests, run.watcher.rounds
    time.sleep(5.0)

    assert run.client.requests - before == 0
    assert run.watcher.rounds == rounds


def test_a_new_node_and_kind_are_picked_up_and_a_deleted_child_is_noticed(
    api: ApiClient, namespace: str, running: Callable[..., Running]
) -> None:
    running()
    api.create(child("Service", "svc", namespace, "late-web"))
    api.create(lynq_node("late-web", namespace, [entry("svc", "Service", "svc", namespace)]))
    _until(lambda: _ready(api, namespace, "late-web"), 5)

    api.delete("v1", "Service", "svc", namespace)
    _until(lambda: not _ready(api, namespace, "late-web"), 5)
    status = node_status(api, namespace, "late-web")
    assert status["resources"][0]["state"] == "Missing"


def test_a_readiness_timeout_fails_the_resource_with_no_event_in_the_cluster(
    api: ApiClient, namespace: str, running: Callable[..., Running]
) -> None:
    api.create(
        lynq_node(
            "slow-web",
            namespace,
            [entry("gone", "ConfigMap", "never-applied", namespace, timeoutSeconds=2)],
        )
    )
    running()
    _until(lambda: bool(node_status(api, namespace, "slow-web")), 5)

    _until(lambda: node_status(api, namespace, "slow-web")["failedResources"] == 1, 6)
    assert node_status(api, namespace, "slow-web")["resources"][0]["reason"] == "Timeout"


def test_the_server_answers_a_compacted_version_with_410_gone(
    kube: ControlPlane, namespace: str
) -> None:
    with ClusterClient(str(kube.kubeconfig)) as client:
        first = next(iter(client.watch_objects(LYNQ_NODE, namespace, "1", timeout_seconds=5)))
    assert classify(first).step == "relist"


class ExpiringOnce(Informer):
    """An informer whose first list's version is replaced by one long compacted away."""

    def _list(self) -> bool:
        listed = super()._list()
        if self.lists == 1:
            self.version = "1"
        return listed


def test_an_expired_version_relists_and_the_watch_continues(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    seen: list[str] = []

    class Sink:
        def on_list(self, informer: Informer, objects: list[dict[str, Any]]) -> None:
            seen.extend(f"list {o['metadata']['name']}" for o in objects)

        def on_event(self, informer: Informer, deleted: bool, obj: Any) -> None:
            seen.append(f"event {obj['metadata']['name']}")

        def on_error(self, informer: Informer, message: str) -> None:
            seen.append(f"error {message}")

    api.create(lynq_node("before", namespace, []))
    with ClusterClient(str(kube.kubeconfig)) as client:
        informer = ExpiringOnce(client, LYNQ_NODE, namespace, sink=Sink(), retry_cap=0.1)
        informer.start()
        try:
            _until(lambda: informer.lists == 2, 10)
            api.create(lynq_node("after", namespace, []))
            _until(lambda: "event after" in seen, 5)
        finally:
            informer.close()
            assert informer.join(1.0)
    assert seen[:2] == ["list before", "list before"]
    assert not [s for s in seen if s.startswith("error")]


def test_stop_ends_every_watch_thread_within_a_second(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    api.create(child("ConfigMap", "settings", namespace, "acme-web"))
    api.create(
        lynq_node("acme-web", namespace, [entry("settings", "ConfigMap", "settings", namespace)])
    )
    results: list[ReportResult] = []
    stop = threading.Event()
    worker = threading.Thread(
        target=watch,
        kwargs={
            "kubeconfig": str(kube.kubeconfig),
            "namespace": namespace,
            "interval_seconds": 1.0,
            "stop": stop,
            "on_result": results.append,
        },
    )
    worker.start()
    _until(lambda: _ready(api, namespace, "acme-web"), 10)
    watching = [t for t in threading.enumerate() if t.name.startswith("watch ")]
    assert len(watching) >= 4  # nodes, hubs, forms, configmaps

    stopped = time.monotonic()
    stop.set()
    worker.join(2.0)

    assert not worker.is_alive()
    assert time.monotonic() - stopped < 1.0 + 0.5  # a poll tick and the debounce at most
    assert not [t for t in watching if t.is_alive()]
    assert sum(r.writes for r in results) == 1


def test_a_custom_kind_is_discovered_and_its_conditions_are_followed(
    api: ApiClient, namespace: str, running: Callable[..., Running]
) -> None:
    widget = api.create(child("Widget", "w", namespace, "acme-web"))
    api.create(lynq_node("acme-web", namespace, [entry("w", "Widget", "w", namespace)]))
    run = running()
    _until(lambda: _ready(api, namespace, "acme-web"), 10)

    not_ready = {"type": "Ready", "status": "False", "reason": "Scaling", "message": "Wait."}
    api.patch_status(widget, {"conditions": [not_ready]})
    _until(lambda: not _ready(api, namespace, "acme-web"), 5)

    assert ("test.lynq.sh/v1", "Widget") in run.watcher.types
    assert sum(r.errors for r in run.results) == 0


def test_hub_and_form_rollups_follow_a_node_becoming_ready(
    api: ApiClient, namespace: str, running: Callable[..., Running]
) -> None:
    deployment = api.create(child("Deployment", "app", namespace, "acme-web"))
    api.create(lynq_node("acme-web", namespace, [entry("app", "Deployment", "app", namespace)]))
    api.create(lynq_hub(namespace))
    api.create(lynq_form(namespace))
    running()

    def hub() -> dict[str, Any]:
        found: dict[str, Any] = api.get("operator.lynq.sh/v1", "LynqHub", "tenants", namespace)
        return found.get("status", {})

    def form_ready() -> int | None:
        form = api.get("operator.lynq.sh/v1", "LynqForm", "web", namespace)
        ready: int | None = form.get("status", {}).get("readyNodes")
        return ready

    # The hub's and the form's statuses are two writes: wait for both, then check them.
    _until(lambda: hub().get("desired") == 1 and form_ready() is not None, 10)
    assert (hub()["ready"], form_ready()) == (0, 0)

    api.patch_status(deployment, ROLLED_OUT)
    _until(lambda: hub().get("ready") == 1 and form_ready() == 1, 5)
