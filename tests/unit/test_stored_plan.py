"""A plan with a store (a sync's pack of new objects) hands over the files a plan without one
writes, as they are planned; a node whose files went to the store keeps only their blob ids
and is never taken from the render cache again."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
import targets_fixture as fixture
from targets_fixture import HUB

from lynq_bridge.core.gittree import build_tree, object_id
from lynq_bridge.core.inputs import HubListing
from lynq_bridge.core.planning import (
    blob_id,
    node_files,
)
from renderers import target_for
from renderers.plain import PlainTarget


class Objects(dict[bytes, bytes]):
    """A store keeping the objects it is given by id, and how many came compressed (each
    compressed one must be its content, or the pack would hold a wrong object)."""

    deflated = 0

    def add(self, kind: bytes, content: bytes, deflated: bytes | None = None) -> bytes:
        oid = object_id(kind, content)
        if deflated is not None:
            assert zlib.decompress(deflated) == content
            self.deflated += 1
        self[oid] = content
        return oid

    def tree(self, root: bytes | None = None, **kw: Any) -> bytes:
        kw.setdefault("deletes", [])
        return build_tree(
            root.hex() if root else None,
            read=lambda names: [self[bytes.fromhex(n)] for n in names],
            add=self.add,
            **kw,
        )


@pytest.mark.parametrize("name", ["plain", "flux", "argocd"])
@pytest.mark.parametrize("layout", ["flat", "sharded"])
@pytest.mark.parametrize("rendered_into_store", [False, True])
def test_a_stored_plan_hands_over_the_tree_a_plan_writes(
    name: str, layout: str, rendered_into_store: bool
) -> None:
    target = target_for(fixture.bridge_spec(name, git={**fixture.SPEC["git"], "layout": layout}))
    expected = fixture.plan(target, fixture.render(target, revision="r1"))
    objects = Objects()
    # A sync renders into its pack too: each manifest goes to it as its node is rendered.
    into = {"store": objects.add} if rendered_into_store else {}
    render = fixture.render(target, revision="r1", **into)
    children = [c for n in render.nodes.values() for c in n.children]
    assert children and all((c.blob is not None) == rendered_into_store for c in children)
    # Compressed once, as render keeps them; the store takes that as it is.
    assert objects.deflated == (len(children) if rendered_into_store else 0)
    plan = fixture.plan(target, render, store=objects.add)
    assert plan.writes == {} and plan.changed and plan.index == expected.index
    # Each new node's directory is one tree; the rest (engine and hub files) one blob each.
    assert sorted(plan.trees) == sorted(target.node_dir(n.name) for n in plan.added)
    assert len(plan.stored) + plan.tree_files == len(expected.writes)
    assert all(expected.writes[p] == objects[b] for p, b in plan.stored.items())
    assert objects.tree(writes={}, stored=plan.stored, trees=plan.trees) == Objects().tree(
        writes=expected.writes
    )
    clean = [n for n in plan.nodes.values() if not n.errors]
    assert clean and all(n.packed and not n.children and not n.assembled for n in clean)
    after = HubListing({}, {}).after({}, [], [], plan.stored, plan.trees)
    assert after == HubListing({}, {}).after(expected.writes, [], [])


@pytest.mark.parametrize("name", ["plain", "flux"])
def test_a_new_layout_stores_each_node_directory_as_a_tree(name: str) -> None:
    flat = target_for(fixture.bridge_spec(name))
    git = {**fixture.SPEC["git"], "layout": "sharded"}
    sharded = target_for(fixture.bridge_spec(name, git=git))
    objects = Objects()
    before = fixture.plan(flat, fixture.render(flat)).writes
    root = objects.tree(writes=before)
    existing = {p: blob_id(c) for p, c in before.items()}
    expected = fixture.plan(sharded, fixture.render(sharded), existing)
    plan = fixture.plan(sharded, fixture.render(sharded), existing, store=objects.add)
    assert plan.trees and plan.deletes == expected.deletes and plan.updated == expected.updated
    assert objects.tree(
        root, writes={}, stored=plan.stored, trees=plan.trees, deletes=plan.deletes
    ) == objects.tree(root, writes=expected.writes, deletes=expected.deletes)


def test_a_listed_node_directory_is_not_new_without_its_files() -> None:
    target = PlainTarget()
    render = fixture.render(target)
    listing = HubListing(dict.fromkeys(render.nodes, "0" * 40), {})
    plan = fixture.plan(target, render, listing=listing, store=Objects().add)
    assert plan.trees == {} and plan.stored


def test_a_committed_node_is_stored_file_by_file() -> None:
    target = PlainTarget()
    first = fixture.plan(target, fixture.render(target))
    existing = {p: blob_id(c) for p, c in first.writes.items()}
    edited = sorted(p for p in first.writes if p.endswith("/lynqnode.yaml"))[0]
    existing[edited] = "0" * 40
    objects = Objects()
    plan = fixture.plan(target, fixture.render(target), existing, store=objects.add)
    assert plan.trees == {} and plan.stored == {edited: object_id(b"blob", first.writes[edited])}


def test_a_packed_node_cannot_be_assembled_again() -> None:
    target = PlainTarget()
    render = fixture.render(target)
    fixture.plan(target, render, store=lambda *_: b"")
    node = next(iter(render.nodes.values()))
    with pytest.raises(ValueError, match="was packed"):
        node_files(HUB, node, target)


def test_memoised_blob_ids_assemble_again_a_file_changed_in_the_branch() -> None:
    target = PlainTarget()
    render = fixture.render(target)
    first = fixture.plan(target, render)  # memoises each node's blob ids
    assert all(node.assembled for node in render.nodes.values())
    existing = {p: blob_id(c) for p, c in first.writes.items()}
    edited = sorted(p for p in first.writes if p.endswith("/lynqnode.yaml"))[0]
    existing[edited] = "0" * 40
    again = fixture.plan(target, render, existing)
    assert again.writes == {edited: first.writes[edited]}


def test_a_committed_manifest_rendered_into_the_store_is_written_by_its_id() -> None:
    target = PlainTarget()
    first = fixture.plan(target, fixture.render(target))
    existing = {p: blob_id(c) for p, c in first.writes.items()}
    edited = sorted(p for p in first.writes if p.startswith("acme-web/deployment_"))[0]
    existing[edited] = "0" * 40  # edited by hand: the sync writes it back
    objects = Objects()
    render = fixture.render(target, store=objects.add)
    plan = fixture.plan(target, render, existing, store=objects.add)
    assert plan.trees == {} and plan.stored == {edited: object_id(b"blob", first.writes[edited])}
    assert objects[plan.stored[edited]] == first.writes[edited]


def test_a_node_rendered_into_a_store_has_no_content_to_read() -> None:
    """Its manifests are in a sync's pack, which is dropped when nothing is committed."""
    target = PlainTarget()
    render = fixture.render(target, store=Objects().add)
    assert render.nodes
    node = render.nodes["acme-web"]
    with pytest.raises(ValueError, match="went to a pack"):
        _ = node.children[0].content
    with pytest.raises(ValueError, match="rendered into a store"):
        node_files(HUB, node, target)
