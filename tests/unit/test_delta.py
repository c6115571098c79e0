"""The daemon's plan of a few changed rows (``core.delta``) against the full path.

``plan_delta`` may only ever produce what ``plan_hub`` produces for the same change; these tests
compare the two, write for write, on random value changes across every target and both layouts,
over several rounds (so the bookkeeping of ``settle`` is checked too), and check each case where
the delta must give up and leave the decision to the full path.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from targets_fixture import FORM_YAML, HUB, SPEC, bridge_spec, compiled_form

from lynq_bridge.core.delta import Settled, plan_delta, row_changes, settle
from lynq_bridge.core.forms import CompiledForm
from lynq_bridge.core.inputs import index_paths, joined_index, trusted_inputs
from lynq_bridge.core.layout import Target, shard_of, split_owner
from lynq_bridge.core.naming import node_name
from lynq_bridge.core.planning import DeletionGuard, HubPlan, blob_id, plan_hub
from lynq_bridge.core.rendering import NodeRender, input_key_of, render_hub, render_node
from lynq_bridge.core.rows import Row, rows_from_records
from renderers import target_for

COLUMNS = ("domain", "plan", "replicas")
REVISION = "rev1"
GUARD = DeletionGuard(25)


def target_of(name: str, layout: str) -> Target:
    return target_for(bridge_spec(name, git={**SPEC["git"], "layout": layout}))


def record(uid: str, rng: random.Random) -> tuple[Any, ...]:
    domain = rng.choice([None, f"https://{uid}.example.com", f"https://www.{uid}.example.org"])
    return (uid, "1", domain, rng.choice([None, "basic", "pro"]), rng.choice([None, 1, 2, 5]))


class Hub:
    """A hub's committed tree, kept as the full path leaves it; ``restored``: the settled state
    as a new process reads it (rows as values, the index still in the committed files)."""

    def __init__(
        self,
        target: Target,
        form: CompiledForm,
        records: list[tuple[Any, ...]],
        *,
        restored: bool = False,
    ):
        self.target, self.form = target, form
        self.memo: dict[Any, Row | None] = {}
        self.records = records
        self.rows = rows_from_records(records, columns=COLUMNS, memo=self.memo)
        render = render_hub(HUB, [form], self.rows, target, revision=REVISION)
        plan = plan_hub(HUB, render, {}, previous_nodes={}, guard=GUARD, target=target)
        assert plan.index is not None
        self.files = dict(plan.writes)
        if restored:
            rows = [Row(row.uid, tuple(row.values), row.names) for row in self.rows]
            self.settled = Settled.restored("c0", REVISION, rows, self.hub_files(), len(plan.index))
        else:
            index = plan.index
            self.settled = Settled("c0", REVISION, self.rows, index, self.hub_files(), len(index))
        self.reads: list[list[str]] = []

    def existing(self) -> dict[str, str]:
        return {p: blob_id(c) for p, c in self.files.items()}

    def hub_files(self) -> dict[str, str]:
        """The hub's own files and the engine files, with their blob ids."""
        return {p: b for p, b in self.existing().items() if split_owner(p)[1] is None}

    def read(self, paths: list[str]) -> dict[str, bytes]:
        self.reads.append(paths)
        return {p: self.files[p] for p in paths if p in self.files}

    def full(self, rows: list[Row]) -> HubPlan:
        """What the full path plans for ``rows`` against the committed tree."""
        paths = index_paths(self.files)
        trusted = trusted_inputs(self.existing(), joined_index(self.files[p] for p in paths))
        render = render_hub(
            HUB, [self.form], rows, self.target, revision=REVISION, committed=trusted
        )
        return plan_hub(
            HUB,
            render,
            self.existing(),
            previous_nodes={},
            guard=GUARD,
            target=self.target,
            inputs=trusted,
        )

    def delta(self, rows: list[Row]) -> tuple[HubPlan | None, dict[str, NodeRender]]:
        found = row_changes(self.settled, rows)
        assert found is not None
        self.changes, self.gone = [*found[0], *found[1]], found[2]
        gone = [node_name(row.uid, self.form.name) for row in self.gone]
        nodes = {}
        for row in self.changes:
            node = render_node(HUB, self.form, row, self.target)
            node.input_key = input_key_of(REVISION, self.form, row)
            nodes[node_name(row.uid, self.form.name)] = node
        existing = self.existing()
        committed = {
            p: b
            for p, b in existing.items()
            if split_owner(p)[0] in {*nodes, *gone} and split_owner(p)[1] is not None
        }
        others = self.hub_files()
        assert self.settled.files == others
        plan = plan_delta(
            HUB,
            self.settled,
            nodes,
            committed,
            others,
            self.target,
            self.read,
            gone=gone,
            guard=GUARD,
        )
        return plan, nodes

    def apply(self, plan: HubPlan, rows: list[Row], records: list[tuple[Any, ...]]) -> None:
        for path in plan.deletes:
            del self.files[path]
        self.files.update(plan.writes)
        commit = f"c{random.random()}"
        settle(self.settled, commit, rows, plan, self.changes, self.gone)
        self.rows, self.records = rows, records
        assert self.settled.files == self.hub_files()
        # What the next delta and the kept state start from: this commit, these rows, one node
        # for each of them (the one form).
        assert self.settled.commit == commit and self.settled.rows is rows
        assert self.settled.count == len(rows)


