"""Which unrendered nodes must be rendered because they may share an object with another node."""

from __future__ import annotations

from lynq_bridge.config.models import InventoryEntry
from lynq_bridge.core.conflicts import possible_conflicts
from lynq_bridge.core.rendering import Child, HubRender, NodeRender

SHARED = "configmap_apps_shared.yaml"


def rendered(name: str) -> NodeRender:
    """A node rendering the ConfigMap apps/shared, whose file is ``SHARED``."""
    entry = InventoryEntry(
        id="cm", apiVersion="v1", kind="ConfigMap", namespace="apps", name="shared", hash=""
    )
    node = NodeRender(name=name, uid=name.split("-", maxsplit=1)[0], form="web")
    node.children.append(Child.of(entry, depth=0, content=b""))
    assert node.children[0].file == SHARED
    return node


def test_an_unrendered_node_sharing_a_file_with_a_rendered_one_is_named() -> None:
    out = HubRender(nodes={"acme-web": rendered("acme-web")})
    out.unchanged = {"beta-web": "k1", "gamma-web": "k2"}
    objects = {"beta-web": (SHARED,), "gamma-web": ("other.yaml",)}
    assert possible_conflicts(out, objects) == ["beta-web"]


def test_an_unrendered_node_sharing_a_file_with_a_blocked_one_is_named() -> None:
    """A name collision keeps a node's committed files whole; an unrendered node with one of
    its objects must be rendered, so the blocked node keeps the object (see settle_conflicts)."""
    out = HubRender(blocked_nodes={"b-x-web"}, unchanged={"beta-web": "k1"})
    objects = {"b-x-web": (SHARED,), "beta-web": (SHARED,)}
    assert possible_conflicts(out, objects) == ["beta-web"]


def test_two_unrendered_nodes_are_not_compared() -> None:
    """Both are clean in the index of a settled commit: a shared object would have failed one."""
    out = HubRender(unchanged={"acme-web": "k1", "beta-web": "k2"})
    objects = {"acme-web": (SHARED,), "beta-web": (SHARED,)}
    assert possible_conflicts(out, objects) == []
