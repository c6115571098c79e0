"""Push notification against the real API server: after a pushed commit the bridge annotates
the Flux GitRepository and the Argo CD Applications (``spec.notify``), and a notification that
cannot be delivered is one warning and a metric, never a failed sync.

No engine runs here, so nothing removes Argo CD's refresh annotation: a test clears the
annotations it looks at before each sync. The Argo CD and Flux CRDs come from
``LYNQ_TEST_GITOPS_CRDS`` (scripts/test.sh); without them these tests skip locally and fail in CI.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiclient import ApiClient
from bridge_harness import Bridge, SqliteDatabase, free_port
from controlplane import ControlPlane, install_crds
from services import missing_service

from lynq_bridge.config.loading import load_config
from lynq_bridge.metrics import Metrics
from lynq_bridge.notify import ARGOCD_REFRESH, FLUX_REQUESTED_AT
from lynq_bridge.sync import HubResult, Syncer

pytestmark = pytest.mark.cluster

CRDS_ENV = "LYNQ_TEST_GITOPS_CRDS"
GIT_REPOSITORY = ("source.toolkit.fluxcd.io/v1", "GitRepository")
APPLICATION = ("argoproj.io/v1alpha1", "Application")
REPO_URL = "https://git.example.com/platform/gitops.git"
ROOT = "lynq-tenants"
HUB = "default/tenants"
ROWS = [{"tenant_id": "acme", "active": "1"}, {"tenant_id": "beta", "active": "1"}]
DOCS = Path(__file__).resolve().parents[3] / "docs"


def documented_rules() -> list[dict[str, Any]]:
    """The rules of the notification Roles in docs/flux.md and docs/argocd.md."""
    rules: list[dict[str, Any]] = []
    for page in ("flux.md", "argocd.md"):
        blocks = (DOCS / page).read_text().split("```yaml\n")[1:]
        roles = [yaml.safe_load(b.split("```")[0]) for b in blocks if "lynq-bridge-notify" in b]
        assert len(roles) == 1, page
        rules += roles[0]["rules"]
    return rules


@pytest.fixture(scope="module")
def gitops(kube: ControlPlane, api: ApiClient) -> ApiClient:
    """The control plane with the Argo CD and Flux CRDs installed."""
    crds = os.environ.get(CRDS_ENV)
    if not crds or not list(Path(crds).glob("*.yaml")):
        missing_service("the Argo CD and Flux CRDs", f"{CRDS_ENV} is not set; run scripts/test.sh")
    install_crds(kube, Path(str(crds)))
    api.register(*GIT_REPOSITORY, "gitrepositories")
    api.register(*APPLICATION, "applications")
    return api


@pytest.fixture
def tenants(sqlite_database: Path, create_tenants: Any) -> SqliteDatabase:
    """The tenants table with ROWS."""
    database = SqliteDatabase(sqlite_database)
    create_tenants(database, ROWS)
    return database


@pytest.fixture
def make_bridge(tmp_path: Path, tenants: SqliteDatabase, kube: ControlPlane, namespace: str) -> Any:
    """``make_bridge(target, **notify)``: a bridge whose engine objects live in this test's
    namespace, notifying through the admin kubeconfig unless ``notify`` says otherwise."""

    def make(target: str, **notify: Any) -> Bridge:
        settings = {
            "enabled": True,
            "kubeconfig": str(kube.kubeconfig),
            "applications": [{"name": ROOT}],
            **notify,
        }
        spec = {
            "target": target,
            "argocd": {"namespace": namespace, "repoURL": REPO_URL},
            "flux": {"namespace": namespace},
            "notify": settings,
            "deletionGuard": {"maxDeletePercent": 50},  # one row of two may go
        }
        return Bridge(tmp_path / target, tenants, bridge_spec=spec)

    return make


def git_repository(api: ApiClient, namespace: str, name: str = "lynq-bridge") -> None:
    api.create(
        {
            "apiVersion": GIT_REPOSITORY[0],
            "kind": GIT_REPOSITORY[1],
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"url": REPO_URL, "interval": "10m", "ref": {"branch": "main"}},
        }
    )


def root_application(api: ApiClient, namespace: str) -> None:
    api.create(
        {
            "apiVersion": APPLICATION[0],
            "kind": APPLICATION[1],
            "metadata": {"name": ROOT, "namespace": namespace},
            "spec": {
                "project": "default",
                "source": {"repoURL": REPO_URL, "path": "lynq/default/tenants/argocd"},
                "destination": {"server": "https://kubernetes.default.svc"},
            },
        }
    )


def node_application(api: ApiClient, bridge: Bridge, node: str) -> str:
    """Create the node's Application as the bridge committed it (what the root would sync)."""
    app = bridge.load(f"lynq/{HUB}/argocd/{node}.yaml")
    app["metadata"].pop("finalizers", None)  # no controller here to remove it again
    api.create(app)
    name: str = app["metadata"]["name"]
    return name


