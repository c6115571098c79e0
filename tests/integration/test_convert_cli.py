"""``lynq-bridge convert`` on real files: what changes, what must not, exit codes, writing.

The fixture ``tests/data/convert/commented-form.yaml`` is a Lynq form full of comments, quoting
styles, block scalars, flow collections, an anchor and alias, ``---``/``...`` markers and a
second document that is not a form; ``commented-form.converted.yaml`` is what convert must
write, byte for byte.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from lynq_bridge import convert as converting
from lynq_bridge.cli import main
from lynq_bridge.core.goexec import GoTemplateEngine
from lynq_bridge.core.inputs import INPUTS_FILE
from lynq_bridge.core.templating import TemplateEngine

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURE = DATA / "convert" / "commented-form.yaml"
CONVERTED = DATA / "convert" / "commented-form.converted.yaml"
SAMPLE_FORM = DATA / "lynq" / "samples" / "lynqnodes_v1_lynqform.yaml"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FORM = """\
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {{name: {name}}}
spec:
  hubId: h
  configMaps:
    - id: cm
      nameTemplate: "{{{{ .uid }}}}-cm"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data:
          value: {value}
"""


def form(value: str, *, name: str = "f") -> str:
    return FORM.format(name=name, value=value)


def converted(value: str) -> str:
    """``form(value)`` after convert: its nameTemplate is converted too."""
    return form(value).replace("{{ .uid }}", "{{ uid }}")


def run(*args: str | Path) -> int:
    return main(["convert", *map(str, args)])


def copy(source: Path, directory: Path, name: str | None = None) -> Path:
    target = directory / (name or source.name)
    shutil.copyfile(source, target)
    return target


# Lines of block scalars that convert rewrites with their templates (trim markers applied).
_FOLDED = {"welcome", "plan: pro", "{{- else }}", "plan: basic", "{{- end }}"}


def test_only_the_template_strings_of_a_commented_form_change(tmp_path: Path) -> None:
    path = copy(FIXTURE, tmp_path)
    assert run(path) == 0
    assert path.read_bytes() == CONVERTED.read_bytes()
    before, after = FIXTURE.read_text().splitlines(), path.read_text().splitlines()
    kept = [line for line in before if "{{" not in line and line.strip() not in _FOLDED]
    assert [line for line in after if line in kept] == kept  # comments, keys, markers
    assert before[-7:] == after[-7:]  # the ConfigMap document, Go-looking text and all


def _pairs(old: Any, new: Any) -> list[tuple[str, str]]:
    if isinstance(old, str):
        return [(old, new)] if "{{" in old else []
    if isinstance(old, dict):
        return [pair for key in old for pair in _pairs(old[key], new[key])]
    if isinstance(old, list):
        return [pair for o, n in zip(old, new, strict=True) for pair in _pairs(o, n)]
    return []


@pytest.mark.parametrize("source", [FIXTURE, SAMPLE_FORM], ids=["commented", "lynq-sample"])
def test_converted_form_renders_what_the_go_form_renders(tmp_path: Path, source: Path) -> None:
    path = copy(source, tmp_path)
    assert run(path) == 0
    old = next(yaml.safe_load_all(source.read_text()))
    new = next(yaml.safe_load_all(path.read_text()))
    pairs = _pairs(old["spec"], new["spec"])
    assert pairs
    go, jinja = GoTemplateEngine(), TemplateEngine()
    base = {"plan": "", "replicas": "2", "deployImage": "x", "hostOrUrl": ""}
    for row in (
        base | {"uid": "acme", "host": "acme.example.com", "plan": "pro", "image": "web:1"},
        base | {"uid": "b-2", "host": "b.example.com", "replicas": "3", "deployImage": ""},
    ):
        for go_source, jinja_source in pairs:
            expected = go.compile(go_source)
            converted = jinja.compile(jinja_source)
            assert converted.render(row) == expected.render(row)
            assert converted.typed == expected.typed
            assert converted.render_typed(row) == expected.render_typed(row)


def test_check_exits_1_and_writes_nothing_when_a_file_would_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy(FIXTURE, tmp_path)
    assert run(path, "--check") == 1
    assert path.read_bytes() == FIXTURE.read_bytes()
    assert f"would convert {path}: 10 template(s)" in capsys.readouterr().out
    assert run(path) == 0
    assert run(path, "--check") == 0


def test_out_writes_every_file_under_its_relative_name_and_leaves_the_sources(
    tmp_path: Path,
) -> None:
    source = tmp_path / "forms"
    (source / "team").mkdir(parents=True)
    copy(FIXTURE, source / "team")
    (source / "other.yaml").write_text("kind: ConfigMap\ndata: {a: '{{ .uid }}'}\n")
    out = tmp_path / "out"
    assert run(source, "--out", out) == 0
    assert (out / "team" / FIXTURE.name).read_bytes() == CONVERTED.read_bytes()
    assert (out / "other.yaml").read_text() == "kind: ConfigMap\ndata: {a: '{{ .uid }}'}\n"
    assert (source / "team" / FIXTURE.name).read_bytes() == FIXTURE.read_bytes()


def test_a_form_with_a_template_that_cannot_be_converted_is_left_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = form('"{{ range .items }}{{ . }}{{ end }}"')
    path = tmp_path / "f.yaml"
    path.write_text(text)
    assert run(path) == 1
    assert path.read_text() == text  # nameTemplate is not converted alone: no mixed form
    assert capsys.readouterr().err.splitlines() == [
        f'{path}: form "f" resource "cm" field spec.data.value: cannot convert: range over a '
        "value that may be a map (Go visits sorted keys) or a string (an error in Go); only "
        "lists built in the template are converted"
    ]


def test_other_forms_of_the_file_are_still_converted(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(form('"{{ range .l }}{{ end }}"', name="a") + "---\n" + form(".x", name="b"))
    assert run(path) == 1
    documents = list(yaml.safe_load_all(path.read_text()))
    assert documents[0]["spec"]["configMaps"][0]["nameTemplate"] == "{{ .uid }}-cm"
    assert documents[1]["spec"]["configMaps"][0]["nameTemplate"] == "{{ uid }}-cm"


def test_a_file_that_is_not_yaml_is_exit_2_and_nothing_is_written(tmp_path: Path) -> None:
    good = copy(FIXTURE, tmp_path, "a.yaml")
    (tmp_path / "b.yaml").write_text("a: [unclosed\n")
    assert run(tmp_path) == 2
    assert good.read_bytes() == FIXTURE.read_bytes()


def test_two_files_written_to_one_name_are_a_usage_error(tmp_path: Path) -> None:
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        copy(FIXTURE, tmp_path / name, "f.yaml")
    paths = [tmp_path / "x" / "f.yaml", tmp_path / "y" / "f.yaml"]
    assert run(*paths, "--out", tmp_path / "out") == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["--check", "--out", "o"], []])
def test_check_with_out_or_no_path_is_a_usage_error(args: list[str]) -> None:
    assert main(["convert", *args]) == 2


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert run(tmp_path / "nope.yaml") == 2


def test_a_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_bytes(b"a: \xff\n")
    assert run(tmp_path / "f.yaml") == 2


def test_windows_line_endings_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    text = form("|\n            a {{ .x }}\n            b\n").replace("\n", "\r\n")
    path.write_bytes(text.encode())
    assert run(path) == 0
    expected = text.replace("{{ .uid }}", "{{ uid }}").replace("{{ .x }}", "{{ x }}")
    assert path.read_bytes() == expected.encode()


def test_block_scalar_needing_an_indentation_indicator_becomes_double_quoted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(form("|2\n              {{ .x }}\n            b") + "# after\n")
    assert run(path) == 0
    assert path.read_text() == converted('"  {{ x }}\\nb\\n"') + "# after\n"


def test_multi_line_single_quoted_and_plain_scalars_become_double_quoted(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(form("'a {{ .x }}\n\n            b'"))
    assert run(path) == 0
    assert path.read_text() == converted('"a {{ x }}\\nb"')
    path.write_text(form("a {{ .x }}\n\n            b"))
    assert run(path) == 0
    assert path.read_text() == converted('"a {{ x }}\\nb"')


def test_a_literal_block_keeps_lines_of_spaces_and_its_header_comment(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    block = "|+  # note\n            {{ .x }}\n                \n            b\n\n"
    path.write_text(form(block))
    assert run(path) == 0
    assert path.read_text() == converted(block.replace(".x", "x"))


def test_the_file_mode_survives_an_in_place_rewrite(tmp_path: Path) -> None:
    path = copy(FIXTURE, tmp_path)
    path.chmod(0o640)
    assert run(path) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_file_that_cannot_be_written_is_exit_1(tmp_path: Path) -> None:
    path = copy(FIXTURE, tmp_path)
    (tmp_path / "out").write_text("a file, not a directory")
    assert run(path, "--out", tmp_path / "out" / "sub") == 1


def test_a_rewrite_that_would_change_more_than_the_templates_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy(FIXTURE, tmp_path)
    monkeypatch.setattr(converting, "_emit", lambda original, node, value: '"changed"')
    assert run(path) == 1
    assert path.read_bytes() == FIXTURE.read_bytes()


def test_a_jinja_form_and_other_kinds_are_left_byte_for_byte(tmp_path: Path) -> None:
    text = form('"{{ x | upper }}"').replace("{{ .uid }}", "{{ uid }}")
    text += "---\napiVersion: v1\nkind: Secret\nstringData: {a: '{{ .uid }}'}\n"
    path = tmp_path / "f.yaml"
    path.write_text(text)
    assert run(path, "--check") == 0
    assert run(path) == 0
    assert path.read_text() == text


def test_a_declared_go_form_is_converted_and_then_declared_jinja(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(
        form("'{{ upper .x }}'").replace(
            "  hubId: h\n", "  hubId: h\n  templateSyntax: go  # Lynq's\n"
        )
    )
    assert run(path) == 0
    expected = converted("'{{ x | upper }}'")
    assert path.read_text() == expected.replace(
        "  hubId: h\n", "  hubId: h\n  templateSyntax: jinja  # Lynq's\n"
    )
    path.write_text(
        form("'{{ .x }}'").replace("  hubId: h\n", "  hubId: h\n  templateSyntax: jinja\n")
    )
    assert run(path, "--check") == 0


HUB = """\
apiVersion: operator.lynq.sh/v1
kind: LynqHub
metadata: {name: tenants, namespace: default}
spec:
  source:
    type: sqlite
    sqlite: {path: ../tenants.db, table: tenants}
  valueMappings: {uid: tenant_id, hostOrUrl: url, activate: active}
  extraValueMappings: {plan: plan, replicas: replicas, image: image, deployImage: image}
