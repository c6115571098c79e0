"""Progressive rollout through real Flux: ten tenants, ``maxSkew: 2``, one tenant whose new
Deployment never becomes Ready in the cluster until a person fixes the cause.

The form's second revision adds a pod annotation and a node affinity to every tenant's
Deployment; for ``r01`` the affinity asks for a node label value no node has, so its new pod
stays Pending (the kube-scheduler's verdict, not the test's). Flux applies every commit,
kube-controller-manager and kwok roll the Deployments, the real reporter (``lynq-bridge report
--watch``) writes the LynqNode status. The test runs each sync itself (``lynq-bridge sync
--once``) so that it samples Git and the cluster after every commit, and so that the progress
deadline (Lynq's minimum, 60 s, waited for in real time) passes while nodes are still pending:

- never more than 2 tenants committed at the new revision whose Deployment the cluster does not
  show rolled out and whose LynqNode the reporter did not report Ready;
- every tenant not yet released keeps its directory byte-identical (same Git tree);
- the rollout moves on as the updated tenants become Ready, halts when ``r01`` passes the
  deadline (trailer, LynqForm ``status.rollout`` and ``Progressing`` condition), stays halted
  after the cause is fixed, and completes after ``lynq-bridge rollout resume``.

Timings are printed (``-s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import scenarios
import yaml
from apiclient import ApiClient
from e2e_bridge import HUB, E2EBridge, eventually
from stack import Stack, find_e2e_binaries, flux_root, start_flux

from lynq_bridge.core import rollout
from lynq_bridge.core.messages import parse_trailers

FORM, TENANTS, SKEW, DEADLINE = "web", 10, 2, 60
STUCK = "r01"  # released in the first batch: the others pass it one at a time
LABEL = "e2e.lynq.sh/rollout"  # on the kwok node: "open", later "fixed"
KWOK_NODE = "kwok-node-0"
STEP_TIMEOUT = 120.0  # one tenant's Deployment rolled and its LynqNode reported Ready

# Revision 1 has neither the annotation's value 2 nor the affinity; revision 2 has both.
FORM_TEXT = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: HUBNS}
spec:
  hubId: tenants
  rollout: {maxSkew: SKEW, progressDeadlineSeconds: DEADLINE}
  deployments:
    - id: app
      nameTemplate: "{{ uid }}-app"
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          replicas: 1
          selector: {matchLabels: {app: "{{ uid }}"}}
          template:
            metadata:
              labels: {app: "{{ uid }}"}
              annotations: {e2e.lynq.sh/revision: "REVISION"}
            spec:
              containers: [{name: web, image: "registry.example/web:1"}]
AFFINITY"""

AFFINITY = """\
              affinity:
                nodeAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    nodeSelectorTerms:
                      - matchExpressions:
                          - key: LABEL
                            operator: In
                            values: ["{{ 'quarantined' if uid == 'STUCK' else 'open' }}", fixed]
"""


class RolloutBridge(E2EBridge):
    """The e2e bridge config with this module's form; ``start`` runs only the status reporter
    (``lynq-bridge report --watch``): the test runs every sync itself."""

    def write_form(self, *, quota_line: str = "") -> None:
        self.set_revision(1)

    def set_revision(self, revision: int) -> None:
        text = (
            FORM_TEXT.replace("HUBNS", self.hub_namespace)
            .replace("SKEW", str(SKEW))
            .replace("DEADLINE", str(DEADLINE))
            .replace("REVISION", str(revision))
            .replace("AFFINITY", AFFINITY if revision > 1 else "")
            .replace("LABEL", LABEL)
            .replace("STUCK", STUCK)
        )
        (self.config / "form.yaml").write_text(text)
        self.form_document = yaml.safe_load(text)

    def start(self) -> None:
        with (self.root / "reporter.log").open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lynq_bridge", "report", "--watch",
                 "--config", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "KUBECONFIG": str(self.stack.kubeconfig)},
            )  # fmt: skip

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "lynq_bridge", *args, "--config", str(self.config)],
            check=False, capture_output=True, text=True, timeout=300,
            env={**os.environ, "KUBECONFIG": str(self.stack.kubeconfig)},
        )  # fmt: skip
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done


