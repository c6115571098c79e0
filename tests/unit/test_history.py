"""core.history: bridge commit messages in, a tenant's entries out (no git needed).

The messages are made by ``core.messages.commit_message``, the function the sync commits with.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lynq_bridge.core.history import (
    Commit,
    Query,
    entries,
    parse_log,
    parse_since,
    to_json,
    to_text,
)
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


# ------------------------------------------------------- mutation testing (issue 11)


def test_parse_log_replaces_invalid_utf8_and_reads_a_last_record_without_its_nul() -> None:
    out = b"a" * 40 + b"\x002025-01-01T00:00:00+00:00\x00caf\xe9\n\x00"
    out += b"b" * 40 + b"\x002025-01-02T00:00:00+00:00\x00last"
    assert [c.message for c in parse_log(out)] == ["caf\ufffd\n", "last"]


def test_entries_carry_the_commit_the_hub_the_uid_and_form_the_body_shows() -> None:
    acme = node("acme")
    added = commit(1, HubPlan(added=[acme], nodes={"acme-web": acme}), day=2)
    for query in (Query(), Query(node="acme-web"), Query(hub="default/tenants")):
        (found,) = entries([added], query)
        assert (found.commit, found.date, found.hub) == (added.sha, added.date, "default/tenants")
        assert (found.uid, found.form, found.form_revision, found.snapshot) == (
            "acme",
            "web",
            "rev1",
            "snap1",
        )
    assert entries([added], Query(hub="other/tenants")) == []


def test_a_commit_without_revision_or_snapshot_trailers_has_empty_ones() -> None:
    bare = Commit(
        "d" * 40, "2025-01-01T00:00:00+00:00", "x\n\nLynq-Hub: h/t\nLynq-Nodes-Added: a-web\n"
    )
    (found,) = entries([bare], Query())
    assert (found.form_revision, found.snapshot, found.uid) == ("", "", None)


def test_updated_resources_are_listed_and_an_unparsable_body_line_is_skipped() -> None:
    acme, bravo = node("acme"), node("bravo")
    message = commit_message(
        HubPlan(
            updated={"acme-web": ["app", "svc"], "bravo-web": ["db"]},
            nodes={"acme-web": acme, "bravo-web": bravo},
        ),
        STAMP,
        [],
    ).replace("Updated:\n", "Updated:\n  - not a node line\n")
    updated = Commit("e" * 40, "2025-01-01T00:00:00+00:00", message)
    assert [(e.node, e.resources) for e in entries([updated], Query())] == [
        ("acme-web", ("app", "svc")),
        ("bravo-web", ("db",)),
    ]


def test_a_body_line_whose_name_does_not_end_with_the_form_gives_the_quoted_uid() -> None:
    message = (
        'x\n\nAdded:\n  - odd-name (uid "acme", form web)\n\n'
        "Lynq-Hub: default/tenants\nLynq-Nodes-Added: odd-name\n"
    )
    (found,) = entries([Commit("f" * 40, "2025-01-01T00:00:00+00:00", message)], Query())
    assert (found.uid, found.form) == ("acme", "web")


def test_an_update_beyond_the_body_limit_has_no_resources() -> None:
    many = [node(f"{i:03x}") for i in range(BODY_LIMIT + 5)]
    updated = commit(
        1, HubPlan(updated={n.name: ["app"] for n in many}, nodes={n.name: n for n in many})
    )
    (found,) = entries([updated], Query(node=many[-1].name))
    assert (found.action, found.resources) == ("updated", ())


def test_a_render_error_is_kept_whole_and_listed_after_the_commits_other_entries() -> None:
    acme = node("acme")
    error = 'node acme-web: failed to render resource "app": boom'
    both = commit(1, HubPlan(added=[acme], nodes={"acme-web": acme}), (error,))
    assert [(e.action, e.node, e.error) for e in entries([both], Query(uid="acme"))] == [
        ("added", "acme-web", None),
        ("error", "acme-web", error),
    ]


def test_an_unfiltered_query_lists_errors_that_name_no_known_node() -> None:
    error = 'row with uid "zz" of hub tenants cannot form a node'
    (found,) = entries([commit(1, HubPlan(), (error,))], Query())
    assert (found.action, found.node, found.uid, found.error) == ("error", "", None, error)


def test_a_node_query_finds_errors_about_a_node_never_shown_in_a_body() -> None:
    error = 'node zzz-web: failed to render resource "app": boom'
    (found,) = entries([commit(1, HubPlan(), (error,))], Query(node="zzz-web"))
    assert (found.action, found.node, found.error) == ("error", "zzz-web", error)


def test_render_error_mentions_need_a_whole_name_on_both_sides() -> None:
    eu = node("eu")
    added = commit(1, HubPlan(added=[eu], nodes={"eu-web": eu}))
    for text in ("node beu-web: boom", "node eu-webx: boom", "node eu-web-2-web: boom"):
        failed = commit(2, HubPlan(), (text,))
        assert [e.action for e in entries(history(added, failed), Query(node="eu-web"))] == [
            "added"
        ], text
    both = commit(2, HubPlan(), ("nodes beu-web and eu-webx and eu-web: boom",))
    found = entries(history(added, both), Query(node="eu-web"))
    assert [e.action for e in found] == ["added", "error"]


def test_since_includes_a_commit_at_that_very_moment_and_unreadable_dates() -> None:
    acme = node("acme")
    at = commit(1, HubPlan(added=[acme], nodes={"acme-web": acme}), day=3)
    odd = Commit("9" * 40, "not a date", at.message)
    since = parse_since("2025-01-03T00:00:00+00:00")
    assert [e.commit for e in entries([odd, at], Query(since=since))] == [at.sha, odd.sha]
    assert parse_since("2025-01-03T02:00:00+02:00") == datetime(2025, 1, 3, tzinfo=UTC)


def test_text_shows_resources_unknown_uids_and_missing_revisions() -> None:
    acme = node("acme")
    updated = commit(1, HubPlan(updated={"acme-web": ["app", "svc"]}, nodes={"acme-web": acme}))
    bare = Commit(
        "d" * 40, "2025-01-02T00:00:00+00:00", "x\n\nLynq-Hub: h/t\nLynq-Nodes-Removed: a-web\n"
    )
    text = to_text([*entries([updated], Query()), *entries([bare], Query())])
    assert text == (
        "2025-01-01T00:00:00+00:00 000000000000 default/tenants updated acme-web "
        '(uid "acme", form web) rev rev1 snapshot snap1: app, svc\n'
        "2025-01-02T00:00:00+00:00 dddddddddddd h/t removed a-web (uid unknown, form ?) "
        "rev ? snapshot ?\n"
    )


def test_json_has_the_stable_keys_of_every_entry() -> None:
    acme = node("acme")
    updated = commit(1, HubPlan(updated={"acme-web": ["app"]}, nodes={"acme-web": acme}))
    assert json.loads(to_json(entries([updated], Query()))) == [
        {
            "commit": updated.sha,
            "date": "2025-01-01T00:00:00+00:00",
            "hub": "default/tenants",
            "action": "updated",
            "node": "acme-web",
            "uid": "acme",
            "form": "web",
            "formRevision": "rev1",
            "snapshot": "snap1",
            "resources": ["app"],
            "error": None,
        }
    ]
    assert to_json([]) == "[]\n"


def test_a_uid_the_body_cut_short_is_learnt_whole_from_the_node_name() -> None:
    long = node("u" * 150)
    added = commit(1, HubPlan(added=[long], nodes={long.name: long}))
    assert "…(+30 characters)" in added.message
    (found,) = entries([added], Query(node=long.name))
    assert found.uid == "u" * 150


def test_a_uid_does_not_claim_a_node_the_body_shows_with_another_uid() -> None:
    # acme-eu-web is uid acme-eu's (form web); a form eu-web exists for another uid, so the
    # name alone would also read as uid acme, form eu-web.
    nodes = [node("acme-eu"), node("bravo", "eu-web"), node("acme", "api")]
    added = commit(1, HubPlan(added=nodes, nodes={n.name: n for n in nodes}))
    failed = commit(2, HubPlan(), ("node acme-eu-web: boom",))
    assert [e.node for e in entries(history(added, failed), Query(uid="acme"))] == ["acme-api"]


def test_an_error_quoting_a_long_uid_up_to_the_node_name_limit_is_the_uids() -> None:
    from lynq_bridge.core.naming import MAX_NODE_NAME
    from lynq_bridge.core.paths import quote

    uid = "u" * 150
    error = f"row with uid {quote(uid, MAX_NODE_NAME)} of hub tenants cannot form a node"
    (found,) = entries([commit(1, HubPlan(), (error,))], Query(uid=uid))
    assert (found.action, found.error) == ("error", error)


def test_json_is_indented_by_two_and_text_ends_with_the_error() -> None:
    error = 'row with uid "zz" of hub tenants cannot form a node'
    found = entries([commit(1, HubPlan(), (error,))], Query())
    assert to_json(found).startswith('[\n  {\n    "commit": ')
    assert to_text(found).endswith(f": {error}\n")
