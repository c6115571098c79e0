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


# ------------------------------------------------------- mutation testing (issue 11)

OTHER, OLD, IDLE = "prod/tenants", "old/tenants", "idle/tenants"
CM = b"apiVersion: v1\nkind: ConfigMap\ndata:\n" + b"".join(b"  k%d: v\n" % i for i in range(6))


def full_review() -> Review:
    """Three hubs: one with every kind of change and a rollout, one only in the settings (no
    change), one removed from the config (default guard); one trees-only hub has no change."""
    base = {
        f"{HUB}/a-web/cm.yaml": CM,
        f"{HUB}/b-web/cm.yaml": manifest("ConfigMap"),
        f"{HUB}/b-web/dep.yaml": b"apiVersion: apps/v1\nkind: 'Deployment'\n",
        f"{OLD}/y-api/cm.yaml": manifest("ConfigMap"),
        f"{OTHER}/z-api/cm.yaml": manifest("ConfigMap"),
        f"{OTHER}/w-api/cm.yaml": manifest("ConfigMap"),
    }
    head = {
        f"{HUB}/a-web/cm.yaml": CM.replace(b"k5: v", b"k5: w"),
        f"{HUB}/c-web/cm.yaml": manifest("ConfigMap"),
        f"{HUB}/c-web/cm2.yaml": manifest("ConfigMap"),
        f"{HUB}/c-web/raw.yaml": b"just: data\n",
        f"{OLD}/y-api/cm.yaml": manifest("ConfigMap"),
        f"{OTHER}/w-api/cm.yaml": manifest("ConfigMap"),
    }
    hubs = [
        HubSettings(hub=HUB, guard=GUARD, rollouts=(("web", 2),)),
        HubSettings(hub=IDLE, guard=GUARD),
    ]
    return review_trees(
        base,
        head,
        hubs=hubs,
        default_guard=DeletionGuard(100),
        warnings=[("form web: no NetworkPolicy \u2014 caf\u00e9", True), ("hub x|y", False)],
        errors=["node d-web: boom"],
    )


FULL_SUMMARY = """\
<!-- lynq-bridge-diff -->
### lynq-bridge diff: main → pr

**1 of 5 node(s) change, 1 added, 2 removed** in 3 hub(s).

| hub | nodes changed | added | removed | nodes | deletion guard |
|---|---:|---:|---:|---:|---|
| default/tenants | 1 | 1 | 1 | 3 | **HOLD** |
| idle/tenants | 0 | 0 | 0 | 0 | pass |
| prod/tenants | 0 | 0 | 1 | 2 | pass |

**Objects per kind**

| hub | kind | added | changed | removed |
|---|---|---:|---:|---:|
| default/tenants | (no kind) | 1 | 0 | 0 |
| default/tenants | ConfigMap | 2 | 1 | 1 |
| default/tenants | Deployment | 0 | 0 | 1 |
| prod/tenants | ConfigMap | 0 | 0 | 1 |

**Deletion guard**

- default/tenants: would hold 1 of 2 node removal(s) (maxDeletePercent 25): the sync keeps them and exits 3 until rerun with --allow-mass-delete
- idle/tenants: passes: no node removed
- prod/tenants: passes: removes 1 of 2 node(s) (maxDeletePercent 100)

**Rollout plan**

- default/tenants, form web: maxSkew 2: 3 node(s) change, at most 2 updating at a time; a node whose only change is the form waits until the ones before it are Ready (new rows and row changes do not)

**Policy gaps** (`lynq-bridge validate`: 2)

- **new** form web: no NetworkPolicy — café
- hub x&#124;y

**Render errors** (1)

- node d-web: boom

<details><summary>Nodes affected</summary>

- default/tenants added (1): c-web
- default/tenants removed (1): b-web
- default/tenants changed (1): a-web
- prod/tenants removed (1): z-api

</details>

"""  # noqa: E501 (the markdown lines are as long as they are)


def test_the_markdown_summary_of_a_review_is_exactly_as_documented() -> None:
    out = format_markdown(full_review(), base="main", head="pr")

    assert out.startswith(FULL_SUMMARY + "**Files**\n\n<details><summary>")
    first = out[len(FULL_SUMMARY) :].split("</details>")[0]
    assert "@@ -6,4 +6,4 @@\n   k2: v\n   k3: v\n   k4: v\n-  k5: v\n+  k5: w\n```" in first
    assert out.count("<details><summary>") == 1 + 7  # "Nodes affected" and one per file


def test_the_markdown_passes_the_context_on_to_the_diffs() -> None:
    out = format_markdown(full_review(), base="main", head="pr", context=0)

    assert "@@ -9 +9 @@\n-  k5: v\n+  k5: w\n```" in out