class Watch:
    """Git (the remote Flux reads) and the cluster, read independently of the bridge."""

    def __init__(self, bridge: RolloutBridge, api: ApiClient) -> None:
        self.bridge, self.api = bridge, api
        self.remote = bridge.stack.remote_dir("flux")
        self.hub_dir = f"lynq/{bridge.hub_namespace}/{HUB}"
        self.before: dict[str, str] = {}  # node -> its directory's tree at revision 1
        self.sampled: set[str] = set()  # the commits checked
        self.worst = 0  # the most nodes updating at once, as sampled

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.remote), *args],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    def head(self) -> str:
        return self.git("rev-parse", "refs/heads/main").strip()

    def trailers(self, rev: str = "refs/heads/main") -> dict[str, str]:
        return parse_trailers(self.git("log", "-1", "--format=%B", rev))

    def trees(self) -> dict[str, str]:
        """node -> the tree id of its directory at the head."""
        out = self.git("ls-tree", "refs/heads/main", f"{self.hub_dir}/")
        rows = [line.split("\t") for line in out.splitlines()]
        return {
            path.rsplit("/", 1)[1]: meta.split()[2]
            for meta, path in rows
            if meta.split()[1] == "tree" and "-" in path.rsplit("/", 1)[1]
        }

    def revisions(self) -> dict[str, str]:
        """node -> the revision its committed Deployment's pod template carries."""
        out = self.git("ls-tree", "-r", "--name-only", "refs/heads/main", f"{self.hub_dir}/")
        found = {}
        for path in out.splitlines():
            parts = path.split("/")
            if "-" in parts[3] and parts[-1].startswith("deployment"):
                body = yaml.safe_load(self.git("show", f"refs/heads/main:{path}"))
                annotations = body["spec"]["template"]["metadata"]["annotations"]
                found[parts[3]] = annotations["e2e.lynq.sh/revision"]
        return found

    def ready(self, revision: str) -> set[str]:
        """Nodes whose Deployment the cluster rolled out at ``revision`` (available, every
        replica updated) and whose LynqNode the reporter reports Ready for its generation."""
        namespace = self.bridge.hub_namespace
        rolled = set()
        for deployment in self.api.list("apps/v1", "Deployment", namespace):
            template = deployment["spec"]["template"]["metadata"]
            if template.get("annotations", {}).get("e2e.lynq.sh/revision") != revision:
                continue
            if not _rolled(deployment):
                continue
            rolled.add(deployment["metadata"]["name"].removesuffix("-app") + f"-{FORM}")
        reported = set()
        for node in self.api.list("operator.lynq.sh/v1", "LynqNode", namespace):
            condition = scenarios.condition(node, "Ready")
            observed = node.get("status", {}).get("observedGeneration")
            current = observed == node["metadata"]["generation"]
            if condition and condition["status"] == "True" and current:
                reported.add(node["metadata"]["name"])
        return rolled & reported

    def updating(self) -> set[str]:
        """Nodes committed at revision 2 that the cluster does not show Ready at it."""
        return {n for n, r in self.revisions().items() if r == "2"} - self.ready("2")

    def pending(self) -> set[str]:
        return {n for n, r in self.revisions().items() if r == "1"}

    def check(self) -> None:
        """After every commit: the bound, and the held nodes byte for byte as before."""
        head = self.head()
        self.sampled.add(head)
        updating = self.updating()
        self.worst = max(self.worst, len(updating))
        assert len(updating) <= SKEW, (head, sorted(updating))
        trees = self.trees()
        assert set(trees) == set(self.before), sorted(trees)
        for node in self.pending():
            assert trees[node] == self.before[node], node

    def sync(self) -> str:
        """One ``sync --once``; checks the result and returns the head."""
        self.bridge.cli("sync", "--once")
        self.check()
        return self.head()

    def form_status(self) -> dict[str, Any]:
        form = self.api.get("operator.lynq.sh/v1", "LynqForm", FORM, self.bridge.hub_namespace)
        status: dict[str, Any] = form.get("status", {})
        return status


def _rolled(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status", {})
    return (
        status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("replicas") == status.get("updatedReplicas") == 1
        and status.get("availableReplicas") == 1
    )


def label_node(stack: Stack, value: str | None) -> None:
    setting = f"{LABEL}={value}" if value is not None else f"{LABEL}-"
    stack.kubectl("label", "node", KWOK_NODE, setting, "--overwrite")


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[ApiClient]:
    with stack.plane.api() as client:
        scenarios.register_kinds(client)
        yield client


@pytest.fixture(scope="module")
def bridge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RolloutBridge]:
    if "flux" not in stack.engines:
        missing = find_e2e_binaries("flux")[1]
        assert not missing, f"Flux is not built: {missing}"
        start_flux(stack)
    label_node(stack, "open")
    root: Path = tmp_path_factory.mktemp("rollout-bridge")
    bridge = RolloutBridge(stack, "flux", root, hub="rollout")
    try:
        stack.apply(bridge.form_document, flux_root(bridge.hub_namespace, HUB))
        yield bridge
    finally:
        bridge.stop()
        label_node(stack, None)


