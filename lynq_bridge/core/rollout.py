"""Progressive rollout of a form change: Lynq's ``spec.rollout.maxSkew`` and
``progressDeadlineSeconds``, decided from Git and the cluster alone.

A node's input key (``rendering.input_key_of``) is two halves: one over the row, one over the
form revision. A committed node whose row half is unchanged but whose form half is not, and whose
files would change, is *pending*: its only change is the form. Per form with ``maxSkew > 0``:

- at most ``maxSkew`` nodes are at the new revision and not yet Ready: each sync releases
  ``maxSkew`` minus the nodes still updating, in node-name order; the others are *held*: they
  keep their committed files and their index entry (the old key) byte for byte;
- a node updating for longer than ``progressDeadlineSeconds`` (counted from when its current
  files were committed, the rollout started or a person resumed it, whichever is last) halts
  the rollout: nothing more is released until the form changes again or ``lynq-bridge rollout
  resume`` clears the halt;
- new rows and row changes are never held: they are not pending.

The rollout's own state is one record per form in the render-input index (``RECORD``: the
revision rolled out, when it started, when it was last resumed, whether it is halted), so a
fresh process or another replica continues exactly where the last commit left off. Everything
else (which nodes are updated, which are Ready) is read from the index keys and the cluster.
Pure: no clock (``now`` is passed in), no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lynq_bridge.core.conditions import DesiredCondition, format_time, merge_conditions
from lynq_bridge.core.inputs import HEADER, record_lines_of
from lynq_bridge.core.messages import (
    TRAILER_ROLLOUT_COMPLETE,
    TRAILER_ROLLOUT_HALTED,
    TRAILER_ROLLOUT_HELD,
    TRAILER_ROLLOUT_OPEN,
)
from lynq_bridge.core.rollups import conditions_of

ROW_HEX = 16  # hex characters of an input key hashing the row (the rest: the form revision)
KEY_HEX = 32
RECORD = "@rollout"  # index lines of open rollouts (a node name never starts with "@")

# Lynq's RolloutPhase values, and their lynqform_rollout_phase metric values.
IDLE, IN_PROGRESS, FAILED, COMPLETE = "Idle", "InProgress", "Failed", "Complete"
PHASE_VALUES = {IDLE: 0, IN_PROGRESS: 1, FAILED: 2, COMPLETE: 3}

# The LynqForm condition the sync writes for a form with maxSkew > 0 (Deployment's vocabulary).
PROGRESSING = "Progressing"
ROLLOUT_IN_PROGRESS = "RolloutInProgress"
ROLLOUT_COMPLETE = "RolloutComplete"
DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


def split_key(key: str) -> tuple[str, str] | None:
    """(row half, form half) of an input key; None for a key of another shape (an older
    version's), whose node is then never held."""
    if len(key) != KEY_HEX:
        return None
    return key[:ROW_HEX], key[ROW_HEX:]


def only_form_changed(committed: str | None, new: str) -> bool:
    """True when ``committed`` and ``new`` keys differ in the form half alone."""
    old, now = split_key(committed or ""), split_key(new)
    return old is not None and now is not None and old[0] == now[0] and old[1] != now[1]


@dataclass(frozen=True)
class Settings:
    """A form's ``spec.rollout``; ``deadline`` in seconds."""

    form: str
    max_skew: int
    deadline: int


@dataclass(frozen=True)
class Record:
    """An open rollout of one form, as the index holds it (times are Unix seconds)."""

    form: str
    revision: str  # the form half of the keys rolled out
    started: int
    resumed: int = 0  # 0: never resumed
    halted: bool = False

    def line(self) -> str:
        state = "halted" if self.halted else "progressing"
        return f"{RECORD} {self.form} {self.revision} {self.started} {self.resumed} {state}\n"


def parse_records(index: bytes | None) -> dict[str, Record]:
    """form -> its open rollout, from the head of an index file (records come first, right
    after the header, so reading stops at the first node line); malformed records are
    ignored (that form's rollout starts over)."""
    return records_of(record_lines_of(index))


def records_of(lines: Iterable[str]) -> dict[str, Record]:
    """form -> its open rollout, from an index's record lines (``CommittedInputs.records``)."""
    records: dict[str, Record] = {}
    for line in lines:
        parts = line.split()
        if (
            len(parts) == 6
            and parts[3].isdigit()
            and parts[4].isdigit()
            and parts[5] in ("halted", "progressing")
        ):
            records[parts[1]] = Record(
                parts[1], parts[2], int(parts[3]), int(parts[4]), parts[5] == "halted"
            )
    return records


def record_lines(records: Iterable[Record]) -> list[str]:
    """The index lines of ``records``, sorted by form."""
    return [r.line() for r in sorted(records, key=lambda r: r.form)]


def resume_index(index: bytes, form: str, *, now: int) -> bytes | None:
    """``index`` with the rollout of ``form`` resumed at ``now`` (halt cleared, deadlines
    counted from ``now``); None when ``form`` has no open rollout."""
    records = parse_records(index)
    if form not in records:
        return None
    records[form] = replace(records[form], halted=False, resumed=now)
    body = b"\n".join(
        line
        for line in index.removeprefix(HEADER).split(b"\n")
        if not line.startswith(RECORD.encode())
    )
    return HEADER + "".join(record_lines(records.values())).encode() + body


@dataclass(frozen=True)
class FormNodes:
    """One form's nodes in one sync, as the shell found them.

    ``pending``: nodes whose only change is the form revision and whose files would change;
    ``current``: the form's other nodes, at the new revision once this sync commits;
    ``ready``: current nodes the cluster reports Ready with exactly their committed content;
    ``changed_at``: when each current, not Ready node's files were last committed (absent:
    written by this sync)."""

    settings: Settings
    revision: str
    pending: Sequence[str]
    current: Sequence[str]
    ready: frozenset[str] = frozenset()
    changed_at: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What one form's rollout does in this sync."""

    form: str
    release: tuple[str, ...]
    hold: tuple[str, ...]
    record: Record | None  # what the index holds after this sync; None: no open rollout
    halted: bool
    newly_halted: bool
    late: tuple[str, ...]  # updating nodes past the deadline
    status: dict[str, Any]  # Lynq's status.rollout fields (times as Unix seconds)
    was_open: bool = False  # the index held an open rollout of the form before this sync

    @property
    def phase(self) -> str:
        return str(self.status["phase"])


def decide(nodes: FormNodes, record: Record | None, *, now: int) -> Decision:
    """The rollout step of one form (see the module docstring)."""
    settings = nodes.settings
    pending = sorted(nodes.pending)
    updating = sorted(set(nodes.current) - nodes.ready)
    was_open = record is not None
    if record is not None and record.revision != nodes.revision:
        record = None  # the form changed again: a new rollout, any halt is lifted
    if record is None and pending:
        record = Record(settings.form, nodes.revision, started=now)
    late: list[str] = []
    if record is not None:
        start = max(record.started, record.resumed)
        late = [
            n
            for n in updating
            if now - max(nodes.changed_at.get(n, now), start) > settings.deadline
        ]
    halted = record is not None and (record.halted or bool(late and pending))
    newly = halted and record is not None and not record.halted
    slots = 0 if halted else max(0, settings.max_skew - len(updating))
    release, hold = tuple(pending[:slots]), tuple(pending[slots:])
    if record is not None:
        # Every node updated and Ready: the rollout is complete and its record goes.
        done = not (hold or updating or release)
        record = None if done else replace(record, halted=halted)
    status = _status(nodes, record, release=release, updating=len(updating), halted=halted)
    return Decision(
        form=settings.form,
        release=release,
        hold=hold,
        record=record,
        halted=halted,
        newly_halted=newly,
        late=tuple(late),
        status=status,
        was_open=was_open,
    )


def hold_all(nodes: FormNodes, record: Record | None, *, cause: str) -> Decision:
    """The step when the cluster cannot say which nodes are Ready (``cause``): every pending
    node is held and the record is left as it is, so an outage neither releases nor halts."""
    pending = tuple(sorted(nodes.pending))
    was_open = record is not None
    if record is not None and record.revision != nodes.revision:
        record = None  # a new rollout: started by the next sync that can see the cluster
    halted = record is not None and record.halted  # a halt stays a halt (phase Failed)
    status = _status(nodes, record, release=(), updating=0, halted=halted)
    status["message"] = f"Waiting: the readiness of the nodes cannot be read ({cause})."
    return Decision(
        form=nodes.settings.form,
        release=(),
        hold=pending,
        record=record,
        halted=halted,
        newly_halted=False,
        late=(),
        status=status,
        was_open=was_open,
    )


def message_parts(decisions: Sequence[Decision]) -> tuple[list[str], dict[str, str]]:
    """The commit message's body lines and trailers for a hub's rollout decisions; nothing when
    no form has or had an open rollout."""
    body: list[str] = []
    trailers: dict[str, str] = {}
    shown = [d for d in decisions if d.record is not None or d.was_open or d.release or d.hold]
    for d in sorted(shown, key=lambda d: d.form):
        released = ", ".join(d.release[:20]) + (" …" if len(d.release) > 20 else "")
        line = (
            f"  - form {d.form}: {d.phase}; released {len(d.release)}"
            + (f" ({released})" if d.release else "")
            + f", held back {len(d.hold)}, {d.status['updatingNodes']} updating"
        )
        if d.late:
            line += f"; not Ready in time: {', '.join(d.late[:20])}"
        body.append(line)
    if not shown:
        return body, trailers
    # Open while a record is or a node is held: the next sync must look again (``is_settled``).
    trailers[TRAILER_ROLLOUT_OPEN] = ", ".join(
        sorted(d.form for d in decisions if d.record is not None or d.hold)
    )
    held = [f"{d.form}={len(d.hold)}" for d in sorted(decisions, key=lambda d: d.form) if d.hold]
    if held:
        trailers[TRAILER_ROLLOUT_HELD] = ", ".join(held)
    halted = sorted(d.form for d in decisions if d.newly_halted)
    if halted:
        trailers[TRAILER_ROLLOUT_HALTED] = ", ".join(halted)
    complete = sorted(d.form for d in decisions if d.was_open and d.record is None and not d.hold)
    if complete:
        trailers[TRAILER_ROLLOUT_COMPLETE] = ", ".join(complete)
    return body, trailers


def form_status_patch(
    form: Mapping[str, Any], decision: Decision, deadline: int, *, now: dt.datetime
) -> dict[str, Any] | None:
    """The LynqForm status patch for ``decision`` (``status.rollout`` with Lynq's fields and
    the ``Progressing`` condition), or None when the form already shows it. Other writers'
    conditions keep their place (the reporter owns ``Valid`` and ``Applied``)."""
    meta = form.get("metadata") or {}
    old = form.get("status") or {}
    if not isinstance(meta, Mapping) or not isinstance(old, Mapping):
        return None
    before = old.get("rollout") if isinstance(old.get("rollout"), Mapping) else {}
    assert isinstance(before, Mapping)
    rollout = {k: v for k, v in decision.status.items() if k != "startTime"}
    if "startTime" in decision.status:
        started = dt.datetime.fromtimestamp(decision.status["startTime"], dt.UTC)
        rollout["startTime"] = format_time(started)
    elif before.get("startTime"):
        rollout["startTime"] = before["startTime"]
    rollout["completionTime"] = None  # a merge patch removes a stale one
    if decision.phase in (COMPLETE, FAILED):
        rollout["completionTime"] = (
            before.get("completionTime")
            if before.get("phase") == decision.phase
            else format_time(now)
        )
    generation = meta.get("generation")
    if isinstance(generation, int):
        rollout["targetGeneration"] = generation
    if decision.halted:
        want = DesiredCondition(
            PROGRESSING,
            "False",
            DEADLINE_EXCEEDED,
            f"The rollout is halted: node(s) {', '.join(decision.late[:10]) or 'updated before'} "
            f"were not Ready within {deadline}s; run lynq-bridge rollout resume or change the "
            "form.",
        )
    elif decision.phase == COMPLETE:
        want = DesiredCondition(
            PROGRESSING, "True", ROLLOUT_COMPLETE, str(decision.status["message"])
        )
    else:
        want = DesiredCondition(
            PROGRESSING, "True", ROLLOUT_IN_PROGRESS, str(decision.status["message"])
        )
    previous = conditions_of(old)
    merged = merge_conditions(
        previous, [want], now=now, generation=generation if isinstance(generation, int) else None
    )[0]
    mine = merged.model_dump(mode="json", exclude_none=True)
    raw = old.get("conditions")
    listed = [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []
    same = [c for c in listed if c.get("type") == PROGRESSING]
    shown = {k: v for k, v in rollout.items() if v is not None}
    if dict(before) == shown and same and _same_condition(same[0], mine):
        return None
    conditions = [mine if c.get("type") == PROGRESSING else c for c in listed]
    if not same:
        conditions.append(mine)
    return {"rollout": rollout, "conditions": conditions}


def cleared_status_patch(form: Mapping[str, Any]) -> dict[str, Any] | None:
    """The LynqForm status patch that removes ``status.rollout`` and the ``Progressing``
    condition of a form whose ``maxSkew`` is 0 (Lynq clears ``status.rollout`` then), or None
    when the form shows neither. Other writers' conditions stay as they are."""
    old = form.get("status")
    if not isinstance(old, Mapping):
        return None
    raw = old.get("conditions")
    listed = [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []
    kept = [c for c in listed if c.get("type") != PROGRESSING]
    if old.get("rollout") is None and len(kept) == len(listed):
        return None
    patch: dict[str, Any] = {"rollout": None}  # a merge patch removes the field
    if len(kept) != len(listed):
        patch["conditions"] = kept
    return patch


def _same_condition(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return all(old.get(k) == new.get(k) for k in ("status", "reason", "message"))


def _status(
    nodes: FormNodes,
    record: Record | None,
    *,
    release: Sequence[str],
    updating: int,
    halted: bool,
) -> dict[str, Any]:
    """Lynq's ``status.rollout`` after this sync's commit."""
    total = len(nodes.current) + len(nodes.pending)
    updated = len(nodes.current) + len(release)
    updating += len(release)
    ready = len(nodes.ready & set(nodes.current))
    if halted:
        phase = FAILED
        message = (
            f"Halted: a node was not Ready within {nodes.settings.deadline}s; "
            f"{updated}/{total} nodes updated ({updating} updating, {ready} ready)."
        )
    elif total == 0:
        phase, message = IDLE, "No nodes use this form."
    elif ready == total:
        phase, message = COMPLETE, f"All {total} nodes updated and ready."
    elif updated == 0:
        phase, message = IDLE, "Waiting for nodes to be updated."
    else:
        phase = IN_PROGRESS
        message = f"Updating: {updated}/{total} nodes updated ({updating} updating, {ready} ready)."
    status: dict[str, Any] = {
        "phase": phase,
        "totalNodes": total,
        "updatedNodes": updated,
        "updatingNodes": updating,
        "readyUpdatedNodes": ready,
        "message": message,
    }
    if record is not None:
        status["startTime"] = record.started
    return status


def progress_percent(status: Mapping[str, Any]) -> float:
    """Lynq's ``lynqform_rollout_progress``: ready updated nodes per node, in percent."""
    total = int(status.get("totalNodes") or 0)
    return 100.0 * int(status.get("readyUpdatedNodes") or 0) / total if total else 0.0


def live_ready(live: Mapping[str, Any], inventory: Mapping[str, str]) -> bool:
    """True when a listed LynqNode is Ready for exactly ``inventory`` (id -> content hash):
    the engine applied the committed LynqNode (same ids and hashes in its spec), the reporter
    observed that generation and judged it Ready. A node the engine has not applied yet still
    shows its previous content, so it is not counted Ready for the new one."""
    meta = live.get("metadata") or {}
    spec = live.get("spec") or {}
    status = live.get("status") or {}
    if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
        return False
    if not isinstance(status, Mapping) or status.get("observedGeneration") != meta.get(
        "generation"
    ):
        return False
    applied: dict[str, str] = {}
    for entry in spec.get("resources") or []:
        if isinstance(entry, Mapping):
            applied[str(entry.get("id"))] = str(entry.get("hash"))
    if applied != dict(inventory):
        return False
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
