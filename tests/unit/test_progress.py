"""Progress on a terminal for long renders (SPEC §10)."""

from __future__ import annotations

from test_rendering import HUB, compiled_form

from lynq_bridge.core.rendering import render_hub
from lynq_bridge.core.rows import rows_from_records
from renderers.plain import PlainTarget


def test_render_reports_progress_every_500_nodes_and_at_the_end() -> None:
    records = [(f"t{i:04d}", "1", "", "", 1) for i in range(1200)]
    rows = rows_from_records(records, columns=("domain", "plan", "replicas"))
    calls: list[tuple[int, int]] = []
    render_hub(
        HUB, [compiled_form()], rows, PlainTarget(), progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(500, 1200), (1000, 1200), (1200, 1200)]