def test_a_form_change_rolls_out_two_at_a_time_halts_on_a_stuck_tenant_and_resumes(
    bridge: RolloutBridge, api: ApiClient, stack: Stack
) -> None:
    watch = Watch(bridge, api)
    times: dict[str, float] = {}
    started = time.monotonic()
    for i in range(TENANTS):
        bridge.insert(f"r{i:02d}")
    bridge.cli("sync", "--once")
    everyone = {f"r{i:02d}-{FORM}" for i in range(TENANTS)}
    eventually("every tenant Ready at revision 1", lambda: watch.ready("1") == everyone,
               timeout=240, interval=1)  # fmt: skip
    times["10 tenants inserted, applied and Ready"] = time.monotonic() - started
    watch.before = watch.trees()
    v1 = watch.head()

    # The form changes: two tenants go, the eight others keep their files byte for byte.
    started = time.monotonic()
    bridge.set_revision(2)
    stack.apply(bridge.form_document)
    first = watch.sync()
    assert watch.revisions() == {n: "2" if n in ("r00-web", "r01-web") else "1" for n in everyone}
    assert watch.trailers()["Lynq-Rollout-Held"] == f"{FORM}={TENANTS - SKEW}"
    stuck_at = int(watch.git("log", "-1", "--format=%ct", first))

    # Until shortly before r01's deadline: whenever the cluster shows a slot free, sync; one
    # tenant at a time passes r01 (keep one pending, or nothing would be left to halt).
    while time.time() < stuck_at + DEADLINE - 10:
        if len(watch.pending()) >= 2 and len(watch.updating()) < SKEW:
            watch.sync()
            assert "Lynq-Rollout-Halted" not in watch.trailers()
        else:
            time.sleep(1)
    released = TENANTS - len(watch.pending())
    assert released > SKEW, "the rollout did not progress as tenants became Ready"
    times[f"{released} tenants released before the deadline"] = time.monotonic() - started

    # The deadline passes with r01 not Ready (its pod cannot be scheduled): the rollout halts.
    eventually("every updated tenant but r01 Ready",
               lambda: watch.updating() == {f"{STUCK}-{FORM}"}, timeout=STEP_TIMEOUT)  # fmt: skip
    time.sleep(max(0.0, stuck_at + DEADLINE + 2 - time.time()))
    pending = watch.pending()
    assert pending
    halted = watch.sync()
    assert watch.trailers()["Lynq-Rollout-Halted"] == FORM
    times["halted"] = time.monotonic() - started
    status = watch.form_status()
    assert status["rollout"]["phase"] == "Failed", status
    assert status["rollout"]["totalNodes"] == TENANTS
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert f"{STUCK}-{FORM}" in progressing["message"]
    pods = [p for p in api.list("v1", "Pod", bridge.hub_namespace)
            if p["metadata"]["name"].startswith(f"{STUCK}-app-")]  # fmt: skip
    assert any(
        (scenarios.condition(p, "PodScheduled") or {}).get("reason") == "Unschedulable"
        for p in pods
    ), pods

    # The cause is fixed (the node gets the label r01 asks for): r01 becomes Ready, but the
    # rollout stays halted until a person resumes it.
    label_node(stack, "fixed")
    eventually("r01 Ready at revision 2", lambda: f"{STUCK}-{FORM}" in watch.ready("2"),
               timeout=STEP_TIMEOUT)  # fmt: skip
    assert watch.sync() == halted
    assert watch.pending() == pending
    shown = bridge.cli("rollout", "status").stdout
    assert f"form {bridge.hub_namespace}/{FORM}" in shown and "halted" in shown, shown

    started = time.monotonic()
    bridge.cli("rollout", "resume", "--form", f"{bridge.hub_namespace}/{FORM}")
    assert watch.trailers()["Lynq-Rollout-Resumed"] == FORM
    watch.check()
    rounds = 0
    while "Lynq-Rollout-Complete" not in watch.trailers():
        eventually("a slot free, or the last tenants Ready", lambda: (
            len(watch.updating()) < SKEW if watch.pending() else not watch.updating()
        ), timeout=STEP_TIMEOUT, interval=1)  # fmt: skip
        watch.sync()
        rounds += 1
        assert rounds < 4 * TENANTS, watch.trailers()
    times["resumed to complete"] = time.monotonic() - started
    assert watch.revisions() == dict.fromkeys(everyone, "2")
    assert watch.ready("2") == everyone
    assert (
        rollout.parse_records(
            watch.git("show", f"refs/heads/main:{watch.hub_dir}/.lynq-inputs").encode()
        )
        == {}
    )
    status = watch.form_status()["rollout"]
    assert (status["phase"], status["updatedNodes"], status["readyUpdatedNodes"]) == (
        "Complete", TENANTS, TENANTS,
    )  # fmt: skip

    # Every commit of the rollout was sampled (Flux saw no commit the test did not check).
    commits = watch.git("rev-list", f"{v1}..refs/heads/main", "--", watch.hub_dir).split()
    assert set(commits) <= watch.sampled, set(commits) - watch.sampled
    print("\n" + json.dumps({k: round(v, 1) for k, v in times.items()}, indent=1))
    print(f"commits: {len(commits)}; most tenants updating at once: {watch.worst}")
