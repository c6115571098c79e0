"""Which status-table rows a hub's LynqNodes give, and which of them need writing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lynq_bridge.core import history, statusrows
from lynq_bridge.core.statusrows import plan, status_rows


def node(
    uid: str,
    form: str,
    *,
    ready: bool | None,
    reason: str = "Reconciled",
    message: str = "",
    at: str = "2025-01-01T00:00:00Z",
    hub: str = "tenants",
    namespace: str = "lynq",
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "metadata": {"name": f"{uid}-{form}", "namespace": namespace},
        "spec": {"uid": uid, "templateRef": form, "hubId": hub},
    }
    if ready is not None:
        condition = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": reason,
            "message": message,
            "lastTransitionTime": at,
        }
        raw["status"] = {"conditions": [condition]}
    return raw


def test_a_uid_is_ready_only_when_all_its_nodes_are() -> None:
    late = "2025-01-02T03:04:05Z"
    rows = status_rows(
        [
            node("acme", "web", ready=True, at="2025-01-01T00:00:00Z"),
            node("acme", "db", ready=False, reason="ResourcesNotReady", message="waiting", at=late),
        ]
    )
    row = rows["acme"]
    assert (row.ready, row.reason, row.message) == (False, "ResourcesNotReady", "waiting")
    assert (row.nodes, row.ready_nodes) == (2, 1)
    assert row.transition_at == dt.datetime(2025, 1, 2, 3, 4, 5)


def test_reason_is_that_of_the_first_not_ready_node_by_name() -> None:
    rows = status_rows(
        [
            node("acme", "web", ready=False, reason="ResourcesFailed"),
            node("acme", "api", ready=False, reason="ResourcesNotReady"),
        ]
    )
    assert rows["acme"].reason == "ResourcesNotReady"  # acme-api sorts first


def test_a_node_without_a_ready_condition_is_not_ready_and_not_observed() -> None:
    row = status_rows([node("acme", "web", ready=None)])["acme"]
    assert (row.ready, row.reason, row.transition_at) == (False, statusrows.NOT_OBSERVED, None)


def test_a_long_message_is_truncated_to_the_documented_length() -> None:
    row = status_rows([node("acme", "web", ready=False, message="x" * 5000)])["acme"]
    assert len(row.message) == statusrows.MAX_MESSAGE
    assert row.message.endswith("...")


def _log(*commits: tuple[str, str, str]) -> list[history.Commit]:
    """Bridge commits (sha, added, updated), oldest first, as ``git log`` lists them."""
    return [
        history.Commit(
            sha,
            "2025-01-01T00:00:00+00:00",
            f"lynq: lynq/tenants\n\nLynq-Hub: lynq/tenants\nLynq-Nodes-Added: {added}\n"
            f"Lynq-Nodes-Updated: {updated}\n",
        )
        for sha, added, updated in reversed(commits)
    ]


def test_a_nodes_commit_is_the_last_that_added_or_updated_it() -> None:
    commits = _log(
        ("c1", "acme-web, acme-api, bravo-web", ""),
        ("c2", "", "acme-api"),
        ("c3", "", ""),  # removed or held nodes: not a change of the node's stack
    )
    # A newer commit without Lynq-Hub (a person's, or forged) is no bridge commit.
    commits.insert(0, history.Commit("c4", "", "hand edit\n\nLynq-Nodes-Added: acme-web\n"))
    found = statusrows.node_commits(commits, hub="lynq/tenants")
    assert {name: sha for name, (_rank, sha) in found.items()} == {
        "acme-web": "c1",
        "acme-api": "c2",
        "bravo-web": "c1",
    }


def test_a_uids_commit_is_the_newest_of_its_nodes_and_unknown_is_none() -> None:
    nodes = [
        node("acme", "web", ready=True),
        node("acme", "api", ready=True),
        node("bravo", "web", ready=True),
        node("charlie", "web", ready=True),
    ]
    commits = {"acme-web": (1, "old"), "acme-api": (7, "new"), "bravo-web": (3, "b")}
    rows = status_rows(nodes, commits=commits)
    assert {uid: row.commit for uid, row in rows.items()} == {
        "acme": "new",
        "bravo": "b",
        "charlie": None,
    }
    assert status_rows(nodes)["acme"].commit is None


def test_nodes_of_other_hubs_or_namespaces_are_not_the_hubs() -> None:
    nodes = [
        node("acme", "web", ready=True),
        node("bravo", "web", ready=True, hub="other"),
        node("charlie", "web", ready=True, namespace="elsewhere"),
    ]
    mine = statusrows.hub_nodes(nodes, namespace="lynq", hub="tenants")
    assert list(status_rows(mine)) == ["acme"]


def test_unchanged_rows_are_not_upserted_and_gone_uids_are_deleted() -> None:
    before = status_rows([node("acme", "web", ready=False), node("bravo", "web", ready=True)])
    after = status_rows([node("acme", "web", ready=True), node("charlie", "web", ready=True)])
    after["bravo"] = before["bravo"]
    del after["bravo"]
    change = plan(before, after)
    assert [r.uid for r in change.upserts] == ["acme", "charlie"]
    assert change.deletes == ("bravo",)


def test_nothing_changed_plans_nothing() -> None:
    rows = status_rows([node("acme", "web", ready=True)])
    assert plan(rows, dict(rows)) == statusrows.Plan((), ())


# ------------------------------------------------------- mutation testing (issue 11)


def test_ranks_run_from_first_rank_at_the_oldest_commit_upwards() -> None:
    commits = _log(("c1", "acme-web", ""), ("c2", "", "acme-api"), ("c3", "bravo-web", ""))
    assert statusrows.node_commits(commits, hub="lynq/tenants") == {
        "acme-web": (0, "c1"),
        "acme-api": (1, "c2"),
        "bravo-web": (2, "c3"),
    }
    paged = statusrows.node_commits(commits[:1], hub="lynq/tenants", first_rank=10)
    assert paged == {"bravo-web": (10, "c3")}


def test_a_commit_without_an_updated_trailer_names_only_its_added_nodes() -> None:
    only_added = history.Commit("c1", "", "x\n\nLynq-Hub: lynq/tenants\nLynq-Nodes-Added: a-web\n")
    assert statusrows.node_commits([only_added], hub="lynq/tenants") == {"a-web": (0, "c1")}


def test_a_message_of_exactly_the_limit_is_kept_whole() -> None:
    text = "y" * statusrows.MAX_MESSAGE
    row = status_rows([node("acme", "web", ready=False, message=text)])["acme"]
    assert row.message == text


def test_a_node_without_a_ready_message_has_an_empty_message() -> None:
    raw = node("acme", "web", ready=True)
    del raw["status"]["conditions"][0]["message"]
    assert status_rows([raw])["acme"].message == ""


def test_only_the_ready_condition_decides_and_junk_conditions_are_skipped() -> None:
    raw = node("acme", "web", ready=True)
    raw["status"]["conditions"] += [{"type": "Degraded", "status": "False"}, "junk"]
    row = status_rows([raw])["acme"]
    assert (row.ready, row.reason) == (True, "Reconciled")


def test_transition_times_with_an_offset_are_stored_as_utc_whatever_the_local_zone(
    monkeypatch: Any,
) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        row = status_rows([node("acme", "web", ready=True, at="2025-01-01T09:00:00+09:00")])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert row["acme"].transition_at == dt.datetime(2025, 1, 1, 0, 0, 0)


def test_the_uid_and_hub_labels_are_used_when_the_spec_lacks_them() -> None:
    labelled = node("acme", "web", ready=True)
    labelled["spec"] = {}
    labelled["metadata"]["labels"] = {"lynq.sh/uid": "acme", "lynq.sh/hub": "tenants"}
    assert statusrows.hub_nodes([labelled], namespace="lynq", hub="tenants") == [labelled]
    assert list(status_rows([labelled])) == ["acme"]


def test_a_node_with_an_empty_or_no_uid_forms_no_row() -> None:
    empty, missing = node("", "web", ready=True), node("x", "web", ready=True)
    missing["spec"] = {"uid": 7}
    assert status_rows([empty, missing]) == {}
