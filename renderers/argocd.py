"""The Argo CD target: sync waves and sync options on the objects, one Application per node.

What each Lynq policy becomes (SPEC §7):

- ``dependIds`` depth n → ``argocd.argoproj.io/sync-wave: "n"``; the LynqNode goes in the wave
  after its deepest resource, so its health (the reporter's verdict) closes the tenant's sync;
- ``deletionPolicy: Retain`` → ``Prune=false,Delete=false`` (kept when the resource or the whole
  node goes), ``patchStrategy: replace`` → ``Replace=true``, ``apply`` → ``ServerSideApply=true``,
  ``merge`` → client-side apply, Argo CD's default; combined into one sync-options value,
  merged with any options the form sets itself (``SkipDryRunOnMissingResource=true``, ...);
- ``ignoreFields`` → ``ignoreDifferences`` (JSON pointers, jq paths for ``[*]``) and
  ``creationPolicy: Once`` → ``ignoreDifferences`` on the object's body, both with
  ``RespectIgnoreDifferences=true`` so that a sync keeps the live values.

The Applications live in ``argocd/<node>.yaml`` (``argocd/<node>/application.yaml`` for node
names of 251 to 253 characters) beside the node directories and are listed by
``argocd/kustomization.yaml``, which the one hand-written root Application per hub points at
(app-of-apps, ``examples/argocd/``); in the sharded layout ``argocd/<shard>/<node>.yaml``, with
``argocd/<shard>/kustomization.yaml`` listing a shard. Each carries Argo CD's resources
finalizer, so removing a row deletes its stack (except Retain objects) when the root Application
prunes the node's Application.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lynq_bridge.config.models import BridgeSpec, InventoryEntry, ResourceEntry
from lynq_bridge.core.credentials import mask_url, strip_credentials
from lynq_bridge.core.forms import CompiledForm
from lynq_bridge.core.layout import FlatTarget, NodeLayout, NodeObject
from lynq_bridge.core.paths import MAX_COMPONENT
from lynq_bridge.core.yamltext import dump_manifest
from renderers.common import (
    api_group,
    body_keys,
    engine_labels,
    engine_name,
    gap_warning,
    hub_path,
    ignore_fields,
    jq_path,
    json_pointer,
    set_annotation,
    skip_warnings,
    stuck_warnings,
    unique,
)

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
RESPECT_IGNORE_DIFFERENCES = "RespectIgnoreDifferences=true"
ENGINE_DIR = "argocd"
APPLICATION_FILE = "application.yaml"  # inside argocd/<node>/ when <node>.yaml is too long
ENGINE = "Argo CD"


def sync_options(entry: InventoryEntry) -> list[str]:
    """The sync options of one resource's policies, in a fixed order."""
    options = ["Prune=false", "Delete=false"] if entry.deletionPolicy == "Retain" else []
    if entry.patchStrategy == "replace":
        options.append("Replace=true")
    elif entry.patchStrategy == "apply":
        options.append("ServerSideApply=true")
    return options


def merge_sync_options(ours: list[str], theirs: str | None) -> str:
    """Ours first, then the form's own options whose key we do not set."""
    keys = {option.split("=", 1)[0] for option in ours}
    kept = [o.strip() for o in (theirs or "").split(",") if o.strip()]
    return ",".join(unique([*ours, *(o for o in kept if o.split("=", 1)[0] not in keys)]))


def ignore_difference(obj: NodeObject) -> dict[str, Any] | None:
    """The ``ignoreDifferences`` entry of one object, or None when nothing is ignored."""
    entry = obj.entry
    if entry is None:
        return None
    pointers: list[str] = []
    jq: list[str] = []
    for path in ignore_fields(obj.resource):
        pointer = json_pointer(path)
        if pointer is None:
            jq.append(jq_path(path))
        else:
            pointers.append(pointer)
    if entry.creationPolicy == "Once":
        pointers += [f"/{key}" for key in body_keys(obj.resource)]
    if not pointers and not jq:
        return None
    out: dict[str, Any] = {"kind": entry.kind, "name": entry.name}
    group = api_group(entry.apiVersion)
    if group:
        out["group"] = group
    if entry.namespace:
        out["namespace"] = entry.namespace
    if pointers:
        out["jsonPointers"] = unique(pointers)
    if jq:
        out["jqPathExpressions"] = unique(jq)
    return out


def application_path(directory: str) -> str:
    """Where the Application of the node in ``directory`` (``<node>`` or ``<shard>/<node>``)
    goes: ``argocd/<directory>.yaml``, or, for a node name too long for that file name (251 to
    253 characters: a path component has at most 255), ``argocd/<directory>/application.yaml``;
    ``layout.path_owner`` reads both as the node's."""
    file = f"{directory.rsplit('/', 1)[-1]}.yaml"
    if len(file) <= MAX_COMPONENT:
        return f"{ENGINE_DIR}/{directory}.yaml"
    return f"{ENGINE_DIR}/{directory}/{APPLICATION_FILE}"


