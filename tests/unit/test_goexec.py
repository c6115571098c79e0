"""The Go-template engine: Go's semantics, Lynq's options, the sandbox and the limits."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from lynq_bridge.config.models import LynqForm
from lynq_bridge.core import limits
from lynq_bridge.core.forms import compile_form
from lynq_bridge.core.goexec import MAX_TEMPLATE_DEPTH, GoTemplateEngine
from lynq_bridge.core.templating import TemplateEngine, TemplateError

ENGINE = GoTemplateEngine()


def render(source: str, **variables: Any) -> str:
    return ENGINE.compile(source).render(variables)


@pytest.mark.parametrize(
    ("source", "variables", "expected"),
    [
        ("node-{{ .uid }}", {"uid": "42"}, "node-42"),
        ('{{ default "nginx:stable" .image }}', {"image": ""}, "nginx:stable"),
        ('{{ .x | printf "%s-%s" "a" }}', {"x": "b"}, "a-b"),  # the piped value comes last
        ('{{ $n := printf "%s-%s" .uid "web" }}{{ $n }}', {"uid": "u"}, "u-web"),
        ("{{ $n := 1 }}{{ if true }}{{ $n = 2 }}{{ end }}{{ $n }}", {}, "2"),
        ("{{ $.uid }}{{ range list 1 }}{{ $.uid }}{{ end }}", {"uid": "r"}, "rr"),
        ('{{ if eq .t "a" }}A{{ else if eq .t "b" }}B{{ else }}C{{ end }}', {"t": "b"}, "B"),
        ("{{ with .x }}[{{ . }}]{{ else }}none{{ end }}", {"x": ""}, "none"),
        ("{{ range $i, $x := list 7 8 }}{{ $i }}:{{ $x }} {{ end }}", {}, "0:7 1:8 "),
        ('{{ range $k, $v := dict "b" 2 "a" 1 }}{{ $k }}={{ $v }},{{ end }}', {}, "a=1,b=2,"),
        ("{{ range 3 }}{{ . }}{{ end }}", {}, "012"),
        ("{{ range list }}x{{ else }}empty{{ end }}", {}, "empty"),
        (
            "{{ range list 1 2 3 4 }}{{ if eq . 2 }}{{ continue }}{{ end }}"
            "{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            {},
            "13",
        ),
        ('{{ index . "region" }}', {}, "<no value>"),
        ('{{ index . "region" | default "eu" }}', {}, "eu"),
        (
            '{{ list 1 "a" nil 1.5 }} {{ dict "b" 1 "a" (list true) }}',
            {},
            "[1 a <nil> 1.5] map[a:[true] b:1]",
        ),
        ("{{ 1000000.0 }} {{ 0.5 }} {{ true }}", {}, "1e+06 0.5 true"),
        ('{{ print "a" 1 2 "b" }}|{{ println 1 "x" }}', {}, "a1 2b|1 x\n"),
        ('{{ len "héllo" }} {{ len (list 1 2) }}', {}, "6 2"),
        ('{{ index (list 1 2) 1 }} {{ index (dict "a" (list 5)) "a" 0 }}', {}, "2 5"),
        ("{{ html \"<a href='x'>&\" }}", {}, "&lt;a href=&#39;x&#39;&gt;&amp;"),
        ('{{ js "a\'b<c>" }}', {}, "a\\'b\\u003Cc\\u003E"),
        ('{{ urlquery "a b&c/é" }}', {}, "a+b%26c%2F%C3%A9"),
        ('{{ not "" }} {{ and 1 "x" }} {{ or 0 "" }}', {}, "true x "),
        ('{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" .uid }}', {"uid": "z"}, "[z]"),
        ('{{ block "b" .uid }}<{{ . }}>{{ end }}', {"uid": "q"}, "<q>"),
        ("{{ .row }}", {"row": "{{ 7*7 }}"}, "{{ 7*7 }}"),
        ("{{ .row }}", {"row": "__LYNQ_TYPE_INT__5"}, "__LYNQ_TYPE_INT__5"),
        ("{{ (fromJson .j).a.b }}", {"j": '{"a": {"b": "deep"}}'}, "deep"),
    ],
)
def test_renders_as_go_text_template(source: str, variables: dict[str, Any], expected: str) -> None:
    assert ENGINE.compile(source).render(variables) == expected


@pytest.mark.parametrize(
    ("template", "args", "expected"),
    [
        ("%05d|%-4s|%4s", (42, "ab", "cd"), "00042|ab  |  cd"),
        ("%q %v %t %x %X", ("q", 1.5, True, "hi", 255), '"q" 1.5 true 6869 FF'),
        ("%.2f %e %g %.3g", (3.14159, 1e6, 1e21, 2.0 / 3), "3.14 1.000000e+06 1e+21 0.667"),
        ("%d %s", ("s", 1), "%!d(string=s) %!s(int=1)"),
        ("%d", (), "%!d(MISSING)"),
        ("%d", (1, "x"), "1%!(EXTRA string=x)"),
        (
            "%v %v %d",
            ([1, 2], {"b": 1, "a": 2}, {"a": 2}),
            "[1 2] map[a:2 b:1] map[%!d(string=a):2]",
        ),
        ("%+d % d %o %#x %b %c %U", (5, 5, 8, 255, 5, 65, 65), "+5  5 10 0xff 101 A U+0041"),
        ("%T %T %T %T", ("", 1, 1.0, None), "string int float64 <nil>"),
        ("%.1s%%", ("abc",), "a%"),
        ("%2000000d", (1,), "%!(BADWIDTH)1"),
    ],
)
def test_printf_follows_go_fmt(template: str, args: tuple[object, ...], expected: str) -> None:
    source = "{{ printf .f " + " ".join(f".a{i}" for i in range(len(args))) + " }}"
    variables = {"f": template, **{f"a{i}": arg for i, arg in enumerate(args)}}
    assert ENGINE.compile(source).render(variables) == expected


@pytest.mark.parametrize(
    ("source", "variables", "message"),
    [
        ("{{ .uid }}-{{ .missing }}", {"uid": "x"}, 'map has no entry for key "missing"'),
        ("{{ .a.b }}", {"a": "text"}, "can't evaluate field b in type string"),
        ('{{ eq 1 "1" }}', {}, "incompatible types for comparison"),
        ("{{ lt true false }}", {}, "invalid type for comparison"),
        ("{{ index (list 1) 3 }}", {}, "index out of range: 3"),
        ('{{ range "abc" }}{{ end }}', {}, 'range can\'t iterate over "abc"'),
        ("{{ 1 2 }}", {}, "can't give argument to non-function 1"),
        ("{{ nil }}", {}, "nil is not a command"),
        ('{{ fail "boom" }}', {}, "error calling fail: boom"),
        ('{{ define "t" }}{{ template "t" . }}{{ end }}{{ template "t" . }}', {}, "depth"),
    ],
)
def test_render_error_names_the_cause(source: str, variables: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError) as error:
        ENGINE.compile(source).render(variables)
    assert message in str(error.value)


def test_template_recursion_stops_at_the_depth_limit() -> None:
    source = '{{ define "t" }}{{ template "t" . }}{{ end }}{{ template "t" . }}'
    with pytest.raises(TemplateError, match=f"maximum template depth \\({MAX_TEMPLATE_DEPTH}\\)"):
        render(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ .uid | nonExistentFunc }}", 'function "nonExistentFunc" not defined (line 1)'),
        ("{{ call .f }}", 'function "call" is not allowed'),
        ("{{ now }}", 'function "now" is not allowed: reads the clock'),
        ("{{ randAlpha 5 }}", 'function "randAlpha" is not allowed'),
        ("{{ uuidv4 }}", 'function "uuidv4" is not allowed'),
        ('{{ template "nope" }}', 'template "nope" not defined'),
        ("{{ trim }}", "wrong number of args for trim: want 1 got 0"),
        ("{{ and }}", "wrong number of args for and: want at least 1 got 0"),
        ("x\n{{ .uid", "template syntax error: unclosed action (line 2)"),
    ],
)
def test_compile_error_names_the_cause(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        ENGINE.compile(source)
    assert message in str(error.value)


def test_rejected_functions_suggest_a_column_instead() -> None:
    with pytest.raises(TemplateError, match="extraValueMappings"):
        ENGINE.compile("{{ now }}")


def test_and_or_short_circuit_so_the_second_argument_never_runs() -> None:
    assert render('{{ and 0 (fail "ran") }}|{{ or 1 (fail "ran") }}') == "0|1"
    with pytest.raises(TemplateError, match="ran"):
        render('{{ and 1 (fail "ran") }}')


@pytest.mark.parametrize(
    ("source", "variables", "typed", "value"),
    [
        ("{{ .r | int }}", {"r": "3"}, "int", 3),
        ("  {{ .r | int }}\n", {"r": "3"}, "int", "  3\n"),  # text before: Lynq's marker is lost
        ("{{ .r | int }}\n", {"r": "3"}, "int", 3),
        ("{{ .c | float }}", {"c": "1.5"}, "float", 1.5),
        ('{{ "yes" | bool }}', {}, "bool", True),
        ("{{ if .on }}{{ int .r }}{{ else }}auto{{ end }}", {"on": "1", "r": "4"}, None, 4),
        ("{{ if .on }}{{ int .r }}{{ else }}auto{{ end }}", {"on": "", "r": "4"}, None, "auto"),
        ("{{ int .r }}-x", {"r": "4"}, None, "4-x"),
        ("__LYNQ_TYPE_INT__{{ .r }}", {"r": "12"}, "int", 12),
        ("{{ .r }}", {"r": "__LYNQ_TYPE_INT__5"}, None, "__LYNQ_TYPE_INT__5"),
    ],
)
def test_typed_values_follow_lynqs_markers(
    source: str, variables: dict[str, Any], typed: str | None, value: object
) -> None:
    compiled = ENGINE.compile(source)
    assert compiled.typed == typed
    result = compiled.render_typed(variables)
    assert result == value
    assert type(result) is type(value)


def test_a_billion_iterations_stop_at_the_deadline() -> None:
    ticks = itertools.count()
    deadline = limits.Deadline(lambda: next(ticks) * 0.001, seconds=1.0)
    with limits.active_deadline(deadline), pytest.raises(TemplateError, match="longer than 1 s"):
        render("{{ range 1000000000 }}{{ end }}")


def test_repeat_of_a_billion_is_refused_before_it_allocates() -> None:
    with pytest.raises(TemplateError, match="more than 1,048,576 beyond its largest input"):
        render('{{ repeat 1000000000 "x" }}')


def test_output_may_not_grow_past_the_limit_beyond_the_largest_variable() -> None:
    source = "{{ range 2000 }}{{ $.v }}{{ end }}"
    assert len(render(source, v="x" * 100)) == 200_000
    with pytest.raises(TemplateError, match="the template output would make a value"):
        render(source, v="x" * 1000)


def test_compile_is_cached_by_source_text() -> None:
    engine = GoTemplateEngine()
    assert engine.compile("{{ .a }}") is engine.compile("{{ .a }}")


def test_text_without_an_action_is_a_constant() -> None:
    compiled = ENGINE.compile("plain {% not jinja %}")
    assert compiled.constant
    assert compiled.render({}) == "plain {% not jinja %}"


# --- forms: which engine -------------------------------------------------------------------------


def _form(*templates: str, syntax: str | None = None) -> LynqForm:
    spec: dict[str, Any] = {
        "hubId": "h",
        "configMaps": [
            {"id": f"r{i}", "spec": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": t}}}
            for i, t in enumerate(templates)
        ],
    }
    if syntax:
        spec["templateSyntax"] = syntax
    return LynqForm.model_validate(
        {
            "apiVersion": "operator.lynq.sh/v1",
            "kind": "LynqForm",
            "metadata": {"name": "f"},
            "spec": spec,
        }
    )


def _render_first(form: LynqForm, **variables: str) -> object:
    compiled, problems, _ = compile_form(
        form, engine=TemplateEngine(), go_engine=GoTemplateEngine()
    )
    assert problems == []
    assert compiled is not None
    resource = compiled.resources[0]
    tree = resource.spec
    data = dict(tree.items)["data"]  # type: ignore[union-attr]
    return dict(data.items)["k"].template.render(variables)  # type: ignore[union-attr]


def test_form_written_for_lynq_renders_with_the_go_engine() -> None:
    assert _render_first(_form('{{ default "x" .plan }}', '{{ "both" }}'), plan="") == "x"


def test_form_in_jinja_renders_with_the_jinja_engine() -> None:
    assert _render_first(_form("{{ plan | default('x') }}", '{{ "both" }}'), plan="") == "x"


def test_form_whose_strings_parse_both_ways_is_jinja() -> None:
    assert _render_first(_form('{{ "x" }}')) == "x"


def test_declared_syntax_decides_alone() -> None:
    form = _form('{{ "%d" | printf }}', syntax="go")
    assert _render_first(form) == "%!d(MISSING)"


def test_form_mixing_both_syntaxes_is_a_validate_error_naming_both_resources() -> None:
    form = _form("{{ .uid }}", "{{ uid }}")
    _, problems, _ = compile_form(form, engine=TemplateEngine(), go_engine=GoTemplateEngine())
    assert any(
        'resource "r0" is written in Go' in p and 'resource "r1" in Jinja2' in p for p in problems
    )


def test_go_form_with_a_bad_string_reports_the_go_error() -> None:
    form = _form("{{ .uid }}", "{{ .uid | nonExistentFunc }}")
    _, problems, _ = compile_form(form, engine=TemplateEngine(), go_engine=GoTemplateEngine())
    assert problems == [
        'form f, resource "r1", spec.data.k: template syntax error: '
        'function "nonExistentFunc" not defined (line 1)'
    ]


def test_a_function_result_past_the_growth_limit_is_refused() -> None:
    engine = GoTemplateEngine(library={"big": lambda: "x" * (limits.MAX_RESULT + 1)}, rejected={})
    with pytest.raises(TemplateError, match='calling "big" would make a value'):
        engine.compile("{{ big }}").render({})
