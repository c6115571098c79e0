"""The audit trail of a tenant, read from the bridge's commit messages alone.

Input is the output of one ``git log -z --format=%H%x00%aI%x00%B`` over a hub directory
(``parse_log``); output is one :class:`Entry` per node and commit: ``added``, ``updated`` (with
the resource ids the body names), ``removed``, ``held`` (by the deletion guard) and ``error`` (a
render error that names the node or the uid; the previous files were kept).

Which commits and nodes (see ``core.messages`` for the message format):

- The trailers ``Lynq-Nodes-Added/Updated/Removed/Held`` are the complete lists of node names,
  so they decide which nodes a commit touched. Commits without a ``Lynq-Hub`` trailer (a person's
  commit) are no bridge commits and are skipped.
- A node's uid and form come from the body lines ``  - name (uid "u", form f)`` of the Added and
  Updated sections. The body shows at most ``BODY_LIMIT`` lines per section and Removed/Held lines
  carry no uid, so the uid of a node is learnt from every commit of the hub's history
  (``node_owners``), not only from the commit at hand: a node is added (with its uid) before it
  is updated, held or removed.
- Only messages that contain the node name, or the uid (as node names and quoted uids show
  it), are parsed; so the uids and forms are learnt from those commits.
- ``--uid U`` selects the nodes whose learnt uid is ``U``. A node never shown with its uid (only
  when it was added among more than ``BODY_LIMIT`` nodes at once and never updated since) is
  matched by its name: ``{U}-{form}`` for a form name seen in the bodies of U's commits.
  Limit: two uids ``a`` and ``a-b`` with forms ``b-c`` and ``c`` would both claim such a node
  ``a-b-c``; the bridge refuses to render that name clash, so it can only arise across time.
- A render error is about node ``N`` when ``N`` appears in it as a whole name, and about uid
  ``U`` when it contains ``uid "U"`` (the way the renderer quotes uids). Errors beyond the body's
  ``BODY_LIMIT`` lines are not in the commit and cannot be listed.

Everything in a commit message is untrusted text (row values, or a forged hand-made commit):
names are kept only when they are usable path components, and the text format prints every
value through ``paths.one_line``/``paths.quote``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lynq_bridge.core.layout import is_node_dir
from lynq_bridge.core.messages import (
    TRAILER_ADDED,
    TRAILER_FORMS,
    TRAILER_HELD,
    TRAILER_HUB,
    TRAILER_REMOVED,
    TRAILER_SNAPSHOT,
    TRAILER_UPDATED,
    parse_trailers,
)
from lynq_bridge.core.naming import MAX_NODE_NAME
from lynq_bridge.core.paths import component_problem, one_line, quote

ACTIONS = ("added", "updated", "removed", "held", "error")
LOG_FORMAT = "%H%x00%aI%x00%B"  # with ``git log -z``: records and fields all end at a NUL

_TRAILER_OF_ACTION = {
    "added": TRAILER_ADDED,
    "updated": TRAILER_UPDATED,
    "removed": TRAILER_REMOVED,
    "held": TRAILER_HELD,
}
# "  - acme-web (uid "acme", form web)" and, in Updated, ": app, svc" after it.
_NODE_LINE = re.compile(
    r'  - (?P<name>[^ ]+) \(uid "(?P<uid>(?:[^"\\]|\\.)*)(?:…\(\+\d+ characters\))?", '
    r"form (?P<form>[^)]*)\)(?:: (?P<ids>.*))?"
)
_ERRORS_TITLE = "Render errors (previous files kept):"
_SECTIONS = {"Added:": "added", "Updated:": "updated", _ERRORS_TITLE: "error"}


@dataclass(frozen=True)
class Commit:
    """One commit of ``git log``: its id, author date (ISO 8601) and full message."""

    sha: str
    date: str
    message: str


@dataclass(frozen=True)
class Entry:
    """What one commit did to one node (or, for an ``error``, what it could not render)."""

    commit: str
    date: str
    hub: str
    action: str  # one of ACTIONS
    node: str  # "" for an error naming a uid that formed no node
    uid: str | None  # None when no commit of the history shows it
    form: str | None
    form_revision: str
    snapshot: str
    resources: tuple[str, ...] = ()  # the resource ids an update changed
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The entry with the stable keys of ``--format json``."""
        return {
            "commit": self.commit,
            "date": self.date,
            "hub": self.hub,
            "action": self.action,
            "node": self.node,
            "uid": self.uid,
            "form": self.form,
            "formRevision": self.form_revision,
            "snapshot": self.snapshot,
            "resources": list(self.resources),
            "error": self.error,
        }