@pytest.mark.parametrize("restored", [False, True], ids=["daemon", "restored"])
@pytest.mark.parametrize("layout", ["flat", "sharded"])
@pytest.mark.parametrize("target_name", ["plain", "argocd", "flux", "both"])
@pytest.mark.parametrize("seed", range(4))
def test_a_delta_plans_exactly_what_the_full_path_plans(
    target_name: str, layout: str, seed: int, restored: bool
) -> None:
    rng = random.Random(f"{target_name}{layout}{seed}")
    uids = [f"t{i:03d}" for i in range(60)]
    target = target_of(target_name, layout)
    records = [record(u, rng) for u in uids]
    hub = Hub(target, compiled_form(), records, restored=restored)
    for round_ in range(4):
        records = list(hub.records)
        for i in rng.sample(range(len(records)), rng.choice([0, 1, 2, 3])):
            new = record(records[i][0], rng)
            while new == records[i]:
                new = record(records[i][0], rng)
            records[i] = new
        # Rows that go: a shard left empty now and then (sharded), its listings with it.
        for _ in range(rng.choice([0, 0, 1, 2])):
            records.pop(rng.randrange(len(records)))
        # New rows: a new shard now and then (sharded), new engine files and listings always.
        records += [record(f"n{round_}{k}", rng) for k in range(rng.choice([0, 1, 2]))]
        if records == hub.records:
            records.append(record(f"n{round_}x", rng))
        touched = {r[0] for r in records if r not in hub.records}
        went = {r[0] for r in hub.records} - {r[0] for r in records}
        rows = rows_from_records(records, columns=COLUMNS, memo=hub.memo)
        delta, nodes = hub.delta(rows)
        assert {row.uid for row in hub.changes} == touched  # nothing from earlier rounds
        assert {row.uid for row in hub.gone} == went
        full = hub.full(rows)
        assert delta is not None
        assert delta.writes == full.writes
        assert sorted(delta.deletes) == full.deletes
        assert delta.updated == full.updated
        assert full.index is not None and delta.index is not None
        if hub.settled.loaded is None:
            assert delta.index == full.index
        else:  # a restored index holds the shards read so far, and nothing else
            assert delta.index == {n: full.index[n] for n in delta.index}
            assert {shard_of(n) for n in delta.index} == hub.settled.loaded
        assert [n.name for n in delta.added] == [n.name for n in full.added]
        assert set(delta.nodes) == set(nodes) and delta.removed == full.removed
        hub.apply(delta, rows, records)


def simple_hub(records: list[tuple[Any, ...]], text: str = FORM_YAML) -> Hub:
    return Hub(target_of("flux", "sharded"), compiled_form(text), records)


RECORDS = [(f"t{i:03d}", "1", None, "basic", 1) for i in range(60)]


