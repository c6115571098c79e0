"""Fixtures of the end-to-end tier: one stack (cluster, Git remotes, Flux, Argo CD) for the session,
and per engine one running bridge daemon (``lynq-bridge run`` with the reporter) on a SQLite hub.

Without the built programs the tier skips locally and fails in CI (``services.missing_service``).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from controlplane import find_binaries
from e2e_bridge import E2EBridge
from services import missing_service
from stack import (
    Stack,
    argocd_root,
    find_e2e_binaries,
    flux_root,
    start_argocd,
    start_flux,
    start_stack,
)


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (scripts/test.sh's trap, CI's timeout) becomes a KeyboardInterrupt, so pytest tears
    the fixtures down and the stack's dozen processes do not outlive the run."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack, started once; stopped by PID at the end, also when tests fail."""
    plane_bin, missing = find_binaries()
    e2e_bin, e2e_missing = find_e2e_binaries("cluster")
    require(missing + e2e_missing)
    # The engines start with the first test that needs them (flux_bridge, argocd_bridge).
    running = start_stack(plane_bin, e2e_bin, tmp_path_factory.mktemp("e2e"), engines=())
    try:
        yield running
    finally:
        running.stop()


def require(missing: list[str]) -> None:
    """Skip locally, fail in CI, when a program the tier needs is not built."""
    if missing:
        missing_service(
            "the end-to-end stack",
            f"it is not built: {', '.join(missing)} missing; run scripts/build-control-plane.sh "
            "and scripts/build-e2e-cluster.sh (or scripts/test.sh, which runs both)",
        )


def engine(stack: Stack, name: str) -> None:
    """Start Flux or Argo CD in the session's stack, once."""
    if name not in stack.engines:
        require(find_e2e_binaries(name)[1])
        (start_flux if name == "flux" else start_argocd)(stack)


@pytest.fixture(scope="module")
def flux_bridge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EBridge]:
    """A bridge daemon with ``target: flux`` and the hub's root Kustomization applied, in the
    sharded layout (the Argo CD tests use the flat one): kustomize-controller applies each
    level from its node's directory in its shard."""
    engine(stack, "flux")
    bridge = E2EBridge(stack, "flux", tmp_path_factory.mktemp("flux-bridge"), layout="sharded")
    try:
        stack.apply(flux_root(bridge.hub_namespace, "tenants"))
        yield bridge
    finally:
        bridge.stop()


@pytest.fixture(scope="module")
def argocd_bridge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EBridge]:
    """A bridge daemon with ``target: argocd`` and the hub's root Application applied."""
    engine(stack, "argocd")
    bridge = E2EBridge(stack, "argocd", tmp_path_factory.mktemp("argocd-bridge"))
    try:
        stack.apply(argocd_root(stack, bridge.hub_namespace, "tenants"))
        yield bridge
    finally:
        bridge.stop()
