"""Benchmark: a Lynq form rendered by the Go engine against the same form converted to Jinja2.

Run with ``.venv/bin/python bench/bench_templates.py [rows]`` (default 2,000). The form is
Lynq's own sample (``tests/data/lynq/samples/lynqnodes_v1_lynqform.yaml``, Go ``text/template``
+ Sprig); ``lynq-bridge convert`` (``convert_text``) makes its Jinja2 twin. Both are compiled
once and rendered through ``render_node``, the code path of a sync, for the same rows; the
rendered files must be byte-identical, so the figures compare the engines and nothing else.
Prints rows per second and microseconds per node for each, best of three runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

from lynq_bridge.config.models import LynqForm, LynqHub
from lynq_bridge.convert import convert_text
from lynq_bridge.core.forms import CompiledForm, compile_forms
from lynq_bridge.core.rendering import render_node
from lynq_bridge.core.rows import Row, rows_from_records
from renderers.plain import PlainTarget

SAMPLE = Path(__file__).resolve().parents[1] / "tests/data/lynq/samples/lynqnodes_v1_lynqform.yaml"


def compiled(text: str) -> CompiledForm:
    form = LynqForm.model_validate(yaml.safe_load(text))
    forms, problems, _ = compile_forms([form])
    assert not problems, problems
    (only,) = forms.values()
    return only


def hub_for(form: CompiledForm) -> LynqHub:
    return LynqHub.model_validate(
        {
            "apiVersion": "operator.lynq.sh/v1",
            "kind": "LynqHub",
            "metadata": {"name": form.form.spec.hubId, "namespace": "default"},
            "spec": {
                "source": {"type": "sqlite", "sqlite": {"path": "/x.db", "table": "t"}},
                "valueMappings": {"uid": "uid", "activate": "active", "hostOrUrl": "url"},
                "extraValueMappings": {"deployImage": "image"},
            },
        }
    )


def rows(count: int) -> list[Row]:
    records = [
        (f"t{i:05d}", "1", f"https://t{i:05d}.example.com", "" if i % 2 else "nginx:1.27")
        for i in range(count)
    ]
    return rows_from_records(records, columns=("hostOrUrl", "deployImage"))


def rate(form: CompiledForm, hub: LynqHub, table: list[Row]) -> tuple[float, list[bytes]]:
    best = float("inf")
    files: list[bytes] = []
    for _ in range(3):
        start = time.perf_counter()
        nodes = [render_node(hub, form, row, PlainTarget()) for row in table]
        best = min(best, time.perf_counter() - start)
        files = [c.content for n in nodes for c in n.children]
        assert not any(n.failed for n in nodes), nodes[0].failed
    return len(table) / best, files


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    source = SAMPLE.read_text()
    converted, _count, problems = convert_text(source, name=SAMPLE.name)
    assert not problems, problems
    go_form, jinja_form = compiled(source), compiled(converted)
    hub, table = hub_for(go_form), rows(count)
    go_rate, go_files = rate(go_form, hub, table)
    jinja_rate, jinja_files = rate(jinja_form, hub, table)
    assert go_files == jinja_files, "the two engines rendered different files"
    children = len(go_files) // count
    print(f"Lynq's sample form: {children} objects per node, {count} rows; identical output")
    for name, value in (("go", go_rate), ("jinja", jinja_rate)):
        print(f"  {name:6} {value:8,.0f} rows/s  {1e6 / value:8,.0f} us per node")
    print(f"  go / jinja: {go_rate / jinja_rate:.2f}")


if __name__ == "__main__":
    main()
