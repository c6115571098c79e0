"""The rows of a hub's status table: one per uid, from its LynqNodes' statuses. Pure.

A uid has one LynqNode per form. Its row aggregates them: ``ready`` only when every node is
Ready; ``reason`` and ``message`` are those of the first node (by name) that is not Ready, or
of the first node when all are; ``transition_at`` is the latest ``lastTransitionTime`` of the
nodes' Ready conditions (so it moves when the aggregate can have flipped, and survives a
reporter restart). ``commit`` is the newest of the commits that last added or updated the uid's
nodes (``NodeCommits``, learnt from the trailers ``Lynq-Nodes-Added``/``-Updated``:
``node_commits``); ``None`` when no node's commit is known. A node without a Ready condition yet
counts as not ready.

``plan`` compares the rows last written with the current ones: only rows whose content
changed are upserted (``observed_at`` is the time of that write, not part of the content),
and uids with no node any more are deleted (the row was deactivated or removed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lynq_bridge.core.history import Commit
from lynq_bridge.core.messages import TRAILER_ADDED, TRAILER_HUB, TRAILER_UPDATED, parse_trailers

MAX_REASON = 128  # characters kept of a reason
MAX_MESSAGE = 1024  # characters kept of a message; longer ones end with "..."
MAX_COMMIT = 64  # a SHA-256 object name
NOT_OBSERVED = "NotObserved"  # reason of a node the reporter has not written a status to yet


@dataclass(frozen=True)
class StatusRow:
    """What the table holds for one uid (``observed_at`` is added when it is written)."""

    uid: str
    ready: bool
    reason: str
    message: str
    commit: str | None
    transition_at: dt.datetime | None  # UTC, naive (the table stores UTC)
    nodes: int
    ready_nodes: int


# node name -> (rank, commit): the commit that last added or updated the node; a higher rank is
# a newer commit (ranks compare the nodes of one uid).
NodeCommits = Mapping[str, tuple[int, str]]


def node_commits(
    commits: Sequence[Commit], *, hub: str, first_rank: int = 0
) -> dict[str, tuple[int, str]]:
    """Each node's last commit that added or updated it, from the trailers of ``commits`` (as
    ``git log`` lists them, newest first; ``core.history.parse_log``); only commits of ``hub``
    (``namespace/name``) count. Ranks run from ``first_rank`` (the oldest) upwards. The
    trailers list every node (``core.messages``): the body, cut at its limit, is not read."""
    found: dict[str, tuple[int, str]] = {}
    rank = first_rank + len(commits)
    for commit in commits:
        rank -= 1
        trailers = parse_trailers(commit.message)
        if trailers.get(TRAILER_HUB) != hub:
            continue  # a person's commit, or another hub's
        for trailer in (TRAILER_ADDED, TRAILER_UPDATED):
            for listed in trailers.get(trailer, "").split(","):
                name = listed.strip()
                if name and name not in found:  # a newer commit was seen first
                    found[name] = (rank, commit.sha)
    return found


@dataclass(frozen=True)
class Plan:
    upserts: tuple[StatusRow, ...]
    deletes: tuple[str, ...]  # uids


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class _NodeState:
    name: str
    ready: bool
    reason: str
    message: str
    commit: tuple[int, str] | None
    transition_at: dt.datetime | None


def _node_state(raw: Mapping[str, object], commits: NodeCommits) -> _NodeState:
    meta = _mapping(raw.get("metadata"))
    name = str(meta.get("name", ""))
    ready = _mapping({})
    conditions = _mapping(raw.get("status")).get("conditions")
    for condition in conditions if isinstance(conditions, list) else []:
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            ready = condition
    return _NodeState(
        name=name,
        ready=ready.get("status") == "True",
        reason=str(ready.get("reason") or NOT_OBSERVED),
        message=str(ready.get("message") or ""),
        commit=commits.get(name),
        transition_at=_parse_time(ready.get("lastTransitionTime")),
    )


def _uid_of(raw: Mapping[str, object]) -> str | None:
    uid = _mapping(raw.get("spec")).get("uid")
    if not isinstance(uid, str):
        uid = _mapping(_mapping(raw.get("metadata")).get("labels")).get("lynq.sh/uid")
    return uid if isinstance(uid, str) and uid else None


def hub_nodes(
    nodes: Iterable[Mapping[str, object]], *, namespace: str, hub: str
) -> list[Mapping[str, object]]:
    """The LynqNodes of hub ``namespace``/``hub`` (by ``spec.hubId``, else the label)."""
    mine = []
    for raw in nodes:
        meta = _mapping(raw.get("metadata"))
        owner = _mapping(raw.get("spec")).get("hubId") or _mapping(meta.get("labels")).get(
            "lynq.sh/hub"
        )
        if meta.get("namespace") == namespace and owner == hub:
            mine.append(raw)
    return mine


def status_rows(
    nodes: Iterable[Mapping[str, object]], *, commits: NodeCommits | None = None
) -> dict[str, StatusRow]:
    """One row per uid of ``nodes`` (all of one hub), keyed by uid; ``commits``: see
    ``NodeCommits`` (none known: every row's commit is ``None``)."""
    by_uid: dict[str, list[_NodeState]] = {}
    for raw in nodes:
        uid = _uid_of(raw)
        if uid is not None:
            by_uid.setdefault(uid, []).append(_node_state(raw, commits or {}))
    rows = {}
    for uid, states in by_uid.items():
        states.sort(key=lambda s: s.name)
        shown = next((s for s in states if not s.ready), states[0])
        times = [s.transition_at for s in states if s.transition_at is not None]
        known = [s.commit for s in states if s.commit is not None]
        rows[uid] = StatusRow(
            uid=uid,
            ready=all(s.ready for s in states),
            reason=_clip(shown.reason, MAX_REASON),
            message=_clip(shown.message, MAX_MESSAGE),
            commit=_clip(max(known)[1], MAX_COMMIT) if known else None,
            transition_at=max(times) if times else None,
            nodes=len(states),
            ready_nodes=sum(s.ready for s in states),
        )
    return rows


def plan(previous: Mapping[str, StatusRow], current: Mapping[str, StatusRow]) -> Plan:
    """The upserts (changed or new rows, by uid) and deletes (uids gone) that bring the table
    from ``previous`` (what was last written) to ``current``."""
    upserts = tuple(row for uid, row in sorted(current.items()) if previous.get(uid) != row)
    deletes = tuple(sorted(uid for uid in previous if uid not in current))
    return Plan(upserts, deletes)
