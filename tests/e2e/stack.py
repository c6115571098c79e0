"""The end-to-end stack: a cluster that runs workloads, a smart-HTTP Git remote, Flux and Argo CD.

Everything is a real program built from its Go module (``scripts/build-e2e-cluster.sh``) and
started as a process on loopback ports:

- the test control plane (etcd + kube-apiserver, ``tests/controlplane.py``), plus
  kube-controller-manager (Deployments roll out, namespaces finalize, garbage collection),
  kube-scheduler and kwok with one fake node, whose pods become Running and Ready;
- a smart-HTTP Git server (``git http-backend`` behind basic authentication) holding the remote
  the bridge pushes to and the engines fetch from (go-git speaks only smart HTTP);
- Flux: source-controller and kustomize-controller, with the GitRepository and the hub's root
  Kustomization of ``examples/flux/``;
- Argo CD: redis-server (Debian), argocd-repo-server (with git and kustomize on its PATH) and
  argocd-application-controller, with ``examples/argocd/``'s argocd-cm (the shipped Lua health
  check), AppProject and root Application.

Used by ``tests/e2e/conftest.py`` and, for people, by ``scripts/local-cluster.sh`` through the
command line at the bottom (``python tests/e2e/stack.py up DIR``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:  # run as a script by scripts/local-cluster.sh
    sys.path.insert(0, str(TESTS))

from controlplane import ControlPlane, free_port, start_control_plane  # noqa: E402
from git_http_server import GitHTTPServer  # noqa: E402

REPO = TESTS.parent
EXAMPLES = REPO / "examples"
E2E_BIN_ENV = "LYNQ_TEST_E2E_BIN"
DEFAULT_E2E_BIN = Path.home() / ".cache" / "lynq-bridge" / "e2e" / "bin"
# What each part needs from the e2e bin directory.
E2E_BINARIES = {
    "cluster": ("kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"),
    "flux": ("source-controller", "kustomize-controller", "crds"),
    "argocd": (
        "argocd-application-controller",
        "argocd-repo-server",
        "git-verify-wrapper.sh",
        "kustomize",
        "crds",
    ),
}
GIT_USER = "flux-and-argocd"
# One remote per engine: the Flux and the Argo CD bridge never push to the same branch.
REPOSITORIES = {"flux": "flux.git", "argocd": "argocd.git"}
FLUX_NAMESPACE = "flux-system"
ARGOCD_NAMESPACE = "argocd"
SOURCE_NAME = "lynq-bridge"  # the GitRepository, = spec.flux.sourceRef.name
PROJECT = "lynq-tenants"  # the AppProject of examples/argocd/
READY_TIMEOUT = 120.0


class StackError(RuntimeError):
    """A part of the stack did not start; the message carries its log tail."""


def find_e2e_binaries(*parts: str) -> tuple[Path, list[str]]:
    """The e2e bin directory and what ``parts`` (default: all) miss in it."""
    directory = Path(os.environ.get(E2E_BIN_ENV) or DEFAULT_E2E_BIN)
    names = {n for part in (parts or tuple(E2E_BINARIES)) for n in E2E_BINARIES[part]}
    missing = sorted(name for name in names if not (directory / name).exists())
    if "argocd" in parts and redis_server() is None:
        missing.append("redis-server (Debian package)")
    return directory, missing


def redis_server() -> str | None:
    return shutil.which("redis-server")


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stack:
    """Everything started, in start order, and what a test or a person needs to reach it."""

    plane: ControlPlane
    e2e_bin: Path
    work: Path
    git_password: str
    git_server: GitHTTPServer | None = None
    processes: list[Process] = field(default_factory=list)
    engines: set[str] = field(default_factory=set)

    @property
    def kubeconfig(self) -> Path:
        return self.plane.kubeconfig

    def remote_dir(self, engine: str) -> Path:
        """The bare repository the bridge of ``engine`` pushes to."""
        return self.work / "git" / REPOSITORIES[engine]

    def git_url(self, engine: str) -> str:
        """The smart-HTTP URL of ``engine``'s remote (credentials go separately)."""
        assert self.git_server is not None
        return self.git_server.url(REPOSITORIES[engine])

    # ------------------------------------------------------------------ processes

    def spawn(
        self, name: str, command: list[str], *, env: Mapping[str, str] | None = None
    ) -> Process:
        log = self.work / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{self.e2e_bin}:{self.plane.bin_dir}:{os.environ.get('PATH', '')}",
            **(env or {}),
        }
        with log.open("ab") as out:
            popen = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=self.work,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        self.record_pid(popen.pid)
        return process

    def record_pid(self, pid: int) -> None:
        """Append to WORK/pids, so scripts/local-cluster.sh can clean up after a hard kill."""
        with (self.work / "pids").open("a") as pids:
            pids.write(f"{pid}\n")

    def wait_for(self, what: str, check: Callable[[], bool], *processes: Process) -> None:
        """Poll ``check`` until true; fail with the logs when it never is or a process died."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            for process in processes:
                if process.popen.poll() is not None:
                    raise StackError(
                        f"{process.name} exited with code {process.popen.returncode} while "
                        f"waiting for {what}:\n{log_tail(process.log)}"
                    )
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                if check():
                    return
            time.sleep(0.5)
        logs = "\n".join(f"--- {p.name}\n{log_tail(p.log)}" for p in processes)
        raise StackError(f"{what} did not happen within {READY_TIMEOUT:.0f}s\n{logs}")

    def check_alive(self) -> list[str]:
        """The names of started processes that have exited."""
        return [p.name for p in self.processes if p.popen.poll() is not None]

    def kubectl(self, *args: str, input_text: str | None = None) -> str:
        done = self.plane.kubectl(*args, input_text=input_text, check=False)
        if done.returncode:
            raise StackError(f"kubectl {' '.join(args[:3])} failed: {done.stderr.strip()}")
        return done.stdout

    def apply(self, *documents: Mapping[str, Any]) -> None:
        self.kubectl(
            "apply", "--server-side", "--force-conflicts", "-f", "-",
            input_text=yaml.safe_dump_all(list(documents), sort_keys=False),
        )  # fmt: skip

    def stop(self) -> None:
        """Stop every process, newest first, then the Git server and the control plane."""
        while self.processes:
            process = self.processes.pop()
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
            try:
                process.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=5)
        if self.git_server is not None:
            self.git_server.close()
            self.git_server = None
        self.plane.stop()


# ---------------------------------------------------------------------------- workloads


def fake_node(name: str) -> dict[str, Any]:
    """A node kwok manages (its node-initialize stage fills in the status)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
    }


