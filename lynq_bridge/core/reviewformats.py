"""What a form change would do, per hub, as markdown (a pull-request comment) or JSON.

``reviewing`` compares two rendered trees and prints the plain-text diff; this module groups that
comparison by hub and adds what a reviewer decides on: objects per kind, the deletion guard's
verdict for the merge, the rollout plan of forms that set ``maxSkew`` and the policy gaps
(``validate`` warnings). Kept apart so the text format stays as it was.

The markdown fits one GitHub comment (65,536 characters): the summary comes first, then one
collapsed diff per file until ``MARKDOWN_LIMIT``, then a count of the files not shown. Every
row-derived string (node names, paths, kinds, messages) goes through ``md_text``, so a pipe,
backtick, ``<`` or newline cannot break the table or the HTML around it.

JSON schema (keys always present, lists sorted)::

    {"hubs": [{"hub": "<namespace>/<name>",
               "nodes": {"total": int, "added": [node], "changed": [node], "removed": [node]},
               "objects": [{"kind": str, "change": "added|changed|removed", "count": int}],
               "guard": {"verdict": "pass|hold", "removing": int, "existing": int,
                         "maxDeletePercent": int, "allowMassDelete": bool},
               "rollout": [{"form": str, "maxSkew": int, "nodes": int, "implemented": true}],
               "files": [{"path": str, "change": "added|changed|removed", "diff": str}]}],
     "warnings": [{"message": str, "new": bool}],
     "errors": [str]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lynq_bridge.core.paths import one_line
from lynq_bridge.core.planning import DeletionGuard
from lynq_bridge.core.reviewing import TreeDiff, diff_trees, unified_diff

MARKER = "<!-- lynq-bridge-diff -->"
MARKDOWN_LIMIT = 60_000  # GitHub's comment limit is 65,536 characters; room for the tail lines
FILE_DIFF_LIMIT = 8_000  # one file's diff in the markdown; larger ones are cut at a line
LIST_LIMIT = 50  # node names and warnings listed in the markdown summary
CHANGES = ("added", "changed", "removed")
_KIND = re.compile(rb"^kind: *(\S+)", re.MULTILINE)
_MD_SPECIAL = re.compile(r"[&<>|`*_\[\]\\#~!]")


@dataclass(frozen=True)
class HubSettings:
    """What the head revision of the config says about one hub."""

    hub: str  # <namespace>/<name>
    guard: DeletionGuard
    rollouts: tuple[tuple[str, int], ...] = ()  # (form name, maxSkew) of forms setting maxSkew


@dataclass
class HubReview:
    hub: str
    diff: TreeDiff
    guard: DeletionGuard
    removing: int
    existing: int
    holds: bool
    objects: dict[tuple[str, str], int]  # (kind, change) -> files
    rollout: list[tuple[str, int, int]]  # (form, maxSkew, changing nodes of the form)


@dataclass
class Review:
    base: Mapping[str, bytes]
    head: Mapping[str, bytes]
    hubs: list[HubReview] = field(default_factory=list)
    warnings: list[tuple[str, bool]] = field(default_factory=list)  # (message, new in head)
    errors: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        """Whether the deletion guard would hold removals after the merge (exit code 3)."""
        return any(h.holds for h in self.hubs)


def _hub_of(path: str) -> str:
    return "/".join(path.split("/", 2)[:2])


def _kind(content: bytes) -> str:
    match = _KIND.search(content)
    return match.group(1).decode(errors="replace").strip("'\"") if match else "(no kind)"


def _form_of(node: str, forms: Sequence[str]) -> str | None:
    """The form whose name ends the node name ``{uid}-{form}`` (the longest one matching)."""
    matching = [f for f in forms if node.endswith(f"-{f}")]
    return max(matching, key=len) if matching else None


def review_trees(
    base: Mapping[str, bytes],
    head: Mapping[str, bytes],
    *,
    hubs: Sequence[HubSettings],
    default_guard: DeletionGuard,
    warnings: Sequence[tuple[str, bool]] = (),
    errors: Sequence[str] = (),
) -> Review:
    """Group the difference of two rendered trees by hub. Hubs found only in the trees (a hub
    removed from the config) get ``default_guard`` and no rollout."""
    settings = {h.hub: h for h in hubs}
    keys = sorted({*settings, *map(_hub_of, base), *map(_hub_of, head)})
    review = Review(base=base, head=head, warnings=list(warnings), errors=list(errors))
    for key in keys:
        prefix = f"{key}/"
        diff = diff_trees(
            {p: c for p, c in base.items() if p.startswith(prefix)},
            {p: c for p, c in head.items() if p.startswith(prefix)},
        )
        if diff.empty and key not in settings:
            continue
        setting = settings.get(key) or HubSettings(hub=key, guard=default_guard)
        existing = diff.nodes_total - len(diff.nodes_added)
        objects: dict[tuple[str, str], int] = {}
        for change, paths, tree in (
            ("added", diff.added, head),
            ("changed", diff.changed, head),
            ("removed", diff.removed, base),
        ):
            for path in paths:
                k = (_kind(tree[path]), change)
                objects[k] = objects.get(k, 0) + 1
        forms = [form for form, _ in setting.rollouts]
        touched = [*diff.nodes_added, *diff.nodes_changed, *diff.nodes_removed]
        rollout = [
            (
                form,
                skew,
                sum(1 for n in touched if _form_of(n.rsplit("/", 1)[-1], forms) == form),
            )
            for form, skew in setting.rollouts
        ]
        review.hubs.append(
            HubReview(
                hub=key,
                diff=diff,
                guard=setting.guard,
                removing=len(diff.nodes_removed),
                existing=existing,
                holds=setting.guard.holds(len(diff.nodes_removed), existing),
                objects=dict(sorted(objects.items())),
                rollout=rollout,
            )
        )
    return review


def rollout_sentence(skew: int, nodes: int) -> str:
    """What a form's ``maxSkew`` does after the merge (see ``core.rollout``)."""
    return (
        f"maxSkew {skew}: {nodes} node(s) change, at most {skew} updating at a time; a node "
        "whose only change is the form waits until the ones before it are Ready (new rows and "
        "row changes do not)"
    )