def annotations(api: ApiClient, kind: tuple[str, str], namespace: str, name: str) -> dict[str, str]:
    found: dict[str, str] = api.get(*kind, name, namespace)["metadata"].get("annotations") or {}
    return found


def clear(api: ApiClient, kind: tuple[str, str], namespace: str, *names: str) -> None:
    for name in names:
        api.patch(*kind, name, namespace, {"metadata": {"annotations": {ARGOCD_REFRESH: None}}})


def requested_at(api: ApiClient, namespace: str) -> dt.datetime | None:
    value = annotations(api, GIT_REPOSITORY, namespace, "lynq-bridge").get(FLUX_REQUESTED_AT)
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z") if value else None


def set_plan(tenants: SqliteDatabase, tenant: str, plan: str) -> None:
    tenants.execute(("UPDATE tenants SET plan = ? WHERE tenant_id = ?", [(plan, tenant)]))


def sync_hub(bridge: Bridge) -> tuple[HubResult, Metrics]:
    """One sync of the hub as the daemon runs it, with the daemon's metrics."""
    syncer = Syncer(load_config(bridge.config))
    try:
        result = syncer.sync_hub(syncer.compiled.config.hubs[0])
    finally:
        syncer.close()
    metrics = Metrics()
    metrics.observe(result)
    return result, metrics


def counted(metrics: Metrics, engine: str, outcome: str) -> float:
    labels = {"hub": HUB, "engine": engine, "outcome": outcome}
    return metrics.registry.get_sample_value("lynq_bridge_notifications_total", labels) or 0.0


