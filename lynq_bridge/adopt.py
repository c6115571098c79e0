"""``lynq-bridge adopt``: release a running Lynq installation's objects to the GitOps engine.

The plan (what to change on which object, and why) is ``lynq_bridge.core.adoption``; this module
reads the cluster, sends the patches and checks the result. Per configured hub it reads the
LynqHub and its LynqNodes, then lists every kind a Lynq node may own (Lynq's kinds and the kinds
of the hub's forms) in all namespaces, metadata only: one paged list per kind, no GET per object.
Children go first, then the nodes, then the hub, so a run stopped at any point leaves no object
that is still owned by something already released. Every patch only removes or renames; nothing
is deleted. A second run plans nothing (``--dry-run`` shows it), which is also how a run checks
itself at the end: when objects still need changes, Lynq's operator is running and re-adds them.

Lynq's admission webhooks (``failurePolicy: Fail`` on ``lynqhubs`` and ``lynqforms``) refuse
every update once the operator is scaled down, so a run that has to patch a LynqHub first checks
that no webhook configuration still intercepts ``operator.lynq.sh`` and names the ones that do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lynq_bridge.adapters.cluster import LYNQ_HUB, LYNQ_NODE, ClusterClient, ResourceType
from lynq_bridge.config.loading import Config
from lynq_bridge.config.models import LynqHub
from lynq_bridge.core import adoption
from lynq_bridge.core.adoption import HandOver, LynqInstallation, ObjectPatch
from lynq_bridge.core.paths import quote
from lynq_bridge.errors import ClusterConflict, ClusterUnavailable, ConfigError

FIELD_MANAGER = "lynq-bridge-adopt"  # records our own (removing) updates in managedFields
CONFLICT_RETRIES = 5  # re-reads of one object that changed between plan and patch
WEBHOOK_TYPES = (
    ResourceType(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
    ),
    ResourceType(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
    ),
)


@dataclass
class AdoptionResult:
    """What one run found and did; ``remaining`` is what a re-read still plans (should be 0)."""

    examined: int = 0
    planned: list[ObjectPatch] = field(default_factory=list)
    patched: int = 0
    gone: int = 0
    remaining: list[ObjectPatch] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0


def engine_field_manager(config: Config, override: str | None) -> str:
    """The field manager the engine applies with: ``override``, else the config's target's."""
    if override:
        return override
    target = config.bridge.spec.target
    manager = adoption.ENGINE_FIELD_MANAGERS.get(target)
    if manager is None:
        raise ConfigError(
            f'--field-manager is required: target "{target}" names no single GitOps engine '
            '(Flux applies as "kustomize-controller", Argo CD as "argocd-controller")'
        )
    return manager


def run_adoption(
    config: Config,
    *,
    kubeconfig: str | None,
    hand_over: HandOver,
    dry_run: bool,
    hubs: Sequence[str] = (),
    show: Callable[[str], None] = lambda line: None,
) -> AdoptionResult:
    """Plan, and unless ``dry_run`` apply, the release of each configured hub (or of ``hubs``,
    given as NAMESPACE/NAME); ``show`` receives one line per planned patch."""
    selected = [h for h in config.hubs if not hubs or _key(h) in hubs]
    unknown = sorted(set(hubs) - {_key(h) for h in config.hubs})
    if unknown:
        raise ConfigError(f"no hub {quote(unknown[0])} in the config (give NAMESPACE/NAME)")
    started = time.monotonic()
    result = AdoptionResult()
    with ClusterClient(kubeconfig) as client:
        plans = [_plan_hub(client, config, hub, hand_over, result) for hub in selected]
        for _, patches in plans:
            for patch in patches:
                show(patch.describe())
                result.planned.append(patch)
        if not dry_run and result.planned:
            if any(p.kind == "LynqHub" for p in result.planned):
                _check_webhooks(client)
            for installation, patches in plans:
                for patch in patches:
                    _send(client, patch, installation, hand_over, result)
            recheck = AdoptionResult()
            for hub in selected:
                result.remaining += _plan_hub(client, config, hub, hand_over, recheck)[1]
        result.requests = client.requests
    result.seconds = time.monotonic() - started
    return result


def _key(hub: LynqHub) -> str:
    return f"{hub.metadata.namespace}/{hub.metadata.name}"


def _plan_hub(
    client: ClusterClient,
    config: Config,
    hub: LynqHub,
    hand_over: HandOver,
    result: AdoptionResult,
) -> tuple[LynqInstallation, list[ObjectPatch]]:
    """The hub's installation and its patches: children, then LynqNodes, then the LynqHub."""
    namespace, name = hub.metadata.namespace, hub.metadata.name
    hub_obj = client.get_object(LYNQ_HUB, namespace, name, metadata_only=True)
    nodes = client.list_objects(LYNQ_NODE, namespace, missing_ok=True, metadata_only=True)
    installation, mine = adoption.installation_of(hub_obj, nodes, namespace=namespace, name=name)
    patches: list[ObjectPatch] = []
    if installation.owner_uids:
        for rtype in _child_types(client, config, hub):
            for obj in client.list_objects(rtype, None, missing_ok=True, metadata_only=True):
                if not installation.tracks(obj):
                    continue
                result.examined += 1
                patch = adoption.plan_object(
                    obj,
                    api_version=rtype.api_version,
                    kind=rtype.kind,
                    installation=installation,
                    hand_over=hand_over,
                )
                if patch is not None:
                    patches.append(patch)
    for node in sorted(mine, key=lambda n: str(n["metadata"]["name"])):
        result.examined += 1
        patch = adoption.plan_object(
            node, api_version="operator.lynq.sh/v1", kind="LynqNode",
            installation=installation, hand_over=None,
        )  # fmt: skip
        if patch is not None:
            patches.append(patch)
    if hub_obj is not None:
        result.examined += 1
        patch = adoption.plan_object(
            hub_obj, api_version="operator.lynq.sh/v1", kind="LynqHub",
            installation=installation, hand_over=None,
        )  # fmt: skip
        if patch is not None:
            patches.append(patch)
    return installation, patches


