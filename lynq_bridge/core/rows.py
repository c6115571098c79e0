"""Rows as the core sees them: text values, the activation rule, and the snapshot hash.

The database adapter hands over raw records (tuples of driver values); this module turns them
into strings the same way for every database, so MySQL, PostgreSQL and SQLite rows with the same
content render the same tree.

Points in time are UTC RFC 3339 text (``2030-01-02T03:04:05Z``, ``…05.250000Z`` with
microseconds), whatever zone the server or session uses. A value with a zone (PostgreSQL
``timestamptz``) is converted to UTC. A value without one (MySQL ``DATETIME`` and ``TIMESTAMP``,
PostgreSQL ``timestamp``) is taken to be UTC already and only gets the ``Z``: the adapter reads in
UTC sessions, which makes that true of MySQL ``TIMESTAMP``; a column that holds local wall-clock
time must be converted in a view. Dates stay ``YYYY-MM-DD``; a time of day with a zone is
converted to UTC (``03:04:05Z``), one without stays as it is. SQLite has no date type: its text
arrives unchanged.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import marshal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# SPEC §4: exactly these texts activate a row; everything else (0, false, '', NULL, on, ' 1')
# is inactive, the same as a deleted row.
ACTIVE_VALUES = frozenset({"1", "true", "TRUE", "True", "yes", "YES", "Yes"})


class Row(NamedTuple):
    """One row of a hub: its uid and the template variables it provides.

    A named tuple holding the values and the shared tuple of their names: a hub has up to
    100,000 rows, and a frozen dataclass with a dict per row made building them half of a no-op
    sync (which never needs the dict) and a sizeable part of a first sync's memory.
    """

    uid: str
    values: tuple[str, ...]  # the record as text, in column order: a cheap identity
    names: tuple[str, ...]  # the variable names of ``values``, the same tuple for a hub's rows

    @property
    def variables(self) -> dict[str, str]:
        """The template variables: a new dict on every call."""
        return dict(zip(self.names, self.values, strict=True))


def to_text(value: object) -> str:
    """Stable text of a driver value; NULL becomes the empty string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.utcoffset() is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError:  # within a day of year 1 or 9999: keep the offset
                return value.isoformat()
        return f"{value.replace(tzinfo=None).isoformat()}Z"
    if isinstance(value, dt.time):
        offset = value.utcoffset()
        if offset is None:
            return value.isoformat()
        moment = dt.datetime.combine(dt.date(2000, 1, 1), value.replace(tzinfo=None)) - offset
        return f"{moment.time().isoformat()}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    return str(value)


def is_active(text: str) -> bool:
    """The activation rule of SPEC §4."""
    return text in ACTIVE_VALUES


def rows_from_records(
    records: Iterable[Sequence[object]],
    *,
    columns: Sequence[str],
    memo: dict[Any, Row | None] | None = None,
) -> list[Row]:
    """Active rows from records whose first two fields are uid and activate.

    ``columns`` names the variables of the remaining fields, in order. Rows come back sorted
    by uid, then by their values, so the outcome never depends on the database's collation or
    on the order of duplicates. ``memo`` (kept by the daemon for one hub) maps a record to its
    row, so an unchanged record costs a lookup; it is left holding only these records.

    The memo knows a record by its bytes in ``marshal`` format 2 (no back-references, so the
    same values give the same bytes in any process, and a process can keep them for the next,
    see ``adapters.settledfile``), or by the tuple itself when a driver value has no such bytes
    (a date, a decimal). Bytes tell 1 from 1.0 and from True, which compare equal as values:
    SQLite may hold either in one column, and the row's text differs.
    """
    names = ("uid", "activate", *columns)
    rows: list[Row | None]
    if memo is None:  # a fresh process: this loop is most of a no-op sync at 100,000 rows
        # (ints: str(), not to_text; bool is no int here: ``__class__ is int`` excludes it)
        rows = []
        append = rows.append
        for record in records:
            values = tuple(
                [
                    v if v.__class__ is str else str(v) if v.__class__ is int else to_text(v)
                    for v in record
                ]
            )
            if values[1] in ACTIVE_VALUES:
                append(_new_row(Row, (values[0], values, names)))
    else:
        seen: dict[Any, Row | None] = {}
        rows = []
        get = memo.get
        for record in records:
            fields = tuple(record)
            key: Any
            try:
                key = _dumps(fields, 2)
            except ValueError:
                key = fields
            try:
                row = get(key, _UNSEEN)
                if row is _UNSEEN:
                    row = _row(fields, names)
                seen[key] = row
            except TypeError:  # an unhashable driver value: no memo for this record
                row = _row(fields, names)
            rows.append(row)
        memo.clear()
        memo.update(seen)
    active = [row for row in rows if row is not None]
    active.sort(key=_by_values)
    return active


def _by_values(row: Row) -> tuple[str, ...]:
    return row.values


def _row(record: Sequence[object], names: tuple[str, ...]) -> Row | None:
    """The row of one record, or None when it is not active."""
    values = tuple([v if v.__class__ is str else to_text(v) for v in record])
    if values[1] not in ACTIVE_VALUES:  # is_active, inlined: this runs once per record
        return None
    row: Row = _new_row(Row, (values[0], values, names))
    return row


def rows_of(values: Iterable[tuple[str, ...]], names: tuple[str, ...]) -> list[Row]:
    """Rows from their values as ``Row.values`` holds them (a state kept by a process)."""
    return [_new_row(Row, (row[0], row, names)) for row in values]


_dumps: Any = marshal.dumps
_UNSEEN: Any = object()  # a record the memo does not hold (None there means: inactive)

# Row(uid, values, names) without the named tuple's Python-level __new__: a third faster, which
# counts 100,000 times per sync.
_new_row: Any = tuple.__new__


@dataclass
class SnapshotMemo:
    """What ``snapshot_of`` keeps for a daemon between syncs: the rows it formatted and their
    text, position by position (an unchanged record keeps its ``Row`` object)."""

    rows: list[Row] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)


def snapshot_of(rows: Sequence[Row], memo: SnapshotMemo | None = None) -> str:
    """A short hash of the active rows as read, for the ``Lynq-Snapshot`` trailer.

    Each row contributes ``name NUL value NUL`` for its variables in name order, then a 0x01
    byte. The rows of a hub share their names, so a row's text is one ``str.format`` of a
    pattern made once (variable names are identifiers: no braces to escape). With a ``memo``,
    a row that is the same object as the one in its place last time reuses its text.
    """
    names: tuple[str, ...] | None = None
    pattern = ""
    parts: list[str] = []
    before, texts = (memo.rows, memo.parts) if memo is not None else ([], [])
    for position, row in enumerate(rows):
        if position < len(before) and before[position] is row:
            parts.append(texts[position])
            continue
        if row.names is not names:
            names = row.names
            order = sorted(range(len(names)), key=names.__getitem__)
            pattern = "".join(f"{names[i]}\0{{{i}}}\0" for i in order) + "\1"
        parts.append(pattern.format(*row.values))
    if memo is not None:
        memo.rows, memo.parts = list(rows), parts
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]
