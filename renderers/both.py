"""The ``both`` target: one tree that either engine can apply.

Each engine ignores the other's annotations, so the children carry both sets; the node
directories use Flux's layout (a directory per dependency level), which Argo CD builds whole
through the node's kustomization.yaml; ``argocd/`` and ``flux/`` hold each engine's files. Apply
the root object of one engine per hub, not both: two appliers would fight over the objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lynq_bridge.config.models import BridgeSpec, InventoryEntry
from lynq_bridge.core.forms import CompiledForm
from lynq_bridge.core.layout import NodeLayout
from renderers.argocd import ArgoCDTarget
from renderers.common import stuck_warnings
from renderers.flux import FluxTarget


class BothTarget(FluxTarget):
    """Flux's layout and files plus Argo CD's annotations and Applications."""

    name = "both"
    engine_dirs: tuple[str, ...] = (*ArgoCDTarget.engine_dirs, *FluxTarget.engine_dirs)

    def __init__(self, spec: BridgeSpec) -> None:
        super().__init__(spec)
        self.argocd = ArgoCDTarget(spec)

    def decorate_child(self, manifest: dict[str, Any], entry: InventoryEntry, depth: int) -> None:
        self.argocd.decorate_child(manifest, entry, depth)
        super().decorate_child(manifest, entry, depth)

    def decorate_node(self, manifest: dict[str, Any], deepest: int) -> None:
        self.argocd.decorate_node(manifest, deepest)
        super().decorate_node(manifest, deepest)

    def engine_files(self, node: NodeLayout) -> dict[str, bytes]:
        return {**self.argocd.engine_files(node), **super().engine_files(node)}

    def warnings(self, forms: Sequence[CompiledForm]) -> list[str]:
        return [
            *self.argocd.settings_warnings(),
            *self.argocd.gap_warnings(forms),
            *self.gap_warnings(forms),
            *stuck_warnings(forms, "Argo CD or Flux"),
        ]
