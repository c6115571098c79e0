"""Progressive rollout on the real API server with the real reporter: 50 nodes, ``maxSkew: 5``,
one node whose new child never becomes Ready.

Each round plays the GitOps engine by hand: export the branch, ``kubectl apply -k`` the hub,
run one reporter pass, sync. Independently of the bridge's own bookkeeping, the test counts
after every sync the nodes committed at the new form revision whose new content the cluster
does not show Ready, and checks it never exceeds ``maxSkew``.

The progress deadline is passed with the rollout's clock hook (``Rollouts.clock``), not by
sleeping for Lynq's minimum of 60 seconds; commit times stay real.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase, git, hub_document
from cluster_objects import Report, lynq_form, lynq_hub
from controlplane import ApiClient, ControlPlane
from unreachable import closed_port, collected, kubeconfig

from lynq_bridge.config.loading import load_config
from lynq_bridge.core import rollout
from lynq_bridge.core.inputs import parse_inputs
from lynq_bridge.rollout_commands import resume_rollouts, rollout_status
from lynq_bridge.sync import HubResult, Syncer

NODES, SKEW, DEADLINE, STUCK = 50, 5, 60, "t13"

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {{name: web, namespace: {namespace}}}
spec:
  hubId: tenants
  rollout: {{maxSkew: {skew}, progressDeadlineSeconds: {deadline}}}
  configMaps:
    - id: settings
      nameTemplate: "{{{{ uid }}}}-settings"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {{plan: "{{{{ plan }}}}", version: "{version}"}}
"""

STUCK_APP = """
  deployments:
    - id: app
      nameTemplate: "{{ uid }}-app"
      includeWhen: "{{ uid == 't13' }}"
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          selector: {matchLabels: {app: "{{ uid }}"}}
          template:
            metadata: {labels: {app: "{{ uid }}"}}
            spec: {containers: [{name: app, image: "registry.invalid/app:2"}]}
"""


