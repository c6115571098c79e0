"""Trusting committed nodes: a LynqNode's input stamp is honoured only when its files are intact."""

from __future__ import annotations

import pytest
from test_rendering import HUB, compiled_form, plan

from lynq_bridge.core.planning import blob_id, committed_inputs, lynqnode_paths
from lynq_bridge.core.rendering import input_key_of, render_hub
from lynq_bridge.core.rows import rows_from_records
from renderers.plain import PlainTarget

RECORDS = [("acme", "1", "https://acme.example.com", "pro", 3), ("beta", "1", "", "", 1)]


def committed_tree() -> tuple[dict[str, str], dict[str, bytes]]:
    rows = rows_from_records(RECORDS, columns=("domain", "plan", "replicas"))
    render = render_hub(HUB, [compiled_form()], rows, PlainTarget(), revision="rev1")
    files = plan(render).writes
    return {p: blob_id(c) for p, c in files.items()}, files


def test_intact_nodes_are_trusted_with_their_input_key() -> None:
    existing, files = committed_tree()
    lynqnodes = {p: files[p] for p in lynqnode_paths(existing)}
    trusted = committed_inputs(existing, lynqnodes)
    rows = rows_from_records(RECORDS, columns=("domain", "plan", "replicas"))
    assert trusted == {
        "acme-web": input_key_of("rev1", compiled_form(), rows[0]),
        "beta-web": input_key_of("rev1", compiled_form(), rows[1]),
    }


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_a_touched_node_is_not_trusted(change: str) -> None:
    existing, files = committed_tree()
    target = "acme-web/deployment_t-acme_acme-app.yaml"
    if change == "edit":
        existing[target] = blob_id(b"edited by hand\n")
    elif change == "add":
        existing["acme-web/stray.yaml"] = blob_id(b"a: 1\n")
    else:
        del existing[target]
    lynqnodes = {p: files[p] for p in lynqnode_paths(existing)}
    assert set(committed_inputs(existing, lynqnodes)) == {"beta-web"}


def test_unchanged_nodes_are_not_rendered_and_keep_their_files() -> None:
    existing, files = committed_tree()
    trusted = committed_inputs(existing, {p: files[p] for p in lynqnode_paths(existing)})
    changed = [RECORDS[0], ("beta", "1", "", "", 2)]
    rows = rows_from_records(changed, columns=("domain", "plan", "replicas"))
    render = render_hub(
        HUB, [compiled_form()], rows, PlainTarget(), revision="rev1", committed=trusted
    )
    assert render.unchanged == {"acme-web"} and set(render.nodes) == {"beta-web"}
    result = plan(render, existing)
    assert not result.removed and not result.deletes
    assert sorted(result.updated) == ["beta-web"]
    assert all(p.startswith("beta-web/") for p in result.writes)


def test_another_revision_renders_everything() -> None:
    existing, files = committed_tree()
    trusted = committed_inputs(existing, {p: files[p] for p in lynqnode_paths(existing)})
    rows = rows_from_records(RECORDS, columns=("domain", "plan", "replicas"))
    render = render_hub(
        HUB, [compiled_form()], rows, PlainTarget(), revision="rev2", committed=trusted
    )
    assert not render.unchanged and set(render.nodes) == {"acme-web", "beta-web"}