def test_only_value_changes_and_new_rows_of_a_few_rows_take_the_delta() -> None:
    hub = simple_hub(RECORDS)

    def changes(records: list[tuple[Any, ...]]) -> tuple[list[str], ...] | None:
        memo = dict(hub.memo)  # the settled rows' memo, left as it is for the next probe
        found = row_changes(hub.settled, rows_from_records(records, columns=COLUMNS, memo=memo))
        return None if found is None else tuple([r.uid for r in rows] for rows in found)

    assert changes(RECORDS) == ([], [], [])
    five = [*RECORDS[:5], ("t005", "1", None, "pro", 1), *RECORDS[6:]]
    assert changes(five) == (["t005"], [], [])
    assert changes([*RECORDS, ("t100", "1", None, "pro", 1)]) == ([], ["t100"], [])
    assert changes(RECORDS[1:]) == ([], [], ["t000"])  # a row went
    assert changes([("t000x", "1", None, "basic", 1), *RECORDS[1:]]) == ([], ["t000x"], ["t000"])
    assert changes([*RECORDS, ("t005", "1", None, "pro", 1)]) is None  # a duplicate uid
    many = [(u, a, d, "pro", r) for u, a, d, _p, r in RECORDS]  # all 60 changed: above 50
    assert changes(many) is None
    # Up to max(50, 5 % of the rows) changed or new rows; one more is the full path's.
    fifty = [
        (u, a, d, "pro", r) if i < 30 else (u, a, d, p, r)
        for i, (u, a, d, p, r) in enumerate(RECORDS)
    ] + [(f"u{i:03d}", "1", None, "pro", 1) for i in range(20)]
    found = changes(fifty)
    assert found is not None and (len(found[0]), len(found[1])) == (30, 20)
    assert changes([*fifty, ("u999", "1", None, "pro", 1)]) is None
    assert changes([*fifty[:40], *fifty[41:]]) is None  # 30 changed, 20 new, 1 gone: above 50
    found = changes([*fifty[:40], *fifty[41:-1]])  # 30 changed, 19 new, 1 gone: 50
    assert found is not None and [len(rows) for rows in found] == [30, 19, 1]
    assert changes([*RECORDS, ("t100", "1", None, "a", 1), ("t100", "1", None, "b", 1)]) is None


