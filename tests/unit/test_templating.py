"""The sandboxed template engine: compile-time checks, typed detection, rendering, errors."""

from __future__ import annotations

import pytest

from lynq_bridge.core.templating import CompiledTemplate, TemplateEngine, TemplateError

ROW = {"uid": "acme", "plan": "", "replicas": "3", "flag": "yes", "host": "https://a.example.com/x"}


@pytest.fixture(scope="module")
def engine() -> TemplateEngine:
    return TemplateEngine()


def render(engine: TemplateEngine, source: str, variables: dict[str, object] | None = None) -> str:
    return engine.compile(source).render(ROW if variables is None else variables)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ replicas | int }}", "int"),
        ("{{ x | default('2') | int }}", "int"),
        ("{{ int(replicas) }}", "int"),
        ("{{ ratio | float }}", "float"),
        ("{{ float(ratio) }}", "float"),
        ("{{ flag | bool }}", "bool"),
        ("{{- flag | bool -}}", "bool"),
        # White space around the single expression is ignored (block scalars add a newline).
        (" {{ r | int }} ", "int"),
        ("{{ r | int }}\n", "int"),
        ("x{{ replicas | int }}", None),
        ("{{ replicas | int }}s", None),
        ("{{ a }}{{ b | int }}", None),
        ("{{ b | int }}{{ a }}", None),
        ("{{ replicas | int | string }}", None),
        ("{{ (replicas | int) + 1 }}", None),
        ("{% if a %}{{ b | int }}{% endif %}", None),
        ("{{ replicas }}", None),
        ("3", None),
    ],
)
def test_typed_is_set_only_when_the_whole_template_is_one_int_float_or_bool_expression(
    engine: TemplateEngine, source: str, expected: str | None
) -> None:
    assert engine.compile(source).typed == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ replicas | int }}", 3),
        (" {{ replicas | int }}\n", 3),
        ("{{ missing | default('2') | int }}", 2),
        ("{{ plan | default('7') | int }}", 7),
        ("{{ uid | int }}", 0),
        ("{{ '1.5' | float }}", 1.5),
        ("{{ '42' | float }}", 42.0),
        ("{{ 1e6 | float }}", 1e6),
        ("{{ flag | bool }}", True),
        ("{{ plan | bool }}", False),
        ("{{ bool('TRUE') }}", True),
        ("{{ uid }}", "acme"),
        ("plain", "plain"),
    ],
)
def test_render_typed_gives_python_values_of_the_typed_kind(
    engine: TemplateEngine, source: str, expected: object
) -> None:
    value = engine.compile(source).render_typed(ROW)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ '42' | float }}", "42"),
        ("{{ '1.5' | float }}", "1.5"),
        ("{{ 1e6 | float }}", "1e+06"),
        ("{{ 1.5 * 2 }}", "3"),
        ("{{ 'yes' | bool }}", "true"),
        ("{{ uid == 'acme' }}", "true"),
        ("{{ 'x' | int }}", "0"),
        ("{{ none }}", ""),
        ("{{ [1, 2] | toJson }}", "[1,2]"),
    ],
)
def test_output_prints_values_as_go_does(
    engine: TemplateEngine, source: str, expected: str
) -> None:
    assert render(engine, source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ plan | default('basic') }}", "basic"),
        ("{{ absent | default('basic') }}", "basic"),
        ("{{ absent | d('basic') }}", "basic"),
        ("{{ uid | default('basic') }}", "acme"),
        ("{{ host | toHost }}", "a.example.com"),
        ("{{ toHost(host) }}", "a.example.com"),
        ("{{ sha1sum(uid) }}", "293abb6b76d7791c0732cc517d38c4b5c734b87f"),
        ("{{ uid | trunc(2) }}", "ac"),
        ("{{ uid | trunc(-2) }}", "me"),
        ("{{ uid | replace('c', 'k') }}", "akme"),
        ("{{ uid | hasPrefix('ac') }}", "true"),
        ("{{ uid | hasSuffix('ac') }}", "false"),
        ("{{ uid | regexReplaceAll('[aeiou]', '_') }}", "_cm_"),
        ("{{ 'Acme Corp' | title }}", "Acme Corp"),
        ("{{ 'acme corp' | title }}", "Acme Corp"),
        ('{{ (\'{"a": {"b": 5}}\' | fromJson).a.b }}', "5"),
        ("{{ uid | upper | quote }}", '"ACME"'),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}", "ab"),
        ("{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(uid) }}", "<acme>"),
        ("{{ {'b': 1, 'a': 2} | tojson }}", '{"a": 2, "b": 1}'),
        ("{{ uid }}\n", "acme\n"),
        ("{{ uid }}\r\n", "acme\n"),
    ],
)
def test_functions_filters_and_builtins_render(
    engine: TemplateEngine, source: str, expected: str
) -> None:
    assert render(engine, source) == expected


