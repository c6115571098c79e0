"""Commit messages: the exact text people read and the trailers the bridge and auditors parse."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from lynq_bridge.core import messages
from lynq_bridge.core.messages import Stamp, commit_message, is_settled, parse_trailers
from lynq_bridge.core.planning import HubPlan
from lynq_bridge.core.rendering import NodeRender
from lynq_bridge.core.rows import to_text

STAMP = Stamp("default/tenants", "rev1", "snap1")


def node(uid: str) -> NodeRender:
    return NodeRender(name=f"{uid}-web", uid=uid, form="web")


def test_full_message_is_exactly_this() -> None:
    acme, beta = node("acme"), node("beta")
    plan = HubPlan(
        writes={"x": b""},
        added=[acme],
        updated={"beta-web": ["app", "svc"], "acme-web": []},
        removed=["gamma-web", "delta-web"],
        held=["omega-web"],
        nodes={"acme-web": acme, "beta-web": beta},
    )
    message = commit_message(plan, STAMP, ['failed to render resource "x": bad\nline'])
    assert message == (
        "lynq: default/tenants: add 1, update 2, remove 2 node(s)\n"
        "\n"
        "Added:\n"
        '  - acme-web (uid "acme", form web)\n'
        "\n"
        "Updated:\n"
        '  - acme-web (uid "acme", form web): node metadata\n'
        '  - beta-web (uid "beta", form web): app, svc\n'
        "\n"
        "Removed:\n"
        "  - gamma-web\n"
        "  - delta-web\n"
        "\n"
        "Held by the deletion guard (rerun with --allow-mass-delete to remove):\n"
        "  - omega-web\n"
        "\n"
        "Render errors (previous files kept):\n"
        '  - failed to render resource "x": bad\\nline\n'
        "\n"
        "Lynq-Hub: default/tenants\n"
        "Lynq-Nodes-Added: acme-web\n"
        "Lynq-Nodes-Updated: acme-web, beta-web\n"
        "Lynq-Nodes-Removed: gamma-web, delta-web\n"
        "Lynq-Nodes-Held: omega-web\n"
        "Lynq-Form-Revision: rev1\n"
        "Lynq-Snapshot: snap1\n"
        "Lynq-Render-Errors: 1\n"
    )
    trailers = parse_trailers(message)
    assert trailers["Lynq-Nodes-Removed"] == "gamma-web, delta-web"
    assert trailers["Lynq-Render-Errors"] == "1"


def test_message_of_hub_files_only_says_so_and_lists_empty_trailers() -> None:
    message = commit_message(HubPlan(writes={"kustomization.yaml": b""}), STAMP, [])
    assert message.splitlines()[0] == "lynq: default/tenants: refresh hub files, no node changed"
    assert message.endswith(
        "\n\nLynq-Hub: default/tenants\nLynq-Nodes-Added:\nLynq-Nodes-Updated:\n"
        "Lynq-Nodes-Removed:\nLynq-Nodes-Held:\nLynq-Form-Revision: rev1\n"
        "Lynq-Snapshot: snap1\nLynq-Render-Errors: 0\n"
    )
    assert is_settled(message, STAMP)


def test_long_sections_are_cut_with_a_count_but_trailers_stay_complete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(messages, "BODY_LIMIT", 2)
    removed = [f"n{i}-web" for i in range(5)]
    message = commit_message(HubPlan(removed=removed), STAMP, [])
    assert "Removed:\n  - n0-web\n  - n1-web\n  … and 3 more (see the trailers)\n\n" in message
    assert parse_trailers(message)["Lynq-Nodes-Removed"] == ", ".join(removed)
    exactly = commit_message(HubPlan(removed=removed[:2]), STAMP, [])
    assert "more (see the trailers)" not in exactly


@pytest.mark.parametrize(
    ("change", "settled"),
    [
        ({}, True),
        ({"Lynq-Hub": "default/other"}, False),
        ({"Lynq-Form-Revision": "rev2"}, False),
        ({"Lynq-Snapshot": "snap2"}, False),
        ({"Lynq-Render-Errors": "1"}, False),
        ({"Lynq-Nodes-Held": "a-web"}, False),
    ],
)
def test_settled_only_for_our_own_clean_commit_of_the_same_stamp(
    change: dict[str, str], settled: bool
) -> None:
    trailers = {
        "Lynq-Hub": "default/tenants",
        "Lynq-Nodes-Held": "",
        "Lynq-Form-Revision": "rev1",
        "Lynq-Snapshot": "snap1",
        "Lynq-Render-Errors": "0",
        **change,
    }
    message = "subject\n\nbody: with a colon\n\n" + "".join(
        f"{k}: {v}\n" for k, v in trailers.items()
    )
    assert is_settled(message, STAMP) is settled


def test_trailers_are_read_from_the_last_paragraph_only() -> None:
    message = "s\n\nLynq-Hub: forged/in-body\n\nOther: x\nLynq-Hub: a/b:c\n"
    assert parse_trailers(message) == {"Lynq-Hub": "a/b:c"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("x", "x"),
        (True, "true"),
        (False, "false"),
        (7, "7"),
        (0.1, "0.1"),
        (decimal.Decimal("1.50"), "1.50"),
        (decimal.Decimal("1E+3"), "1000"),
        (dt.date(2030, 1, 2), "2030-01-02"),
        (b"abc", "abc"),
        (b"\xff\x00", "/wA="),
    ],
)
def test_driver_values_become_stable_text(value: object, text: str) -> None:
    assert to_text(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (
            dt.datetime(2030, 1, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))),
            "2030-01-02T03:00:00Z",
        ),
        (dt.datetime(2030, 1, 2, 3, 4, 5), "2030-01-02T03:04:05Z"),  # no zone: taken as UTC
        (dt.time(12, 30, tzinfo=dt.timezone(dt.timedelta(hours=9))), "03:30:00Z"),
        (dt.time(12, 30, tzinfo=dt.timezone(dt.timedelta(hours=-3))), "15:30:00Z"),
        (dt.time(12, 30), "12:30:00"),
        (decimal.Decimal("NaN"), "NaN"),
    ],
)
def test_points_in_time_become_utc_text(value: object, text: str) -> None:
    assert to_text(value) == text


def test_aware_times_become_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        moment = dt.datetime(2030, 1, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
        assert to_text(moment) == "2030-01-02T17:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_other_driver_values_use_their_text() -> None:
    import uuid

    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert to_text(value) == "12345678-1234-5678-1234-567812345678"


def test_rows_carry_uid_activate_and_the_mapped_variables() -> None:
    from lynq_bridge.core.rows import rows_from_records

    (row,) = rows_from_records([("acme", "yes", "pro")], columns=["plan"])
    assert row.variables == {"uid": "acme", "activate": "yes", "plan": "pro"}


def test_trailers_list_several_nodes_comma_separated() -> None:
    a, b = node("a"), node("b")
    plan = HubPlan(added=[a, b], held=["x-web", "y-web"], nodes={"a-web": a, "b-web": b})
    trailers = parse_trailers(commit_message(plan, STAMP, []))
    assert trailers["Lynq-Nodes-Added"] == "a-web, b-web"
    assert trailers["Lynq-Nodes-Held"] == "x-web, y-web"


def test_snapshot_is_the_hash_of_sorted_name_value_pairs_of_every_row() -> None:
    # The snapshot of an unchanged hub must not change across versions: a different formula
    # would make every no-op sync after an upgrade render the whole hub, forever (no commit is
    # made when nothing changed, so the trailer would never catch up).
    import hashlib

    from lynq_bridge.core.rows import rows_from_records, snapshot_of

    records = [("b", "1", "pro", 3), ("a", "yes", "", None), ("c", "0", "x", 1)]
    rows = rows_from_records(records, columns=["plan", "replicas"])
    expected = hashlib.sha256()
    for row in [
        {"uid": "a", "activate": "yes", "plan": "", "replicas": ""},
        {"uid": "b", "activate": "1", "plan": "pro", "replicas": "3"},
    ]:
        for key in sorted(row):
            expected.update(f"{key}\0{row[key]}\0".encode())
        expected.update(b"\1")
    assert snapshot_of(rows) == expected.hexdigest()[:16]
    assert snapshot_of([]) == hashlib.sha256().hexdigest()[:16]


def test_a_daemons_snapshot_reuses_the_text_of_unchanged_rows_only() -> None:
    from lynq_bridge.core.rows import SnapshotMemo, rows_from_records, snapshot_of

    memo: dict[object, object] = {}
    records = [(f"t{i}", "1", "pro", i) for i in range(5)]
    snapshot = SnapshotMemo()
    rows = rows_from_records(records, columns=["plan", "replicas"], memo=memo)  # type: ignore[arg-type]
    assert snapshot_of(rows, snapshot) == snapshot_of(rows)
    for changed in ([*records[:2], ("t2", "1", "basic", 2), *records[3:]], records[1:], records):
        rows = rows_from_records(changed, columns=["plan", "replicas"], memo=memo)  # type: ignore[arg-type]
        fresh = snapshot_of(rows_from_records(changed, columns=["plan", "replicas"]))
        assert snapshot_of(rows, snapshot) == fresh


def test_node_count_trailer_is_written_and_read_back() -> None:
    from lynq_bridge.core.messages import settled_node_count

    message = commit_message(HubPlan(), STAMP, [], node_count=12)
    assert parse_trailers(message)["Lynq-Node-Count"] == "12"
    assert settled_node_count(message) == 12
    assert settled_node_count(commit_message(HubPlan(), STAMP, [])) is None
    assert "Lynq-Node-Count" not in commit_message(HubPlan(), STAMP, [])
    for text in ("", "-1", "1e3", "١٢", "twelve"):
        assert settled_node_count(f"s\n\nLynq-Node-Count: {text}\n") is None, text


def test_rows_are_the_same_text_with_and_without_the_daemons_memo() -> None:
    # A fresh process converts records inline; the daemon through its memo: same rows.
    import decimal

    from lynq_bridge.core.rows import rows_from_records

    records = [
        ("b", 1, True, 3, None, decimal.Decimal("1.50"), b"\xff"),
        ("a", "yes", False, -7, "x", 2.5, b"ok"),
        ("c", 0, 1, 1, 1, 1, 1),
    ]
    columns = ["flag", "n", "none", "dec", "raw"]
    fresh = rows_from_records(records, columns=columns)
    memo: dict[object, object] = {}
    assert rows_from_records(records, columns=columns, memo=memo) == fresh  # type: ignore[arg-type]
    assert [r.values for r in fresh] == [
        ("a", "yes", "false", "-7", "x", "2.5", "ok"),
        ("b", "1", "true", "3", "", "1.50", "/w=="),
    ]
