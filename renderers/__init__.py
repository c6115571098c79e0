"""GitOps target renderers: what Argo CD or Flux needs beside the plain manifests.

``BridgeConfig.spec.target`` selects one; each implements ``lynq_bridge.core.rendering.Target``.
"""

from __future__ import annotations

from lynq_bridge.core.rendering import Target
from lynq_bridge.errors import ConfigError
from renderers.plain import PlainTarget

TARGETS: dict[str, type[PlainTarget]] = {"plain": PlainTarget}


def target_for(name: str) -> Target:
    """The renderer of a ``spec.target`` value."""
    try:
        return TARGETS[name]()
    except KeyError:
        raise ConfigError(
            f'target "{name}" is not available (known: {", ".join(sorted(TARGETS))})'
        ) from None