def test_an_object_another_node_owns_leaves_it_to_the_full_path() -> None:
    """A value that names an object of another node is a conflict: the full path settles it."""
    text = FORM_YAML.replace(
        'nameTemplate: "{{ uid }}-settings"\n      targetNamespace: "t-{{ uid }}"',
        'nameTemplate: "{{ plan }}"\n      targetNamespace: shared',
    )
    assert text != FORM_YAML
    records = [(f"t{i:03d}", "1", None, f"p{i}", 1) for i in range(60)]
    hub = simple_hub(records, text)
    taken = [*records[:5], ("t005", "1", None, "p7", 1), *records[6:]]
    rows = rows_from_records(taken, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    assert delta is None
    assert hub.full(rows).writes  # the full path decides (one of them keeps the object)
    # An object renamed by a delta belongs to its node from then on.
    rows_from_records(records, columns=COLUMNS, memo=hub.memo)
    renamed = [*records[:5], ("t005", "1", None, "pz", 1), *records[6:]]
    rows = rows_from_records(renamed, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    assert delta is not None
    hub.apply(delta, rows, renamed)
    taken = [*renamed[:7], ("t007", "1", None, "pz", 1), *renamed[8:]]
    assert hub.delta(rows_from_records(taken, columns=COLUMNS, memo=dict(hub.memo)))[0] is None
    # ... and the object it let go of is free for another node.
    freed = [*renamed[:7], ("t007", "1", None, "p5", 1), *renamed[8:]]
    rows = rows_from_records(freed, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    assert delta is not None and delta.writes == hub.full(rows).writes
    hub.apply(delta, rows, freed)
    # The objects of a node that went are free for another node too.
    without = [*freed[:6], *freed[7:]]  # t006 and its object p6 go
    rows = rows_from_records(without, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    assert delta is not None and delta.removed == ["t006-web"]
    hub.apply(delta, rows, without)
    taken = [*without[:7], ("t008", "1", None, "p6", 1), *without[8:]]
    assert taken[7][0] == "t008"
    rows = rows_from_records(taken, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    assert delta is not None and delta.writes == hub.full(rows).writes


def one_changed(hub: Hub) -> tuple[NodeRender, dict[str, str], dict[str, str]]:
    """Row t005 changed: its rendered node, its committed files and the hub's engine files."""
    rows = rows_from_records(
        [*RECORDS[:5], ("t005", "1", None, "pro", 2), *RECORDS[6:]], columns=COLUMNS, memo=hub.memo
    )
    node = render_node(HUB, hub.form, rows[5], hub.target)
    node.input_key = input_key_of(REVISION, hub.form, rows[5])
    existing = hub.existing()
    committed = {
        p: b
        for p, b in existing.items()
        if split_owner(p)[0] == "t005-web" and split_owner(p)[1] is not None
    }
    engine = {p: b for p, b in existing.items() if split_owner(p)[1] is None}
    return node, committed, engine


@pytest.mark.parametrize("trouble", ["failed", "skipped", "withheld", "timed_out"])
def test_a_node_that_fails_to_render_leaves_it_to_the_full_path(trouble: str) -> None:
    hub = simple_hub(RECORDS)
    node, committed, engine = one_changed(hub)
    assert plan_delta(HUB, hub.settled, {"t005-web": node}, committed, engine, hub.target)
    if trouble == "timed_out":
        node.timed_out = True
    else:
        getattr(node, trouble)["app"] = (
            "broken" if trouble != "withheld" else node.children[0].entry
        )
    assert plan_delta(HUB, hub.settled, {"t005-web": node}, committed, engine, hub.target) is None


def test_engine_files_that_come_or_go_leave_it_to_the_full_path() -> None:
    """A node gaining or losing a dependency level gains or loses a Flux Kustomization: the
    engine directory's listing changes, which the delta never writes."""
    hub = simple_hub(RECORDS)
    node, committed, engine = one_changed(hub)
    more = {**engine, f"flux/{shard_of('t005-web')}/t005-web/level-9.yaml": "0" * 40}
    assert plan_delta(HUB, hub.settled, {"t005-web": node}, committed, more, hub.target) is None


def test_a_node_the_settled_index_does_not_know_leaves_it_to_the_full_path() -> None:
    hub = simple_hub(RECORDS)
    node, committed, engine = one_changed(hub)
    del hub.settled.index["t005-web"]
    assert plan_delta(HUB, hub.settled, {"t005-web": node}, committed, engine, hub.target) is None


def test_a_restored_hub_reads_the_index_of_the_changed_nodes_shards_only() -> None:
    """A new process plans a value change from one shard's index file; a new row's objects
    may be any node's, so it reads them all."""
    hub = Hub(target_of("flux", "sharded"), compiled_form(), RECORDS, restored=True)
    changed = [*RECORDS[:5], ("t005", "1", None, "pro", 2), *RECORDS[6:]]
    rows = rows_from_records(changed, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    shard = shard_of("t005-web")
    assert hub.reads == [[f"{shard}/.lynq-inputs"]]
    assert hub.settled.loaded == {shard}
    assert delta is not None and delta.writes == hub.full(rows).writes
    hub.apply(delta, rows, changed)
    assert hub.settled.count == len(RECORDS)

    added = [*changed, ("t100", "1", None, "pro", 1)]
    rows = rows_from_records(added, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    shards = {f"{shard_of(f't{i:03d}-web')}/.lynq-inputs" for i in range(60)}
    assert {p for paths in hub.reads[1:] for p in paths} == shards - {f"{shard}/.lynq-inputs"}
    assert hub.settled.loaded is None
    full = hub.full(rows)
    assert delta is not None and delta.writes == full.writes and delta.index == full.index
    hub.apply(delta, rows, added)
    assert hub.settled.count == len(RECORDS) + 1


def test_a_restored_hub_reads_a_shard_once_and_a_removed_nodes_shard_alone() -> None:
    """A shard read for one change is not read again for the next; a row that goes from a shard
    that keeps other nodes needs that shard's index only."""
    hub = Hub(target_of("flux", "sharded"), compiled_form(), RECORDS, restored=True)
    shard = shard_of("t005-web")
    records: list[tuple[Any, ...]] = list(RECORDS)
    for plan in ("pro", None):
        records[5] = ("t005", "1", None, plan, 2)
        rows = rows_from_records(records, columns=COLUMNS, memo=hub.memo)
        delta, _ = hub.delta(rows)
        assert delta is not None and delta.writes == hub.full(rows).writes
        hub.apply(delta, rows, list(records))
        assert hub.reads == [[f"{shard}/.lynq-inputs"]]  # the second change read nothing
    names = [f"{r[0]}-web" for r in records]
    crowded = next(
        i
        for i, name in enumerate(names)
        if shard_of(name) != shard and [shard_of(n) for n in names].count(shard_of(name)) > 1
    )
    records.pop(crowded)
    rows = rows_from_records(records, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    full = hub.full(rows)
    assert delta is not None and delta.removed == [names[crowded]] == full.removed
    assert delta.writes == full.writes and delta.deletes == full.deletes
    assert hub.reads[1:] == [[f"{shard_of(names[crowded])}/.lynq-inputs"]]
    assert hub.settled.loaded == {shard, shard_of(names[crowded])}


def test_a_restored_flat_hub_reads_its_one_index_file() -> None:
    hub = Hub(target_of("plain", "flat"), compiled_form(), RECORDS, restored=True)
    changed = [*RECORDS[:5], ("t005", "1", None, "pro", 2), *RECORDS[6:]]
    rows = rows_from_records(changed, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    assert hub.reads == [[".lynq-inputs"]] and hub.settled.loaded is None
    full = hub.full(rows)
    assert delta is not None and delta.writes == full.writes and delta.index == full.index


def test_a_restored_index_that_cannot_be_read_leaves_it_to_the_full_path() -> None:
    hub = Hub(target_of("flux", "sharded"), compiled_form(), RECORDS, restored=True)
    node, committed, engine = one_changed(hub)
    assert plan_delta(HUB, hub.settled, {"t005-web": node}, committed, engine, hub.target) is None
    unreadable = plan_delta(
        HUB, hub.settled, {"t005-web": node}, committed, engine, hub.target, lambda paths: {}
    )
    assert unreadable is None and hub.settled.loaded == set()
    assert plan_delta(HUB, hub.settled, {"t005-web": node}, committed, engine, hub.target, hub.read)


def test_restored_rows_match_by_value_and_are_then_matched_by_identity() -> None:
    hub = Hub(target_of("plain", "sharded"), compiled_form(), RECORDS, restored=True)
    rows = rows_from_records(RECORDS, columns=COLUMNS, memo={})
    assert row_changes(hub.settled, rows) == ([], [], [])
    assert all(hub.settled.by_uid()[row.uid] is row for row in rows)


def test_removals_the_deletion_guard_would_hold_leave_it_to_the_full_path() -> None:
    hub = simple_hub(RECORDS)
    kept = RECORDS[16:]  # 16 of 60 nodes go: 27 %, above the guard's 25 %
    rows = rows_from_records(kept, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    assert delta is None and hub.full(rows).held
    rows = rows_from_records(RECORDS[15:], columns=COLUMNS, memo=hub.memo)  # 25 %: removed
    delta, _ = hub.delta(rows)
    full = hub.full(rows)
    assert delta is not None and len(delta.removed) == 15 and delta.writes == full.writes
    assert delta.deletes == full.deletes


def test_a_restored_hub_reads_every_shard_when_a_removal_empties_one() -> None:
    """A shard that loses its last node leaves the hub's listing of shards: every shard must be
    known to write it."""
    records = [*RECORDS, ("z1", "1", None, "basic", 1)]
    shards = {shard_of(f"{r[0]}-web") for r in RECORDS}
    assert shard_of("z1-web") not in shards  # alone in its shard
    hub = Hub(target_of("both", "sharded"), compiled_form(), records, restored=True)
    rows = rows_from_records(RECORDS, columns=COLUMNS, memo=hub.memo)
    delta, _ = hub.delta(rows)
    assert hub.settled.loaded is None
    full = hub.full(rows)
    assert delta is not None and delta.removed == ["z1-web"] == full.removed
    assert delta.writes == full.writes and delta.deletes == full.deletes
    assert f"{shard_of('z1-web')}/.lynq-inputs" in delta.deletes
    assert "kustomization.yaml" in delta.writes


@pytest.mark.parametrize("restored", [False, True], ids=["daemon", "restored"])
def test_a_gone_node_that_is_rendered_again_or_unknown_leaves_it_to_the_full_path(
    restored: bool,
) -> None:
    hub = Hub(target_of("flux", "sharded"), compiled_form(), RECORDS, restored=restored)
    node, committed, engine = one_changed(hub)
    nodes = {"t005-web": node}
    args = (HUB, hub.settled, nodes, committed, engine, hub.target, hub.read)
    # Not in the index, and in a shard without nodes (first: a restored hub has read no shard).
    assert shard_of("ghost-web") not in {shard_of(f"{r[0]}-web") for r in RECORDS}
    assert plan_delta(*args, gone=["ghost-web"], guard=GUARD) is None
    assert plan_delta(*args, gone=["t006-web"], guard=GUARD) is not None
    assert plan_delta(*args, gone=["t005-web"], guard=GUARD) is None  # rendered again
    assert plan_delta(*args, gone=["t006-web"]) is None  # no guard to ask