@dataclass
class _Parsed:
    """The parts of one bridge commit message that history needs."""

    hub: str
    form_revision: str
    snapshot: str
    names: dict[str, list[str]]  # action -> node names, from the trailers
    shown: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def parse_log(output: bytes) -> list[Commit]:
    """The commits of ``git log -z --format=LOG_FORMAT`` output, in the order git gave them."""
    fields = output.decode("utf-8", errors="replace").split("\0")
    commits = []
    for i in range(0, len(fields) - 2, 3):
        sha, date, message = fields[i].strip("\n"), fields[i + 1], fields[i + 2]
        if sha:
            commits.append(Commit(sha, date, message))
    return commits


def _names(value: str) -> list[str]:
    """The node names of a trailer list; anything that is no node directory name is dropped."""
    names = (n.strip() for n in value.split(","))
    return [n for n in names if n and is_node_dir(n) and component_problem(n) is None]


def _parse(message: str) -> _Parsed | None:
    trailers = parse_trailers(message)
    hub = trailers.get(TRAILER_HUB)
    if not hub:
        return None
    parsed = _Parsed(
        hub=hub,
        form_revision=trailers.get(TRAILER_FORMS, ""),
        snapshot=trailers.get(TRAILER_SNAPSHOT, ""),
        names={a: _names(trailers.get(t, "")) for a, t in _TRAILER_OF_ACTION.items()},
    )
    section: str | None = None
    for line in message.split("\n"):
        if not line.startswith("  - "):
            section = _SECTIONS.get(line)
            continue
        if section == "error":
            parsed.errors.append(line[4:])
        elif section is not None:
            match = _NODE_LINE.fullmatch(line)
            if match is None:
                continue
            name, form = match["name"], match["form"]
            # The name is {uid}-{form}: exact even where the body cut a long uid short.
            uid = name.removesuffix(f"-{form}") if name.endswith(f"-{form}") else match["uid"]
            ids = tuple(i for i in (match["ids"] or "").split(", ") if i and i != "node metadata")
            parsed.shown[name] = (uid, form, ids)
    return parsed


@dataclass(frozen=True)
class Query:
    """What to list: one node, or every node of one uid (or everything); a hub; a start date."""

    uid: str | None = None
    node: str | None = None
    hub: str | None = None  # namespace/name
    since: datetime | None = None  # timezone-aware


def entries(commits: Sequence[Commit], query: Query) -> list[Entry]:
    """The entries of ``commits`` (as ``git log`` gives them, newest first) that match
    ``query``, oldest first."""
    needle = _needle(query)
    parsed = [
        (c, p)
        for c in reversed(commits)
        if needle in c.message and (p := _parse(c.message)) is not None
    ]
    if query.hub is not None:
        parsed = [(c, p) for c, p in parsed if p.hub == query.hub]
    matcher = _Matcher(query, [p for _c, p in parsed])
    out: list[Entry] = []
    for commit, p in parsed:
        if query.since is None or _after(commit.date, query.since):
            out += matcher.entries(commit, p)
    return out


def _needle(query: Query) -> str:
    """Text every message with an entry of ``query`` contains: the node's name, or the uid as
    node names and quoted uids show it (its first 100 characters); parsing only those messages
    makes a query on 10,000 commits twice as fast."""
    if query.node is not None:
        return query.node
    if query.uid is not None:
        return quote(query.uid[:100])[1:-1]
    return ""