def guard_sentence(hub: HubReview) -> str:
    if not hub.removing:
        return "passes: no node removed"
    limit = f"maxDeletePercent {hub.guard.max_delete_percent}"
    if hub.holds:
        return (
            f"would hold {hub.removing} of {hub.existing} node removal(s) ({limit}): the sync "
            "keeps them and exits 3 until rerun with --allow-mass-delete"
        )
    why = "allowMassDelete" if hub.guard.allow_mass_delete else limit
    return f"passes: removes {hub.removing} of {hub.existing} node(s) ({why})"


# -- JSON ------------------------------------------------------------------------------------


def _node(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _files(diff: TreeDiff) -> list[tuple[str, str]]:
    changes = {p: c for c in CHANGES for p in getattr(diff, c)}
    return sorted(changes.items())


def format_json(review: Review) -> str:
    """The review as one JSON document (schema in the module docstring), keys sorted."""
    hubs = []
    for hub in review.hubs:
        d = hub.diff
        hubs.append(
            {
                "hub": hub.hub,
                "nodes": {
                    "total": d.nodes_total,
                    "added": [_node(n) for n in d.nodes_added],
                    "changed": [_node(n) for n in d.nodes_changed],
                    "removed": [_node(n) for n in d.nodes_removed],
                },
                "objects": [
                    {"kind": kind, "change": change, "count": count}
                    for (kind, change), count in hub.objects.items()
                ],
                "guard": {
                    "verdict": "hold" if hub.holds else "pass",
                    "removing": hub.removing,
                    "existing": hub.existing,
                    "maxDeletePercent": hub.guard.max_delete_percent,
                    "allowMassDelete": hub.guard.allow_mass_delete,
                },
                "rollout": [
                    {"form": form, "maxSkew": skew, "nodes": nodes, "implemented": True}
                    for form, skew, nodes in hub.rollout
                ],
                "files": [
                    {
                        "path": path,
                        "change": change,
                        "diff": unified_diff(path, review.base, review.head),
                    }
                    for path, change in _files(d)
                ],
            }
        )
    document = {
        "hubs": hubs,
        "warnings": [{"message": m, "new": new} for m, new in review.warnings],
        "errors": review.errors,
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- markdown --------------------------------------------------------------------------------


def md_text(text: str) -> str:
    """``text`` safe inside a markdown table cell, list item or HTML ``<summary>``: one line,
    and every character that markdown or HTML would interpret as a numeric entity."""
    return _MD_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", one_line(text))


def fence_for(content: str) -> str:
    """A backtick fence longer than any backtick run inside ``content``."""
    runs = [len(r) for r in re.findall(r"`+", content)]
    return "`" * max(3, max(runs, default=0) + 1)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    kept = text[:limit].rsplit("\n", 1)[0]
    # Lines not shown: every line end after the last one shown (``kept`` lacks its own).
    more = text.count("\n") - kept.count("\n") - text.endswith("\n")
    return f"{kept}\n… {more} more line(s) not shown\n"


def _names(title: str, nodes: list[str]) -> list[str]:
    if not nodes:
        return []
    shown = ", ".join(md_text(_node(n)) for n in nodes[:LIST_LIMIT])
    more = f", … {len(nodes) - LIST_LIMIT} more" if len(nodes) > LIST_LIMIT else ""
    return [f"- {title} ({len(nodes)}): {shown}{more}"]


def _summary(review: Review, *, base: str, head: str) -> list[str]:
    hubs = review.hubs
    nodes = sum(len(h.diff.nodes_changed) for h in hubs)
    added = sum(len(h.diff.nodes_added) for h in hubs)
    removed = sum(len(h.diff.nodes_removed) for h in hubs)
    total = sum(h.diff.nodes_total for h in hubs)
    lines = [
        MARKER,
        f"### lynq-bridge diff: {md_text(base)} → {md_text(head)}",
        "",
        f"**{nodes} of {total} node(s) change, {added} added, {removed} removed** "
        f"in {len(hubs)} hub(s).",
        "",
        "| hub | nodes changed | added | removed | nodes | deletion guard |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for h in hubs:
        d = h.diff
        verdict = "**HOLD**" if h.holds else "pass"
        lines.append(
            f"| {md_text(h.hub)} | {len(d.nodes_changed)} | {len(d.nodes_added)} | "
            f"{len(d.nodes_removed)} | {d.nodes_total} | {verdict} |"
        )
    lines += ["", "**Objects per kind**", "", "| hub | kind | added | changed | removed |"]
    lines.append("|---|---|---:|---:|---:|")
    for h in hubs:
        for kind in sorted({k for k, _ in h.objects}):
            counts = " | ".join(str(h.objects.get((kind, c), 0)) for c in CHANGES)
            lines.append(f"| {md_text(h.hub)} | {md_text(kind)} | {counts} |")
    lines += ["", "**Deletion guard**", ""]
    lines += [f"- {md_text(h.hub)}: {md_text(guard_sentence(h))}" for h in hubs]
    rollouts = [(h, r) for h in hubs for r in h.rollout]
    if rollouts:
        lines += ["", "**Rollout plan**", ""]
        lines += [
            f"- {md_text(h.hub)}, form {md_text(form)}: {md_text(rollout_sentence(skew, n))}"
            for h, (form, skew, n) in rollouts
        ]
    if review.warnings:
        lines += ["", f"**Policy gaps** (`lynq-bridge validate`: {len(review.warnings)})", ""]
        for message, new in review.warnings[:LIST_LIMIT]:
            lines.append(f"- {'**new** ' if new else ''}{md_text(message)}")
        if len(review.warnings) > LIST_LIMIT:
            lines.append(f"- … {len(review.warnings) - LIST_LIMIT} more")
    if review.errors:
        lines += ["", f"**Render errors** ({len(review.errors)})", ""]
        lines += [f"- {md_text(e)}" for e in review.errors[:LIST_LIMIT]]
        if len(review.errors) > LIST_LIMIT:
            lines.append(f"- … {len(review.errors) - LIST_LIMIT} more")
    node_lines = [
        line
        for h in hubs
        for title, nodes in (
            (f"{h.hub} added", h.diff.nodes_added),
            (f"{h.hub} removed", h.diff.nodes_removed),
            (f"{h.hub} changed", h.diff.nodes_changed),
        )
        for line in _names(md_text(title), nodes)
    ]
    if node_lines:
        lines += [
            "",
            "<details><summary>Nodes affected</summary>",
            "",
            *node_lines,
            "",
            "</details>",
        ]
    return lines


def format_markdown(
    review: Review, *, base: str, head: str, limit: int = MARKDOWN_LIMIT, context: int = 3
) -> str:
    """The review as a pull-request comment of at most about ``limit`` characters."""
    out = "\n".join(_summary(review, base=base, head=head)) + "\n"
    files = [(p, c) for h in review.hubs for p, c in _files(h.diff)]
    if files:
        out += "\n**Files**\n\n"
    shown = 0
    for path, change in files:
        diff = _cut(unified_diff(path, review.base, review.head, context=context), FILE_DIFF_LIMIT)
        fence = fence_for(diff)
        block = (
            f"<details><summary>{md_text(path)} ({change})</summary>\n\n"
            f"{fence}diff\n{diff}{fence}\n\n</details>\n"
        )
        if len(out) + len(block) > limit:
            break
        out += block
        shown += 1
    rest = files[shown:]
    if rest:
        counts = ", ".join(
            f"{sum(1 for _, c in rest if c == change)} {change}"
            for change in CHANGES
            if any(c == change for _, c in rest)
        )
        out += (
            f"\n… {len(rest)} more files not shown ({counts}); "
            "run `lynq-bridge diff` locally for all of them.\n"
        )
    return out