class Collected(logging.Handler):
    """Keeps the messages of the records it handles."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings() -> Iterator[Any]:
    """The warnings of lynq_bridge.notify, collected on its own logger (the command line's
    logging set-up stops propagation to pytest's handler)."""
    handler = Collected()
    logger = logging.getLogger("lynq_bridge.notify")
    logger.addHandler(handler)
    try:
        yield lambda: list(handler.messages)
    finally:
        logger.removeHandler(handler)


# ------------------------------------------------------------------------------------ Flux


def test_push_requests_a_flux_reconcile_of_the_git_repository(
    gitops: ApiClient, tenants: SqliteDatabase, make_bridge: Any, namespace: str
) -> None:
    git_repository(gitops, namespace)
    bridge = make_bridge("flux")
    before = dt.datetime.now(dt.UTC)
    assert bridge.sync() == 0
    first = requested_at(gitops, namespace)
    assert first is not None and before <= first <= dt.datetime.now(dt.UTC)

    set_plan(tenants, "acme", "pro")
    assert bridge.sync() == 0
    second = requested_at(gitops, namespace)
    assert second is not None and second > first  # a new value: Flux acts on a change only

    head = bridge.head()
    assert bridge.sync() == 0 and bridge.head() == head  # nothing to push: nothing requested
    assert requested_at(gitops, namespace) == second


def test_flux_is_not_notified_when_notify_is_disabled(
    gitops: ApiClient, make_bridge: Any, namespace: str
) -> None:
    git_repository(gitops, namespace)
    bridge = make_bridge("flux", enabled=False)
    assert bridge.sync() == 0 and bridge.head() is not None
    assert requested_at(gitops, namespace) is None


# --------------------------------------------------------------------------------- Argo CD


def test_push_refreshes_the_root_and_the_changed_nodes_applications_only(
    gitops: ApiClient, tenants: SqliteDatabase, make_bridge: Any, namespace: str, warnings: Any
) -> None:
    root_application(gitops, namespace)
    bridge = make_bridge("argocd")
    result, metrics = sync_hub(bridge)  # both nodes are new: only the root hears of them
    assert result.commit is not None and result.changed_nodes == []
    assert annotations(gitops, APPLICATION, namespace, ROOT) == {ARGOCD_REFRESH: "normal"}
    assert counted(metrics, "argocd", "ok") == 1

    acme = node_application(gitops, bridge, "acme-web")
    beta = node_application(gitops, bridge, "beta-web")
    clear(gitops, APPLICATION, namespace, ROOT)
    set_plan(tenants, "acme", "pro")
    result, metrics = sync_hub(bridge)
    assert result.commit is not None and result.changed_nodes == ["acme-web"]
    assert annotations(gitops, APPLICATION, namespace, ROOT) == {ARGOCD_REFRESH: "normal"}
    assert annotations(gitops, APPLICATION, namespace, acme) == {ARGOCD_REFRESH: "normal"}
    assert annotations(gitops, APPLICATION, namespace, beta) == {}
    assert counted(metrics, "argocd", "ok") == 2

    clear(gitops, APPLICATION, namespace, ROOT, acme)
    result, metrics = sync_hub(bridge)  # nothing changed: no commit, no refresh
    assert result.commit is None and result.notifications == []
    assert annotations(gitops, APPLICATION, namespace, ROOT) == {}
    assert annotations(gitops, APPLICATION, namespace, acme) == {}
    assert warnings() == []


def test_removed_node_refreshes_the_root_alone(
    gitops: ApiClient, tenants: SqliteDatabase, make_bridge: Any, namespace: str
) -> None:
    root_application(gitops, namespace)
    bridge = make_bridge("argocd")
    assert bridge.sync() == 0
    beta = node_application(gitops, bridge, "beta-web")
    clear(gitops, APPLICATION, namespace, ROOT)
    tenants.execute("UPDATE tenants SET active = '0' WHERE tenant_id = 'beta'")
    result, _ = sync_hub(bridge)
    assert result.removed == 1 and result.commit is not None
    assert [n.recipient.name for n in result.notifications] == [ROOT]
    assert annotations(gitops, APPLICATION, namespace, ROOT) == {ARGOCD_REFRESH: "normal"}
    assert annotations(gitops, APPLICATION, namespace, beta) == {}


def test_missing_node_application_is_not_a_warning(
    gitops: ApiClient, tenants: SqliteDatabase, make_bridge: Any, namespace: str, warnings: Any
) -> None:
    root_application(gitops, namespace)
    bridge = make_bridge("argocd")
    assert bridge.sync() == 0  # the root has not synced the nodes' Applications in yet
    set_plan(tenants, "acme", "pro")
    result, metrics = sync_hub(bridge)
    assert result.commit is not None
    assert [(n.recipient.name, n.outcome) for n in result.notifications] == [
        (ROOT, "ok"),
        ("default.acme-web", "missing"),
    ]
    assert counted(metrics, "argocd", "missing") == 1
    assert warnings() == []


def test_both_target_notifies_both_engines_in_one_push(
    gitops: ApiClient, make_bridge: Any, namespace: str
) -> None:
    git_repository(gitops, namespace)
    root_application(gitops, namespace)
    bridge = make_bridge("both")
    assert bridge.sync() == 0
    assert requested_at(gitops, namespace) is not None
    assert annotations(gitops, APPLICATION, namespace, ROOT) == {ARGOCD_REFRESH: "normal"}


def test_documented_rbac_is_enough_to_notify(
    gitops: ApiClient, kube: ControlPlane, make_bridge: Any, namespace: str, warnings: Any
) -> None:
    user = f"notify-{namespace}"
    gitops.register("rbac.authorization.k8s.io/v1", "Role", "roles")
    gitops.register("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings")
    gitops.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "lynq-bridge-notify", "namespace": namespace},
            "rules": documented_rules(),
        }
    )
    gitops.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "lynq-bridge-notify", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "lynq-bridge-notify",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
    )
    git_repository(gitops, namespace)
    root_application(gitops, namespace)
    bridge = make_bridge("both", kubeconfig=str(kube.user_kubeconfig(user)))
    result, metrics = sync_hub(bridge)
    assert [n.outcome for n in result.notifications] == ["ok", "ok"]
    assert counted(metrics, "flux", "ok") == counted(metrics, "argocd", "ok") == 1
    assert warnings() == []


# -------------------------------------------------------------------------------- failures


def test_missing_git_repository_is_one_warning_and_a_failed_notification(
    gitops: ApiClient, make_bridge: Any, namespace: str, warnings: Any
) -> None:
    bridge = make_bridge("flux")
    result, metrics = sync_hub(bridge)
    assert result.failure is None and result.commit == bridge.head() is not None
    assert warnings() == [
        f"could not notify Flux of commit {result.commit[:12]} of hub {HUB}: GitRepository "
        f"{namespace}/lynq-bridge does not exist (or its CRD is not installed)"
    ]
    assert counted(metrics, "flux", "failed") == 1


def test_missing_root_application_is_a_warning_and_the_nodes_are_still_refreshed(
    gitops: ApiClient, tenants: SqliteDatabase, make_bridge: Any, namespace: str, warnings: Any
) -> None:
    bridge = make_bridge("argocd", applications=[{"name": "no-such-root"}])
    assert bridge.sync() == 0
    acme = node_application(gitops, bridge, "acme-web")
    set_plan(tenants, "acme", "pro")
    result, metrics = sync_hub(bridge)
    assert [n.outcome for n in result.notifications] == ["failed", "ok"]
    assert annotations(gitops, APPLICATION, namespace, acme) == {ARGOCD_REFRESH: "normal"}
    assert len(warnings()) == 2  # one per push
    assert f"Application {namespace}/no-such-root does not exist" in warnings()[-1]
    assert counted(metrics, "argocd", "failed") == 1


