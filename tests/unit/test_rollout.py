"""The pure rollout step (``core.rollout``): which nodes a form change releases, holds or halts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lynq_bridge.core import rollout
from lynq_bridge.core.inputs import format_inputs, parse_inputs
from lynq_bridge.core.messages import Stamp, commit_message, is_settled, parse_trailers
from lynq_bridge.core.planning import HubPlan
from lynq_bridge.core.rollout import Decision, FormNodes, Record, Settings, decide

ROW, OLD, NEW = "a" * 16, "b" * 16, "c" * 16
SETTINGS = Settings("web", max_skew=5, deadline=600)
NOW = 1_800_000_000


def nodes(
    pending: int,
    current: int = 0,
    *,
    ready: int = 0,
    changed_at: dict[str, int] | None = None,
) -> FormNodes:
    names = [f"t{i:02d}-web" for i in range(pending + current)]
    return FormNodes(
        settings=SETTINGS,
        revision=NEW,
        pending=names[current:],
        current=names[:current],
        ready=frozenset(names[:ready]),
        changed_at=changed_at or {},
    )


# ------------------------------------------------------------------------------------ keys


@pytest.mark.parametrize(
    ("committed", "new", "expected"),
    [
        (ROW + OLD, ROW + NEW, True),  # the form alone changed
        (ROW + NEW, ROW + NEW, False),  # nothing changed
        ("d" * 16 + OLD, ROW + NEW, False),  # the row changed too: never held
        ("d" * 16 + NEW, ROW + NEW, False),  # the row alone changed
        ("e" * 24, ROW + NEW, False),  # a key of an older version
        (None, ROW + NEW, False),  # a new row
    ],
)
def test_only_a_change_of_the_form_half_makes_a_node_pending(
    committed: str | None, new: str, expected: bool
) -> None:
    assert rollout.only_form_changed(committed, new) is expected


# -------------------------------------------------------------------------------- stepping


def test_a_new_rollout_releases_max_skew_nodes_in_name_order_and_holds_the_rest() -> None:
    step = decide(nodes(50), None, now=NOW)

    assert step.release == tuple(f"t{i:02d}-web" for i in range(5))
    assert len(step.hold) == 45 and step.hold[0] == "t05-web"
    assert step.record == Record("web", NEW, started=NOW)
    assert step.status["phase"] == rollout.IN_PROGRESS
    assert (step.status["updatedNodes"], step.status["updatingNodes"]) == (5, 5)


@pytest.mark.parametrize(("ready", "released"), [(0, 0), (3, 3), (5, 5)])
def test_each_node_that_became_ready_frees_one_slot(ready: int, released: int) -> None:
    step = decide(nodes(45, 5, ready=ready), Record("web", NEW, started=NOW), now=NOW + 30)

    assert len(step.release) == released
    assert step.status["updatingNodes"] == 5  # never more than maxSkew
    assert not step.halted


def test_new_rows_that_are_not_ready_count_against_max_skew() -> None:
    # 10 current nodes (e.g. new rows written by this sync), 8 Ready: 2 updating, 3 slots left.
    step = decide(nodes(20, 10, ready=8), Record("web", NEW, started=NOW), now=NOW)

    assert len(step.release) == 3


def test_a_node_not_ready_within_the_deadline_halts_the_rollout() -> None:
    late = {"t04-web": NOW - 601}  # t00..t03 are Ready
    step = decide(
        nodes(45, 5, ready=4, changed_at=late), Record("web", NEW, started=NOW - 700), now=NOW
    )

    assert step.halted and step.newly_halted
    assert step.late == ("t04-web",)
    assert step.release == ()
    assert step.record is not None and step.record.halted
    assert step.status["phase"] == rollout.FAILED


def test_the_deadline_counts_from_the_last_commit_of_the_node_not_the_start() -> None:
    # Started 2 hours ago, but the updating node's files were committed 5 minutes ago.
    step = decide(
        nodes(45, 5, ready=4, changed_at={"t04-web": NOW - 300}),
        Record("web", NEW, started=NOW - 7200),
        now=NOW,
    )

    assert not step.halted
    assert len(step.release) == 4


def test_a_halt_holds_even_after_the_late_node_becomes_ready() -> None:
    step = decide(nodes(45, 5, ready=5), Record("web", NEW, NOW - 900, halted=True), now=NOW)

    assert step.halted and not step.newly_halted
    assert step.release == ()
    assert len(step.hold) == 45


def test_a_form_change_lifts_the_halt_and_starts_a_new_rollout() -> None:
    step = decide(nodes(45, 5, ready=5), Record("web", OLD, NOW - 900, halted=True), now=NOW)

    assert not step.halted
    assert step.record == Record("web", NEW, started=NOW)
    assert len(step.release) == 5


def test_resume_restarts_the_deadline_of_the_nodes_still_updating() -> None:
    record = Record("web", NEW, started=NOW - 3600, resumed=NOW - 60, halted=False)
    step = decide(nodes(45, 5, ready=4, changed_at={"t04-web": NOW - 3000}), record, now=NOW)

    assert not step.halted
    assert len(step.release) == 4  # the stuck node keeps one slot, the others go on


def test_the_record_closes_when_every_node_is_updated_and_ready() -> None:
    step = decide(nodes(0, 50, ready=50), Record("web", NEW, started=NOW - 60), now=NOW)

    assert step.record is None and step.was_open
    assert step.status["phase"] == rollout.COMPLETE
    assert rollout.progress_percent(step.status) == 100.0


def test_the_record_stays_open_while_released_nodes_are_not_ready() -> None:
    step = decide(nodes(0, 50, ready=48), Record("web", NEW, started=NOW - 60), now=NOW)

    assert step.record is not None
    assert step.status["phase"] == rollout.IN_PROGRESS
    assert step.status["updatingNodes"] == 2


def test_an_unreadable_cluster_holds_every_pending_node_and_halts_nothing() -> None:
    record = Record("web", NEW, started=NOW - 7200)
    step = rollout.hold_all(nodes(45, 5), record, cause="connection refused")

    assert step.release == () and len(step.hold) == 45
    assert step.record == record and not step.halted
    assert "connection refused" in step.status["message"]


# ------------------------------------------------------------------------ index records


def test_records_come_first_in_the_index_and_node_lines_still_parse() -> None:
    records = rollout.record_lines(
        [Record("web", NEW, 100, 0, True), Record("api", OLD, 50, 70, False)]
    )
    index = format_inputs({"acme-web": (ROW + NEW, "d" * 24, {"cm.yaml"})}, records)

    assert rollout.parse_records(index) == {
        "api": Record("api", OLD, 50, 70, False),
        "web": Record("web", NEW, 100, 0, True),
    }
    assert parse_inputs(index) == {"acme-web": (ROW + NEW, "d" * 24, "cm.yaml")}
    assert index.decode().splitlines()[1].startswith("@rollout api ")


@pytest.mark.parametrize(
    "line",
    [
        "@rollout web cccc 100 0 sleeping",
        "@rollout web cccc x 0 halted",
        "@rollout web cccc 100 halted",
    ],
)
def test_a_malformed_record_is_ignored(line: str) -> None:
    index = format_inputs({}, [line + "\n"])

    assert rollout.parse_records(index) == {}


def test_a_record_after_the_node_lines_is_not_read() -> None:
    index = (
        format_inputs({"acme-web": (ROW + NEW, "d" * 24, set())}) + b"@rollout web c 1 0 halted\n"
    )

    assert rollout.parse_records(index) == {}


def test_resume_clears_the_halt_and_keeps_the_node_lines_byte_identical() -> None:
    entries: dict[str, tuple[str, str, set[str]]] = {"acme-web": (ROW + NEW, "d" * 24, {"cm.yaml"})}
    index = format_inputs(entries, rollout.record_lines([Record("web", NEW, 100, 0, True)]))

    resumed = rollout.resume_index(index, "web", now=500)

    assert resumed is not None
    assert rollout.parse_records(resumed) == {"web": Record("web", NEW, 100, 500, False)}
    assert resumed.split(b"\n")[2:] == index.split(b"\n")[2:]
    assert rollout.resume_index(index, "api", now=500) is None


# ------------------------------------------------------------------------- cluster view


def live(
    *, hashes: dict[str, str], ready: str = "True", observed: int = 2, generation: int = 2
) -> dict[str, Any]:
    return {
        "metadata": {"name": "t00-web", "generation": generation},
        "spec": {"resources": [{"id": k, "hash": v} for k, v in hashes.items()]},
        "status": {
            "observedGeneration": observed,
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


@pytest.mark.parametrize(
    ("node", "ready"),
    [
        (live(hashes={"cm": "new"}), True),
        (live(hashes={"cm": "old"}), False),  # the engine has not applied the new LynqNode
        (live(hashes={"cm": "new"}, observed=1), False),  # the reporter has not seen it yet
        (live(hashes={"cm": "new"}, ready="False"), False),
        (live(hashes={"cm": "new", "extra": "x"}), False),
    ],
)
def test_a_node_counts_ready_only_for_its_committed_content(
    node: dict[str, Any], ready: bool
) -> None:
    assert rollout.live_ready(node, {"cm": "new"}) is ready


# ------------------------------------------------------------------------------ messages


def test_an_open_rollout_keeps_the_hub_from_settling() -> None:
    stamp = Stamp("default/tenants", "rev", "snap")
    step = decide(nodes(50), None, now=NOW)
    message = commit_message(HubPlan(), stamp, [], rollout=rollout.message_parts([step]))

    trailers = parse_trailers(message)
    assert trailers["Lynq-Rollout-Open"] == "web"
    assert trailers["Lynq-Rollout-Held"] == "web=45"
    assert not is_settled(message, stamp)
    assert is_settled(commit_message(HubPlan(), stamp, []), stamp)
    assert "Lynq-Rollout" not in commit_message(HubPlan(), stamp, [])


def test_halt_and_completion_are_trailers_of_the_commit_that_records_them() -> None:
    halted = decide(
        nodes(45, 5, ready=4, changed_at={"t04-web": NOW - 601}),
        Record("web", NEW, started=NOW - 700),
        now=NOW,
    )
    done = decide(nodes(0, 50, ready=50), Record("web", NEW, started=NOW - 60), now=NOW)

    assert rollout.message_parts([halted])[1]["Lynq-Rollout-Halted"] == "web"
    body, trailers = rollout.message_parts([done])
    assert trailers["Lynq-Rollout-Complete"] == "web" and trailers["Lynq-Rollout-Open"] == ""
    assert body == ["  - form web: Complete; released 0, held back 0, 0 updating"]


# ------------------------------------------------------------------------ LynqForm status


def form_object(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default", "generation": 3},
        "status": status or {},
    }


def step_of(phase_nodes: FormNodes, record: Record | None) -> Decision:
    return decide(phase_nodes, record, now=NOW)


def test_the_form_status_carries_lynqs_rollout_fields_and_a_progressing_condition() -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    valid = {"type": "Valid", "status": "True", "reason": "ValidationPassed", "message": "ok."}
    patch = rollout.form_status_patch(
        form_object({"conditions": [valid]}), step_of(nodes(50), None), 600, now=now
    )

    assert patch is not None
    assert patch["rollout"]["phase"] == "InProgress"
    assert patch["rollout"]["targetGeneration"] == 3
    assert patch["rollout"]["startTime"] == "2027-01-15T08:00:00Z"
    assert [c["type"] for c in patch["conditions"]] == ["Valid", "Progressing"]
    assert patch["conditions"][1]["reason"] == "RolloutInProgress"
    written = {k: v for k, v in patch["rollout"].items() if v is not None}
    again = rollout.form_status_patch(
        form_object({"rollout": written, "conditions": patch["conditions"]}),
        step_of(nodes(50), None),
        600,
        now=now + dt.timedelta(minutes=1),
    )
    assert again is None  # nothing changed: no write


def test_a_halted_rollout_is_phase_failed_with_progress_deadline_exceeded() -> None:
    step = decide(
        nodes(45, 5, ready=4, changed_at={"t04-web": NOW - 601}),
        Record("web", NEW, started=NOW - 700),
        now=NOW,
    )
    patch = rollout.form_status_patch(form_object(), step, 600, now=dt.datetime.now(dt.UTC))

    assert patch is not None
    assert patch["rollout"]["phase"] == "Failed"
    (condition,) = patch["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert "t04-web" in condition["message"] and "600s" in condition["message"]


# ----------------------------------------------------------------------- pending nodes


def test_only_nodes_whose_files_a_form_change_alters_are_pending() -> None:
    from test_rendering import FORM_YAML, HUB, compiled_form, plan

    from lynq_bridge.core.inputs import INPUTS_FILE, trusted_inputs
    from lynq_bridge.core.planning import blob_id, nodes_changing
    from lynq_bridge.core.rendering import render_hub
    from lynq_bridge.core.rows import rows_from_records
    from renderers.plain import PlainTarget

    records = [("acme", "1", "", "pro", 3), ("beta", "1", "", "", 1)]
    rows = rows_from_records(records, columns=("domain", "plan", "replicas"))
    first = render_hub(HUB, [compiled_form()], rows, PlainTarget(), revision="rev1")
    files = plan(first).writes
    existing = {p: blob_id(c) for p, c in files.items()}
    committed = trusted_inputs(existing, files[INPUTS_FILE])
    # The new form adds an object for acme alone: beta's output stays byte for byte the same.
    extra = FORM_YAML.replace(
        "  deployments:\n",
        "    - id: extra\n"
        "      includeWhen: \"{{ uid == 'acme' }}\"\n"
        '      nameTemplate: "{{ uid }}-extra"\n'
        "      spec: {apiVersion: v1, kind: ConfigMap}\n"
        "  deployments:\n",
    )
    second = render_hub(
        HUB, [compiled_form(extra)], rows, PlainTarget(), revision="rev2", committed=committed
    )

    names = sorted(second.nodes)
    assert names == ["acme-web", "beta-web"]  # both keys changed: both rendered
    assert all(rollout.only_form_changed(committed[n], second.nodes[n].input_key) for n in names)
    assert nodes_changing(HUB, second, existing, names, target=PlainTarget()) == {"acme-web"}


def test_nodes_held_while_the_cluster_is_unreadable_keep_the_rollout_open() -> None:
    # A new form revision, the cluster away: no record yet, but the held nodes must be looked
    # at again by the next sync, so a commit made meanwhile (a row change) does not settle.
    step = rollout.hold_all(nodes(45, 5), Record("web", OLD, NOW - 60), cause="refused")

    assert step.record is None and step.was_open
    trailers = rollout.message_parts([step])[1]
    assert trailers["Lynq-Rollout-Open"] == "web"
    assert "Lynq-Rollout-Complete" not in trailers


# ------------------------------------------------------- mutation testing (issue 11)


def test_a_form_without_pending_nodes_or_record_opens_nothing() -> None:
    step = decide(nodes(0, 5, ready=5), None, now=NOW)

    assert (step.release, step.hold, step.late, step.record) == ((), (), (), None)
    assert not step.halted and not step.was_open
    assert rollout.message_parts([step]) == ([], {})


def test_a_form_that_no_node_uses_is_idle() -> None:
    step = decide(nodes(0), None, now=NOW)

    assert step.status["phase"] == rollout.IDLE
    assert step.status["message"] == "No nodes use this form."
    assert step.status["totalNodes"] == 0
    assert rollout.progress_percent(step.status) == 0.0


def test_total_nodes_counts_pending_and_current_nodes() -> None:
    step = decide(nodes(45, 5, ready=5), Record("web", NEW, started=NOW), now=NOW)

    assert step.status["totalNodes"] == 50 and step.status["readyUpdatedNodes"] == 5
    assert step.status["message"] == "Updating: 10/50 nodes updated (5 updating, 5 ready)."
    assert rollout.progress_percent(step.status) == 10.0


@pytest.mark.parametrize(("age", "halts"), [(600, False), (601, True)])
def test_a_node_halts_only_when_updating_longer_than_the_deadline(age: int, halts: bool) -> None:
    step = decide(
        nodes(45, 5, ready=4, changed_at={"t04-web": NOW - age}),
        Record("web", NEW, started=NOW - 7200),
        now=NOW,
    )

    assert step.halted is halts
    assert len(step.release) == (0 if halts else 4)


def test_the_halt_message_names_the_deadline_and_the_counts() -> None:
    step = decide(
        nodes(45, 5, ready=4, changed_at={"t04-web": NOW - 601}),
        Record("web", NEW, started=NOW - 700),
        now=NOW,
    )

    assert step.status["message"] == (
        "Halted: a node was not Ready within 600s; 5/50 nodes updated (1 updating, 4 ready)."
    )


def test_an_unreadable_cluster_with_a_new_revision_and_no_record_keeps_it_open() -> None:
    step = rollout.hold_all(nodes(45), None, cause="refused")

    assert step.record is None and not step.was_open and len(step.hold) == 45
    assert step.status["phase"] == rollout.IDLE and "startTime" not in step.status
    trailers = rollout.message_parts([step])[1]
    assert (trailers["Lynq-Rollout-Open"], trailers["Lynq-Rollout-Held"]) == ("web", "web=45")


def test_an_unreadable_cluster_keeps_a_halted_rollout_failed_and_reports_no_new_halt() -> None:
    record = Record("web", NEW, started=NOW - 7200, halted=True)
    step = rollout.hold_all(nodes(45, 5), record, cause="refused")

    assert step.halted is True and step.newly_halted is False and step.late == ()
    assert step.phase == rollout.FAILED and step.status["startTime"] == NOW - 7200
    assert "Lynq-Rollout-Halted" not in rollout.message_parts([step])[1]


def test_an_unreadable_cluster_shows_a_running_rollout_in_progress_with_none_updating() -> None:
    step = rollout.hold_all(nodes(45, 5), Record("web", NEW, started=NOW - 60), cause="refused")

    assert step.halted is False and step.newly_halted is False
    assert step.phase == rollout.IN_PROGRESS and step.status["updatingNodes"] == 0
    assert step.status["startTime"] == NOW - 60


def named(form: str, step: Decision) -> Decision:
    return Decision(**{**step.__dict__, "form": form})


def test_message_parts_list_forms_by_name_whatever_the_order_of_the_decisions() -> None:
    late = {"t04-web": NOW - 601}
    halted = decide(nodes(45, 5, ready=4, changed_at=late), Record("web", NEW, NOW - 700), now=NOW)
    held = decide(nodes(50), None, now=NOW)
    done = decide(nodes(0, 50, ready=50), Record("web", NEW, started=NOW - 60), now=NOW)

    body, trailers = rollout.message_parts(
        [named("web", halted), named("api", held), named("zz", done), named("db", halted)]
    )

    assert [line.split(":")[0] for line in body] == [
        "  - form api",
        "  - form db",
        "  - form web",
        "  - form zz",
    ]
    assert body[1].endswith("; not Ready in time: t04-web")
    assert trailers["Lynq-Rollout-Open"] == "api, db, web"
    assert trailers["Lynq-Rollout-Held"] == "api=45, db=45, web=45"
    assert trailers["Lynq-Rollout-Halted"] == "db, web"
    done2 = rollout.message_parts([named("b", done), named("a", done)])[1]
    assert done2["Lynq-Rollout-Complete"] == "a, b"


@pytest.mark.parametrize(("released", "suffix"), [(20, ")"), (21, " …)")])
def test_the_body_lists_at_most_20_released_nodes(released: int, suffix: str) -> None:
    settings = Settings("web", max_skew=released, deadline=600)
    step = decide(
        FormNodes(settings, NEW, pending=[f"t{i:02d}-web" for i in range(30)], current=[]),
        None,
        now=NOW,
    )
    (line,) = rollout.message_parts([step])[0]

    shown = ", ".join(f"t{i:02d}-web" for i in range(20))
    assert f"released {released} ({shown}{suffix}, held back {30 - released}," in line


def test_resume_keeps_the_records_of_the_other_forms() -> None:
    index = format_inputs(
        {}, rollout.record_lines([Record("web", NEW, 100, 0, True), Record("api", OLD, 50)])
    )

    resumed = rollout.resume_index(index, "web", now=500)

    assert resumed is not None
    assert rollout.parse_records(resumed) == {
        "api": Record("api", OLD, 50),
        "web": Record("web", NEW, 100, 500, False),
    }


@pytest.mark.parametrize(
    ("status", "percent"),
    [({}, 0.0), ({"totalNodes": 4}, 0.0), ({"totalNodes": 4, "readyUpdatedNodes": 1}, 25.0)],
)
def test_progress_percent_of_missing_fields_is_zero(status: dict[str, Any], percent: float) -> None:
    assert rollout.progress_percent(status) == percent


@pytest.mark.parametrize(
    "node",
    [
        {**live(hashes={"cm": "new"}), "metadata": "t00-web"},
        {**live(hashes={"cm": "new"}), "spec": ["cm"]},
        {**live(hashes={"cm": "new"}), "status": "Ready"},
    ],
)
def test_a_node_with_a_malformed_part_is_not_ready(node: dict[str, Any]) -> None:
    assert rollout.live_ready(node, {"cm": "new"}) is False


def test_a_complete_rollout_keeps_its_start_and_sets_its_completion_once() -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    running = {"phase": "InProgress", "startTime": "2029-12-31T00:00:00Z", "totalNodes": 50}
    progressing = {"type": "Progressing", "status": "True", "reason": "RolloutInProgress"}
    valid = {"type": "Valid", "status": "True", "reason": "ValidationPassed", "message": "ok."}
    done = decide(nodes(0, 50, ready=50), Record("web", NEW, started=NOW - 60), now=NOW)

    patch = rollout.form_status_patch(
        form_object({"rollout": running, "conditions": [progressing, valid]}), done, 600, now=now
    )

    assert patch is not None
    assert patch["rollout"]["startTime"] == "2029-12-31T00:00:00Z"
    assert patch["rollout"]["completionTime"] == "2030-01-01T00:00:00Z"
    assert [c["type"] for c in patch["conditions"]] == ["Progressing", "Valid"]
    condition = patch["conditions"][0]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "True",
        "RolloutComplete",
        "All 50 nodes updated and ready.",
    )
    assert condition["observedGeneration"] == 3
    assert condition["lastTransitionTime"] == "2030-01-01T00:00:00Z"
    later = rollout.form_status_patch(
        form_object({"rollout": {**patch["rollout"], "message": "x"}, "conditions": [valid]}),
        done,
        600,
        now=now + dt.timedelta(hours=1),
    )
    assert later is not None
    assert later["rollout"]["completionTime"] == "2030-01-01T00:00:00Z"  # not moved


def test_a_rollout_in_progress_removes_a_stale_completion_time() -> None:
    old = {"phase": "Complete", "completionTime": "2029-01-01T00:00:00Z"}
    patch = rollout.form_status_patch(
        form_object({"rollout": old}), step_of(nodes(50), None), 600, now=dt.datetime.now(dt.UTC)
    )

    assert patch is not None
    assert "completionTime" in patch["rollout"] and patch["rollout"]["completionTime"] is None


@pytest.mark.parametrize("key", ["status", "reason", "message"])
def test_a_progressing_condition_that_differs_in_one_field_is_rewritten(key: str) -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    step = step_of(nodes(50), None)
    first = rollout.form_status_patch(form_object(), step, 600, now=now)
    assert first is not None
    written = {k: v for k, v in first["rollout"].items() if v is not None}
    (condition,) = first["conditions"]
    stale = {**condition, key: "stale"}

    patch = rollout.form_status_patch(
        form_object({"rollout": written, "conditions": [stale]}), step, 600, now=now
    )

    assert patch is not None and patch["conditions"][0][key] == condition[key]


def test_a_form_with_malformed_metadata_or_status_gets_no_patch() -> None:
    step = step_of(nodes(50), None)
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    assert rollout.form_status_patch({"metadata": "web"}, step, 600, now=now) is None
    assert rollout.form_status_patch({"status": ["x"]}, step, 600, now=now) is None


VALID = {"type": "Valid", "status": "True", "reason": "ValidationPassed"}
PROGRESSING = {"type": "Progressing", "status": "True", "reason": "RolloutInProgress"}


@pytest.mark.parametrize(
    ("status", "patch"),
    [
        (None, None),
        ({"conditions": [VALID]}, None),
        ({"rollout": {"phase": "Failed"}}, {"rollout": None}),
        (
            {"rollout": {"phase": "Failed"}, "conditions": [PROGRESSING, VALID]},
            {"rollout": None, "conditions": [VALID]},
        ),
        ({"conditions": [VALID, PROGRESSING, "junk"]}, {"rollout": None, "conditions": [VALID]}),
    ],
)
def test_max_skew_zero_clears_the_rollout_status_and_only_the_progressing_condition(
    status: dict[str, Any] | None, patch: dict[str, Any] | None
) -> None:
    form = {"metadata": {"name": "web"}, **({"status": status} if status is not None else {})}

    assert rollout.cleared_status_patch(form) == patch


def test_the_start_time_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        patch = rollout.form_status_patch(
            form_object(), step_of(nodes(50), None), 600, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert patch is not None and patch["rollout"]["startTime"] == "2027-01-15T08:00:00Z"


def test_the_halt_condition_names_the_late_nodes_or_says_they_were_updated_before() -> None:
    late = {"t03-web": NOW - 700, "t04-web": NOW - 601}
    step = decide(nodes(45, 5, ready=3, changed_at=late), Record("web", NEW, NOW - 800), now=NOW)
    held = rollout.hold_all(nodes(45, 5), Record("web", NEW, NOW - 800, halted=True), cause="x")
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    messages = [
        patch["conditions"][0]["message"]
        for patch in (
            rollout.form_status_patch(form_object(), d, 600, now=now) for d in (step, held)
        )
        if patch is not None
    ]

    assert messages == [
        "The rollout is halted: node(s) t03-web, t04-web were not Ready within 600s; run "
        "lynq-bridge rollout resume or change the form.",
        "The rollout is halted: node(s) updated before were not Ready within 600s; run "
        "lynq-bridge rollout resume or change the form.",
    ]
    (line,) = rollout.message_parts([step])[0]
    assert line.endswith("; not Ready in time: t03-web, t04-web")


def test_the_progressing_condition_of_a_running_rollout_carries_the_status_message() -> None:
    step = step_of(nodes(50), None)
    patch = rollout.form_status_patch(form_object(), step, 600, now=dt.datetime.now(dt.UTC))

    assert patch is not None
    assert (
        patch["conditions"][0]["message"] == "Updating: 5/50 nodes updated (5 updating, 0 ready)."
    )


def test_the_late_nodes_are_listed_up_to_20_in_the_body_and_10_in_the_condition() -> None:
    late = {f"t{i:02d}-web": NOW - 601 for i in range(21)}
    step = decide(nodes(5, 21, changed_at=late), Record("web", NEW, NOW - 800), now=NOW)
    patch = rollout.form_status_patch(form_object(), step, 600, now=dt.datetime.now(dt.UTC))

    (line,) = rollout.message_parts([step])[0]
    assert line.endswith("; not Ready in time: " + ", ".join(f"t{i:02d}-web" for i in range(20)))
    assert patch is not None
    ten = ", ".join(f"t{i:02d}-web" for i in range(10))
    assert f"node(s) {ten} were not Ready" in patch["conditions"][0]["message"]
