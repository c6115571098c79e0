"""What a daemon remembers of a hub between syncs (rows per record, keys per row × form) gives
exactly what a fresh process computes, and an unchanged record or row costs a lookup."""

from __future__ import annotations

from typing import Any

import pytest
from test_rendering import HUB, compiled_form

from lynq_bridge.core import rendering, rows
from lynq_bridge.core.rendering import render_hub
from lynq_bridge.core.rows import rows_from_records
from renderers.plain import PlainTarget

COLUMNS = ("domain", "plan", "replicas")
RECORDS = [
    ("beta", "1", "", "", 1),
    ("acme", "1", "https://acme.example.com", "pro", 3),
    ("gone", "0", "", "", 1),
    ("acme", "1", "https://acme.example.com", "basic", 2),  # a duplicate uid
    ("../x", "1", "", "", 1),  # a uid that cannot form a node
]


def test_rows_with_a_memo_equal_rows_without_and_keep_only_current_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memo: dict[Any, Any] = {}
    assert rows_from_records(RECORDS, columns=COLUMNS, memo=memo) == rows_from_records(
        RECORDS, columns=COLUMNS
    )
    assert set(memo) == set(RECORDS)
    converted: list[object] = []
    real = rows._row

    def counting(record: Any, columns: Any) -> Any:
        converted.append(record[0])
        return real(record, columns)

    monkeypatch.setattr(rows, "_row", counting)
    changed = [*RECORDS[:2], ("delta", "1", "", "", 1)]
    assert (
        rows_from_records(changed, columns=COLUMNS, memo=memo)
        == rows_from_records(changed, columns=COLUMNS)[: len(changed)]
    )
    assert converted[0] == "delta"  # the memo converted only the new record
    assert set(memo) == set(changed)


def test_an_unhashable_driver_value_is_converted_without_the_memo() -> None:
    record = ("acme", "1", bytearray(b"acme.example.com"), "pro", 1)
    memo: dict[Any, Any] = {}
    (row,) = rows_from_records([record], columns=COLUMNS, memo=memo)
    assert row.variables["domain"] == "acme.example.com" and memo == {}


def test_render_with_a_key_memo_equals_a_fresh_render_and_skips_the_hashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    form = compiled_form()
    table = rows_from_records(RECORDS, columns=COLUMNS)
    keys: dict[Any, Any] = {}
    fresh = render_hub(HUB, [form], table, PlainTarget(), revision="r1")
    first = render_hub(HUB, [form], table, PlainTarget(), revision="r1", keys=keys)
    assert first.row_errors == fresh.row_errors and first.nodes.keys() == fresh.nodes.keys()
    assert {n.input_key for n in first.nodes.values()} == {
        n.input_key for n in fresh.nodes.values()
    }
    hashed: list[str] = []
    real = rendering.input_key_of

    def counting(revision: str, form: Any, row: Any) -> str:
        hashed.append(row.uid)
        return real(revision, form, row)

    monkeypatch.setattr(rendering, "input_key_of", counting)
    committed = {name: node.input_key for name, node in first.nodes.items()}
    again = render_hub(
        HUB, [form], table, PlainTarget(), revision="r1", keys=keys, committed=committed
    )
    assert hashed == [] and set(again.unchanged) == set(first.nodes)
    assert again.row_errors == fresh.row_errors  # the memo keeps the uid problems too
