"""The test control plane: a real etcd and kube-apiserver on loopback ports, started like envtest.

``scripts/build-control-plane.sh`` builds etcd, kube-apiserver and kubectl from Go modules and
caches them; ``scripts/test.sh`` exports their directory as ``LYNQ_TEST_CONTROL_PLANE_BIN``. This
module starts the two servers with envtest's flags (a throw-away CA that signs the serving cert
and the client certs, RBAC authorization, service-account keys, no ServiceAccount admission),
waits for ``/readyz``, writes a kubeconfig for a ``system:masters`` admin and installs the CRDs
from ``crds/``. Nothing else runs: there are no controllers, so tests move objects through their
states by patching the ``status`` subresource exactly as the controllers would.

Certificates come from ``pki``, the test-side API client from ``apiclient``.
"""

from __future__ import annotations

import base64
import http.client
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from apiclient import ApiClient, ApiError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pki import CertificateAuthority, KeyPair, key_pem

__all__ = ["ApiClient", "ApiError", "ControlPlane", "find_binaries", "start_control_plane"]

BIN_ENV = "LYNQ_TEST_CONTROL_PLANE_BIN"
DEFAULT_BIN = Path.home() / ".cache" / "lynq-bridge" / "control-plane" / "bin"
BINARIES = ("etcd", "kube-apiserver", "kubectl")
REPO = Path(__file__).resolve().parent.parent
CRD_DIR = REPO / "crds"
START_TIMEOUT = 90.0  # seconds; a cold start on 2 cores takes a few seconds, CI can be slower


class ControlPlaneError(RuntimeError):
    """The control plane could not be started; the message carries the server log tail."""


