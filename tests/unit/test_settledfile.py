"""The state a sync process keeps for the next one (``adapters.settledfile``): read back as it
was written, or not at all."""

from __future__ import annotations

import datetime as dt
import hashlib
import marshal
import os
from pathlib import Path
from typing import Any

from lynq_bridge.adapters import settledfile
from lynq_bridge.core.delta import Settled
from lynq_bridge.core.rows import SnapshotMemo, rows_from_records, snapshot_of

COLUMNS = ("plan",)
RECORDS = [("beta", "1", "pro"), ("acme", "1", None), ("gone", "0", "basic")]


def settled_hub(records: list[tuple[Any, ...]]) -> tuple[Settled, dict[Any, Any], SnapshotMemo]:
    memo: dict[Any, Any] = {}
    rows = rows_from_records(records, columns=COLUMNS, memo=memo)
    snapshot = SnapshotMemo()
    snapshot_of(rows, snapshot)
    index = {f"{r.uid}-web": ("k", "d", (f"{r.uid}.yaml",)) for r in rows}
    files = {"kustomization.yaml": "0" * 40}
    return Settled("c1", "rev", rows, index, files, len(index)), memo, snapshot


def records_of(settled: Settled, memo: dict[Any, Any]) -> list[Any]:
    by_row = {id(row): key for key, row in memo.items() if row is not None}
    return [by_row[id(row)] for row in settled.rows]


def test_a_kept_state_reads_back_and_seeds_the_memos(tmp_path: Path) -> None:
    settled, memo, snapshot = settled_hub(RECORDS)
    path = settledfile.path_of(tmp_path, "default/tenants")
    records = records_of(settled, memo)
    settledfile.save(path, "default/tenants", settled, records=records, parts=snapshot.parts)
    kept = settledfile.load(path, "default/tenants")
    assert kept is not None
    assert path.stat().st_mode & 0o777 == 0o600  # the rows' values: the bridge's user's alone
    restored = kept.settled
    assert (restored.commit, restored.revision, restored.count, restored.files) == (
        "c1",
        "rev",
        2,
        settled.files,
    )
    assert restored.rows == settled.rows and restored.index == {} and restored.loaded == set()
    fresh: dict[Any, Any] = {}
    fresh_snapshot = SnapshotMemo()
    kept.seed(("uid", "activate", *COLUMNS), fresh, fresh_snapshot)
    assert fresh_snapshot.rows == restored.rows and fresh_snapshot.parts == snapshot.parts
    rows = rows_from_records(RECORDS, columns=COLUMNS, memo=fresh)
    assert [a is b for a, b in zip(rows, restored.rows, strict=True)] == [True, True]
    assert snapshot_of(rows, fresh_snapshot) == snapshot_of(settled.rows)
    other: dict[Any, Any] = {}
    kept.seed(("uid", "activate", "domain"), other, SnapshotMemo())  # other columns: nothing
    assert other == {}


def test_records_marshal_cannot_keep_are_left_out(tmp_path: Path) -> None:
    records = [("acme", "1", dt.date(2030, 1, 2))]
    settled, memo, snapshot = settled_hub(records)
    path = tmp_path / "state"
    settledfile.save(path, "h", settled, records=records_of(settled, memo), parts=snapshot.parts)
    kept = settledfile.load(path, "h")
    assert kept is not None and kept.records is None and kept.parts == snapshot.parts
    assert kept.settled.rows == settled.rows


def test_a_state_kept_without_snapshot_texts_leaves_the_snapshot_memo_empty(
    tmp_path: Path,
) -> None:
    settled, memo, _ = settled_hub(RECORDS)
    path = tmp_path / "state"
    settledfile.save(path, "h", settled, records=records_of(settled, memo))
    kept = settledfile.load(path, "h")
    assert kept is not None and kept.records is not None and kept.parts is None
    fresh: dict[Any, Any] = {}
    snapshot = SnapshotMemo()
    kept.seed(("uid", "activate", *COLUMNS), fresh, snapshot)
    assert (snapshot.rows, snapshot.parts) == ([], [])
    rows = rows_from_records(RECORDS, columns=COLUMNS, memo=fresh)
    assert all(a is b for a, b in zip(rows, kept.settled.rows, strict=True))


def test_a_hub_of_one_row_or_none_is_kept(tmp_path: Path) -> None:
    for records in (RECORDS[:1], []):
        settled, memo, snapshot = settled_hub(records)
        path = tmp_path / f"state{len(records)}"
        records_kept = records_of(settled, memo)
        settledfile.save(path, "h", settled, records=records_kept, parts=snapshot.parts)
        kept = settledfile.load(path, "h")
        assert kept is not None and kept.settled.rows == settled.rows
        fresh: dict[Any, Any] = {}
        kept.seed(("uid", "activate", *COLUMNS), fresh, SnapshotMemo())
        rows = rows_from_records(records, columns=COLUMNS, memo=fresh)
        assert [a is b for a, b in zip(rows, kept.settled.rows, strict=True)] == [True] * len(rows)


def test_the_state_directory_is_made_for_the_bridge_user_alone(tmp_path: Path) -> None:
    settled, _, _ = settled_hub(RECORDS)
    path = settledfile.path_of(tmp_path / "work", "default/tenants")  # no work directory yet
    umask = os.umask(0o022)  # the usual one, which would leave a directory readable by all
    try:
        settledfile.save(path, "default/tenants", settled)
    finally:
        os.umask(umask)
    assert settledfile.load(path, "default/tenants") is not None
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_damaged_foreign_or_missing_state_is_ignored(tmp_path: Path) -> None:
    settled, _, _ = settled_hub(RECORDS)
    path = tmp_path / "state"
    assert settledfile.load(path, "h") is None
    settledfile.save(path, "h", settled)
    assert settledfile.load(path, "h") is not None
    assert settledfile.load(path, "another/hub") is None
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert settledfile.load(path, "h") is None
    path.write_bytes(data[: len(data) // 2])
    assert settledfile.load(path, "h") is None
    state = list(settledfile._split(data.split(b"\n", 1)[1]))
    assert len(state) == settledfile.FIELDS
    assert settledfile.load(rewritten(path, state), "h") is not None
    assert settledfile.load(rewritten(path, ["0.0.0-old", *state[1:]]), "h") is None
    assert settledfile.load(rewritten(path, [*state[:8], ["one record"], None]), "h") is None
    assert settledfile.load(rewritten(path, [*state[:9], ["one text"]]), "h") is None
    assert settledfile.load(rewritten(path, state[:9]), "h") is None
    assert settledfile.load(rewritten(path, [*state, None]), "h") is None
    # The last field's length runs past the end, under a valid checksum.
    assert settledfile.load(rewritten(path, state, overrun=1), "h") is None


def rewritten(path: Path, state: list[Any], *, overrun: int = 0) -> Path:
    """``path`` holding ``state`` with a valid checksum: only its content can refuse it.
    ``overrun``: the last field's length claims that many bytes more than the field has."""
    fields = [marshal.dumps(field) for field in state]
    sizes = [len(field) for field in fields]
    sizes[-1] += overrun
    payload = b"".join(
        size.to_bytes(8, "big") + field for size, field in zip(sizes, fields, strict=True)
    )
    path.write_bytes(
        settledfile.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    )
    return path


def test_a_state_that_cannot_be_written_is_left_for_the_full_path(tmp_path: Path) -> None:
    settled, _, _ = settled_hub(RECORDS)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory\n")
    settledfile.save(blocked / "state", "h", settled)  # logged, not raised
    assert settledfile.load(blocked / "state", "h") is None