def start_workloads(stack: Stack) -> None:
    """kube-controller-manager, kube-scheduler and kwok with one fake node."""
    work, bin_dir, plane = stack.work, stack.e2e_bin, stack.plane
    (work / "flexvolume").mkdir(exist_ok=True)
    kcm = stack.spawn(
        "kube-controller-manager",
        [
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={plane.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--service-account-private-key-file={plane.work_dir / 'sa.key'}",
            f"--root-ca-file={plane.work_dir / 'ca.crt'}",
            "--use-service-account-credentials=false",
            f"--flex-volume-plugin-dir={work / 'flexvolume'}",
            # Garbage collection and namespace deletion are what the scenarios rely on.
            "--controllers=*,-bootstrapsigner,-tokencleaner",
        ],
    )
    scheduler = stack.spawn(
        "kube-scheduler",
        [
            str(bin_dir / "kube-scheduler"),
            f"--kubeconfig={plane.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
        ],
    )
    kwok = stack.spawn(
        "kwok",
        [
            str(bin_dir / "kwok"),
            f"--kubeconfig={plane.kubeconfig}",
            f"--config={bin_dir / 'kwok-stages.yaml'}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-lease-duration-seconds=40",
            "--cidr=10.244.0.0/16",
            "--node-ip=127.0.0.1",
            f"--server-address=127.0.0.1:{free_port()}",
        ],
    )
    stack.apply(fake_node("kwok-node-0"))

    def node_ready() -> bool:
        node = json.loads(stack.kubectl("get", "node", "kwok-node-0", "-o", "json"))
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    stack.wait_for("the kwok node to become Ready", node_ready, kwok)

    def default_service_account() -> bool:
        out = stack.kubectl(
            "get", "serviceaccount", "default", "-n", "default", "--ignore-not-found"
        )
        return "default" in out

    stack.wait_for("kube-controller-manager to run", default_service_account, kcm, scheduler)


# ---------------------------------------------------------------------------- git


def start_git(stack: Stack) -> None:
    """The smart-HTTP remotes: empty bare repositories that accept pushes."""
    root = stack.work / "git"
    root.mkdir(exist_ok=True)
    for engine in REPOSITORIES:
        remote = str(stack.remote_dir(engine))
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", remote], check=True)
        subprocess.run(
            ["git", "--git-dir", remote, "config", "http.receivepack", "true"], check=True
        )
    stack.git_server = GitHTTPServer(root, {(GIT_USER, stack.git_password)})


def git_credentials_secret(stack: Stack, namespace: str, **extra: Any) -> dict[str, Any]:
    data = {"username": GIT_USER, "password": stack.git_password, **extra}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "gitops-auth", "namespace": namespace},
        "stringData": data,
    }