def find_binaries() -> tuple[Path, list[str]]:
    """The bin directory to use and the binaries missing from it."""
    directory = Path(os.environ.get(BIN_ENV) or DEFAULT_BIN)
    missing = [name for name in BINARIES if not os.access(directory / name, os.X_OK)]
    return directory, missing


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------------------- control plane


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver pair and the files a client needs to reach it."""

    bin_dir: Path
    work_dir: Path
    ca: CertificateAuthority = field(repr=False)
    api_port: int
    kubeconfig: Path
    startup_seconds: float = 0.0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    admin: KeyPair = field(init=False, repr=False)  # client certificate of a system:masters user

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def client_context(self, pair: KeyPair) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca.cert_pem.decode())
        cert = self.work_dir / f"client-{abs(hash(pair.cert_pem))}.crt"
        key = cert.with_suffix(".key")
        cert.write_bytes(pair.cert_pem)
        key.write_bytes(pair.key_pem)
        key.chmod(0o600)
        context.load_cert_chain(cert, key)
        return context

    def api(self, pair: KeyPair | None = None) -> ApiClient:
        """A client for the admin (``system:masters``) or for the holder of ``pair``."""
        return ApiClient("127.0.0.1", self.api_port, self.client_context(pair or self.admin))

    def write_kubeconfig(self, path: Path, user: str, pair: KeyPair) -> Path:
        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "lynq-test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": b64(self.ca.cert_pem),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": b64(pair.cert_pem),
                        "client-key-data": b64(pair.key_pem),
                    },
                }
            ],
            "contexts": [{"name": user, "context": {"cluster": "lynq-test", "user": user}}],
            "current-context": user,
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def user_kubeconfig(self, user: str, groups: Iterable[str] = ()) -> Path:
        """A kubeconfig for a client-certificate user (RBAC decides what it may do)."""
        pair = self.ca.issue(user, organizations=groups)
        return self.write_kubeconfig(self.work_dir / f"kubeconfig-{user}", user, pair)

    def kubectl(
        self, *args: str, input_text: str | None = None, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl as the admin; raises on a non-zero exit unless ``check=False``."""
        return subprocess.run(
            [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def wait_established(self, *args: str, seconds: float = 60) -> None:
        """``kubectl wait --for=condition=Established`` for the CRDs of ``args`` (``-f`` pairs).
        kubectl gives up at once, instead of waiting, on a CRD whose status has no conditions
        yet (".status.conditions accessor error: <nil>"): that one answer is asked again."""
        deadline = time.monotonic() + seconds
        while True:
            done = self.kubectl(
                "wait", "--for=condition=Established", f"--timeout={int(seconds)}s", *args,
                check=False,
            )  # fmt: skip
            if done.returncode == 0:
                return
            if "accessor error" not in done.stderr or time.monotonic() > deadline:
                raise ControlPlaneError(f"kubectl wait for {' '.join(args)} failed: {done.stderr}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop every process this control plane started, by PID, newest first and one at a
        time: kube-apiserver deletes its lease in etcd on the way out, so etcd must outlive it."""
        while self.processes:
            process = self.processes.pop()
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait(
    what: str,
    check: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log: Path,
    deadline: float,
) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ControlPlaneError(
                f"{what} exited with code {process.returncode}:\n{_log_tail(log)}"
            )
        try:
            if check():
                return
        except (OSError, http.client.HTTPException, ssl.SSLError):
            pass
        time.sleep(0.1)
    raise ControlPlaneError(f"{what} was not ready after {START_TIMEOUT:.0f}s:\n{_log_tail(log)}")


def _etcd_healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        return response.status == 200 and b"true" in response.read()
    finally:
        conn.close()


def _apiserver_ready(port: int, context: ssl.SSLContext) -> bool:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
    try:
        conn.request("GET", "/readyz")
        response = conn.getresponse()
        response.read()
        return response.status == 200
    finally:
        conn.close()


def _spawn(log: Path, command: list[str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def start_control_plane(bin_dir: Path, work_dir: Path) -> ControlPlane:
    """Start etcd and kube-apiserver, install the CRDs; stop everything again on failure."""
    started = time.monotonic()
    deadline = started + START_TIMEOUT
    work_dir.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority()
    (work_dir / "ca.crt").write_bytes(ca.cert_pem)
    serving = ca.issue(
        "kube-apiserver",
        server_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
        server_ips=("127.0.0.1",),
    )
    (work_dir / "apiserver.crt").write_bytes(serving.cert_pem)
    (work_dir / "apiserver.key").write_bytes(serving.key_pem)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (work_dir / "sa.key").write_bytes(key_pem(sa_key))
    (work_dir / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    plane = ControlPlane(
        bin_dir=bin_dir,
        work_dir=work_dir,
        ca=ca,
        api_port=api_port,
        kubeconfig=work_dir / "kubeconfig",
    )
    plane.admin = ca.issue("lynq-test-admin", organizations=("system:masters",))
    plane.write_kubeconfig(plane.kubeconfig, "admin", plane.admin)
    try:
        etcd_log = work_dir / "etcd.log"
        plane.processes.append(
            _spawn(
                etcd_log,
                [
                    str(bin_dir / "etcd"),
                    "--name=default",
                    f"--data-dir={work_dir / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                    "--unsafe-no-fsync=true",  # a throw-away store: durability buys nothing
                    "--log-level=warn",
                ],
            )
        )
        _wait("etcd", lambda: _etcd_healthy(etcd_port), plane.processes[0], etcd_log, deadline)
        api_log = work_dir / "kube-apiserver.log"
        plane.processes.append(
            _spawn(
                api_log,
                [
                    str(bin_dir / "kube-apiserver"),
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    f"--secure-port={api_port}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--cert-dir={work_dir}",
                    f"--tls-cert-file={work_dir / 'apiserver.crt'}",
                    f"--tls-private-key-file={work_dir / 'apiserver.key'}",
                    f"--client-ca-file={work_dir / 'ca.crt'}",
                    "--authorization-mode=RBAC",
                    "--disable-admission-plugins=ServiceAccount",
                    # Room for the benchmark's 1,000 Services (a /24 holds 254).
                    "--service-cluster-ip-range=10.0.0.0/16",
                    "--allow-privileged=true",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    f"--service-account-key-file={work_dir / 'sa.pub'}",
                    f"--service-account-signing-key-file={work_dir / 'sa.key'}",
                    "--endpoint-reconciler-type=none",
                    "--profiling=false",
                    "--v=0",
                ],
            )
        )
        context = plane.client_context(plane.admin)
        _wait(
            "kube-apiserver",
            lambda: _apiserver_ready(api_port, context),
            plane.processes[1],
            api_log,
            deadline,
        )
        install_crds(plane, CRD_DIR)
    except BaseException:
        plane.stop()
        raise
    plane.startup_seconds = time.monotonic() - started
    return plane


def install_crds(plane: ControlPlane, directory: Path) -> None:
    """Apply every CRD file in ``directory`` and wait until all of them are Established."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ControlPlaneError(f"no CRD files in {directory}")
    args = [arg for path in files for arg in ("-f", str(path))]
    plane.kubectl("apply", "--server-side", *args)
    plane.wait_established(*args)