"""


def _render(config: Path, out: Path) -> dict[str, bytes]:
    assert main(["render", "--config", str(config), "--out", str(out)]) == 0
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != INPUTS_FILE  # it records the forms' text, by design
    }


def test_converted_forms_render_the_same_files_as_the_lynq_forms(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    shutil.copyfile(EXAMPLES / "feature-flags" / "config" / "lynq-bridge.yaml", config / "b.yaml")
    (config / "hub.yaml").write_text(HUB)
    for source in (SAMPLE_FORM, FIXTURE):
        text = source.read_text().replace("hubId: sample-hub", "hubId: tenants")
        (config / source.name).write_text(text)
    with contextlib.closing(sqlite3.connect(tmp_path / "tenants.db")) as connection:
        connection.execute(
            "CREATE TABLE tenants (tenant_id TEXT, url TEXT, active INTEGER, plan TEXT, "
            "replicas TEXT, image TEXT)"
        )
        connection.executemany(
            "INSERT INTO tenants VALUES (?, ?, 1, ?, ?, ?)",
            [
                ("acme", "https://acme.example.com", "pro", "3", "web:1.2"),
                ("beta", "beta.example.com:8443", None, "1", None),
            ],
        )
        connection.commit()
    before = _render(config, tmp_path / "before")
    assert run(config) == 0
    assert "{{ .uid }}" not in (config / SAMPLE_FORM.name).read_text()
    after = _render(config, tmp_path / "after")
    assert len(before) > 10
    assert after == before