@pytest.mark.parametrize(
    "value", ["{{ 7*7 }}", "{% if true %}x{% endif %}", "{# c #}", "{{ uid }}"]
)
def test_row_values_are_rendered_exactly_once(engine: TemplateEngine, value: str) -> None:
    assert render(engine, "v={{ value }}", {"value": value}) == f"v={value}"


@pytest.mark.parametrize(
    "source", ["", "plain text", "a } b { c", "{ {not jinja} }", "100%", "line\r\nbreak"]
)
def test_sources_without_template_syntax_are_constant_and_returned_unchanged(
    engine: TemplateEngine, source: str
) -> None:
    compiled = engine.compile(source)
    assert compiled.constant
    assert compiled.typed is None
    assert compiled.render({}) == source
    assert compiled.render_typed({}) == source


def test_templates_are_not_constant_when_they_use_any_syntax(engine: TemplateEngine) -> None:
    for source in ("{{ uid }}", "{% if true %}x{% endif %}", "{# comment #}"):
        assert not engine.compile(source).constant


def test_compile_caches_per_source(engine: TemplateEngine) -> None:
    assert engine.compile("{{ uid }}-x") is engine.compile("{{ uid }}-x")


def test_compiled_templates_are_frozen_values(engine: TemplateEngine) -> None:
    compiled = engine.compile("{{ uid }}")
    assert isinstance(compiled, CompiledTemplate)
    assert compiled.source == "{{ uid }}"
    with pytest.raises(AttributeError):
        compiled.source = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ now() }}", 'function "now" is not allowed: its output would change on every sync'),
        ("{{ uuidv4() }}", 'function "uuidv4" is not allowed: its output would change'),
        ("{{ randAlpha(5) }}", 'function "randAlpha" is not allowed: its output would change'),
        ("{{ lipsum() }}", 'function "lipsum" is not allowed: its output would change'),
        ("{{ [1, 2] | random }}", 'filter "random" is not allowed: its output would change'),
        ("{{ uid | shuffle }}", 'filter "shuffle" is not allowed: its output would change'),
        ("{{ env('HOME') }}", 'function "env" is not allowed: it reads the machine'),
        ("{{ expandenv('$HOME') }}", 'function "expandenv" is not allowed: it reads the machine'),
        ("{{ getHostByName(host) }}", 'function "getHostByName" is not allowed: it reads'),
        ("{{ lookup('v1', 'Pod') }}", 'function "lookup" is not allowed: it reads'),
    ],
)
def test_non_deterministic_functions_are_rejected_with_the_reason(
    engine: TemplateEngine, source: str, message: str
) -> None:
    with pytest.raises(TemplateError) as error:
        engine.compile(source)
    assert str(error.value).startswith(message)


def test_a_variable_may_share_a_name_with_a_rejected_function(engine: TemplateEngine) -> None:
    assert render(engine, "{{ env }}-{{ now }}", {"env": "prod", "now": "x"}) == "prod-x"


@pytest.mark.parametrize(
    ("source", "attribute"),
    [
        ("{{ ''.__class__.__mro__ }}", "__class__"),
        ("{{ uid.__class__ }}", "__class__"),
        ("{{ cycler.__init__.__globals__ }}", "__init__"),
        ("{{ uid['__class__'] }}", "__class__"),
        ("{{ uid._private }}", "_private"),
        ("{{ uid | attr('__class__') }}", "__class__"),
        ("{{ [uid] | map(attribute='__class__') | list }}", "__class__"),
        ("{{ [uid] | selectattr('__doc__') | list }}", "__doc__"),
    ],
)
def test_sandbox_escapes_are_rejected_at_compile(
    engine: TemplateEngine, source: str, attribute: str
) -> None:
    with pytest.raises(TemplateError) as error:
        engine.compile(source)
    assert str(error.value) == (
        f'access to "{attribute}" is not allowed: templates cannot reach Python internals'
    )