def test_the_json_of_a_review_has_every_documented_key() -> None:
    out = format_json(full_review())
    document = json.loads(out)
    for hub in document["hubs"]:
        for file in hub["files"]:
            assert file.pop("diff").startswith("--- ")

    assert document == {
        "errors": ["node d-web: boom"],
        "hubs": [
            {
                "files": [
                    {"change": "changed", "path": "default/tenants/a-web/cm.yaml"},
                    {"change": "removed", "path": "default/tenants/b-web/cm.yaml"},
                    {"change": "removed", "path": "default/tenants/b-web/dep.yaml"},
                    {"change": "added", "path": "default/tenants/c-web/cm.yaml"},
                    {"change": "added", "path": "default/tenants/c-web/cm2.yaml"},
                    {"change": "added", "path": "default/tenants/c-web/raw.yaml"},
                ],
                "guard": {
                    "allowMassDelete": False,
                    "existing": 2,
                    "maxDeletePercent": 25,
                    "removing": 1,
                    "verdict": "hold",
                },
                "hub": "default/tenants",
                "nodes": {
                    "added": ["c-web"],
                    "changed": ["a-web"],
                    "removed": ["b-web"],
                    "total": 3,
                },
                "objects": [
                    {"change": "added", "count": 1, "kind": "(no kind)"},
                    {"change": "added", "count": 2, "kind": "ConfigMap"},
                    {"change": "changed", "count": 1, "kind": "ConfigMap"},
                    {"change": "removed", "count": 1, "kind": "ConfigMap"},
                    {"change": "removed", "count": 1, "kind": "Deployment"},
                ],
                "rollout": [{"form": "web", "implemented": True, "maxSkew": 2, "nodes": 3}],
            },
            {
                "files": [],
                "guard": {
                    "allowMassDelete": False,
                    "existing": 0,
                    "maxDeletePercent": 25,
                    "removing": 0,
                    "verdict": "pass",
                },
                "hub": "idle/tenants",
                "nodes": {"added": [], "changed": [], "removed": [], "total": 0},
                "objects": [],
                "rollout": [],
            },
            {
                "files": [{"change": "removed", "path": "prod/tenants/z-api/cm.yaml"}],
                "guard": {
                    "allowMassDelete": False,
                    "existing": 2,
                    "maxDeletePercent": 100,
                    "removing": 1,
                    "verdict": "pass",
                },
                "hub": "prod/tenants",
                "nodes": {"added": [], "changed": [], "removed": ["z-api"], "total": 2},
                "objects": [{"change": "removed", "count": 1, "kind": "ConfigMap"}],
                "rollout": [],
            },
        ],
        "warnings": [
            {"message": "form web: no NetworkPolicy — café", "new": True},
            {"message": "hub x|y", "new": False},
        ],
    }
    assert out.startswith('{\n  "errors": [\n    "node d-web: boom"\n  ],\n  "hubs": [\n')
    assert "caf\u00e9" in out and out.endswith("}\n")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("l1\nl2\nl3\n", 9, "l1\nl2\nl3\n"),  # exactly the limit: whole
        ("l1\nl2\nl3\nl4\n", 7, "l1\nl2\n… 2 more line(s) not shown\n"),
        ("l1\nl2\nl3\nl4\n", 6, "l1\nl2\n… 2 more line(s) not shown\n"),
        ("l1\nl2\nl3\nl4", 7, "l1\nl2\n… 2 more line(s) not shown\n"),  # no final newline
    ],
)
def test_a_cut_diff_counts_exactly_the_lines_not_shown(
    text: str, limit: int, expected: str
) -> None:
    from lynq_bridge.core.reviewformats import _cut

    assert _cut(text, limit) == expected


def test_the_file_blocks_fill_the_limit_exactly_and_the_tail_counts_the_rest_per_change() -> None:
    r = full_review()
    full = format_markdown(r, base="main", head="pr")

    assert format_markdown(r, base="main", head="pr", limit=len(full)) == full
    cut = full.index("<details><summary>default/tenants/c-web/cm2.yaml")
    out = format_markdown(r, base="main", head="pr", limit=cut)
    assert out == full[:cut] + (
        "\n… 3 more files not shown (2 added, 1 removed); "
        "run `lynq-bridge diff` locally for all of them.\n"
    )


@pytest.mark.parametrize(("count", "more"), [(50, ""), (51, ", … 1 more")])
def test_the_summary_lists_at_most_50_nodes_warnings_and_errors(count: int, more: str) -> None:
    head = {f"{HUB}/n{i:03}-web/cm.yaml": manifest("ConfigMap") for i in range(count)}
    warnings = [(f"w{i:03}", False) for i in range(count)]
    errors = [f"e{i:03}" for i in range(count)]
    out = format_markdown(
        review({}, head, warnings=warnings, errors=errors), base="main", head="pr"
    ).splitlines()

    names = ", ".join(f"n{i:03}-web" for i in range(50))
    assert f"- {HUB} added ({count}): {names}{more}" in out
    assert [line for line in out if line.startswith("- … ")] == (["- … 1 more"] * 2 if more else [])
    assert "- w049" in out and "- e049" in out and "- w050" not in out


def test_the_longest_form_name_ending_a_node_name_is_its_form() -> None:
    base = {f"{HUB}/a-b-web/cm.yaml": manifest("ConfigMap")}
    head = {p: manifest("ConfigMap", "2") for p in base}
    r = review(base, head, rollouts=(("b-web", 1), ("web", 5)))
    assert r.hubs[0].rollout == [("b-web", 1, 1), ("web", 5, 0)]


def test_a_kind_that_is_no_utf8_is_still_counted() -> None:
    head = {f"{HUB}/a-web/x.yaml": b"kind: Caf\xe9\n"}
    assert review({}, head).hubs[0].objects == {("Caf\ufffd", "added"): 1}