def example(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / path).read_text()) if d]


# ---------------------------------------------------------------------------- Flux


def start_flux(stack: Stack) -> None:
    """Flux's CRDs, source-controller and kustomize-controller, and the GitRepository of
    ``examples/flux/gitrepository.yaml`` pointed at the test remote."""
    crds = sorted((stack.e2e_bin / "crds" / "flux").glob("*.yaml"))
    stack.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": FLUX_NAMESPACE}})
    args = [a for path in crds for a in ("-f", str(path))]
    stack.kubectl("apply", "--server-side", *args)
    # kustomize-controller exits at start when its CRD is not served yet.
    stack.plane.wait_established(*args)
    env = {"RUNTIME_NAMESPACE": FLUX_NAMESPACE}
    storage = stack.work / "flux-storage"
    storage.mkdir(exist_ok=True)
    artifact_port = free_port()
    stack.spawn(
        "source-controller",
        [
            str(stack.e2e_bin / "source-controller"),
            f"--metrics-addr=127.0.0.1:{free_port()}",
            f"--health-addr=127.0.0.1:{free_port()}",
            f"--storage-path={storage}",
            f"--storage-addr=127.0.0.1:{artifact_port}",
            f"--storage-adv-addr=127.0.0.1:{artifact_port}",
            "--log-level=info",
        ],
        env=env,
    )
    stack.spawn(
        "kustomize-controller",
        [
            str(stack.e2e_bin / "kustomize-controller"),
            f"--metrics-addr=127.0.0.1:{free_port()}",
            f"--health-addr=127.0.0.1:{free_port()}",
            "--log-level=info",
            # A level waits for the one before it; Flux re-checks a dependency every 30s by
            # default. 2s keeps a three-level tenant from taking a minute on this test cluster.
            "--requeue-dependency=2s",
        ],
        env=env,
    )
    repository = example("flux/gitrepository.yaml")[0]
    repository["spec"]["url"] = stack.git_url("flux")
    repository["spec"]["secretRef"] = {"name": "gitops-auth"}
    stack.apply(git_credentials_secret(stack, FLUX_NAMESPACE), repository)
    stack.engines.add("flux")


def flux_root(hub_namespace: str, hub: str, git_path: str = "lynq") -> dict[str, Any]:
    """The hub's root Kustomization from ``examples/flux/root-kustomization.yaml``."""
    root = example("flux/root-kustomization.yaml")[0]
    root["metadata"]["name"] = f"lynq-{hub_namespace}-{hub}"
    root["spec"]["path"] = f"./{git_path}/{hub_namespace}/{hub}/flux"
    return root


# ---------------------------------------------------------------------------- Argo CD