def _child_types(client: ClusterClient, config: Config, hub: LynqHub) -> list[ResourceType]:
    """Lynq's child kinds and every literal kind of the hub's forms the server serves, sorted."""
    kinds = set(adoption.LYNQ_CHILD_KINDS)
    for form in config.forms_of(hub):
        for entry in form.spec.resources():
            api_version, kind = entry.spec.get("apiVersion"), entry.spec.get("kind")
            if (
                isinstance(api_version, str)
                and isinstance(kind, str)
                and "{" not in api_version + kind
            ):
                kinds.add((api_version, kind))
    found = (client.resource_type(api_version, kind) for api_version, kind in sorted(kinds))
    return [rtype for rtype in found if rtype is not None]


def _send(
    client: ClusterClient,
    patch: ObjectPatch,
    installation: LynqInstallation,
    hand_over: HandOver,
    result: AdoptionResult,
) -> None:
    """Send ``patch``; on a 409 read the object again and send what is still needed."""
    rtype = client.resource_type(patch.api_version, patch.kind)
    if rtype is None:  # the kind was served when planned: the CRD went away since
        result.gone += 1
        return
    current = patch
    for _ in range(CONFLICT_RETRIES):
        try:
            answer = client.patch_json(
                rtype, current.namespace, current.name, list(current.operations),
                field_manager=FIELD_MANAGER,
            )  # fmt: skip
        except ClusterConflict:
            obj = client.get_object(rtype, current.namespace, current.name, metadata_only=True)
            if obj is None:
                result.gone += 1
                return
            replanned = adoption.plan_object(
                obj,
                api_version=patch.api_version,
                kind=patch.kind,
                installation=installation,
                hand_over=hand_over if patch.kind not in adoption.LYNQ_KINDS else None,
            )
            if replanned is None:
                return  # someone else already released it
            current = replanned
            continue
        if answer is None:
            result.gone += 1
        else:
            result.patched += 1
        return
    raise ClusterConflict(
        f"{patch.kind} {patch.namespace}/{patch.name} changed {CONFLICT_RETRIES} times while "
        "being released; is Lynq's operator still running?"
    )


def _check_webhooks(client: ClusterClient) -> None:
    """Refuse to start while an admission webhook still intercepts Lynq's kinds."""
    for rtype in WEBHOOK_TYPES:
        for config in client.list_objects(rtype, None, missing_ok=True):
            for hook in config.get("webhooks") or []:
                groups = {
                    g for rule in hook.get("rules") or [] for g in rule.get("apiGroups") or []
                }
                if adoption.LYNQ_GROUP in groups:
                    name = config["metadata"]["name"]
                    raise ClusterUnavailable(
                        f"{rtype.kind} {quote(name)} still sends operator.lynq.sh requests to "
                        f"webhook {quote(str(hook.get('name')))}; delete it after scaling Lynq's "
                        "operator to zero (kubectl delete "
                        f"{rtype.plural} {name}), then run adopt again"
                    )