@pytest.mark.parametrize(
    ("source", "variables", "message"),
    [
        ("{{ uid[name] }}", {"uid": "x", "name": "__class__"}, 'access to "__class__"'),
        ("{{ '{0.__class__}'.format(uid) }}", {"uid": "x"}, 'access to "__class__"'),
        ("{{ items.append(1) }}", {"items": []}, 'access to "append" is not allowed'),
    ],
)
def test_sandbox_blocks_dynamic_escapes_at_render(
    engine: TemplateEngine, source: str, variables: dict[str, object], message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        render(engine, source, variables)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{% include 'other.yaml' %}",
            '"{% include %}" is not allowed: templates cannot read files',
        ),
        ("{% import 'm.j2' as m %}", '"{% import %}" is not allowed'),
        ("{% from 'm.j2' import x %}", '"{% from %}" is not allowed'),
        ("{% extends 'base.j2' %}", '"{% extends %}" is not allowed'),
    ],
)
def test_file_access_tags_are_rejected(engine: TemplateEngine, source: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        engine.compile(source)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ uid | foo }}", 'unknown filter "foo"'),
        ("{% if x %}{{ uid | foo }}{% endif %}", 'unknown filter "foo"'),
        ("{% filter foo %}x{% endfilter %}", 'unknown filter "foo"'),
        ("{{ foo(uid) }}", 'unknown function "foo"'),
        ("{{ uid is foo }}", 'unknown test "foo"'),
        ("{{ uid", "template syntax error: unexpected end of template"),
        ("{{ uid | | trim }}", "template syntax error: expected token 'name', got '|' (line 1)"),
        ("a\n{% if x %}", "template syntax error: unexpected end of template"),
        ("{% endfor %}", "template syntax error: encountered unknown tag 'endfor'"),
    ],
)
def test_invalid_templates_fail_at_compile(
    engine: TemplateEngine, source: str, message: str
) -> None:
    with pytest.raises(TemplateError) as error:
        engine.compile(source)
    assert str(error.value).startswith(message)


def test_syntax_errors_name_the_line(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateError, match=r"\(line 2\)$"):
        engine.compile("a\n{{ uid")


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("{{ toHost }}", "function"),
        ("{{ uid.upper }}", "builtin_function_or_method"),
        ("{{ [1, 2] | unique }}", "generator"),
        ("{{ cycler(1, 2) }}", "Cycler"),
    ],
)
def test_printing_objects_whose_text_holds_a_memory_address_is_an_error(
    engine: TemplateEngine, source: str, kind: str
) -> None:
    with pytest.raises(TemplateError) as error:
        render(engine, source)
    assert str(error.value) == (
        f'cannot print a "{kind}" object: its text would change on every run'
    )


@pytest.mark.parametrize(
    ("source", "variables", "message"),
    [
        ("{{ plann }}", {}, 'undefined variable "plann"'),
        ("{{ uid }}-{{ missing }}", {"uid": "x"}, 'undefined variable "missing"'),
        ("{{ plann | upper }}", {}, 'undefined variable "plann"'),
        ("{{ plann | int }}", {}, 'undefined variable "plann"'),
        ("{% if plann %}x{% endif %}", {}, 'undefined variable "plann"'),
        ("{{ (cfg | fromJson).db.host }}", {"cfg": "{}"}, 'undefined attribute "db"'),
        ("{{ (cfg | fromJson)['key'] }}", {"cfg": "{}"}, 'undefined attribute "key"'),
        ("{{ (cfg | fromJson)[3] }}", {"cfg": "[]"}, "undefined element 3"),
        ("{{ secret | b64dec }}", {"secret": "%%%"}, "b64dec: the input is not valid base64"),
        ("{{ 1 // 0 }}", {}, "integer division or modulo by zero"),
    ],
)
def test_render_errors_are_template_errors_naming_the_cause(
    engine: TemplateEngine, source: str, variables: dict[str, object], message: str
) -> None:
    compiled = engine.compile(source)
    with pytest.raises(TemplateError) as error:
        compiled.render(variables)
    assert str(error.value) == message
