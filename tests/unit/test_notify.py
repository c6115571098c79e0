"""Push notification, the pure part: which objects a push annotates, with what, and the
``spec.notify`` settings. The requests themselves are tested against the real API server in
tests/integration/cluster/test_notify_on_cluster.py."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from unreachable import collected, kubeconfig

from lynq_bridge.config.loading import load_config
from lynq_bridge.config.models import BridgeSpec, LynqHub
from lynq_bridge.core.planning import HubPlan
from lynq_bridge.core.rendering import NodeRender
from lynq_bridge.errors import ConfigError
from lynq_bridge.notify import (
    ARGOCD_REFRESH,
    FLUX_REQUESTED_AT,
    Notification,
    Notifier,
    annotation_of,
    changed_nodes,
    recipients_for,
)
from renderers.common import engine_name

HUB = LynqHub.model_validate(
    {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqHub",
        "metadata": {"name": "tenants", "namespace": "apps"},
        "spec": {
            "source": {"type": "sqlite", "sqlite": {"path": "t.db", "table": "tenants"}},
            "valueMappings": {"uid": "tenant_id", "activate": "active"},
        },
    }
)
ROOT = {"name": "lynq-tenants", "namespace": "argocd"}


def spec(target: str, **extra: Any) -> BridgeSpec:
    return BridgeSpec.model_validate(
        {"git": {"url": "/srv/git/gitops.git"}, "target": target, "notify": {"enabled": True}}
        | extra
    )


def listed(target: str, nodes: list[str], **extra: Any) -> list[tuple[str, str, str, str, bool]]:
    return [
        (r.engine, r.rtype.kind, r.namespace, r.name, r.required)
        for r in recipients_for(spec(target, **extra), HUB, nodes)
    ]


# ------------------------------------------------------------------------------ recipients


def test_plain_target_has_nothing_to_notify() -> None:
    assert listed("plain", ["acme-web"], notify={"enabled": True, "applications": [ROOT]}) == []


def test_flux_target_notifies_the_source_git_repository_in_the_kustomizations_namespace() -> None:
    assert listed("flux", ["acme-web"]) == [
        ("flux", "GitRepository", "flux-system", "lynq-bridge", True)
    ]


def test_flux_source_namespace_and_name_come_from_the_source_ref() -> None:
    flux = {"namespace": "gitops", "sourceRef": {"name": "platform", "namespace": "sources"}}
    assert listed("flux", [], flux=flux) == [("flux", "GitRepository", "sources", "platform", True)]
    assert listed("flux", [], flux={"namespace": "gitops"})[0][2] == "gitops"


@pytest.mark.parametrize("kind", ["OCIRepository", "Bucket"])
def test_a_source_the_push_does_not_feed_is_not_notified(kind: str) -> None:
    assert listed("flux", ["acme-web"], flux={"sourceRef": {"kind": kind}}) == []


def test_argocd_target_refreshes_the_roots_then_the_changed_nodes_applications() -> None:
    notify = {"enabled": True, "applications": [ROOT, {"name": "platform"}]}
    assert listed("argocd", ["beta-web", "acme-web"], notify=notify) == [
        ("argocd", "Application", "argocd", "lynq-tenants", True),
        ("argocd", "Application", "argocd", "platform", True),
        ("argocd", "Application", "argocd", "apps.acme-web", False),
        ("argocd", "Application", "argocd", "apps.beta-web", False),
    ]


def test_node_applications_are_named_and_placed_as_the_argocd_renderer_writes_them() -> None:
    long_node = "a" * 60 + "-web"
    recipients = recipients_for(
        spec("argocd", argocd={"namespace": "gitops"}), HUB, ["acme-web", long_node]
    )
    assert [(r.namespace, r.name) for r in recipients] == [
        ("gitops", engine_name("apps", long_node)),
        ("gitops", "apps.acme-web"),
    ]
    assert len(recipients[0].name) == 63  # shortened with a hash, as the renderer does


def test_root_namespace_defaults_to_the_argocd_namespace() -> None:
    notify = {"enabled": True, "applications": [{"name": "root"}]}
    assert listed("argocd", [], notify=notify, argocd={"namespace": "gitops"}) == [
        ("argocd", "Application", "gitops", "root", True)
    ]


def test_both_target_notifies_flux_and_argocd() -> None:
    notify = {"enabled": True, "applications": [ROOT]}
    assert [e for e, *_ in listed("both", ["acme-web"], notify=notify)] == [
        "flux",
        "argocd",
        "argocd",
    ]


def test_an_application_listed_twice_is_annotated_once() -> None:
    notify = {"enabled": True, "applications": [ROOT, ROOT, {"name": "apps.acme-web"}]}
    assert listed("argocd", ["acme-web", "acme-web"], notify=notify) == [
        ("argocd", "Application", "argocd", "lynq-tenants", True),
        ("argocd", "Application", "argocd", "apps.acme-web", True),
    ]


# --------------------------------------------------------------------------- changed nodes


def node(name: str) -> NodeRender:
    uid, _, form = name.rpartition("-")
    return NodeRender(name=name, uid=uid, form=form)


def test_changed_nodes_are_the_owners_of_written_and_deleted_files() -> None:
    plan = HubPlan(
        writes={
            "acme-web/deployment_apps_acme-app.yaml": b"",
            "argocd/beta-web.yaml": b"",
            "flux/gamma-web/level-1.yaml": b"",
            "argocd/kustomization.yaml": b"",
            "kustomization.yaml": b"",
            ".lynq-inputs.json": b"",
        },
        deletes=["delta-web/level-2/service_apps_delta-app.yaml"],
    )
    assert changed_nodes(plan) == ["acme-web", "beta-web", "delta-web", "gamma-web"]


def test_added_and_removed_nodes_are_left_to_the_root() -> None:
    plan = HubPlan(
        writes={"acme-web/lynqnode.yaml": b"", "new-web/lynqnode.yaml": b""},
        deletes=["old-web/lynqnode.yaml", "argocd/old-web.yaml"],
        added=[node("new-web")],
        removed=["old-web"],
    )
    assert changed_nodes(plan) == ["acme-web"]


# ------------------------------------------------------------------------------ annotations


def test_flux_request_is_rfc3339_utc_with_microseconds() -> None:
    recipient = recipients_for(spec("flux"), HUB, [])[0]
    moment = dt.datetime(2030, 1, 1, 13, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert annotation_of(recipient, moment) == {FLUX_REQUESTED_AT: "2030-01-01T12:00:00.000005Z"}


def test_argocd_request_is_a_normal_refresh() -> None:
    recipient = recipients_for(spec("argocd"), HUB, ["acme-web"])[0]
    assert annotation_of(recipient, dt.datetime.now(dt.UTC)) == {ARGOCD_REFRESH: "normal"}


@pytest.fixture
def notify_log() -> Iterator[list[logging.LogRecord]]:
    with collected("lynq_bridge.notify") as records:
        yield records


@pytest.mark.parametrize(
    ("target", "enabled"), [("both", False), ("plain", True)], ids=["disabled", "plain"]
)
def test_nothing_to_notify_opens_no_connection(
    tmp_path: Path, notify_log: list[logging.LogRecord], target: str, enabled: bool
) -> None:
    settings = {"enabled": enabled, "kubeconfig": str(tmp_path / "missing")}
    notifier = Notifier(spec(target, notify=settings))
    assert notifier.notify(HUB, ["acme-web"], commit="0" * 40) == []
    assert notify_log == []


def test_unreadable_kubeconfig_fails_every_recipient_with_one_warning(
    tmp_path: Path, notify_log: list[logging.LogRecord]
) -> None:
    missing = tmp_path / "missing"
    settings = {"enabled": True, "kubeconfig": str(missing), "applications": [ROOT]}
    notifier = Notifier(spec("both", notify=settings))
    notifications = notifier.notify(HUB, ["acme-web"], commit=COMMIT)
    recipients = recipients_for(notifier.spec, HUB, ["acme-web"])
    assert notifications == [Notification(r, "failed") for r in recipients]
    assert len(recipients) == 3
    (warning,) = notify_log
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert message.startswith(
        f"could not notify Argo CD and Flux of commit {COMMIT[:12]} of hub apps/tenants: "
        f"Cannot load kubeconfig {missing}: "
    )
    assert not message.endswith(".")  # the adapter's sentence ends ours, without its period


COMMIT = "0123456789abcdef" * 2 + "01234567"


def test_refused_request_fails_the_object_and_skips_the_rest_of_its_engine(
    tmp_path: Path, notify_log: list[logging.LogRecord], closed_port: int
) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", closed_port)
    settings = {"enabled": True, "kubeconfig": config, "applications": [ROOT]}
    notifier = Notifier(spec("both", notify=settings))
    try:
        notifications = notifier.notify(HUB, ["beta-web", "acme-web"], commit=COMMIT)
    finally:
        notifier.close()
    assert notifier._client is None  # closed, and reopened at the next push
    recipients = recipients_for(notifier.spec, HUB, ["acme-web", "beta-web"])
    assert notifications == [
        Notification(r, o)
        for r, o in zip(recipients, ["failed", "failed", "skipped", "skipped"], strict=True)
    ]
    assert [r.levelno for r in notify_log] == [logging.WARNING, logging.WARNING, logging.DEBUG]
    flux, argocd, summary = (r.getMessage() for r in notify_log)
    where = f"of commit {COMMIT[:12]} of hub apps/tenants"
    server = f"the API server at http://127.0.0.1:{closed_port} did not answer ("
    assert flux.startswith(
        f"could not notify Flux {where} through GitRepository flux-system/lynq-bridge: "
        f"Cannot annotate GitRepository flux-system/lynq-bridge: {server}"
    )
    assert flux.endswith(")")  # no period, and no other Flux object left untried
    assert argocd.startswith(
        f"could not notify Argo CD {where} through Application argocd/lynq-tenants: "
        f"Cannot annotate Application argocd/lynq-tenants: {server}"
    )
    assert argocd.endswith("); 2 more object(s) not tried")
    assert re.fullmatch(
        rf"notified the engines {where}: ok=0 missing=0 failed=2 skipped=2 seconds=\d\.\d{{3}}",
        summary,
    )


def test_silent_api_server_costs_one_timeout_of_timeout_seconds(
    tmp_path: Path, notify_log: list[logging.LogRecord], silent_port: int
) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", silent_port)
    notifier = Notifier(
        spec("flux", notify={"enabled": True, "kubeconfig": config, "timeoutSeconds": 1})
    )
    started = time.monotonic()
    try:
        (notification,) = notifier.notify(HUB, [], commit=COMMIT)
    finally:
        notifier.close()
    assert time.monotonic() - started < 10  # the default request timeout would be 30 seconds
    assert notification.outcome == "failed"
    assert "did not answer" in notify_log[0].getMessage()


def test_flux_request_is_utc_whatever_the_local_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    recipient = recipients_for(spec("flux"), HUB, [])[0]
    moment = dt.datetime(2030, 1, 1, 12, 0, 0, 5, tzinfo=dt.UTC)
    monkeypatch.setenv("TZ", "XYZ-5:30")  # POSIX form: no time zone database needed
    time.tzset()
    try:
        value = annotation_of(recipient, moment)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert value == {FLUX_REQUESTED_AT: "2030-01-01T12:00:00.000005Z"}


def test_notifier_kubeconfig_defaults_to_the_reporters() -> None:
    shared = spec("flux", report={"kubeconfig": "/etc/kube/config"})
    assert Notifier(shared).kubeconfig == "/etc/kube/config"
    own = spec("flux", report={"kubeconfig": "/a"}, notify={"kubeconfig": "/b"})
    assert Notifier(own).kubeconfig == "/b"


# ------------------------------------------------------------------------------- settings


BRIDGE = {
    "apiVersion": "bridge.lynq.sh/v1alpha1",
    "kind": "BridgeConfig",
    "metadata": {"name": "default"},
    "spec": {"git": {"url": "/srv/git/gitops.git"}, "target": "argocd"},
}


def problems(tmp_path: Path, notify: Any) -> str:
    document = {**BRIDGE, "spec": {**BRIDGE["spec"], "notify": notify}}  # type: ignore[dict-item]
    (tmp_path / "bridge.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    return str(caught.value)


def test_notify_is_off_by_default_with_a_five_second_timeout() -> None:
    settings = BridgeSpec.model_validate({"git": {"url": "/srv/git"}}).notify
    assert (settings.enabled, settings.kubeconfig, settings.timeoutSeconds) == (False, None, 5)
    assert settings.applications == []


def test_unknown_notify_key_is_a_config_error(tmp_path: Path) -> None:
    assert "spec.notify.webhook" in problems(tmp_path, {"enabled": True, "webhook": "x"})


def test_unknown_application_key_is_a_config_error(tmp_path: Path) -> None:
    found = problems(tmp_path, {"applications": [{"name": "root", "project": "x"}]})
    assert "spec.notify.applications[0].project" in found


@pytest.mark.parametrize("seconds", [0, 61, -1])
def test_timeout_outside_one_to_sixty_seconds_is_a_config_error(
    tmp_path: Path, seconds: int
) -> None:
    assert "spec.notify.timeoutSeconds" in problems(tmp_path, {"timeoutSeconds": seconds})


@pytest.mark.parametrize("seconds", [1, 60])
def test_timeout_bounds_are_accepted(seconds: int) -> None:
    settings = BridgeSpec.model_validate(
        {"git": {"url": "/srv/git"}, "notify": {"timeoutSeconds": seconds}}
    ).notify
    assert settings.timeoutSeconds == seconds


@pytest.mark.parametrize("name", ["../secrets", "Root", "root/status", "", "a" * 254, "-root"])
def test_application_name_that_is_not_a_kubernetes_name_is_a_config_error(
    tmp_path: Path, name: str
) -> None:
    found = problems(tmp_path, {"applications": [{"name": name}]})
    assert "spec.notify.applications[0].name" in found
    assert "is not a DNS-1123 subdomain" in found


def test_application_namespace_that_is_not_a_label_is_a_config_error(tmp_path: Path) -> None:
    found = problems(tmp_path, {"applications": [{"name": "root", "namespace": "argo.cd"}]})
    assert "spec.notify.applications[0].namespace" in found


def test_dotted_application_names_are_accepted() -> None:
    settings = BridgeSpec.model_validate(
        {"git": {"url": "/srv/git"}, "notify": {"applications": [{"name": "apps.lynq-tenants"}]}}
    ).notify
    assert settings.applications[0].name == "apps.lynq-tenants"
