"""What a daemon remembers of a hub between syncs (rows per record, keys per row × form) gives
exactly what a fresh process computes, and an unchanged record or row costs a lookup."""

from __future__ import annotations

import datetime as dt
import decimal
import marshal
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
    assert set(memo) == {marshal.dumps(r, 2) for r in RECORDS}
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
    assert set(memo) == {marshal.dumps(r, 2) for r in changed}


def test_an_unhashable_driver_value_is_converted_without_the_memo() -> None:
    record = ("acme", "1", [dt.date(2030, 1, 2)], "pro", 1)  # no marshal bytes, no hash
    memo: dict[Any, Any] = {}
    (row,) = rows_from_records([record], columns=COLUMNS, memo=memo)
    assert row.variables["domain"] == "[datetime.date(2030, 1, 2)]" and memo == {}


def test_a_record_without_marshal_bytes_is_known_by_its_values() -> None:
    record = ("acme", "1", dt.datetime(2030, 1, 2, 3, 4, 5), "pro", decimal.Decimal("1.50"))
    memo: dict[Any, Any] = {}
    (row,) = rows_from_records([record], columns=COLUMNS, memo=memo)
    assert memo == {record: row} and row.values[2:] == ("2030-01-02T03:04:05Z", "pro", "1.50")
    assert rows_from_records([record], columns=COLUMNS, memo=memo)[0] is row


@pytest.mark.parametrize("before, after", [(1, 1.0), (1.0, 1), (1, True), (0, False)])
def test_a_value_equal_in_python_but_of_another_type_is_a_changed_record(
    before: object, after: object
) -> None:
    """SQLite may hold 1 or 1.0 in one column; their texts differ, so the memo must not take
    one for the other (equal tuples, but not equal marshal bytes)."""
    memo: dict[Any, Any] = {}
    rows_from_records([("acme", "1", "", "", before)], columns=COLUMNS, memo=memo)
    (row,) = rows_from_records([("acme", "1", "", "", after)], columns=COLUMNS, memo=memo)
    assert row == rows_from_records([("acme", "1", "", "", after)], columns=COLUMNS)[0]
    assert (
        row.values[4]
        != rows_from_records([("acme", "1", "", "", before)], columns=COLUMNS)[0].values[4]
    )


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