class ArgoCDTarget(FlatTarget):
    """Flat node directories (as plain) plus Argo CD's annotations and one Application per node."""

    name = "argocd"
    engine_dirs: tuple[str, ...] = (ENGINE_DIR,)

    def __init__(self, spec: BridgeSpec) -> None:
        self.settings = spec.argocd
        self.git_path = spec.git.path
        # Credentials never go into a file: the Applications are committed, and Argo CD reads
        # them from its repository Secret.
        given = spec.argocd.repoURL or spec.git.url
        self.repo_url = strip_credentials(given)
        self.stripped = given if self.repo_url != given else None
        self.repo_setting = "argocd.repoURL" if spec.argocd.repoURL else "git.url"
        self.revision = spec.argocd.targetRevision or spec.git.branch
        self.local_repo = spec.argocd.repoURL is None and "://" not in spec.git.url

    def decorate_child(self, manifest: dict[str, Any], entry: InventoryEntry, depth: int) -> None:
        set_annotation(manifest, SYNC_WAVE, str(depth))
        annotations = manifest["metadata"]["annotations"]
        options = merge_sync_options(sync_options(entry), annotations.get(SYNC_OPTIONS))
        if options:
            annotations[SYNC_OPTIONS] = options

    def decorate_node(self, manifest: dict[str, Any], deepest: int) -> None:
        set_annotation(manifest, SYNC_WAVE, str(deepest + 1))

    def engine_files(self, node: NodeLayout) -> dict[str, bytes]:
        return {application_path(node.directory): dump_manifest(self.application(node)).encode()}

    def application(self, node: NodeLayout) -> dict[str, Any]:
        """The node's Application: its directory, its ignore rules, the sync policy."""
        hub = node.hub.metadata
        ignored = [d for d in (ignore_difference(o) for o in node.objects) if d is not None]
        policy = self.settings.syncPolicy
        sync_policy: dict[str, Any] = {}
        if policy.automated:
            sync_policy["automated"] = {"prune": policy.prune, "selfHeal": policy.selfHeal}
        if policy.retryLimit:
            sync_policy["retry"] = {"limit": policy.retryLimit}
        if ignored:
            sync_policy["syncOptions"] = [RESPECT_IGNORE_DIFFERENCES]
        spec: dict[str, Any] = {
            "project": self.settings.project,
            "source": {
                "repoURL": self.repo_url,
                "targetRevision": self.revision,
                "path": f"{hub_path(self.git_path, node.hub)}/{node.directory}",
            },
            "destination": {"server": self.settings.destinationServer, "namespace": hub.namespace},
        }
        if sync_policy:
            spec["syncPolicy"] = sync_policy
        if ignored:
            spec["ignoreDifferences"] = ignored
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": engine_name(hub.namespace, node.name),
                "namespace": self.settings.namespace,
                **engine_labels(node),
                "finalizers": [RESOURCES_FINALIZER],
            },
            "spec": spec,
        }

    def warnings(self, forms: Sequence[CompiledForm]) -> list[str]:
        return [
            *self.settings_warnings(),
            *self.gap_warnings(forms),
            *stuck_warnings(forms, ENGINE),
        ]

    def settings_warnings(self) -> list[str]:
        out: list[str] = []
        if self.stripped is not None:
            out.append(
                f'{self.repo_setting} "{mask_url(self.stripped)}" carries credentials: the '
                f'Applications name the repository as "{self.repo_url}" without them; give Argo '
                "CD the credentials in a repository Secret (argocd.argoproj.io/secret-type: "
                "repository)"
            )
        if self.local_repo:
            out.append(
                f'argocd.repoURL is not set and git.url "{self.repo_url}" is a local path: the '
                "Applications will name it as their repository; set argocd.repoURL to the URL "
                "Argo CD clones"
            )
        return out

    def gap_warnings(self, forms: Sequence[CompiledForm]) -> list[str]:
        def once(entry: ResourceEntry) -> bool:
            return entry.creationPolicy == "Once"

        def no_wait(entry: ResourceEntry) -> bool:
            return not entry.waitForReady

        out = skip_warnings(forms, ENGINE, "later sync waves wait")
        for form in forms:
            out += gap_warning(
                form,
                once,
                "creationPolicy Once has no Argo CD equivalent: it is approximated by "
                "ignoreDifferences on the object's body in the node's Application (labels and "
                "annotations still follow Git)",
            )
            out += gap_warning(
                form,
                no_wait,
                "waitForReady false has no Argo CD equivalent: the next sync wave still waits "
                "for the resource to be healthy",
            )
        return out
