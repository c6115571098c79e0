"""The Flux target: kustomize-controller annotations on the objects, and one Flux Kustomization
per dependency level of each node, chained with ``dependsOn`` and health-checked.

What each Lynq policy becomes (SPEC §7):

- ``dependIds`` depth n → the object lives in ``<node>/level-n/``, applied by the node's level-n
  Kustomization, which ``dependsOn`` the level before it and waits for its objects to be healthy
  (kstatus) before the next level starts;
- the LynqNode lives in ``level-0``: applied first, so the status reporter follows the whole
  rollout, and never moved when a deeper level comes or goes; the node's last level
  health-checks it, so that Kustomization is Ready when the tenant is (the reporter's
  Ready/Reconciling/Stalled);
- ``deletionPolicy: Retain`` → ``kustomize.toolkit.fluxcd.io/prune: disabled``;
  ``creationPolicy: Once`` → ``kustomize.toolkit.fluxcd.io/ssa: IfNotPresent`` (wins over
  merge); ``patchStrategy: merge`` → ``ssa: Merge``; ``replace`` → ``force: enabled``;
- ``waitForReady: false`` → the level lists the objects it waits for in ``healthChecks``
  instead of ``wait: true``; ``timeoutSeconds`` → the level's ``timeout`` (its largest);
- ``ignoreFields`` → no equivalent before kustomize-controller v1.9; with ``flux.ignoreRules``
  they become ``spec.ignore`` rules (JSON pointers only).

Why a directory per level: a Kustomization applies a whole kustomize directory, and
``kubectl kustomize`` (unlike kustomize-controller) refuses files outside a kustomization's own
directory, so each level's objects live in the level's directory. The Kustomizations live in
``flux/<node>/level-n.yaml``, listed by ``flux/kustomization.yaml``, which the one hand-written
root Kustomization per hub points at (``examples/flux/``). In the sharded layout they are
``flux/<shard>/<node>/level-n.yaml``, and ``flux/<shard>/kustomization.yaml`` lists a shard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lynq_bridge.config.models import BridgeSpec, InventoryEntry, ResourceEntry
from lynq_bridge.core.forms import CompiledForm
from lynq_bridge.core.layout import FlatTarget, NodeLayout, NodeObject
from lynq_bridge.core.naming import NODE_FILE
from lynq_bridge.core.yamltext import dump_manifest
from renderers.common import (
    api_group,
    api_version_only,
    engine_labels,
    engine_name,
    gap_warning,
    hub_path,
    ignore_fields,
    json_pointer,
    set_annotation,
    skip_warnings,
    stuck_warnings,
)

PRUNE = "kustomize.toolkit.fluxcd.io/prune"
SSA = "kustomize.toolkit.fluxcd.io/ssa"
FORCE = "kustomize.toolkit.fluxcd.io/force"
ENGINE_DIR = "flux"
ENGINE = "Flux"
LEVEL_DIR = re.compile(r"^level-([0-9]+)$")


def level_dir(depth: int) -> str:
    return f"level-{max(depth, 0)}"


class FluxTarget(FlatTarget):
    """A directory per dependency level in each node, Flux's annotations, and one Kustomization
    per level."""

    name = "flux"
    engine_dirs: tuple[str, ...] = (ENGINE_DIR,)

    def __init__(self, spec: BridgeSpec) -> None:
        self.settings = spec.flux
        self.git_path = spec.git.path

    def decorate_child(self, manifest: dict[str, Any], entry: InventoryEntry, depth: int) -> None:
        if entry.deletionPolicy == "Retain":
            set_annotation(manifest, PRUNE, "disabled")
        if entry.creationPolicy == "Once":
            set_annotation(manifest, SSA, "IfNotPresent")
        elif entry.patchStrategy == "merge":
            set_annotation(manifest, SSA, "Merge")
        if entry.patchStrategy == "replace":
            set_annotation(manifest, FORCE, "enabled")

    def place(self, file: str, depth: int) -> str:
        return f"{level_dir(depth)}/{file}"

    def node_path(self, deepest: int) -> str:
        return f"{level_dir(0)}/{NODE_FILE}"

    def engine_files(self, node: NodeLayout) -> dict[str, bytes]:
        levels: dict[int, list[NodeObject]] = {}
        for obj in node.objects:
            directory, sep, _ = obj.path.partition("/")
            match = LEVEL_DIR.match(directory) if sep else None
            if match:  # anything else was placed by another target and is kept as committed
                levels.setdefault(int(match.group(1)), []).append(obj)
        out: dict[str, bytes] = {}
        previous: str | None = None
        for level in sorted(levels):
            last = level == max(levels)
            manifest = self.kustomization(node, level, levels[level], previous, last=last)
            out[f"{ENGINE_DIR}/{node.directory}/{level_dir(level)}.yaml"] = dump_manifest(
                manifest
            ).encode()
            previous = manifest["metadata"]["name"]
        return out

    def kustomization(
        self,
        node: NodeLayout,
        level: int,
        objects: list[NodeObject],
        previous: str | None,
        *,
        last: bool,
    ) -> dict[str, Any]:
        """The Kustomization of one level of a node (``last``: its deepest level)."""
        settings = self.settings
        hub = node.hub.metadata
        spec: dict[str, Any] = {
            "interval": settings.interval,
            "path": f"./{hub_path(self.git_path, node.hub)}/{node.directory}/{level_dir(level)}",
            "prune": settings.prune,
            "sourceRef": settings.sourceRef.model_dump(exclude_none=True),
        }
        if previous is not None:
            spec["dependsOn"] = [{"name": previous}]
        if settings.wait:
            # The level waits for its resources that wait; the last one also for the LynqNode
            # (applied with level 0, whose readiness needs every level).
            children = [o for o in objects if o.entry is not None]
            waited = [o for o in children if o.entry is not None and o.entry.waitForReady]
            checks = [self.reference(node, o) for o in waited]
            if last:
                checks.append(self.reference(node, None))
            applies_node = len(children) < len(objects)
            if len(waited) == len(children) and applies_node == last:
                spec["wait"] = True  # exactly what it applies
            elif checks:
                spec["healthChecks"] = sorted(
                    checks, key=lambda c: (c["kind"], c.get("namespace", ""), c["name"])
                )
        timeouts = [o.entry.timeoutSeconds for o in objects if o.entry is not None]
        if settings.timeout:
            spec["timeout"] = settings.timeout
        elif timeouts:
            spec["timeout"] = f"{max(timeouts)}s"
        if settings.serviceAccountName:
            spec["serviceAccountName"] = settings.serviceAccountName
        if settings.ignoreRules:
            rules = [r for r in (self.ignore_rule(o) for o in objects) if r is not None]
            if rules:
                spec["ignore"] = rules
        return {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {
                "name": engine_name(hub.namespace, node.name, str(level)),
                "namespace": settings.namespace,
                **engine_labels(node),
            },
            "spec": spec,
        }

    @staticmethod
    def reference(node: NodeLayout, obj: NodeObject | None) -> dict[str, str]:
        """A ``healthChecks`` entry for an object of the node (None: its LynqNode)."""
        if obj is None or obj.entry is None:
            return {
                "apiVersion": "operator.lynq.sh/v1",
                "kind": "LynqNode",
                "name": node.name,
                "namespace": node.hub.metadata.namespace,
            }
        ref = {"apiVersion": obj.entry.apiVersion, "kind": obj.entry.kind, "name": obj.entry.name}
        if obj.entry.namespace:
            ref["namespace"] = obj.entry.namespace
        return ref

    @staticmethod
    def ignore_rule(obj: NodeObject) -> dict[str, Any] | None:
        """A ``spec.ignore`` rule keeping the live values of an object's ignoreFields."""
        if obj.entry is None:
            return None
        pointers = [p for p in map(json_pointer, ignore_fields(obj.resource)) if p is not None]
        if not pointers:
            return None
        # The selector's fields are anchored regular expressions: only "." needs escaping.
        target = {
            "version": api_version_only(obj.entry.apiVersion),
            "kind": obj.entry.kind,
            "name": obj.entry.name.replace(".", "\\."),
        }
        group = api_group(obj.entry.apiVersion)
        if group:
            target["group"] = group.replace(".", "\\.")
        if obj.entry.namespace:
            target["namespace"] = obj.entry.namespace
        return {"paths": pointers, "target": target}

    def warnings(self, forms: Sequence[CompiledForm]) -> list[str]:
        return [*self.gap_warnings(forms), *stuck_warnings(forms, ENGINE)]

    def gap_warnings(self, forms: Sequence[CompiledForm]) -> list[str]:
        def ignores(entry: ResourceEntry) -> bool:
            return bool(entry.ignoreFields)

        def wildcard(entry: ResourceEntry) -> bool:
            return any(json_pointer(path) is None for path in entry.ignoreFields)

        out = skip_warnings(forms, ENGINE, "the next dependency level is not applied")
        for form in forms:
            if not self.settings.ignoreRules:
                out += gap_warning(
                    form,
                    ignores,
                    "ignoreFields has no Flux equivalent before kustomize-controller v1.9: Flux "
                    "applies the rendered values (set flux.ignoreRules on Flux 2.9 or newer)",
                )
            else:
                out += gap_warning(
                    form,
                    wildcard,
                    "ignoreFields with [*] have no Flux equivalent: ignore rules take JSON "
                    "pointers without wildcards, so Flux applies those rendered values",
                )
        return out