def start_argocd(stack: Stack) -> None:
    """Redis, Argo CD's CRDs and settings, argocd-repo-server and argocd-application-controller."""
    redis_bin = redis_server()
    if redis_bin is None:
        raise StackError("redis-server is not installed (Debian package redis-server)")
    redis_port = free_port()
    redis = stack.spawn(
        "redis",
        [
            redis_bin,
            "--bind", "127.0.0.1",
            "--port", str(redis_port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(stack.work),
        ],
    )  # fmt: skip
    stack.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGOCD_NAMESPACE}})
    crds = sorted((stack.e2e_bin / "crds").glob("*.yaml"))
    args = [a for path in crds for a in ("-f", str(path))]
    stack.kubectl("apply", "--server-side", *args)
    stack.plane.wait_established(*args)
    settings = example("argocd/argocd-cm.yaml")[0]
    # Argo CD's in-cluster destination reads a pod's service-account mount; outside a pod the
    # API server is registered as an ordinary cluster instead (argocd_cluster).
    settings["data"]["cluster.inClusterEnabled"] = "false"
    project = example("argocd/appproject.yaml")[0]
    project["spec"]["sourceRepos"] = [stack.git_url("argocd")]
    for destination in project["spec"]["destinations"]:
        destination["server"] = stack.plane.server
    repository = git_credentials_secret(
        stack, ARGOCD_NAMESPACE, url=stack.git_url("argocd"), type="git"
    )
    repository["metadata"]["name"] = "gitops-repository"
    repository["metadata"]["labels"] = {"argocd.argoproj.io/secret-type": "repository"}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "argocd-secret",
            "namespace": ARGOCD_NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "argocd"},
        },
        "stringData": {"server.secretkey": stack.git_password},
    }
    stack.apply(settings, secret, repository, argocd_cluster(stack), project)
    repo_port = free_port()
    home = stack.work / "argocd-home"
    home.mkdir(exist_ok=True)
    env = {
        "HOME": str(home),
        "ARGOCD_GPG_ENABLED": "false",
        "ARGOCD_TLS_DATA_PATH": str(home / "tls"),
        "ARGOCD_SSH_DATA_PATH": str(home / "ssh"),
        "ARGOCD_GNUPGHOME": str(home / "gnupg"),
        # The repo-server checks out under $TMPDIR/_argocd-repo: keep it inside the stack.
        "TMPDIR": str(home / "tmp"),
    }
    for sub in ("tls", "ssh", "gnupg", "tmp"):
        (home / sub).mkdir(exist_ok=True)
    (home / "ssh" / "ssh_known_hosts").touch()
    repo_server = stack.spawn(
        "argocd-repo-server",
        [
            str(stack.e2e_bin / "argocd-repo-server"),
            "--address=127.0.0.1",
            f"--port={repo_port}",
            f"--metrics-port={free_port()}",
            "--metrics-address=127.0.0.1",
            f"--redis=127.0.0.1:{redis_port}",
            "--disable-tls",
            "--client-ca-path=",  # its default names a mounted Secret; no mTLS without TLS
            "--loglevel=info",
        ],
        env={**env, "ARGOCD_BINARY_NAME": "argocd-repo-server"},
    )
    stack.spawn(
        "argocd-application-controller",
        [
            str(stack.e2e_bin / "argocd-application-controller"),
            f"--namespace={ARGOCD_NAMESPACE}",
            f"--repo-server=127.0.0.1:{repo_port}",
            "--repo-server-plaintext",
            f"--redis=127.0.0.1:{redis_port}",
            f"--metrics-port={free_port()}",
            "--status-processors=4",
            # Each resource's health in the Application's status (Argo CD 3 keeps it in Redis
            # only by default), so tests read what the Lua check said about the LynqNode.
            "--persist-resource-health",
            "--operation-processors=4",
            "--loglevel=info",
        ],
        env={
            **env,
            "ARGOCD_BINARY_NAME": "argocd-application-controller",
            # One controller, shard 0 of 1 (in a cluster the StatefulSet ordinal tells it).
            "ARGOCD_CONTROLLER_REPLICAS": "1",
            "ARGOCD_CONTROLLER_SHARD": "0",
        },
    )
    stack.wait_for(
        "argocd-repo-server to listen", lambda: _listening(repo_port), redis, repo_server
    )
    stack.engines.add("argocd")


