"""Fixtures for tests against the real API server of the test control plane.

``kube`` (session) starts etcd and kube-apiserver once for all cluster tests and stops them by
PID at the end, also when tests fail. Without the binaries the tests skip locally and fail in CI
(any truthy ``CI``), where a silent skip would hide a broken set-up. Every test gets its own
namespace, so tests never see each other's objects, and an injectable ``clock``, so timeouts
are tested without sleeping.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from cluster_objects import Clock, Report
from controlplane import ApiClient, ControlPlane, find_binaries, start_control_plane
from services import missing_service

from lynq_bridge.reporter import ReportResult, report_once

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.lynq.sh"},
    "spec": {
        "group": "test.lynq.sh",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
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


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The running test control plane (etcd + kube-apiserver) with our CRDs installed."""
    bin_dir, missing = find_binaries()
    if missing:
        reason = (
            f"it is not built: {', '.join(missing)} missing in {bin_dir}; "
            "run scripts/build-control-plane.sh or set LYNQ_TEST_CONTROL_PLANE_BIN"
        )
        missing_service("the test control plane", reason)
    plane = start_control_plane(bin_dir, tmp_path_factory.mktemp("control-plane"))
    try:
        with plane.api() as api:
            api.create(WIDGET_CRD)
        plane.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "crd/widgets.test.lynq.sh"
        )
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def api(kube: ControlPlane) -> Iterator[ApiClient]:
    """An admin client for setting up and inspecting objects (not the code under test)."""
    with kube.api() as client:
        client.register("test.lynq.sh/v1", "Widget", "widgets")
        yield client


@pytest.fixture
def namespace(api: ApiClient) -> str:
    """A fresh namespace for this test (left behind: no namespace controller runs)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC))


@pytest.fixture
def report(kube: ControlPlane, namespace: str, clock: Clock) -> Report:
    """``report()`` runs one reporter pass on this test's namespace at ``clock``'s time."""

    def run(**overrides: object) -> ReportResult:
        arguments: dict[str, object] = {
            "kubeconfig": str(kube.kubeconfig),
            "namespace": namespace,
            "now": clock,
        }
        arguments.update(overrides)
        return report_once(**arguments)  # type: ignore[arg-type]

    return run
