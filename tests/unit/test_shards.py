"""The sharded hub layout's pure parts: shard names, ownership of every kind of path in both
layouts, the listings of a directory with shards, and the index split into shards."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from lynq_bridge.core.inputs import (
    INPUTS_FILE,
    HubListing,
    digest_of_files,
    index_files,
    index_paths,
    is_index_file,
    joined_index,
    object_files,
    parse_inputs,
    record_lines_of,
    trusted_listing,
)
from lynq_bridge.core.layout import (
    is_node_dir,
    is_shard,
    listed_directories,
    node_dir,
    path_owner,
    shard_of,
    split_owner,
)

S = hashlib.sha256(b"acme-web").hexdigest()[:2]


def test_a_shard_is_the_first_two_hex_digits_of_the_names_sha256() -> None:
    assert shard_of("acme-web") == S
    assert node_dir("acme-web", sharded=True) == f"{S}/acme-web"
    assert node_dir("acme-web", sharded=False) == "acme-web"
    # 10,000 names like t00042-web spread over all 256 shards, none holding more than twice
    # its fair share (sequential names would pile into a few shards under a prefix scheme).
    counts = Counter(shard_of(f"t{i:05d}-web") for i in range(10_000))
    assert len(counts) == 256
    assert max(counts.values()) < 2 * 10_000 / 256


@pytest.mark.parametrize(
    ("name", "shard"),
    [
        ("3f", True),
        ("00", True),
        ("ff", True),
        ("3F", False),
        ("3", False),
        ("3fa", False),
        ("g0", False),
        ("argocd", False),
        ("a-b", False),
    ],
)
def test_shard_names(name: str, shard: bool) -> None:
    assert is_shard(name) is shard


def test_the_index_file_is_no_node_directory() -> None:
    assert not is_node_dir(INPUTS_FILE)
    assert is_node_dir("acme-web")


@pytest.mark.parametrize(
    ("path", "owner", "inside"),
    [
        ("acme-web/x.yaml", "acme-web", "x.yaml"),
        ("acme-web/level-0/lynqnode.yaml", "acme-web", "level-0/lynqnode.yaml"),
        ("3f/acme-web/x.yaml", "acme-web", "x.yaml"),
        ("3f/acme-web/level-1/x.yaml", "acme-web", "level-1/x.yaml"),
        ("argocd/acme-web.yaml", "acme-web", None),
        ("argocd/acme-web/application.yaml", "acme-web", None),
        ("argocd/3f/acme-web.yaml", "acme-web", None),
        ("argocd/3f/acme-web/application.yaml", "acme-web", None),
        ("flux/acme-web/level-0.yaml", "acme-web", None),
        ("flux/3f/acme-web/level-0.yaml", "acme-web", None),
        ("kustomization.yaml", None, None),
        (INPUTS_FILE, None, None),
        ("3f/kustomization.yaml", None, None),
        (f"3f/{INPUTS_FILE}", None, None),
        ("argocd/kustomization.yaml", None, None),
        ("argocd/3f/kustomization.yaml", None, None),
        ("flux/3f/kustomization.yaml", None, None),
        ("3f/notes", None, None),
        ("3f/acme-web", None, None),  # a file, not a node directory
        ("3f/notes/x.yaml", None, None),
        ("argocd/3f", None, None),
    ],
)
def test_ownership_reads_both_layouts(path: str, owner: str | None, inside: str | None) -> None:
    assert split_owner(path) == (owner, inside)
    assert path_owner(path) == owner


def test_listings_of_a_directory_with_shards() -> None:
    assert listed_directories(["b-web", "a-web"]) == {"": ["a-web", "b-web"]}
    listed = listed_directories(["3f/b-web", "3f/a-web", "07/c-web", "d-web", "07/c/level-0.yaml"])
    assert listed == {
        "": ["07", "3f", "d-web"],
        "07": ["c-web", "c/level-0.yaml"],
        "3f": ["a-web", "b-web"],
    }
    assert listed_directories([]) == {"": []}


ENTRIES = {
    "acme-web": ("k1", "d1", ("a.yaml",)),
    "beta-web": ("k2", "d2", ()),
    "gamma-web": ("k3", "d3", ("g.yaml", "h.yaml")),
}
RECORDS = ["@rollout web 1 2 3 0\n"]


def test_a_sharded_index_splits_by_shard_and_reads_back_whole() -> None:
    flat = index_files(ENTRIES, RECORDS, sharded=False)
    assert list(flat) == [INPUTS_FILE]
    sharded = index_files(ENTRIES, RECORDS, sharded=True)
    shards = {f"{shard_of(n)}/{INPUTS_FILE}" for n in ENTRIES}
    assert set(sharded) == {INPUTS_FILE, *shards}
    assert parse_inputs(sharded[INPUTS_FILE]) == {}  # the hub's own: records only
    for node in ENTRIES:
        assert node.encode() in sharded[f"{shard_of(node)}/{INPUTS_FILE}"]
    order = index_paths([*sharded, "kustomization.yaml", "3f/kustomization.yaml"])
    assert (
        order[0] == INPUTS_FILE and sorted(order[1:]) == order[1:] and len(order) == 1 + len(shards)
    )
    whole = joined_index(sharded[p] for p in order)
    assert parse_inputs(whole) == parse_inputs(flat[INPUTS_FILE])
    assert record_lines_of(whole) == RECORDS == record_lines_of(flat[INPUTS_FILE])
    assert joined_index([None, None]) is None


@pytest.mark.parametrize(
    ("path", "index"),
    [
        (INPUTS_FILE, True),
        (f"3f/{INPUTS_FILE}", True),
        (f"3f/acme-web/{INPUTS_FILE}", False),
        ("kustomization.yaml", False),
        (f"x{INPUTS_FILE}", False),
    ],
)
def test_index_files(path: str, index: bool) -> None:
    assert is_index_file(path) is index


def test_a_sharded_listing_is_trusted_like_a_flat_one() -> None:
    files = {
        f"{S}/acme-web/deployment.yaml": "1" * 40,
        f"{S}/acme-web/lynqnode.yaml": "2" * 40,
        f"argocd/{S}/acme-web.yaml": "3" * 40,
        f"{S}/kustomization.yaml": "4" * 40,
    }
    listing = HubListing.of(files)
    assert list(listing.nodes) == ["acme-web"]
    assert set(listing.files) == {f"argocd/{S}/acme-web.yaml", f"{S}/kustomization.yaml"}
    assert object_files({"acme-web": files.items()}) == {"acme-web": ("deployment.yaml",)}
    digest = digest_of_files("acme-web", [(p, b) for p, b in files.items() if "acme" in p])
    index = index_files({"acme-web": ("key", digest, ["deployment.yaml"])}, sharded=True)
    whole = joined_index(index[p] for p in index_paths(index))
    assert dict(trusted_listing(listing, whole)) == {"acme-web": "key"}
    edited = HubListing.of({**files, f"{S}/acme-web/deployment.yaml": "5" * 40})
    assert dict(trusted_listing(edited, whole)) == {}


def test_the_targets_place_nodes_by_the_configured_layout() -> None:
    from targets_fixture import SPEC, bridge_spec

    from renderers import target_for

    for target in ("plain", "argocd", "flux", "both"):
        flat = target_for(bridge_spec(target))
        sharded = target_for(bridge_spec(target, git={**SPEC["git"], "layout": "sharded"}))
        assert (flat.sharded, flat.node_dir("acme-web")) == (False, "acme-web")
        assert (sharded.sharded, sharded.node_dir("acme-web")) == (True, f"{S}/acme-web")
