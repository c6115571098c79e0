"""Timeouts, dependencies, conflicts, malformed nodes and roll-ups on a real API server."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from cluster_objects import (
    Clock,
    Report,
    child,
    condition,
    entry,
    events_for,
    lynq_form,
    lynq_hub,
    lynq_node,
    node_status,
    states,
)
from controlplane import ApiClient, ControlPlane, free_port

from lynq_bridge.reporter import watch

pytestmark = pytest.mark.cluster


def test_resource_not_ready_within_its_timeout_fails_and_the_clock_survives_restarts(
    api: ApiClient, namespace: str, report: Report, clock: Clock
) -> None:
    api.create(child("Deployment", "app", namespace, "acme-web"))
    api.create(
        lynq_node(
            "acme-web",
            namespace,
            [
                entry("app", "Deployment", "app", namespace, timeoutSeconds=60),
                entry("late", "ConfigMap", "late", namespace, timeoutSeconds=60),
            ],
        )
    )

    report()  # first sight: both clocks start now
    clock.advance(59)
    report()  # a new connection and a new reporter: nothing in memory survives
    before = node_status(api, namespace, "acme-web")
    clock.advance(1)
    report()
    after = node_status(api, namespace, "acme-web")

    assert states(before) == {"app": "NotReady", "late": "Missing"}
    assert {r["since"] for r in before["resources"]} == {"2030-01-01T12:00:00Z"}
    assert states(after) == {"app": "Failed", "late": "Failed"}
    assert {r["reason"] for r in after["resources"]} == {"Timeout"}
    assert after["failedResources"] == 2
    ready = condition(after, "Ready")
    assert ready is not None and ready["reason"] == "ResourcesFailed"
    timeouts = [
        e for e in events_for(api, namespace, "acme-web") if e["reason"] == "ReadinessTimeout"
    ]
    assert len(timeouts) == 2


def test_dependent_waits_without_a_clock_until_its_dependency_is_ready(
    api: ApiClient, namespace: str, report: Report, clock: Clock
) -> None:
    claim = api.create(child("PersistentVolumeClaim", "data", namespace, "acme-web"))
    api.create(
        lynq_node(
            "acme-web",
            namespace,
            [
                entry("data", "PersistentVolumeClaim", "data", namespace, timeoutSeconds=600),
                entry("app", "ConfigMap", "app", namespace, dependIds=["data"], timeoutSeconds=60),
            ],
        )
    )

    report()
    clock.advance(300)
    report()
    waiting = node_status(api, namespace, "acme-web")
    api.patch_status(claim, {"phase": "Bound"})
    report()
    released = node_status(api, namespace, "acme-web")

    app = waiting["resources"][1]
    assert (app["state"], "since" in app) == ("Missing", False)
    assert 'Waiting for dependency "data"' in app["message"]
    assert states(released) == {"data": "Ready", "app": "Missing"}
    assert released["resources"][1]["since"] == "2030-01-01T12:05:00Z"


def test_object_owned_by_someone_else_is_conflicted_until_it_carries_our_label(
    api: ApiClient, namespace: str, report: Report
) -> None:
    foreign = api.create(
        child("ConfigMap", "settings", namespace, "acme-web", labels={"team": "other"})
    )
    api.create(child("ConfigMap", "forced", namespace, "acme-web", labels={}))
    api.create(
        lynq_node(
            "acme-web",
            namespace,
            [
                entry("settings", "ConfigMap", "settings", namespace),
                entry("forced", "ConfigMap", "forced", namespace, conflictPolicy="Force"),
            ],
        )
    )

    report()
    conflicted = node_status(api, namespace, "acme-web")
    api.patch(
        "v1",
        "ConfigMap",
        "settings",
        namespace,
        {"metadata": {"labels": {"lynq.sh/node": "acme-web", "lynq.sh/node-namespace": namespace}}},
    )
    report()
    recovered = node_status(api, namespace, "acme-web")

    assert foreign["metadata"]["labels"] == {"team": "other"}
    assert states(conflicted) == {"settings": "Conflicted", "forced": "Ready"}
    assert conflicted["conflictedResources"] == 1
    flags = {c: condition(conflicted, c) for c in ("Ready", "Conflicted", "Stalled", "Degraded")}
    assert {c: (v or {}).get("reason") for c, v in flags.items()} == {
        "Ready": "ResourcesConflicted",
        "Conflicted": "ResourceConflict",
        "Stalled": "ResourcesConflicted",
        "Degraded": "ResourceConflicts",
    }
    assert states(recovered) == {"settings": "Ready", "forced": "Ready"}
    back = condition(recovered, "Conflicted")
    assert back is not None and (back["status"], back["reason"]) == ("False", "NoConflict")
    assert condition(recovered, "Stalled") is None
    reasons = [e["reason"] for e in events_for(api, namespace, "acme-web")]
    assert sorted(reasons) == ["ResourceConflict", "ResourceRecovered"]


def test_malformed_nodes_are_stalled_and_do_not_stop_the_pass(
    api: ApiClient, namespace: str, report: Report
) -> None:
    api.create(lynq_node("no-inventory", namespace, None))
    api.create(
        lynq_node(
            "cycle",
            namespace,
            [
                entry("a", "ConfigMap", "a", namespace, dependIds=["b"]),
                entry("b", "ConfigMap", "b", namespace, dependIds=["a"]),
            ],
        )
    )
    api.create(
        lynq_node(
            "twice",
            namespace,
            [entry("a", "ConfigMap", "a", namespace), entry("a", "ConfigMap", "b", namespace)],
        )
    )
    api.create(
        lynq_node(
            "gizmo",
            namespace,
            [entry("g", "Gizmo", "g", namespace, apiVersion="example.invalid/v1")],
        )
    )
    api.create(child("ConfigMap", "fine", namespace, "healthy"))
    api.create(lynq_node("healthy", namespace, [entry("fine", "ConfigMap", "fine", namespace)]))

    result = report()

    assert (result.nodes, result.writes, result.errors) == (5, 5, 0)
    stalled = {}
    for name in ("no-inventory", "cycle", "twice", "gizmo"):
        status = node_status(api, namespace, name)
        ready, stall = condition(status, "Ready"), condition(status, "Stalled")
        assert ready is not None and ready["status"] == "False"
        assert stall is not None and stall["status"] == "True"
        stalled[name] = stall["reason"]
    assert stalled == {
        "no-inventory": "InventoryMissing",
        "cycle": "DependencyCycle",
        "twice": "DuplicateResourceId",
        "gizmo": "UnknownKind",
    }
    healthy = condition(node_status(api, namespace, "healthy"), "Ready")
    assert healthy is not None and healthy["status"] == "True"
    assert [e["reason"] for e in events_for(api, namespace, "cycle")] == ["DependencyCycle"]


def test_new_node_generation_is_observed_in_status(
    api: ApiClient, namespace: str, report: Report
) -> None:
    api.create(child("ConfigMap", "one", namespace, "acme-web"))
    api.create(lynq_node("acme-web", namespace, [entry("one", "ConfigMap", "one", namespace)]))
    report()
    spec = lynq_node(
        "acme-web",
        namespace,
        [entry("one", "ConfigMap", "one", namespace), entry("two", "ConfigMap", "two", namespace)],
    )["spec"]
    updated = api.patch("operator.lynq.sh/v1", "LynqNode", "acme-web", namespace, {"spec": spec})

    report()
    status = node_status(api, namespace, "acme-web")

    assert updated["metadata"]["generation"] == 2
    assert status["observedGeneration"] == 2
    assert {c["observedGeneration"] for c in status["conditions"]} == {2}
    assert states(status) == {"one": "Ready", "two": "Missing"}


def test_kubectl_wait_for_ready_accepts_reporter_output(
    kube: ControlPlane, api: ApiClient, namespace: str, report: Report
) -> None:
    api.create(child("ConfigMap", "settings", namespace, "acme-web"))
    api.create(
        lynq_node("acme-web", namespace, [entry("settings", "ConfigMap", "settings", namespace)])
    )
    report()

    waited = kube.kubectl(
        "wait", "--for=condition=Ready", "--timeout=20s", "-n", namespace, "lynqnode/acme-web"
    )

    assert waited.stdout.strip() == "lynqnode.operator.lynq.sh/acme-web condition met"


def test_kubectl_wait_for_ready_times_out_while_a_resource_is_missing(
    kube: ControlPlane, api: ApiClient, namespace: str, report: Report
) -> None:
    api.create(
        lynq_node("acme-web", namespace, [entry("settings", "ConfigMap", "settings", namespace)])
    )
    report()

    with pytest.raises(subprocess.CalledProcessError) as failed:
        kube.kubectl(
            "wait", "--for=condition=Ready", "--timeout=2s", "-n", namespace, "lynqnode/acme-web"
        )

    assert "timed out" in failed.value.stderr


def test_hub_and_form_roll_up_node_counts(api: ApiClient, namespace: str, report: Report) -> None:
    api.create(lynq_hub(namespace))
    api.create(lynq_form(namespace))
    api.create(lynq_form(namespace, name="orphan", hub="nowhere"))
    api.create(child("ConfigMap", "settings", namespace, "acme-web"))
    api.create(
        lynq_node("acme-web", namespace, [entry("settings", "ConfigMap", "settings", namespace)])
    )
    api.create(lynq_node("beta-web", namespace, [entry("s", "ConfigMap", "s", namespace)]))

    first = report()
    second = report()

    hub = api.get("operator.lynq.sh/v1", "LynqHub", "tenants", namespace)["status"]
    form = api.get("operator.lynq.sh/v1", "LynqForm", "web", namespace)["status"]
    orphan = api.get("operator.lynq.sh/v1", "LynqForm", "orphan", namespace)["status"]
    assert (first.writes, second.writes) == (5, 0)  # 2 nodes, 1 hub, 2 forms; then nothing
    assert hub == {
        "observedGeneration": 1,
        "desired": 2,
        "ready": 1,
        "failed": 0,
        "referencingTemplates": 1,
        "referencingTemplateNames": ["web"],
    }
    assert (form["totalNodes"], form["readyNodes"]) == (2, 1)
    assert {c["type"]: c["reason"] for c in form["conditions"]} == {
        "Valid": "ValidationPassed",
        "Applied": "NotAllNodesReady",
    }
    assert {c["type"]: c["reason"] for c in orphan["conditions"]} == {
        "Valid": "ValidationFailed",
        "Applied": "NoNodes",
    }


def test_watch_survives_an_unreachable_cluster(
    kube: ControlPlane, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    broken = tmp_path / "kubeconfig"
    broken.write_text(yaml.safe_dump(config))
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()

    watch(kubeconfig=str(broken), namespace=None, interval_seconds=0.1, stop=stop)

    timer.join()
    failures = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(failures) >= 2
    assert "did not answer" in failures[0]
