"""spec.leaderElection: off by default, timing rules, the reporter runs only under its Lease."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from lynq_bridge.config.loading import load_config
from lynq_bridge.config.models import LeaderElectionSettings
from lynq_bridge.core.leasing import REPORTER, reporter_lease_name
from lynq_bridge.leases import keeper_for, new_identity, run_while_held

HUB = {
    "apiVersion": "operator.lynq.sh/v1",
    "kind": "LynqHub",
    "metadata": {"name": "tenants", "namespace": "default"},
    "spec": {
        "source": {"type": "sqlite", "sqlite": {"path": "t.db", "table": "tenants"}},
        "valueMappings": {"uid": "id", "activate": "active"},
    },
}


def config_dir(tmp_path: Path, **spec: object) -> Path:
    bridge = {
        "apiVersion": "bridge.lynq.sh/v1alpha1",
        "kind": "BridgeConfig",
        "metadata": {"name": "default", "namespace": "lynq-system"},
        "spec": {"git": {"url": str(tmp_path / "remote.git")}, **spec},
    }
    (tmp_path / "bridge.yaml").write_text(yaml.safe_dump(bridge))
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(HUB))
    return tmp_path


def test_without_leader_election_there_is_no_keeper_and_no_cluster_connection(
    tmp_path: Path,
) -> None:
    assert keeper_for(load_config(config_dir(tmp_path))) is None


def test_with_leader_election_the_keeper_splits_the_config_hubs_in_its_namespace(
    tmp_path: Path,
) -> None:
    config = load_config(
        config_dir(
            tmp_path,
            leaderElection={"enabled": True},
            report={"enabled": True, "namespace": "team-a"},
        )
    )
    keeper = keeper_for(config)
    assert keeper is not None
    assert (keeper.namespace, keeper.hubs) == ("lynq-system", ["default/tenants"])
    assert keeper._names[REPORTER] == reporter_lease_name("team-a")
    # No request yet: the connection is opened by the first round.
    assert keeper._client is None


@pytest.mark.parametrize(
    ("duration", "deadline", "retry"), [(10, 10, 2), (15, 10, 10), (4, 5, 1), (3, 2, 2)]
)
def test_timing_must_be_retry_below_deadline_below_duration(
    duration: int, deadline: int, retry: int
) -> None:
    with pytest.raises(ValidationError, match="retryPeriodSeconds < renewDeadlineSeconds"):
        LeaderElectionSettings(
            leaseDurationSeconds=duration,
            renewDeadlineSeconds=deadline,
            retryPeriodSeconds=retry,
        )


def test_defaults_are_client_gos() -> None:
    settings = LeaderElectionSettings()
    assert (settings.enabled, settings.leaseDurationSeconds) == (False, 15)
    assert (settings.renewDeadlineSeconds, settings.retryPeriodSeconds) == (10, 2)


def test_identity_is_host_pid_and_a_random_suffix() -> None:
    first, second = new_identity(), new_identity()
    assert first != second
    assert first.rsplit("_", 2)[1] == second.rsplit("_", 2)[1]  # the pid


class Switch:
    """A keeper whose ``holds`` a test flips."""

    def __init__(self) -> None:
        self.on = False

    def holds(self, key: str) -> bool:
        return self.on and key == REPORTER


def test_the_reporter_runs_only_while_its_lease_is_held_and_stops_when_lost() -> None:
    switch, stop = Switch(), threading.Event()
    runs: list[str] = []

    def reporter(own: threading.Event) -> None:
        runs.append("start")
        own.wait()
        runs.append("stop")

    thread = threading.Thread(
        target=run_while_held,
        args=(switch, REPORTER, reporter, stop),
        kwargs={"poll_seconds": 0.01},
    )
    thread.start()
    try:
        time.sleep(0.1)
        assert runs == []
        switch.on = True
        _wait(lambda: runs == ["start"])
        switch.on = False
        _wait(lambda: runs == ["start", "stop"])
        switch.on = True
        _wait(lambda: runs == ["start", "stop", "start"])
    finally:
        stop.set()
        thread.join(timeout=5)
    assert runs == ["start", "stop", "start", "stop"]
    assert not thread.is_alive()


def _wait(predicate: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("not in time")
