"""The plain target: Kubernetes manifests and kustomizations only, no engine annotations.

Any GitOps engine that applies a kustomize directory can consume it; the engine-specific
renderers add their annotations and files on top of the same tree.
"""

from __future__ import annotations

from typing import Any

from lynq_bridge.config.models import InventoryEntry


class PlainTarget:
    """Adds nothing: the children are applied as rendered."""

    name = "plain"

    def decorate_child(self, manifest: dict[str, Any], entry: InventoryEntry, depth: int) -> None:
        """No engine annotations."""