class Loop:
    """The bridge, the database and the cluster of one test, and the GitOps engine's part."""

    def __init__(
        self, root: Path, db: SqliteDatabase, kube: ControlPlane, namespace: str, report: Report
    ) -> None:
        self.root, self.db, self.kube, self.namespace, self.report = (
            root,
            db,
            kube,
            namespace,
            report,
        )
        spec = {"report": {"enabled": True, "kubeconfig": str(kube.kubeconfig)}}
        self.bridge = Bridge(root, db, bridge_spec=spec)
        hub = hub_document(db, root)
        hub["metadata"]["namespace"] = namespace
        self.bridge.write("hub.yaml", hub)
        self.hub_dir = f"lynq/{namespace}/tenants"
        self.syncer: Syncer | None = None
        self.offset = 0.0  # seconds the rollout clock is ahead of real time

    def form(self, version: str, *, stuck: bool = False) -> None:
        text = FORM.format(namespace=self.namespace, skew=SKEW, deadline=DEADLINE, version=version)
        (self.bridge.config / "form.yaml").write_text(text + (STUCK_APP if stuck else ""))
        self.restart()

    def restart(self) -> None:
        """A fresh process: a new Syncer with nothing in memory."""
        if self.syncer is not None:
            self.syncer.close()
        self.syncer = Syncer(load_config(self.bridge.config))
        self.syncer.rollouts.clock = lambda: time.time() + self.offset  # type: ignore[method-assign]

    def sync(self) -> HubResult:
        assert self.syncer is not None
        (result,) = self.syncer.sync_all()
        assert result.failure is None, result.failure
        return result

    def apply(self) -> None:
        """The engine: apply the hub as the branch holds it now."""
        out = self.root / "applied"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        out.mkdir()
        archive = subprocess.run(
            ["git", "--git-dir", str(self.bridge.remote), "archive", "refs/heads/main", "lynq"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
        self.kube.kubectl("apply", "--server-side", "-k", str(out / self.hub_dir))

    def round(self) -> HubResult:
        """Apply, report, sync; then check the rollout's bound."""
        self.apply()
        self.report()
        result = self.sync()
        assert len(self.updating()) <= SKEW, self.updating()
        return result

    # -------------------------------------------------------------- reading Git and cluster

    def tree(self, rev: str = "refs/heads/main") -> dict[str, str]:
        """node -> tree id of its directory at ``rev``."""
        out = git("--git-dir", str(self.bridge.remote), "ls-tree", rev, f"{self.hub_dir}/")
        return {
            line.split("\t")[1].rsplit("/", 1)[1]: line.split()[2]
            for line in out.splitlines()
            if line.split()[1] == "tree"
        }

    def index(self, rev: str = "refs/heads/main") -> bytes:
        return subprocess.run(
            [
                "git",
                "--git-dir",
                str(self.bridge.remote),
                "show",
                f"{rev}:{self.hub_dir}/.lynq-inputs",
            ],
            capture_output=True,
            check=True,
        ).stdout

    def committed_versions(self) -> dict[str, str]:
        """node -> the version its committed ConfigMap says (from the files, not the index)."""
        versions = {}
        for node in self.tree():
            text = git(
                "--git-dir",
                str(self.bridge.remote),
                "show",
                f"refs/heads/main:{self.hub_dir}/{node}/configmap_{self.namespace}_"
                f"{node.removesuffix('-web')}-settings.yaml",
            )
            versions[node] = yaml.safe_load(text)["data"]["version"]
        return versions

    def live_ready_v2(self) -> set[str]:
        """Nodes whose live ConfigMap is v2 and whose LynqNode the reporter judged Ready for its
        current generation."""
        maps = json.loads(self.kube.kubectl("get", "cm", "-n", self.namespace, "-o", "json").stdout)
        v2 = {
            m["metadata"]["name"].removesuffix("-settings") + "-web"
            for m in maps["items"]
            if (m.get("data") or {}).get("version") == "v2"
        }
        nodes = json.loads(
            self.kube.kubectl("get", "lynqnodes", "-n", self.namespace, "-o", "json").stdout
        )
        ready = {
            n["metadata"]["name"]
            for n in nodes["items"]
            if n.get("status", {}).get("observedGeneration") == n["metadata"]["generation"]
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        }
        return v2 & ready

    def updating(self) -> set[str]:
        """Nodes committed at v2 that the cluster does not show Ready at v2."""
        committed = {n for n, v in self.committed_versions().items() if v == "v2"}
        return committed - self.live_ready_v2()

    def trailers(self) -> dict[str, str]:
        from lynq_bridge.core.messages import parse_trailers

        return parse_trailers(self.bridge.message())

    def close(self) -> None:
        if self.syncer is not None:
            self.syncer.close()


def commit_time(loop: Loop, rev: str) -> int:
    return int(git("--git-dir", str(loop.bridge.remote), "log", "-1", "--format=%ct", rev))


@pytest.fixture
def loop(
    tmp_path: Path,
    kube: ControlPlane,
    api: ApiClient,
    namespace: str,
    report: Report,
    sqlite_database: Path,
    create_tenants: Any,
) -> Iterator[Loop]:
    db = SqliteDatabase(sqlite_database)
    rows = [{"tenant_id": f"t{i:02d}", "active": "1", "plan": "basic"} for i in range(NODES)]
    create_tenants(db, rows)
    api.create(lynq_hub(namespace))
    api.create(lynq_form(namespace))
    loop = Loop(tmp_path, db, kube, namespace, report)
    try:
        yield loop
    finally:
        loop.close()


def test_fifty_nodes_roll_out_five_at_a_time_halt_resume_and_complete(
    loop: Loop, api: ApiClient, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    loop.form("v1")
    first = loop.sync()
    assert first.added == NODES
    loop.apply()
    loop.report()
    before = loop.tree()
    before_index = parse_inputs(loop.index())
    v1_commit = git("--git-dir", str(loop.bridge.remote), "rev-parse", "refs/heads/main").strip()

    # The form changes: five nodes go, the other 45 keep their v1 render byte for byte.
    loop.form("v2", stuck=True)
    result = loop.sync()
    assert result.updated == SKEW
    versions = loop.committed_versions()
    released = sorted(n for n, v in versions.items() if v == "v2")
    assert released == [f"t{i:02d}-web" for i in range(SKEW)]
    now_tree, now_index = loop.tree(), parse_inputs(loop.index())
    held = [n for n in before if n not in released]
    assert len(held) == NODES - SKEW
    assert all(now_tree[n] == before[n] for n in held)  # byte-identical directories
    assert all(now_index[n] == before_index[n] for n in held)  # and index entries
    assert loop.trailers()["Lynq-Rollout-Open"] == "web"
    assert loop.trailers()["Lynq-Rollout-Held"] == f"web={NODES - SKEW}"
    assert len(loop.updating()) == SKEW
    # When each node's files were last committed (what the deadline counts from), from Git.
    assert loop.syncer is not None
    times = loop.syncer.git.change_times(
        loop.bridge.head(), loop.hub_dir, ["t00-web", "t30-web"], since=0
    )
    assert times == {"t00-web": commit_time(loop, "main"), "t30-web": commit_time(loop, v1_commit)}
    assert (
        loop.syncer.git.change_times(
            loop.bridge.head(), loop.hub_dir, ["t30-web"], since=commit_time(loop, "main")
        )
        == {}
    )

    # Before the engine applied them, the cluster still shows the old, Ready LynqNodes:
    # nothing more may be released.
    head = loop.bridge.head()
    assert loop.sync().commit is None
    assert loop.bridge.head() == head

    # Rounds until the stuck node is out and its four companions are Ready.
    rounds = 0
    while STUCK + "-web" not in {n for n, v in loop.committed_versions().items() if v == "v2"}:
        loop.round()
        rounds += 1
        assert rounds < 10
    loop.round()  # the stuck node's batch is Ready except the stuck node: 4 more go
    assert STUCK + "-web" in loop.updating()
    form_status = api.get("operator.lynq.sh/v1", "LynqForm", "web", namespace)["status"]
    assert form_status["rollout"]["phase"] == "InProgress"
    assert form_status["rollout"]["totalNodes"] == NODES

    # The deadline passes: the rollout halts with a commit trailer and the LynqForm says so.
    loop.offset = 2 * DEADLINE
    pending_before = sum(1 for v in loop.committed_versions().values() if v == "v1")
    loop.round()
    assert loop.trailers()["Lynq-Rollout-Halted"] == "web"
    halted_head = loop.bridge.head()
    status = api.get("operator.lynq.sh/v1", "LynqForm", "web", namespace)["status"]
    assert status["rollout"]["phase"] == "Failed"
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert f"{STUCK}-web" in progressing["message"]
    assert rollout.parse_records(loop.index())["web"].halted
    (seen,) = rollout_status(load_config(loop.bridge.config))
    assert seen.record is not None and seen.record.halted
    capsys.readouterr()
    assert loop.bridge.cli("rollout", "status") == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"form {namespace}/web (hub {namespace}/tenants, maxSkew 5): halted")
    assert line.endswith(f"{NODES - pending_before}/{NODES} node(s) at the current revision")

    # Halted: the others become Ready, still nothing is released, even by a fresh process.
    loop.restart()
    loop.round()
    assert loop.bridge.head() == halted_head
    assert sum(1 for v in loop.committed_versions().values() if v == "v1") == pending_before

    # New rows and row changes are not held back by the halted rollout.
    held_node = sorted(n for n, v in loop.committed_versions().items() if v == "v1")[-1]
    loop.db.execute(
        "INSERT INTO tenants (tenant_id, active, plan) VALUES ('t50', '1', 'basic')",
        f"UPDATE tenants SET plan = 'pro' WHERE tenant_id = '{held_node.removesuffix('-web')}'",
    )
    result = loop.sync()
    assert (result.added, result.updated) == (1, 1)
    versions = loop.committed_versions()
    assert versions["t50-web"] == "v2" and versions[held_node] == "v2"
    assert sum(1 for v in versions.values() if v == "v1") == pending_before - 1

    # A person resumes; a fresh process (a restart, or another replica) continues the rollout.
    loop.offset = 0
    (line,) = resume_rollouts(load_config(loop.bridge.config), form=f"{namespace}/web")
    assert "rollout resumed" in line
    assert loop.trailers()["Lynq-Rollout-Resumed"] == "web"
    loop.restart()
    rounds = 0
    while any(v == "v1" for v in loop.committed_versions().values()):
        loop.round()
        rounds += 1
        assert rounds < 20
    loop.round()  # every node released: the last ones become Ready, the stuck one does not
    assert loop.updating() == {f"{STUCK}-web"}
    assert loop.trailers()["Lynq-Rollout-Open"] == "web"  # open until the stuck node is Ready
    status = api.get("operator.lynq.sh/v1", "LynqForm", "web", namespace)["status"]
    assert status["rollout"]["phase"] == "InProgress"
    assert (status["rollout"]["updatingNodes"], status["rollout"]["readyUpdatedNodes"]) == (
        1,
        NODES,
    )

    # The stuck node's Deployment becomes available: the rollout completes and closes.
    api.patch(
        "apps/v1",
        "Deployment",
        f"{STUCK}-app",
        namespace,
        {
            "status": {
                "observedGeneration": 1,
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
            }
        },
        subresource="status",
    )
    loop.round()
    assert loop.trailers().get("Lynq-Rollout-Complete") == "web"
    assert rollout.parse_records(loop.index()) == {}
    status = api.get("operator.lynq.sh/v1", "LynqForm", "web", namespace)["status"]
    assert status["rollout"]["phase"] == "Complete"
    assert status["rollout"]["updatedNodes"] == NODES + 1
    assert git("--git-dir", str(loop.bridge.remote), "rev-list", "--count", f"{v1_commit}..main")


def test_an_unreachable_cluster_holds_every_pending_node_and_commits_nothing(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any
) -> None:
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": f"t{i}", "active": "1", "plan": "basic"} for i in range(4)])
    with closed_port() as port:
        spec = {"report": {"enabled": True, "kubeconfig": kubeconfig(tmp_path / "kc", port)}}
        bridge = Bridge(tmp_path, db, bridge_spec=spec)
        # Force: the Stuck check would withhold the new objects while the cluster is away.
        force = ("    - id: settings\n", "    - id: settings\n      conflictPolicy: Force\n")
        for version in ("v1", "v2"):
            form = FORM.format(namespace="default", skew=1, deadline=DEADLINE, version=version)
            (bridge.config / "form.yaml").write_text(form.replace(*force))
            if version == "v1":
                assert bridge.sync() == 0
                before = bridge.head()
        syncer = Syncer(load_config(bridge.config))
        try:
            with collected("lynq_bridge.rollouts") as records:
                (result,) = syncer.sync_all()
        finally:
            syncer.close()

    assert result.failure is None and result.commit is None
    assert bridge.head() == before  # nothing released, nothing halted
    assert result.rollout is not None
    (decision,) = result.rollout.decisions
    assert len(decision.hold) == 4 and not decision.halted
    (warning,) = [r.getMessage() for r in records]
    assert "rollouts of hub tenants wait" in warning


def form_status(api: ApiClient, namespace: str) -> dict[str, Any]:
    status: dict[str, Any] = api.get("operator.lynq.sh/v1", "LynqForm", "web", namespace).get(
        "status", {}
    )
    return status


def test_a_form_whose_max_skew_goes_back_to_zero_loses_its_rollout_status(
    loop: Loop, api: ApiClient, namespace: str
) -> None:
    loop.form("v1")
    loop.sync()
    loop.form("v2")
    assert loop.sync().updated == SKEW  # a rollout opened: the sync wrote status.rollout
    api.patch(
        "operator.lynq.sh/v1",
        "LynqForm",
        "web",
        namespace,
        {"status": {"conditions": [
            *form_status(api, namespace)["conditions"],
            {"type": "Valid", "status": "True", "reason": "Valid", "message": "ok",
             "lastTransitionTime": "2025-01-01T00:00:00Z"},
        ]}},
        subresource="status",
    )  # fmt: skip
    assert form_status(api, namespace)["rollout"]["phase"] == "InProgress"

    # maxSkew back to 0 (Lynq then clears status.rollout): every node goes in one commit.
    text = FORM.format(namespace=namespace, skew=0, deadline=DEADLINE, version="v3")
    (loop.bridge.config / "form.yaml").write_text(text)
    loop.restart()
    result = loop.sync()
    assert result.updated == NODES
    assert set(loop.committed_versions().values()) == {"v3"}
    assert rollout.parse_records(loop.index()) == {}
    status = form_status(api, namespace)
    assert "rollout" not in status
    assert [c["type"] for c in status["conditions"]] == ["Valid"]  # others' conditions stay

    # Read once per process and form revision: a later sync does not ask again.
    api.patch(
        "operator.lynq.sh/v1", "LynqForm", "web", namespace,
        {"status": {"rollout": {"phase": "Complete"}}}, subresource="status",
    )  # fmt: skip
    loop.db.execute("UPDATE tenants SET plan = 'pro' WHERE tenant_id = 't00'")
    assert loop.sync().updated == 1
    assert form_status(api, namespace)["rollout"] == {"phase": "Complete"}
    loop.restart()  # a new process reads it again, when its first sync renders
    loop.db.execute("UPDATE tenants SET plan = 'gold' WHERE tenant_id = 't00'")
    assert loop.sync().updated == 1
    assert "rollout" not in form_status(api, namespace)


@pytest.mark.parametrize("access", [True, False])
def test_a_form_with_max_skew_zero_asks_the_cluster_only_with_access_and_never_fails_a_sync(
    tmp_path: Path, sqlite_database: Path, create_tenants: Any, access: bool
) -> None:
    """With cluster access, an unreachable cluster that would clear a rollout status is a
    warning, not a failed sync; without access, the cluster is not asked at all."""
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": "t1", "active": "1", "plan": "basic"}])
    force = ("    - id: settings\n", "    - id: settings\n      conflictPolicy: Force\n")
    form = FORM.format(namespace="default", skew=0, deadline=DEADLINE, version="v1")
    with closed_port() as port:
        spec = {"report": {"enabled": access, "kubeconfig": kubeconfig(tmp_path / "kc", port)}}
        bridge = Bridge(tmp_path, db, bridge_spec=spec)
        (bridge.config / "form.yaml").write_text(form.replace(*force))
        syncer = Syncer(load_config(bridge.config))
        try:
            with collected("lynq_bridge.rollouts") as records:
                (result,) = syncer.sync_all()
        finally:
            syncer.close()
    assert result.failure is None and result.added == 1
    warnings = [r.getMessage() for r in records]
    if access:
        (warning,) = warnings
        assert warning.startswith("cannot clear the rollout status of LynqForm default/web")
    else:
        assert warnings == []
