"""The render-input index: committed nodes are trusted only while their files are intact."""

from __future__ import annotations

import pytest
from test_rendering import HUB, compiled_form, plan

from lynq_bridge.core.inputs import INPUTS_FILE, trusted_inputs
from lynq_bridge.core.planning import blob_id
from lynq_bridge.core.rendering import input_key_of, render_hub
from lynq_bridge.core.rows import rows_from_records
from renderers.plain import PlainTarget

RECORDS = [("acme", "1", "https://acme.example.com", "pro", 3), ("beta", "1", "", "", 1)]
COLUMNS = ("domain", "plan", "replicas")


def committed_tree() -> tuple[dict[str, str], bytes]:
    rows = rows_from_records(RECORDS, columns=COLUMNS)
    render = render_hub(HUB, [compiled_form()], rows, PlainTarget(), revision="rev1")
    files = plan(render).writes
    return {p: blob_id(c) for p, c in files.items()}, files[INPUTS_FILE]


def test_index_lists_every_clean_node_and_is_not_in_any_kustomization() -> None:
    rows = rows_from_records(RECORDS, columns=COLUMNS)
    render = render_hub(HUB, [compiled_form()], rows, PlainTarget(), revision="rev1")
    files = plan(render).writes
    lines = files[INPUTS_FILE].decode().splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["acme-web", "beta-web"]
    assert all(INPUTS_FILE.encode() not in c for p, c in files.items() if p != INPUTS_FILE)


def test_without_a_revision_no_index_is_written() -> None:
    rows = rows_from_records(RECORDS, columns=COLUMNS)
    render = render_hub(HUB, [compiled_form()], rows, PlainTarget())
    assert INPUTS_FILE not in plan(render).writes


def test_intact_nodes_are_trusted_with_their_input_key() -> None:
    existing, index = committed_tree()
    rows = rows_from_records(RECORDS, columns=COLUMNS)
    assert trusted_inputs(existing, index) == {
        "acme-web": input_key_of("rev1", compiled_form(), rows[0]),
        "beta-web": input_key_of("rev1", compiled_form(), rows[1]),
    }


@pytest.mark.parametrize("change", ["edit", "add", "remove", "edit-lynqnode"])
def test_a_touched_node_is_not_trusted(change: str) -> None:
    existing, index = committed_tree()
    target = "acme-web/deployment_t-acme_acme-app.yaml"
    if change == "edit":
        existing[target] = blob_id(b"edited by hand\n")
    elif change == "add":
        existing["acme-web/stray.yaml"] = blob_id(b"a: 1\n")
    elif change == "remove":
        del existing[target]
    else:
        existing["acme-web/lynqnode.yaml"] = blob_id(b"kind: LynqNode\n")
    assert set(trusted_inputs(existing, index)) == {"beta-web"}


def test_malformed_index_trusts_nothing() -> None:
    existing, _ = committed_tree()
    assert trusted_inputs(existing, b"garbage\n\x00\xff") == {}
    assert trusted_inputs(existing, None) == {}


def test_unchanged_nodes_are_not_rendered_and_keep_their_files() -> None:
    existing, index = committed_tree()
    trusted = trusted_inputs(existing, index)
    rows = rows_from_records([RECORDS[0], ("beta", "1", "", "", 2)], columns=COLUMNS)
    render = render_hub(
        HUB, [compiled_form()], rows, PlainTarget(), revision="rev1", committed=trusted
    )
    assert set(render.unchanged) == {"acme-web"} and set(render.nodes) == {"beta-web"}
    result = plan(render, existing)
    assert not result.removed and not result.deletes
    assert sorted(result.updated) == ["beta-web"]
    assert {p.split("/")[0] for p in result.writes} == {"beta-web", INPUTS_FILE}


def test_another_revision_renders_everything() -> None:
    existing, index = committed_tree()
    rows = rows_from_records(RECORDS, columns=COLUMNS)
    render = render_hub(
        HUB,
        [compiled_form()],
        rows,
        PlainTarget(),
        revision="rev2",
        committed=trusted_inputs(existing, index),
    )
    assert not render.unchanged and set(render.nodes) == {"acme-web", "beta-web"}


def test_index_digest_and_parsing_are_exact() -> None:
    from lynq_bridge.core.inputs import files_digest, format_inputs, object_files, parse_inputs

    digest = files_digest([("a-web/x.yaml", "1" * 40), ("a-web/lynqnode.yaml", "2" * 40)])
    assert len(digest) == 24 and int(digest, 16) >= 0
    assert digest == files_digest([("a-web/lynqnode.yaml", "2" * 40), ("a-web/x.yaml", "1" * 40)])
    content = format_inputs(
        {"b-web": ("k2", "d2", ["y.yaml", "x.yaml"]), "a-web": ("k1", "d1", [])}
    )
    assert content.splitlines()[1:] == [b"a-web k1 d1 -", b"b-web k2 d2 x.yaml,y.yaml"]
    assert parse_inputs(content) == {
        "a-web": ("k1", "d1", "-"),
        "b-web": ("k2", "d2", "x.yaml,y.yaml"),
    }
    assert parse_inputs(None) == {} == parse_inputs(b"")
    # An index of an older version (three fields) or a damaged line trusts nothing.
    lines = b"# a-web k1 d1 -\nc-web k3\nd-web k4 d4\ne-web k5 d5 x.yaml\n"
    assert parse_inputs(lines) == {"e-web": ("k5", "d5", "x.yaml")}
    files = object_files(
        {
            "a-web": [
                ("a-web/level-1/deployment_ns_x.yaml", "1"),
                ("a-web/lynqnode.yaml", "2"),
                ("a-web/kustomization.yaml", "3"),
                ("a-web/notes.txt", "4"),
                ("argocd/a-web.yaml", "5"),  # an engine file of the node: not an object file
            ]
        }
    )
    assert files == {"a-web": ("deployment_ns_x.yaml",)}


def test_a_comment_line_of_three_words_is_not_an_entry() -> None:
    from lynq_bridge.core.inputs import parse_inputs

    assert parse_inputs(b"# x y z\na-web k d -\n") == {"a-web": ("k", "d", "-")}


@pytest.mark.parametrize("target_name", ["argocd", "flux", "both"])
def test_intact_nodes_of_an_engine_layout_are_trusted(target_name: str) -> None:
    """Level sub-directories (Flux) and engine files (argocd/<node>.yaml, flux/<node>/...) are
    part of the digest: an intact node is trusted, an edited engine file is not."""
    import targets_fixture as fixture

    from renderers import target_for

    target = target_for(fixture.bridge_spec(target_name))
    writes = fixture.plan(target, fixture.render(target, revision="rev1")).writes
    existing = {p: blob_id(c) for p, c in writes.items()}
    index = writes[INPUTS_FILE]
    trusted = trusted_inputs(existing, index)
    assert set(trusted) == {"acme-web", "beta-web"}
    engine = next(p for p in existing if p.startswith(("argocd/acme-web", "flux/acme-web/")))
    existing[engine] = blob_id(b"edited by hand\n")
    assert set(trusted_inputs(existing, index)) == {"beta-web"}


def test_a_hub_file_with_a_dash_is_not_a_node_directory() -> None:
    from lynq_bridge.core.inputs import HubListing

    listing = HubListing.of({"read-me.txt": "1" * 40, "acme-web/lynqnode.yaml": "2" * 40})
    assert set(listing.nodes) == {"acme-web"}
    assert listing.files == {"read-me.txt": "1" * 40}
