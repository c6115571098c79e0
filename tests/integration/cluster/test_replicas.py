"""Two ``lynq-bridge run`` processes on one bare remote, one SQLite file and the real API server.

The replicas split the hubs with Leases (``spec.leaderElection``, lease 4 s, renew deadline
3 s, retry 1 s). The failover test kills the holder of the hub's Lease with SIGKILL during a
burst of row changes and checks what a GitOps engine would see: every change is in the final
tree, the history is linear, no commit repeats its predecessor's tree or its stamp. The
failover time (kill → the survivor's first sync) is printed (``-s``) and kept in the README.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase, git
from controlplane import ApiClient, ControlPlane

from lynq_bridge.core.leasing import hub_lease_name, lease_group
from lynq_bridge.core.messages import TRAILER_SNAPSHOT, parse_trailers

pytestmark = pytest.mark.cluster

LEADER_ELECTION = {
    "enabled": True,
    "leaseDurationSeconds": 4,
    "renewDeadlineSeconds": 3,
    "retryPeriodSeconds": 1,
}


class Replica:
    """One ``lynq-bridge run`` process; its log lines with the monotonic time they arrived."""

    def __init__(self, name: str, config: Path) -> None:
        self.name = name
        command = [sys.executable, "-m", "lynq_bridge", "run", "--config", str(config)]
        self.process = subprocess.Popen(
            [*command, "--listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def first(self, pattern: str, *, after: float = 0.0) -> float | None:
        """When the first log line matching ``pattern`` arrived after ``after``."""
        for moment, line in list(self.lines):
            if moment >= after and re.search(pattern, line):
                return moment
        return None

    def log(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return self.process.returncode


def wait_for(predicate: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for replica in started:  # by PID, also when the test failed
        replica.stop()


def replica_configs(
    root: Path,
    db: SqliteDatabase,
    kube: ControlPlane,
    namespace: str,
    report: dict[str, Any] | None = None,
) -> tuple[Bridge, list[Path]]:
    """One bridge (remote, config) and a second config that differs only in git.workDir."""
    spec: dict[str, Any] = {
        "leaderElection": {
            **LEADER_ELECTION,
            "namespace": namespace,
            "kubeconfig": str(kube.kubeconfig),
        }
    }
    if report:
        spec["report"] = {"kubeconfig": str(kube.kubeconfig), **report}
    bridge = Bridge(root / "a", db, bridge_spec=spec)
    hub = bridge.load_config_document("hub.yaml")
    hub["spec"]["source"]["syncInterval"] = "1s"
    bridge.write("hub.yaml", hub)
    second = root / "b" / "config"
    shutil.copytree(bridge.config, second)
    document = yaml.safe_load((second / "lynq-bridge.yaml").read_text())
    document["spec"]["git"]["workDir"] = str(root / "b" / "work")
    (second / "lynq-bridge.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return bridge, [bridge.config, second]


def holder_pid(api: ApiClient, namespace: str, lease: str) -> int | None:
    try:
        found = api.get("coordination.k8s.io/v1", "Lease", lease, namespace)
    except Exception:  # not created yet
        return None
    holder = found["spec"].get("holderIdentity") or ""
    parts = holder.split("_")
    return int(parts[-2]) if len(parts) >= 3 else None


class Tenants:
    """The SQLite tenants table and the changes a test made to it (the expected final state)."""

    def __init__(self, db: SqliteDatabase, count: int) -> None:
        self.db = db
        self.plans = {f"t{i:05d}": "basic" for i in range(count)}
        self.next = count
        self.rng = random.Random(9)
        db.execute(
            "CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, active TEXT, plan TEXT, "
            "domain TEXT, replicas TEXT)",
            (
                "INSERT INTO tenants (tenant_id, active, plan) VALUES (?, '1', ?)",
                list(self.plans.items()),
            ),
        )

    def change(self, step: int) -> None:
        """An UPDATE, INSERT or DELETE, in turn."""
        kind = step % 3
        if kind == 0:
            uid = self.rng.choice(sorted(self.plans))
            self.plans[uid] = f"plan{step}"
            self.db.execute(
                ("UPDATE tenants SET plan = ? WHERE tenant_id = ?", (f"plan{step}", uid))
            )
        elif kind == 1:
            uid = f"t{self.next:05d}"
            self.next += 1
            self.plans[uid] = f"plan{step}"
            self.db.execute(
                (
                    "INSERT INTO tenants (tenant_id, active, plan) VALUES (?, '1', ?)",
                    (uid, f"plan{step}"),
                )
            )
        else:
            uid = self.rng.choice(sorted(self.plans))
            del self.plans[uid]
            self.db.execute(("DELETE FROM tenants WHERE tenant_id = ?", (uid,)))


def remote_plans(bridge: Bridge) -> dict[str, str]:
    """node → the PLAN env value of its Deployment on the remote branch (one git call)."""
    out = git("--git-dir", str(bridge.remote), "grep", "-A1", "name: PLAN", "main", "--", "lynq/")
    return dict(re.findall(r"lynq/default/tenants/([^/]+)/.*value: ['\"]?([^'\"\s]+)", out))


def test_kill_9_of_the_hub_holder_mid_burst_loses_no_change_and_keeps_history_linear(
    tmp_path: Path, kube: ControlPlane, api: ApiClient, namespace: str, replicas: list[Replica]
) -> None:
    api.register("coordination.k8s.io/v1", "Lease", "leases")
    db = SqliteDatabase(tmp_path / "tenants.db")
    tenants = Tenants(db, 2000)
    bridge, configs = replica_configs(tmp_path, db, kube, namespace)
    lease = hub_lease_name(lease_group(str(bridge.remote), "main", "lynq"), "default/tenants")
    replicas += [Replica("a", configs[0]), Replica("b", configs[1])]
    pid = wait_for(lambda: holder_pid(api, namespace, lease), 60, "a replica takes the Lease")
    holder = next(r for r in replicas if r.process.pid == pid)
    survivor = next(r for r in replicas if r is not holder)
    wait_for(bridge.head, 120, "the first sync is pushed")

    # A burst: one change every 0.1 s; the holder syncs every second (each sync re-reads 2,000
    # rows), so the kill lands in or right next to a sync with changes pending.
    step = 0
    burst_start = time.monotonic()
    burst_end = burst_start + 2.5
    while time.monotonic() < burst_end:
        tenants.change(step)
        step += 1
        time.sleep(0.1)
    holder.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    pushed = holder.first(r"synced hub default/tenants: .* commit=[0-9a-f]{12}", after=burst_start)
    assert pushed is not None, f"the holder pushed nothing during the burst:\n{holder.log()}"
    holder.process.wait(timeout=10)
    after_kill = time.monotonic() + 3.0
    while time.monotonic() < after_kill:  # changes while nobody holds the Lease
        tenants.change(step)
        step += 1
        time.sleep(0.1)

    took = wait_for(
        lambda: survivor.first(r"acquired the Lease of hub default/tenants", after=killed),
        30,
        f"replica {survivor.name} takes the Lease",
    )
    synced = wait_for(
        lambda: survivor.first(r"synced hub default/tenants", after=killed),
        30,
        f"replica {survivor.name} syncs",
    )
    expected = dict(sorted(tenants.plans.items()))
    wait_for(
        lambda: remote_plans(bridge) == {f"{uid}-web": plan for uid, plan in expected.items()},
        60,
        "every row change is on the remote",
    )
    print(
        f"\nfailover after kill -9: Lease taken in {took - killed:.2f} s, "
        f"first sync logged in {synced - killed:.2f} s "
        f"(lease 4 s, renew deadline 3 s, retry 1 s; {step} row changes, 2,000 rows)"
    )
    assert took - killed < 4 + 1 + 1.5  # duration + one retry period + scheduling slack

    remote = str(bridge.remote)
    every = git("--git-dir", remote, "rev-list", "main").split()
    first_parent = git("--git-dir", remote, "rev-list", "--first-parent", "main").split()
    assert every == first_parent  # linear: no merge, nothing rewritten
    trees = git("--git-dir", remote, "log", "--format=%T", "main").split()
    assert all(a != b for a, b in itertools.pairwise(trees)), "an empty commit"
    stamps = [
        parse_trailers(git("--git-dir", remote, "log", "-1", "--format=%B", sha))[TRAILER_SNAPSHOT]
        for sha in every
    ]
    assert len(stamps) == len(set(stamps)), "two commits of the same rows"
    assert survivor.stop() == 0
    both = holder.log() + survivor.log()
    assert "Traceback" not in both
    # The clean stop released the Lease: whoever comes next does not wait for the duration.
    released = api.get("coordination.k8s.io/v1", "Lease", lease, namespace)["spec"]
    assert released["holderIdentity"] == ""


def add_second_hub(config: Path, db: SqliteDatabase | None) -> None:
    """Hub ``tenants-b`` on table ``tenants_b`` with its own form ``web-b``."""
    hub = yaml.safe_load((config / "hub.yaml").read_text())
    hub["metadata"]["name"] = "tenants-b"
    hub["spec"]["source"]["sqlite"]["table"] = "tenants_b"
    (config / "hub-b.yaml").write_text(yaml.safe_dump(hub, sort_keys=False))
    form = yaml.safe_load((config / "form.yaml").read_text())
    form["metadata"]["name"] = "web-b"
    form["spec"]["hubId"] = "tenants-b"
    (config / "form-b.yaml").write_text(yaml.safe_dump(form, sort_keys=False))
    if db is not None:
        db.execute(
            "CREATE TABLE tenants_b (tenant_id TEXT PRIMARY KEY, active TEXT, plan TEXT, "
            "domain TEXT, replicas TEXT)",
            "INSERT INTO tenants_b (tenant_id, active) VALUES ('bravo', '1')",
        )


def all_nodes(bridge: Bridge) -> set[str]:
    """Node directories of every hub on the remote branch."""
    return {f.split("/")[3] for f in bridge.files() if f.startswith("lynq/") and f.count("/") > 3}


def test_two_replicas_split_two_hubs_run_one_reporter_and_a_clean_stop_hands_over_at_once(
    tmp_path: Path, kube: ControlPlane, api: ApiClient, namespace: str, replicas: list[Replica]
) -> None:
    api.register("coordination.k8s.io/v1", "Lease", "leases")
    db = SqliteDatabase(tmp_path / "tenants.db")
    Tenants(db, 3)
    bridge, configs = replica_configs(
        tmp_path, db, kube, namespace, {"enabled": True, "namespace": namespace, "interval": "1s"}
    )
    add_second_hub(configs[0], db)
    add_second_hub(configs[1], None)
    group = lease_group(str(bridge.remote), "main", "lynq")
    hubs = {key: hub_lease_name(group, key) for key in ("default/tenants", "default/tenants-b")}
    replicas += [Replica("a", configs[0]), Replica("b", configs[1])]

    def split() -> dict[str, int] | None:
        holders = {key: holder_pid(api, namespace, name) for key, name in hubs.items()}
        pids = set(holders.values())
        return holders if None not in pids and len(pids) == 2 else None  # type: ignore[return-value]

    holders = wait_for(split, 60, "each replica holds one hub")
    wait_for(lambda: {"t00000-web", "bravo-web-b"} <= all_nodes(bridge), 60, "both synced")
    reporter = wait_for(
        lambda: holder_pid(api, namespace, f"lynq-bridge-reporter-{namespace}"), 30, "reporter"
    )
    by_pid = {r.process.pid: r for r in replicas}
    running = [r for r in replicas if r.first(r"runs the reporter")]
    assert running == [by_pid[reporter]]

    leaving, staying = by_pid[reporter], next(r for r in replicas if r.process.pid != reporter)
    its_hub = next(key for key, pid in holders.items() if pid == reporter)
    stopped = time.monotonic()
    assert leaving.stop() == 0
    took = wait_for(
        lambda: staying.first(f"acquired the Lease of hub {its_hub}", after=stopped),
        10,
        "the survivor takes the released hub",
    )
    runs = wait_for(
        lambda: staying.first(r"runs the reporter", after=stopped), 10, "the survivor reports"
    )
    print(
        f"\nhand-over after SIGTERM: hub Lease taken {took - stopped:.2f} s, reporter started "
        f"{runs - stopped:.2f} s after the stop began (lease 4 s, retry 1 s)"
    )
    assert took - stopped < 4  # released, not expired: no lease duration to wait for
    table = "tenants" if its_hub == "default/tenants" else "tenants_b"
    db.execute(f"INSERT INTO {table} (tenant_id, active) VALUES ('late', '1')")
    node = "late-web" if table == "tenants" else "late-web-b"
    wait_for(lambda: node in all_nodes(bridge), 30, "the survivor syncs the hub")
    assert "Traceback" not in leaving.log() + staying.log()
