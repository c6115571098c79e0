"""What a sync process leaves in its work directory for the next one, per settled hub.

A daemon plans a change of a few rows from the change alone once a sync left the hub settled
(``core.delta``); a new ``sync --once`` process would otherwise read, list and plan every row and
node again (9.5 s at 100,000 rows). So a syncer writes, when it closes, what it knows of each
settled hub: the commit, the form revision, the node count, the rows as read and the hub's own
files (with their blob ids). The index entries are not written: they are in the commit, and a
restored hub reads only the shards a change touches (``Settled.load``).

The file is a cache, never a source of truth. It is used only when the branch's head is still
the commit it names and the revision is the same (``Syncer._sync_delta``); a file that is
missing, truncated, of another version or whose checksum fails is ignored and the full path
runs. ``marshal`` keeps reading 100,000 rows at about 40 ms; the checksum comes first, so only
what this module wrote is ever decoded.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
from pathlib import Path

from lynq_bridge import __version__
from lynq_bridge.core.delta import Settled
from lynq_bridge.core.rows import rows_of

log = logging.getLogger("lynq_bridge.sync")

DIRECTORY = "settled"  # in the work directory, beside the mirror
MAGIC = b"lynq-bridge settled 1 "


def path_of(work_dir: Path, hub: str) -> Path:
    """The file of ``hub`` (``namespace/name``) in ``work_dir``."""
    return work_dir / DIRECTORY / hashlib.sha256(hub.encode()).hexdigest()[:32]


def save(path: Path, hub: str, settled: Settled) -> None:
    """Write ``settled`` for ``hub`` (atomically: a reader sees the old file or the new one).
    A failure is logged and ignored: the next process takes the full path."""
    names = settled.rows[0].names if settled.rows else ()
    payload = marshal.dumps(
        (
            __version__,
            hub,
            settled.commit,
            settled.revision,
            settled.count,
            names,
            [row.values for row in settled.rows],
            settled.files,
        )
    )
    header = _header(payload, settled.commit, settled.revision)
    partial = path.with_name(f"{path.name}.new")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            out.write(header)
            out.write(payload)
        os.replace(partial, path)
    except OSError as exc:
        log.warning("cannot keep the state of hub %s in %s: %s", hub, path, exc)
        partial.unlink(missing_ok=True)


def _header(payload: bytes, commit: str, revision: str) -> bytes:
    """The first line: format, checksum of the rest, and what it is valid for."""
    return b"%s%s %s %s\n" % (
        MAGIC,
        hashlib.sha256(payload).hexdigest().encode(),
        commit.encode(),
        revision.encode(),
    )


def load(path: Path, *, hub: str, commit: str, revision: str) -> Settled | None:
    """The settled state of ``hub`` at ``commit`` for ``revision`` kept in ``path``, or None
    when there is none usable (another commit or revision costs a read of the first line)."""
    try:
        with path.open("rb") as stream:
            header = stream.readline()
            if not header.endswith(b" %s %s\n" % (commit.encode(), revision.encode())):
                return None
            payload = stream.read()
    except OSError:
        return None
    if header != _header(payload, commit, revision):
        log.info("ignoring the kept state of hub %s in %s: it is damaged", hub, path)
        return None
    try:
        version, owner, at, form_revision, count, names, values, files = marshal.loads(payload)
        if (version, owner, at, form_revision) != (__version__, hub, commit, revision):
            return None
        rows = rows_of(values, names)
    except (EOFError, ValueError, TypeError, IndexError):
        return None  # not what this version writes
    return Settled.restored(commit, revision, rows, files, count)
