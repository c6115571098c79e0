"""core.history: bridge commit messages in, a tenant's entries out (no git needed).

The messages are made by ``core.messages.commit_message``, the function the sync commits with.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lynq_bridge.core.history import Commit, Query, entries, parse_log, parse_since, to_text
from lynq_bridge.core.messages import BODY_LIMIT, Stamp, commit_message
from lynq_bridge.core.planning import HubPlan
from lynq_bridge.core.rendering import NodeRender

STAMP = Stamp("default/tenants", "rev1", "snap1")


def node(uid: str, form: str = "web") -> NodeRender:
    return NodeRender(name=f"{uid}-{form}", uid=uid, form=form)


def commit(n: int, plan: HubPlan, errors: tuple[str, ...] = (), day: int = 1) -> Commit:
    stamp = Stamp(STAMP.hub, f"rev{n}", f"snap{n}")
    return Commit(
        f"{n:040x}", f"2025-01-{day:02d}T00:00:00+00:00", commit_message(plan, stamp, list(errors))
    )


def history(*commits: Commit) -> list[Commit]:
    return list(reversed(commits))  # git log: newest first


def test_parse_log_splits_nul_separated_records() -> None:
    out = b"a" * 40 + b"\x002025-01-01T00:00:00+00:00\x00subject\n\nbody\n\x00\n" + b"b" * 40
    out += b"\x002025-01-02T00:00:00+00:00\x00two\n\x00"
    parsed = parse_log(out)
    assert [(c.sha[0], c.date[:10], c.message) for c in parsed] == [
        ("a", "2025-01-01", "subject\n\nbody\n"),
        ("b", "2025-01-02", "two\n"),
    ]


def test_a_person_commit_without_hub_trailer_is_skipped() -> None:
    person = Commit("c" * 40, "2025-01-01T00:00:00+00:00", "fix acme-web by hand\n")
    assert entries([person], Query(node="acme-web")) == []


def test_uid_of_a_node_beyond_the_body_limit_is_learnt_from_a_later_update() -> None:
    many = [node(f"{i:03x}") for i in range(BODY_LIMIT + 5)]
    last = many[-1]
    added = commit(1, HubPlan(added=many, nodes={n.name: n for n in many}))
    assert f"({last.name} " not in added.message  # cut from the body, kept in the trailer
    updated = commit(2, HubPlan(updated={last.name: ["app"]}, nodes={last.name: last}))
    found = entries(history(added, updated), Query(uid=last.uid))
    assert [(e.commit[-1], e.action, e.uid) for e in found] == [
        ("1", "added", last.uid),
        ("2", "updated", last.uid),
    ]
    assert found[1].resources == ("app",)


def test_uid_of_a_node_never_shown_is_matched_by_name_and_a_known_form() -> None:
    many = [node(f"{i:03x}") for i in range(BODY_LIMIT + 5)]
    added = commit(1, HubPlan(added=many, nodes={n.name: n for n in many}))
    removed = commit(2, HubPlan(removed=[many[-1].name]))
    found = entries(history(added, removed), Query(uid=many[-1].uid))
    assert [(e.action, e.node, e.form) for e in found] == [
        ("added", many[-1].name, "web"),
        ("removed", many[-1].name, "web"),
    ]


def test_a_uid_does_not_claim_the_nodes_of_a_longer_uid() -> None:
    many = [node("acme"), *(node(f"{i:03x}") for i in range(BODY_LIMIT)), node("acme-eu")]
    added = commit(1, HubPlan(added=many, nodes={n.name: n for n in many}))
    assert '(uid "acme-eu"' not in added.message  # acme-eu-web: known by name only
    removed = commit(2, HubPlan(removed=["acme-eu-web"]))
    found = entries(history(added, removed), Query(uid="acme"))
    assert [(e.action, e.node) for e in found] == [("added", "acme-web")]


def test_render_error_names_the_node_as_a_whole_name_only() -> None:
    eu, acme_eu = node("eu"), node("acme-eu")
    added = commit(1, HubPlan(added=[eu, acme_eu], nodes={"eu-web": eu, "acme-eu-web": acme_eu}))
    failed = commit(2, HubPlan(), ('node acme-eu-web: failed to render resource "app": boom',))
    for query in (Query(node="eu-web"), Query(uid="eu")):
        assert entries(history(added, failed), query) == entries(history(added), query)
    found = entries(history(added, failed), Query(uid="acme-eu"))
    assert [(e.action, e.node) for e in found] == [
        ("added", "acme-eu-web"),
        ("error", "acme-eu-web"),
    ]
    assert found[1].error is not None and "boom" in found[1].error


def test_since_keeps_commits_from_that_date_on() -> None:
    acme = node("acme")
    first = commit(1, HubPlan(added=[acme], nodes={"acme-web": acme}), day=1)
    second = commit(2, HubPlan(updated={"acme-web": []}, nodes={"acme-web": acme}), day=5)
    since = parse_since("2025-01-03")
    assert since == datetime(2025, 1, 3, tzinfo=UTC)
    found = entries(history(first, second), Query(uid="acme", since=since))
    assert [(e.action, e.form_revision, e.snapshot, e.resources) for e in found] == [
        ("updated", "rev2", "snap2", ())
    ]
    assert parse_since("yesterday") is None


def test_forged_trailer_names_that_are_no_directory_names_are_dropped() -> None:
    forged = Commit(
        "d" * 40,
        "2025-01-01T00:00:00+00:00",
        "x\n\nLynq-Hub: default/tenants\nLynq-Nodes-Added: ../etc-web, a b-web, ok-web\n",
    )
    assert [e.node for e in entries([forged], Query())] == ["ok-web"]


def test_text_is_one_line_per_entry_with_values_escaped() -> None:
    failed = commit(1, HubPlan(), ('row with uid "a\\nb" of hub tenants cannot form a node',))
    found = entries([failed], Query(uid="a\nb"))
    assert len(found) == 1 and found[0].uid == "a\nb"
    text = to_text(found)
    assert text.count("\n") == 1
    assert 'error - (uid "a\\nb", form ?)' in text
