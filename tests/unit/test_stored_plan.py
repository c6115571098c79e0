"""A plan with a store (a sync's pack of new objects) hands over the files a plan without one
writes, as they are planned; a node whose files went to the store keeps only their blob ids
and is never taken from the render cache again."""

from __future__ import annotations

from typing import Any

import pytest
import targets_fixture as fixture
from targets_fixture import HUB

from lynq_bridge.core.gittree import object_id
from lynq_bridge.core.inputs import HubListing
from lynq_bridge.core.layout import Target
from lynq_bridge.core.planning import (
    DeletionGuard,
    HubPlan,
    Store,
    blob_id,
    node_files,
    plan_hub,
)
from lynq_bridge.core.rendering import HubRender
from renderers import target_for
from renderers.plain import PlainTarget


def planned(
    target: Target,
    render: HubRender,
    store: Store | None = None,
    existing: dict[str, str] | None = None,
) -> HubPlan:
    return plan_hub(
        HUB,
        render,
        existing or {},
        previous_nodes={},
        guard=DeletionGuard(25),
        target=target,
        store=store,
    )


@pytest.mark.parametrize("name", ["plain", "flux", "argocd"])
@pytest.mark.parametrize("layout", ["flat", "sharded"])
def test_a_stored_plan_hands_over_every_file_a_plan_writes(name: str, layout: str) -> None:
    target = target_for(fixture.bridge_spec(name, git={**fixture.SPEC["git"], "layout": layout}))
    expected = planned(target, fixture.render(target, revision="r1"))
    handed: list[bytes] = []

    def store(content: bytes) -> bytes:
        handed.append(content)
        return object_id(b"blob", content)

    plan = planned(target, fixture.render(target, revision="r1"), store=store)
    assert plan.writes == {} and plan.stored.keys() == expected.writes.keys()
    assert {p: b.hex() for p, b in plan.stored.items()} == {
        p: blob_id(c) for p, c in expected.writes.items()
    }
    assert sorted(handed) == sorted(expected.writes.values())
    assert (
        plan.index == expected.index
        and plan.changed
        and sorted(plan.written) == sorted(expected.written)
    )
    clean = [n for n in plan.nodes.values() if not n.errors]
    assert clean and all(n.packed and not n.children and not n.assembled for n in clean)
    after = HubListing({}, {}).after({}, [], [], plan.stored)
    assert after == HubListing({}, {}).after(expected.writes, [], [])


def test_a_packed_node_is_rendered_again_rather_than_taken_from_the_cache() -> None:
    target = PlainTarget()
    cache: dict[Any, Any] = {}
    first = fixture.render(target, cache=cache)
    planned(target, first, store=lambda content: b"")
    again = fixture.render(target, cache=cache)
    assert again.nodes.keys() == first.nodes.keys()
    for name, node in again.nodes.items():
        assert node is not first.nodes[name] and node.children and not node.packed
    # Unpacked, the cached render is the one taken.
    assert all(fixture.render(target, cache=cache).nodes[n] is again.nodes[n] for n in again.nodes)


def test_a_packed_node_cannot_be_assembled_again() -> None:
    target = PlainTarget()
    render = fixture.render(target)
    planned(target, render, store=lambda content: b"")
    node = next(iter(render.nodes.values()))
    with pytest.raises(ValueError, match="was packed"):
        node_files(HUB, node, target)


def test_memoised_blob_ids_assemble_again_a_file_changed_in_the_branch() -> None:
    target = PlainTarget()
    render = fixture.render(target)
    first = planned(target, render)  # memoises each node's blob ids
    assert all(node.assembled for node in render.nodes.values())
    existing = {p: blob_id(c) for p, c in first.writes.items()}
    edited = sorted(p for p in first.writes if p.endswith("/lynqnode.yaml"))[0]
    existing[edited] = "0" * 40
    again = planned(target, render, existing=existing)
    assert again.writes == {edited: first.writes[edited]}
