"""The Go template parser: Go 1.24's grammar, its parse-time checks and its error texts."""

from __future__ import annotations

import pytest

from lynq_bridge.core.goast import (
    Action,
    Chain,
    Comment,
    Field,
    Identifier,
    If,
    Number,
    Pipeline,
    Range,
    String,
    TemplateCall,
    Text,
    Variable,
    With,
)
from lynq_bridge.core.goparse import GoSyntaxError, parse


def _value(source: str) -> object:
    (action,) = parse(source).root
    assert isinstance(action, Action)
    (command,) = action.pipe.commands
    (operand,) = command.args
    assert isinstance(operand, Number | String)
    return operand.value


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("{{ .uid", "unclosed action", 1),
        ("{{ .uid | | trim }}", 'unexpected "|" in command', 1),
        ("a\nb\n{{ ) }}", "unexpected right paren U+0029 ')'", 3),
        ("{{ (1 }}", "unclosed left paren", 1),
        ("{{ $x }}", 'undefined variable "$x"', 1),
        ("{{ $y = 1 }}", 'undefined variable "$y"', 1),
        ("{{ break }}", "{{break}} outside {{range}}", 1),
        ("{{ range .l }}{{ end }}{{ continue }}", "{{continue}} outside {{range}}", 1),
        ("{{ end }}", "unexpected {{end}}", 1),
        ("{{ if .a }}\n\nx", "unexpected EOF", 3),
        ("{{ .a | 3 }}", "non executable command in pipeline stage 2", 1),
        ('{{ "x".y }}', 'unexpected . after term "\\"x\\""', 1),
        ("{{ }}", "missing value for command", 1),
        ('{{ "open }}', "unterminated quoted string", 1),
        ("{{ `open }}", "unterminated raw quoted string", 1),
        ("{{/* open }}", "unclosed comment", 1),
        ("{{/* c */ .x }}", "comment ends before closing delimiter", 1),
        ("{{ .a-b }}", "bad character U+002D '-'", 1),
        ("{{ 9223372036854775808 }}", "9223372036854775808 overflows int", 1),
        ("{{ 1+2i }}", "complex number 1+2i is not supported", 1),
        ('{{ "\\q" }}', "invalid syntax", 1),
        ('{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}', "multiple definition", 1),
        ("{{ if .a }}{{ else }}{{ else }}{{ end }}", "expected end; found {{else}}", 1),
        ("{{ range $a, $b, $c := .l }}{{ end }}", "too many declarations in range", 1),
    ],
)
def test_syntax_error_names_the_cause_and_line(source: str, message: str, line: int) -> None:
    with pytest.raises(GoSyntaxError) as error:
        parse(source)
    assert message in error.value.message
    assert error.value.line == line


def test_unknown_function_is_refused_with_the_checkers_reason() -> None:
    def known(name: str) -> str | None:
        return None if name == "trim" else f'function "{name}" not defined'

    assert parse("{{ trim .x }}", functions=known)
    with pytest.raises(GoSyntaxError, match='function "nope" not defined'):
        parse("{{ nope .x }}", functions=known)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("a  {{- .x }}", "a"),
        ("{{ .x -}}  \n b", "b"),
        ("a \n{{- /* c */ -}}\n b", "ab"),
    ],
)
def test_trim_markers_remove_the_white_space_beside_the_action(source: str, text: str) -> None:
    texts = "".join(node.text for node in parse(source).root if isinstance(node, Text))
    assert texts == text


def test_a_dash_touching_a_number_is_a_negative_number_not_a_trim_marker() -> None:
    text, action = parse("x {{-3}}").root
    assert text == Text("x ", 1)
    assert isinstance(action, Action)
    assert action.pipe.commands[0].args == (Number(-3, "-3", 1),)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("{{ 42 }}", 42),
        ("{{ -7.5 }}", -7.5),
        ("{{ 1e3 }}", 1000.0),
        ("{{ 0x1F }}", 31),
        ("{{ 017 }}", 15),
        ("{{ 0b101 }}", 5),
        ("{{ 1_000 }}", 1000),
        ("{{ 'a' }}", 97),
        ("{{ '\\n' }}", 10),
        ('{{ "a\\tb\\u00e9" }}', "a\tbé"),
        ("{{ `raw\\n` }}", "raw\\n"),
    ],
)
def test_literals_have_the_value_go_gives_them(source: str, value: object) -> None:
    parsed = _value(source)
    assert parsed == value
    assert type(parsed) is type(value)


def test_else_if_chain_nests_an_if_in_the_else_branch() -> None:
    (node,) = parse("{{ if .a }}1{{ else if .b }}2{{ else }}3{{ end }}").root
    assert isinstance(node, If)
    assert node.else_ is not None
    (nested,) = node.else_
    assert isinstance(nested, If)
    assert nested.else_ == (Text("3", 1),)


def test_else_with_chain_nests_a_with_in_the_else_branch() -> None:
    (node,) = parse("{{ with .a }}1{{ else with .b }}2{{ end }}").root
    assert isinstance(node, With)
    assert node.else_ is not None
    assert isinstance(node.else_[0], With)


def test_range_declares_index_and_element_variables() -> None:
    (node,) = parse("{{ range $i, $x := .l }}{{ $i }}{{ $x }}{{ end }}").root
    assert isinstance(node, Range)
    assert node.pipe.decl == ("$i", "$x")
    assert not node.pipe.is_assign


def test_variables_declared_in_a_block_end_with_it() -> None:
    with pytest.raises(GoSyntaxError, match='undefined variable "\\$x"'):
        parse("{{ if .a }}{{ $x := 1 }}{{ end }}{{ $x }}")


def test_fields_chain_onto_variables_and_parenthesized_pipelines() -> None:
    (first, second) = parse('{{ $.a.b }}{{ (index . "k").c }}').root
    assert isinstance(first, Action) and isinstance(second, Action)
    assert first.pipe.commands[0].args == (Variable("$", ("a", "b"), 1),)
    chain = second.pipe.commands[0].args[0]
    assert isinstance(chain, Chain)
    assert isinstance(chain.node, Pipeline)
    assert chain.names == ("c",)


def test_pipeline_stages_are_commands_in_order() -> None:
    (action,) = parse('{{ .a | default "x" | upper }}').root
    assert isinstance(action, Action)
    heads = [command.args[0] for command in action.pipe.commands]
    assert heads == [Field(("a",), 1), Identifier("default", 1), Identifier("upper", 1)]


def test_define_and_block_bodies_are_definitions_and_calls_stay_in_place() -> None:
    parsed = parse('{{ define "a" }}A{{ end }}{{ template "a" . }}{{ block "b" .x }}B{{ end }}')
    assert [d.name for d in parsed.defines] == ["a", "b"]
    calls = [node for node in parsed.root if isinstance(node, TemplateCall)]
    assert [(call.name, call.block) for call in calls] == [("a", False), ("b", True)]


def test_comments_are_kept_as_nodes_and_lines_are_counted_across_newlines() -> None:
    root = parse("{{/* note */}}\n{{ .a\n }}\n{{ .b }}").root
    assert isinstance(root[0], Comment)
    assert [node.line for node in root if isinstance(node, Action)] == [2, 4]
