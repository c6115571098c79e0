"""What a sync process leaves in its work directory for the next one, per settled hub.

A daemon plans a change of a few rows from the change alone once a sync left the hub settled
(``core.delta``); a new ``sync --once`` process would otherwise read, list and plan every row and
node again (9.5 s at 100,000 rows). So a syncer writes, when it closes, what it knows of each
settled hub: the commit, the form revision, the node count, the rows as read and the hub's own
files (with their blob ids). The index entries are not written: they are in the commit, and a
restored hub reads only the shards a change touches (``Settled.load``).

With the rows go their records as the driver returned them and their snapshot texts, so that
the next process turns only new or changed records into rows and formats only those for the
snapshot (``Kept.seed``): at 100,000 rows that is most of what is left of its work. Records
``marshal`` cannot keep (dates and decimals of MySQL and PostgreSQL) are left out, and those
rows are converted again.

The file is a cache, never a source of truth. Its ``Settled`` is used only when the branch's
head is still the commit it names and the form revision is the same (``Syncer._sync_delta``);
its records are used only for the same columns, and turn into the same rows as converting them
would. A file that is missing, truncated, of another version or whose checksum fails is
ignored: the full path runs. ``marshal`` reads 100,000 rows in about 40 ms; the checksum comes
first, so only what this module wrote is ever decoded. The fields are marshalled and written one
by one, each after its length (the checksum last, in its place at the head), so the file is
never whole in memory: at 100,000 rows it is 20 MB, written when the sync's memory is at its
peak. (``marshal.load`` from a stream reads in small pieces: ten times slower than ``loads``.)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import marshal
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lynq_bridge import __version__
from lynq_bridge.core.delta import Settled
from lynq_bridge.core.rows import Row, SnapshotMemo, rows_of

log = logging.getLogger("lynq_bridge.sync")

DIRECTORY = "settled"  # in the work directory, beside the mirror
MAGIC = b"lynq-bridge settled 4 "
FIELDS = 10  # version, hub, commit, revision, count, names, values, files, records, parts


@dataclass
class Kept:
    """A settled hub as a process left it, with what turns its records into rows."""

    settled: Settled
    records: list[Any] | None  # each row's record as read, when marshal could keep them
    parts: list[str] | None  # each row's text in the snapshot (``rows.snapshot_of``)

    def seed(
        self, names: tuple[str, ...], memo: dict[Any, Row | None], snapshot: SnapshotMemo
    ) -> None:
        """Fill a hub's row and snapshot memos, so that an unchanged record costs a lookup;
        nothing when the rows had other ``names`` (columns)."""
        rows = self.settled.rows
        if not rows or rows[0].names != names:
            return
        if self.records is not None:
            memo.update(zip(self.records, rows, strict=True))
        if self.parts is not None:
            snapshot.rows, snapshot.parts = list(rows), self.parts


def path_of(work_dir: Path, hub: str) -> Path:
    """The file of ``hub`` (``namespace/name``) in ``work_dir``."""
    return work_dir / DIRECTORY / hashlib.sha256(hub.encode()).hexdigest()[:32]


def save(
    path: Path,
    hub: str,
    settled: Settled,
    *,
    records: Sequence[Any] | None = None,
    parts: Sequence[str] | None = None,
) -> None:
    """Write ``settled`` for ``hub`` (atomically: a reader sees the old file or the new one),
    with each row's ``records`` and snapshot ``parts`` when given. A failure is logged and
    ignored: the next process takes the full path."""
    partial = path.with_name(f"{path.name}.new")
    digest = hashlib.sha256()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The rows' values are the database's: readable by the bridge's user alone.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(MAGIC + b"0" * digest.digest_size * 2 + b"\n")  # the checksum's place
            for field in _fields(hub, settled, records, parts):
                for part in (len(field).to_bytes(8, "big"), field):
                    digest.update(part)
                    out.write(part)
            out.seek(len(MAGIC))
            out.write(digest.hexdigest().encode())
        os.replace(partial, path)
    except OSError as exc:
        log.warning("cannot keep the state of hub %s in %s: %s", hub, path, exc)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _fields(
    hub: str, settled: Settled, records: Sequence[Any] | None, parts: Sequence[str] | None
) -> Iterator[bytes]:
    """The ``FIELDS`` of the file, each marshalled on its own."""
    names = settled.rows[0].names if settled.rows else ()
    for value in (__version__, hub, settled.commit, settled.revision, settled.count, names):
        yield marshal.dumps(value)
    yield marshal.dumps([row.values for row in settled.rows])
    yield marshal.dumps(settled.files)
    try:
        yield marshal.dumps(None if records is None else list(records))
    except ValueError:  # a driver value marshal cannot keep: the rows are converted next time
        yield marshal.dumps(None)
    yield marshal.dumps(None if parts is None else list(parts))


def _split(payload: bytes) -> Iterator[Any]:
    """The fields of a payload: each marshalled after its length (8 bytes, big-endian)."""
    view, at = memoryview(payload), 0
    while at < len(view):
        size = int.from_bytes(view[at : at + 8], "big")
        if size > len(view) - at - 8:
            raise ValueError("a field runs past the end")
        yield marshal.loads(view[at + 8 : at + 8 + size])
        at += 8 + size


def load(path: Path, hub: str) -> Kept | None:
    """The state of ``hub`` kept in ``path``, or None when there is none usable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header, _, payload = data.partition(b"\n")
    if header != MAGIC + hashlib.sha256(payload).hexdigest().encode():
        if data:
            log.info("ignoring the kept state of hub %s in %s: it is damaged", hub, path)
        return None
    try:
        fields = list(_split(payload))
        if len(fields) != FIELDS:
            return None  # not what this version writes
        version, owner, commit, revision, count, names, values, files, records, parts = fields
        if (version, owner) != (__version__, hub):
            return None
        rows = rows_of(values, names)
        if records is not None and len(records) != len(rows):
            return None
        if parts is not None and len(parts) != len(rows):
            return None
    except (EOFError, ValueError, TypeError, IndexError):
        return None  # not what this version writes
    return Kept(Settled.restored(commit, revision, rows, files, count), records, parts)
