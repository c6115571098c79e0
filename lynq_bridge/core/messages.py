"""Commit messages: a subject that summarises, a body for humans, trailers for queries.

Git history is the audit log, so the trailers make it queryable::

    git log --format=%H --grep='^Lynq-Nodes-Removed:.*\\bacme-web\\b'

The bridge also reads its own trailers back: when the last commit that touched a hub records
the same form revision and row snapshot without errors, nothing can have changed and the sync
skips rendering (see ``sync.py``).

Row values are data here too: every body line is made one line (``paths.one_line``) and uids are
quoted (``paths.quote``), so no value can add a line, forge a trailer or put a NUL into the
commit object. Trailers carry only node names (DNS labels), counts and hashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lynq_bridge.core.paths import one_line, quote
from lynq_bridge.core.planning import HubPlan

BODY_LIMIT = 200  # body lines per section; the trailers always carry the full lists

TRAILER_HUB = "Lynq-Hub"
TRAILER_ADDED = "Lynq-Nodes-Added"
TRAILER_UPDATED = "Lynq-Nodes-Updated"
TRAILER_REMOVED = "Lynq-Nodes-Removed"
TRAILER_HELD = "Lynq-Nodes-Held"
TRAILER_FORMS = "Lynq-Form-Revision"
TRAILER_SNAPSHOT = "Lynq-Snapshot"
TRAILER_ERRORS = "Lynq-Render-Errors"
TRAILER_NODE_COUNT = "Lynq-Node-Count"  # the hub's nodes after the commit
# Progressive rollouts (core.rollout): forms whose rollout is still open after the commit, nodes
# held back at their previous render, forms halted or completed by the commit, a person's resume.
TRAILER_ROLLOUT_OPEN = "Lynq-Rollout-Open"
TRAILER_ROLLOUT_HELD = "Lynq-Rollout-Held"
TRAILER_ROLLOUT_HALTED = "Lynq-Rollout-Halted"
TRAILER_ROLLOUT_COMPLETE = "Lynq-Rollout-Complete"
TRAILER_ROLLOUT_RESUMED = "Lynq-Rollout-Resumed"


@dataclass(frozen=True)
class Stamp:
    """What a sync's output depends on: the hub, its form revision and the rows read."""

    hub: str  # namespace/name
    form_revision: str
    snapshot: str


def _section(title: str, lines: list[str]) -> list[str]:
    if not lines:
        return []
    shown = [one_line(line) for line in lines[:BODY_LIMIT]]
    if len(lines) > BODY_LIMIT:
        shown.append(f"  … and {len(lines) - BODY_LIMIT} more (see the trailers)")
    return [f"{title}:", *shown, ""]


def commit_message(
    plan: HubPlan,
    stamp: Stamp,
    errors: list[str],
    *,
    node_count: int | None = None,
    rollout: tuple[list[str], Mapping[str, str]] = ([], {}),
) -> str:
    """The full commit message of one hub sync; ``node_count`` is the hub's nodes after it;
    ``rollout``: body lines and trailers of the hub's progressive rollouts (none: no trailer)."""
    counts = [
        f"{label} {n}"
        for label, n in (
            ("add", len(plan.added)),
            ("update", len(plan.updated)),
            ("remove", len(plan.removed)),
        )
        if n
    ]
    if counts:
        subject = f"lynq: {stamp.hub}: {', '.join(counts)} node(s)"
    elif rollout[1]:  # a rollout's state alone changed (halted, complete)
        subject = f"lynq: {stamp.hub}: rollout state, no node changed"
    else:  # only hub files changed (e.g. the render-input index after an upgrade)
        subject = f"lynq: {stamp.hub}: refresh hub files, no node changed"
    nodes = plan.nodes
    body: list[str] = []
    body += _section(
        "Added", [f"  - {n.name} (uid {quote(n.uid)}, form {n.form})" for n in plan.added]
    )
    body += _section(
        "Updated",
        [
            f"  - {name} (uid {quote(nodes[name].uid)}, form {nodes[name].form}): "
            f"{', '.join(ids) or 'node metadata'}"
            for name, ids in sorted(plan.updated.items())
        ],
    )
    body += _section("Removed", [f"  - {name}" for name in plan.removed])
    body += _section(
        "Held by the deletion guard (rerun with --allow-mass-delete to remove)",
        [f"  - {name}" for name in plan.held],
    )
    body += _section("Render errors (previous files kept)", [f"  - {e}" for e in errors])
    body += _section("Rollout", rollout[0])
    trailers = {
        TRAILER_HUB: stamp.hub,
        TRAILER_ADDED: ", ".join(n.name for n in plan.added),
        TRAILER_UPDATED: ", ".join(sorted(plan.updated)),
        TRAILER_REMOVED: ", ".join(plan.removed),
        TRAILER_HELD: ", ".join(plan.held),
        TRAILER_FORMS: stamp.form_revision,
        TRAILER_SNAPSHOT: stamp.snapshot,
        TRAILER_ERRORS: str(len(errors)),
    }
    if node_count is not None:
        trailers[TRAILER_NODE_COUNT] = str(node_count)
    trailers.update(rollout[1])
    # Trailers hold validated names, hashes and counts: escaped, never cut, so that they list
    # every node however many a commit touches (``lynq-bridge history`` reads them).
    texts = [f"{k}: {v}" if v else f"{k}:" for k, v in trailers.items()]
    lines = [one_line(text, limit=len(text)) for text in texts]
    return "\n".join([subject, "", *body, *lines]) + "\n"


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` trailers of the last paragraph of a commit message."""
    paragraphs = message.strip().split("\n\n")
    out: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(":")
        if sep and key.startswith("Lynq-"):
            out[key] = value.strip()
    return out


def settled_node_count(message: str) -> int | None:
    """The ``Lynq-Node-Count`` of a commit message; None for a commit made before it existed."""
    text = parse_trailers(message).get(TRAILER_NODE_COUNT, "")
    return int(text) if text.isascii() and text.isdigit() else None


def revision_changed(message: str, stamp: Stamp) -> bool:
    """True when ``message`` is a bridge commit made with another form revision (the forms or
    the bridge's version changed since): the render-input index then goes stale as a whole."""
    revision = parse_trailers(message).get(TRAILER_FORMS)
    return revision is not None and revision != stamp.form_revision


def is_settled(message: str, stamp: Stamp) -> bool:
    """True when ``message`` is our commit for exactly ``stamp`` with nothing left pending."""
    trailers: Mapping[str, str] = parse_trailers(message)
    return (
        trailers.get(TRAILER_HUB) == stamp.hub
        and trailers.get(TRAILER_FORMS) == stamp.form_revision
        and trailers.get(TRAILER_SNAPSHOT) == stamp.snapshot
        and trailers.get(TRAILER_ERRORS) == "0"
        and not trailers.get(TRAILER_HELD)
        and not trailers.get(TRAILER_ROLLOUT_OPEN)  # readiness decides the next step
    )
