"""The markdown and JSON of ``lynq-bridge diff``: escaping, fences, the size cap, the guard."""

from __future__ import annotations

import json

import pytest

from lynq_bridge.core.planning import DeletionGuard
from lynq_bridge.core.reviewformats import (
    HubSettings,
    Review,
    fence_for,
    format_json,
    format_markdown,
    md_text,
    review_trees,
)

GUARD = DeletionGuard(25)
HUB = "default/tenants"


def manifest(kind: str, value: str = "v") -> bytes:
    return f"apiVersion: v1\nkind: {kind}\ndata:\n  k: {value}\n".encode()


def review(base: dict[str, bytes], head: dict[str, bytes], **kw: object) -> Review:
    hubs = [HubSettings(hub=HUB, guard=GUARD, rollouts=kw.pop("rollouts", ()))]  # type: ignore[arg-type]
    return review_trees(base, head, hubs=hubs, default_guard=GUARD, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a|b", "a&#124;b"),
        ("`x`", "&#96;x&#96;"),
        ("<script>", "&#60;script&#62;"),
        ("two\nlines", "two&#92;nlines"),  # one line, and the backslash escaped
        ("plain-name.1", "plain-name.1"),
    ],
)
def test_md_text_escapes_what_markdown_or_html_would_interpret(text: str, expected: str) -> None:
    assert md_text(text) == expected


def test_fence_is_longer_than_any_backtick_run_in_the_content() -> None:
    assert fence_for("no ticks") == "```"
    assert fence_for("+ a ```` b") == "`````"


def test_a_fence_inside_a_file_does_not_close_the_diff_block() -> None:
    head = {f"{HUB}/a-web/cm.yaml": b"kind: ConfigMap\ndata:\n  k: |\n    ```\n    x\n"}
    out = format_markdown(review({}, head), base="main", head="pr")
    assert "````diff\n--- /dev/null" in out and "+    ```\n+    x\n````\n" in out


def test_a_hostile_kind_cannot_break_the_kind_table() -> None:
    head = {f"{HUB}/a-web/x.yaml": manifest("A|B<i>`")}
    out = format_markdown(review({}, head), base="main", head="pr")
    assert f"| {HUB} | A&#124;B&#60;i&#62;&#96; | 1 | 0 | 0 |" in out.splitlines()


def test_markdown_stops_at_the_limit_and_counts_the_files_not_shown() -> None:
    base = {f"{HUB}/n{i:03}-web/cm.yaml": manifest("ConfigMap", "old") for i in range(300)}
    head = {p: manifest("ConfigMap", "new") for p in base}
    head |= {f"{HUB}/n{i:03}-web/extra.yaml": manifest("Secret") for i in range(100)}
    out = format_markdown(review(base, head), base="main", head="pr", limit=20_000)
    assert len(out) < 20_500
    shown = out.count("<details><summary>default")
    assert 0 < shown < 400
    tail = out.splitlines()[-1]
    assert tail.startswith(f"… {400 - shown} more files not shown (")
    assert "run `lynq-bridge diff` locally" in tail


def test_a_large_file_diff_is_cut_at_a_line_with_a_count() -> None:
    body = "".join(f"  k{i}: {'x' * 60}\n" for i in range(400)).encode()
    head = {f"{HUB}/a-web/cm.yaml": b"kind: ConfigMap\ndata:\n" + body}
    out = format_markdown(review({}, head), base="main", head="pr")
    assert "more line(s) not shown" in out and len(out) < 12_000


def test_removing_every_node_is_held_and_reported() -> None:
    base = {f"{HUB}/{n}-web/cm.yaml": manifest("ConfigMap") for n in ("a", "b")}
    r = review(base, {})
    assert r.held
    (hub,) = json.loads(format_json(r))["hubs"]
    assert hub["guard"]["verdict"] == "hold" and hub["nodes"]["removed"] == ["a-web", "b-web"]


def test_allow_mass_delete_passes_the_guard() -> None:
    base = {f"{HUB}/{n}-web/cm.yaml": manifest("ConfigMap") for n in ("a", "b")}
    hubs = [HubSettings(hub=HUB, guard=DeletionGuard(25, True))]
    r = review_trees(base, {}, hubs=hubs, default_guard=GUARD)
    assert not r.held
    assert "passes: removes 2 of 2 node(s) (allowMassDelete)" in format_markdown(
        r, base="main", head="pr"
    )


def test_rollout_counts_the_changing_nodes_of_the_form_only() -> None:
    base = {f"{HUB}/{n}/cm.yaml": manifest("ConfigMap") for n in ("a-web", "b-x-web", "c-api")}
    head = {p: manifest("ConfigMap", "2") for p in base}
    r = review(base, head, rollouts=(("web", 5), ("x-web", 1)))
    assert r.hubs[0].rollout == [("web", 5, 1), ("x-web", 1, 1)]


def test_markdown_and_json_are_byte_identical_for_the_same_input() -> None:
    base = {f"{HUB}/{n}-web/cm.yaml": manifest("ConfigMap") for n in "cab"}
    head = {p: manifest("ConfigMap", "2") for p in reversed(list(base))}
    first, second = review(base, head), review(dict(reversed(base.items())), head)
    assert format_markdown(first, base="m", head="p") == format_markdown(second, base="m", head="p")
    assert format_json(first) == format_json(second)
