"""GitOps target renderers: what Argo CD or Flux needs beside the plain manifests.

``BridgeConfig.spec.target`` selects one; each implements ``lynq_bridge.core.layout.Target``:
``plain`` (no engine), ``argocd`` (sync waves, sync options, one Application per node),
``flux`` (kustomize-controller annotations, one Kustomization per dependency level of a node)
and ``both`` (either engine can apply the tree).
"""

from __future__ import annotations

from collections.abc import Callable

from lynq_bridge.config.models import BridgeSpec
from lynq_bridge.core.layout import Target
from lynq_bridge.errors import ConfigError
from renderers.argocd import ArgoCDTarget
from renderers.both import BothTarget
from renderers.flux import FluxTarget
from renderers.plain import PlainTarget

TARGETS: dict[str, Callable[[BridgeSpec], Target]] = {
    "plain": lambda spec: PlainTarget(),
    "argocd": ArgoCDTarget,
    "flux": FluxTarget,
    "both": BothTarget,
}


def target_for(spec: BridgeSpec) -> Target:
    """The renderer of ``spec.target``, configured by the rest of ``spec``."""
    try:
        make = TARGETS[spec.target]
    except KeyError:
        raise ConfigError(
            f'target "{spec.target}" is not available (known: {", ".join(sorted(TARGETS))})'
        ) from None
    target = make(spec)
    target.sharded = spec.git.layout == "sharded"
    return target
