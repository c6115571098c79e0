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
    """A hub's committed tree, kept as the full path leaves it."""

    def __init__(self, target: Target, form: CompiledForm, records: list[tuple[Any, ...]]):
        self.target, self.form = target, form
        self.memo: dict[Any, Row | None] = {}
        self.records = records
        self.rows = rows_from_records(records, columns=COLUMNS, memo=self.memo)
        render = render_hub(HUB, [form], self.rows, target, revision=REVISION)
        plan = plan_hub(HUB, render, {}, previous_nodes={}, guard=GUARD, target=target)
        assert plan.index is not None
        self.files = dict(plan.writes)
        self.settled = Settled("c0", REVISION, self.rows, plan.index)

    def existing(self) -> dict[str, str]:
        return {p: blob_id(c) for p, c in self.files.items()}

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
        self.changes = [*found[0], *found[1]]
        nodes = {}
        for row in self.changes:
            node = render_node(HUB, self.form, row, self.target)
            node.input_key = input_key_of(REVISION, self.form, row)
            nodes[node_name(row.uid, self.form.name)] = node
        existing = self.existing()
        committed = {
            p: b
            for p, b in existing.items()
            if split_owner(p)[0] in nodes and split_owner(p)[1] is not None
        }
        others = {p: b for p, b in existing.items() if split_owner(p)[1] is None}
        return plan_delta(HUB, self.settled, nodes, committed, others, self.target), nodes

    def apply(self, plan: HubPlan, rows: list[Row], records: list[tuple[Any, ...]]) -> None:
        for path in plan.deletes:
            del self.files[path]
        self.files.update(plan.writes)
        settle(self.settled, f"c{random.random()}", rows, plan, self.changes)
        self.rows, self.records = rows, records


@pytest.mark.parametrize("layout", ["flat", "sharded"])
@pytest.mark.parametrize("target_name", ["plain", "argocd", "flux", "both"])
@pytest.mark.parametrize("seed", range(4))
def test_a_delta_plans_exactly_what_the_full_path_plans(
    target_name: str, layout: str, seed: int
) -> None:
    rng = random.Random(f"{target_name}{layout}{seed}")
    uids = [f"t{i:03d}" for i in range(60)]
    hub = Hub(target_of(target_name, layout), compiled_form(), [record(u, rng) for u in uids])
    for round_ in range(4):
        records = list(hub.records)
        for i in rng.sample(range(len(records)), rng.choice([0, 1, 2, 3])):
            new = record(records[i][0], rng)
            while new == records[i]:
                new = record(records[i][0], rng)
            records[i] = new
        # New rows: a new shard now and then (sharded), new engine files and listings always.
        records += [record(f"n{round_}{k}", rng) for k in range(rng.choice([0, 1, 2]))]
        if records == hub.records:
            records.append(record(f"n{round_}x", rng))
        touched = {r[0] for r in records if r not in hub.records}
        rows = rows_from_records(records, columns=COLUMNS, memo=hub.memo)
        delta, nodes = hub.delta(rows)
        assert {row.uid for row in hub.changes} == touched  # nothing from earlier rounds
        full = hub.full(rows)
        assert delta is not None
        assert delta.writes == full.writes
        assert sorted(delta.deletes) == full.deletes
        assert delta.updated == full.updated
        assert delta.index == full.index
        assert [n.name for n in delta.added] == [n.name for n in full.added]
        assert set(delta.nodes) == set(nodes) and not full.removed
        hub.apply(delta, rows, records)


def simple_hub(records: list[tuple[Any, ...]], text: str = FORM_YAML) -> Hub:
    return Hub(target_of("flux", "sharded"), compiled_form(text), records)


RECORDS = [(f"t{i:03d}", "1", None, "basic", 1) for i in range(60)]


def test_only_value_changes_and_new_rows_of_a_few_rows_take_the_delta() -> None:
    hub = simple_hub(RECORDS)

    def changes(records: list[tuple[Any, ...]]) -> tuple[list[str], list[str]] | None:
        memo = dict(hub.memo)  # the settled rows' memo, left as it is for the next probe
        found = row_changes(hub.settled, rows_from_records(records, columns=COLUMNS, memo=memo))
        return None if found is None else ([r.uid for r in found[0]], [r.uid for r in found[1]])

    assert changes(RECORDS) == ([], [])
    assert changes([*RECORDS[:5], ("t005", "1", None, "pro", 1), *RECORDS[6:]]) == (["t005"], [])
    assert changes([*RECORDS, ("t100", "1", None, "pro", 1)]) == ([], ["t100"])
    assert changes(RECORDS[1:]) is None  # a row went
    assert changes([("t000x", "1", None, "basic", 1), *RECORDS[1:]]) is None  # re-keyed
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
