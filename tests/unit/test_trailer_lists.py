"""The node trailers of a commit list every node, however many the commit touches."""

from __future__ import annotations

from lynq_bridge.core.messages import Stamp, commit_message, parse_trailers
from lynq_bridge.core.planning import HubPlan

STAMP = Stamp("default/tenants", "rev1", "snap1")


def test_trailers_of_a_commit_removing_three_thousand_nodes_list_every_one() -> None:
    removed = [f"tenant-{i:05d}-{'x' * 40}" for i in range(3000)]  # ~150,000 characters
    trailers = parse_trailers(commit_message(HubPlan(removed=removed), STAMP, []))
    assert trailers["Lynq-Nodes-Removed"].split(", ") == removed
    assert trailers["Lynq-Render-Errors"] == "0"