class _Matcher:
    """Which nodes a query selects, with every node's uid and form learnt from the history."""

    def __init__(self, query: Query, parsed: Sequence[_Parsed]) -> None:
        self.query = query
        self.owners: dict[tuple[str, str], tuple[str, str]] = {}  # (hub, node) -> (uid, form)
        self.forms: set[str] = set()
        for p in parsed:
            for name, (uid, form, _ids) in p.shown.items():
                self.owners[(p.hub, name)] = (uid, form)
                self.forms.add(form)
        self.uid_mark = None if query.uid is None else f"uid {quote(query.uid, MAX_NODE_NAME)}"
        # Per hub, the names a render error is searched for.
        self.known: dict[str, set[str]] = {}
        for hub, name in self.owners:
            if self.wanted(hub, name):
                self.known.setdefault(hub, set()).add(name)
        if query.node is not None:
            for p in parsed:
                self.known.setdefault(p.hub, set()).add(query.node)

    def owner(self, hub: str, name: str) -> tuple[str | None, str | None]:
        known = self.owners.get((hub, name))
        if known is not None:
            return known
        uid = self.query.uid
        if uid is not None and name.startswith(f"{uid}-") and name[len(uid) + 1 :] in self.forms:
            return uid, name[len(uid) + 1 :]
        return None, None

    def wanted(self, hub: str, name: str) -> bool:
        if self.query.node is not None:
            return name == self.query.node
        if self.query.uid is not None:
            return self.owner(hub, name)[0] == self.query.uid
        return True

    def entries(self, commit: Commit, p: _Parsed) -> list[Entry]:
        def entry(action: str, name: str, **extra: Any) -> Entry:
            uid, form = self.owner(p.hub, name) if name else (self.query.uid, None)
            return Entry(
                commit=commit.sha,
                date=commit.date,
                hub=p.hub,
                action=action,
                node=name,
                uid=uid,
                form=form,
                form_revision=p.form_revision,
                snapshot=p.snapshot,
                **extra,
            )

        out = []
        for action in _TRAILER_OF_ACTION:
            for name in p.names[action]:
                if self.wanted(p.hub, name):
                    ids = p.shown.get(name, ("", "", ()))[2] if action == "updated" else ()
                    out.append(entry(action, name, resources=ids))
        unfiltered = self.query.uid is None and self.query.node is None
        for text in p.errors:
            named = sorted(n for n in self.known.get(p.hub, ()) if _mentions(text, n))
            if named:
                out += [entry("error", name, error=text) for name in named]
            elif unfiltered or (self.uid_mark is not None and self.uid_mark in text):
                out.append(entry("error", "", error=text))
        return out


def _mentions(text: str, name: str) -> bool:
    """Whether ``name`` occurs in ``text`` as a whole node name (not inside a longer one)."""
    for match in re.finditer(re.escape(name), text):
        before = text[match.start() - 1 : match.start()]
        after = text[match.end() : match.end() + 1]
        if before and re.fullmatch(r"[a-z0-9.-]", before):
            continue
        if after and re.fullmatch(r"[a-z0-9-]", after):
            continue
        return True
    return False


def _after(date: str, since: datetime) -> bool:
    try:
        return datetime.fromisoformat(date) >= since
    except ValueError:
        return True  # a date git wrote cannot be unreadable; if it is, show the entry


def parse_since(text: str) -> datetime | None:
    """``--since``: an ISO 8601 date or date-time (UTC unless it names a zone); None when
    unreadable (the caller refuses it, rather than letting git guess what it means)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def to_json(items: Iterable[Entry]) -> str:
    """``--format json``: one array of entries with stable keys, and a final newline."""
    return json.dumps([e.as_json() for e in items], indent=2) + "\n"


def to_text(items: Iterable[Entry]) -> str:
    """``--format text``: one line per entry, every value made one line."""
    lines = []
    for e in items:
        who = f"uid {quote(e.uid)}" if e.uid is not None else "uid unknown"
        what = f"{e.node or '-'} ({who}, form {e.form or '?'})"
        detail = ""
        if e.resources:
            detail = f": {', '.join(e.resources)}"
        elif e.error is not None:
            detail = f": {e.error}"
        lines.append(
            one_line(
                f"{e.date} {e.commit[:12]} {e.hub} {e.action} {what} "
                f"rev {e.form_revision or '?'} snapshot {e.snapshot or '?'}{detail}"
            )
        )
    return "".join(f"{line}\n" for line in lines)
