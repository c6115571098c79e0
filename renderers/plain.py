"""The plain target: Kubernetes manifests and kustomizations only, no engine annotations.

Any GitOps engine that applies a kustomize directory can consume it; the engine-specific
renderers add their annotations and files on top of the same tree.
"""

from __future__ import annotations

from lynq_bridge.core.layout import FlatTarget


class PlainTarget(FlatTarget):
    """Adds nothing: the children are applied as rendered."""

    name = "plain"