def test_unreadable_kubeconfig_is_one_warning_and_the_commit_is_pushed(
    gitops: ApiClient, make_bridge: Any, tmp_path: Path, warnings: Any
) -> None:
    bridge = make_bridge("both", kubeconfig=str(tmp_path / "no-such-kubeconfig"))
    result, metrics = sync_hub(bridge)
    assert result.failure is None and result.commit == bridge.head() is not None
    (warning,) = warnings()
    assert warning.startswith(
        f"could not notify Argo CD and Flux of commit {result.commit[:12]} of hub {HUB}: "
        f"Cannot load kubeconfig {tmp_path / 'no-such-kubeconfig'}"
    )
    assert counted(metrics, "flux", "failed") == 1
    assert counted(metrics, "argocd", "failed") == 1


def unreachable_kubeconfig(kube: ControlPlane, path: Path) -> Path:
    """The admin kubeconfig pointed at a port nothing listens on."""
    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    path.write_text(yaml.safe_dump(config))
    return path


def test_unreachable_api_server_costs_one_warning_per_engine_and_the_sync_succeeds(
    gitops: ApiClient,
    tenants: SqliteDatabase,
    make_bridge: Any,
    kube: ControlPlane,
    tmp_path: Path,
    warnings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kubeconfig = unreachable_kubeconfig(kube, tmp_path / "kubeconfig")
    bridge = make_bridge("both", kubeconfig=str(kubeconfig))
    assert bridge.sync() == 0 and bridge.head() is not None  # the command line's verdict
    assert "could not notify Flux" in capsys.readouterr().err
    set_plan(tenants, "acme", "pro")
    set_plan(tenants, "beta", "pro")
    started = time.monotonic()
    result, metrics = sync_hub(bridge)
    assert time.monotonic() - started < 30
    assert result.failure is None and result.commit == bridge.head()
    assert [(n.recipient.engine, n.outcome) for n in result.notifications] == [
        ("flux", "failed"),
        ("argocd", "failed"),
        ("argocd", "skipped"),
        ("argocd", "skipped"),
    ]
    flux, argocd = warnings()[-2:]
    assert flux.startswith(f"could not notify Flux of commit {result.commit[:12]} of hub {HUB} ")
    assert "did not answer" in flux
    assert argocd.endswith("; 2 more object(s) not tried")
    assert counted(metrics, "argocd", "skipped") == 2


def test_refused_notification_skips_the_engines_other_objects(
    gitops: ApiClient,
    tenants: SqliteDatabase,
    make_bridge: Any,
    kube: ControlPlane,
    namespace: str,
    warnings: Any,
) -> None:
    root_application(gitops, namespace)
    kubeconfig = kube.user_kubeconfig(f"no-rights-{namespace}")
    bridge = make_bridge("argocd", kubeconfig=str(kubeconfig))
    assert bridge.sync() == 0
    set_plan(tenants, "acme", "pro")
    result, metrics = sync_hub(bridge)
    assert result.failure is None and result.commit == bridge.head()
    assert [n.outcome for n in result.notifications] == ["failed", "skipped"]
    (*_, warning) = warnings()
    assert f"through Application {namespace}/{ROOT}: The API server refused" in warning
    assert "403" in warning and warning.endswith("; 1 more object(s) not tried")
    assert annotations(gitops, APPLICATION, namespace, ROOT) == {}
    assert counted(metrics, "argocd", "failed") == counted(metrics, "argocd", "skipped") == 1


def test_failing_credential_plugin_is_a_warning_not_a_failed_sync(
    gitops: ApiClient, make_bridge: Any, kube: ControlPlane, tmp_path: Path, warnings: Any
) -> None:
    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "false",
        }
    }
    kubeconfig = tmp_path / "exec-kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    bridge = make_bridge("flux", kubeconfig=str(kubeconfig))
    result, metrics = sync_hub(bridge)
    assert result.failure is None and result.commit == bridge.head() is not None
    (warning,) = warnings()
    assert "could not notify Flux" in warning and "Exec false returned 1" in warning
    assert counted(metrics, "flux", "failed") == 1


def test_one_connection_serves_every_push_of_a_daemon(
    gitops: ApiClient, tenants: SqliteDatabase, make_bridge: Any, namespace: str
) -> None:
    git_repository(gitops, namespace)
    bridge = make_bridge("flux")
    syncer = Syncer(load_config(bridge.config))
    hub = syncer.compiled.config.hubs[0]
    try:
        assert syncer.sync_hub(hub).commit is not None
        client = syncer.notifier._client
        assert client is not None and client.requests == 1
        set_plan(tenants, "acme", "pro")
        assert syncer.sync_hub(hub).commit is not None
        assert syncer.notifier._client is client and client.requests == 2
    finally:
        syncer.close()
    assert syncer.notifier._client is None