def argocd_cluster(stack: Stack) -> dict[str, Any]:
    """The test API server as an Argo CD cluster Secret (the admin's client certificate)."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    tls = {
        "caData": b64(stack.plane.ca.cert_pem),
        "certData": b64(stack.plane.admin.cert_pem),
        "keyData": b64(stack.plane.admin.key_pem),
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "test-cluster",
            "namespace": ARGOCD_NAMESPACE,
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
        },
        "stringData": {
            "name": "test-cluster",
            "server": stack.plane.server,
            "config": json.dumps({"tlsClientConfig": tls}),
        },
    }


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def argocd_root(stack: Stack, hub_namespace: str, hub: str, git_path: str = "lynq") -> Any:
    """The hub's root Application from ``examples/argocd/root-application.yaml``."""
    root = example("argocd/root-application.yaml")[0]
    root["metadata"]["name"] = f"lynq-{hub_namespace}-{hub}"
    root["spec"]["source"]["repoURL"] = stack.git_url("argocd")
    root["spec"]["destination"]["server"] = stack.plane.server
    root["spec"]["source"]["path"] = f"{git_path}/{hub_namespace}/{hub}/argocd"
    return root


# ---------------------------------------------------------------------------- whole stack


def start_stack(
    control_plane_bin: Path, e2e_bin: Path, work: Path, *, engines: tuple[str, ...]
) -> Stack:
    """Start the cluster, the Git remote and the engines named; stop it all again on failure."""
    import secrets

    work.mkdir(parents=True, exist_ok=True)
    plane = start_control_plane(control_plane_bin, work / "control-plane")
    stack = Stack(plane=plane, e2e_bin=e2e_bin, work=work, git_password=secrets.token_hex(12))
    for process in plane.processes:
        stack.record_pid(process.pid)
    try:
        start_workloads(stack)
        start_git(stack)
        if "flux" in engines:
            start_flux(stack)
        if "argocd" in engines:
            start_argocd(stack)
    except BaseException:
        stack.stop()
        raise
    return stack


@contextlib.contextmanager
def running_stack(
    control_plane_bin: Path, e2e_bin: Path, work: Path, *, engines: tuple[str, ...]
) -> Iterator[Stack]:
    stack = start_stack(control_plane_bin, e2e_bin, work, engines=engines)
    try:
        yield stack
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    """``up DIR``: start the stack and one bridge daemon per engine (the e2e tenant form on a
    SQLite file), write DIR/env, then wait for SIGTERM; everything stops with this process."""
    from e2e_bridge import HUB, E2EBridge

    parser = argparse.ArgumentParser(prog="stack.py")
    parser.add_argument("command", choices=["up"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--control-plane-bin", type=Path, required=True)
    parser.add_argument("--e2e-bin", type=Path, required=True)
    parser.add_argument("--engines", default="flux,argocd")
    args = parser.parse_args(argv)
    engines = tuple(e for e in args.engines.split(",") if e)
    stop = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    bridges: list[E2EBridge] = []
    with running_stack(args.control_plane_bin, args.e2e_bin, args.dir, engines=engines) as stack:
        try:
            lines = [f"export KUBECONFIG={stack.kubeconfig}"]
            for engine in engines:
                bridge = E2EBridge(stack, engine, args.dir / f"{engine}-bridge")
                bridges.append(bridge)
                if engine == "flux":
                    stack.apply(flux_root(bridge.hub_namespace, HUB))
                else:
                    stack.apply(argocd_root(stack, bridge.hub_namespace, HUB))
                name = engine.upper()
                lines += [
                    f"export LYNQ_{name}_DB={bridge.database}",
                    f"export LYNQ_{name}_CONFIG={bridge.config}",
                    f"export LYNQ_{name}_REMOTE={stack.remote_dir(engine)}",
                ]
            (args.dir / "env").write_text("\n".join(lines) + "\n")
            (args.dir / "ready").write_text(f"{time.monotonic() - started:.1f}\n")
            while not stop:
                dead = stack.check_alive() + [
                    f"the {b.engine} bridge"
                    for b in bridges
                    if b.process is not None and b.process.poll() is not None
                ]
                if dead:
                    print(f"stack.py: {', '.join(dead)} exited; stopping", file=sys.stderr)
                    return 1
                time.sleep(1)
        finally:
            for bridge in bridges:
                bridge.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
