"""Compatibility with Lynq: Lynq's own template test vectors, translated from Go to Jinja.

``shared/data/lynq-template-vectors.json`` (see its README) holds the outputs that Lynq's Go tests
assert for its engine (Go ``text/template`` + Sprig). Our engine is Jinja2, so each template is
translated mechanically and run through ``TemplateEngine``; the expectations are read from the
file at test time, never copied here. The translation:

- ``.var`` -> ``var``, ``$var`` -> ``var``, ``nil`` -> ``none``, Go string literals as is;
- ``x | fn a`` -> ``x | fn(a)``; a first command ``fn a`` -> ``fn(a)`` for our single-argument
  globals, else ``(a | fn)``; ``fn a b`` -> ``(b | fn(a))`` (Go's last argument is our piped
  value, so ``default "x" .y`` -> ``(y | default("x"))``);
- ``index . "k"`` -> ``k``, ``index $m k`` -> ``m[k]``; ``eq``/``ne`` -> ``==``/``!=``;
  ``list`` -> ``[...]``; ``print`` -> ``~``; ``printf`` -> ``format``; ``ternary`` -> an
  ``if``/``else`` expression; ``len`` -> ``length``; ``add``/``max`` -> the same arithmetic over
  ``int`` values;
- ``{{ $x := p }}`` -> ``{% set x = p %}``; ``if``/``else if``/``else``/``end`` and
  ``range $i, $x := p`` -> the Jinja blocks.

Typed vectors: ``parse`` compares ``render_typed`` (value and type), ``strip`` compares
``render``. Where the vector expects Lynq's in-band marker (``__LYNQ_TYPE_INT__42``), the
equivalent is checked: ``typed`` is the marker's kind, ``render`` gives the text after the marker
(Lynq's StripTypeMarker) and ``render_typed`` the parsed value (Lynq's ParseTypedValue).

Vectors we do not run are in ``NOT_RUN`` with the reason. Deliberate differences from Lynq:

- types travel in ``CompiledTemplate.typed``, not in marker strings, so Lynq's marker-parsing
  vectors have no equivalent; an ``int`` inside a larger string renders its plain number where
  Lynq would leave marker text in the output;
- variables are strict: ``index . "k"`` of a missing key is nil in Go but undefined here (only
  ``default``/``d`` absorb it), and ``None`` prints as an empty string, not ``<no value>``;
- see ``lynq_bridge.core.functions`` for the function-level differences (characters, not bytes;
  ``toHost`` also drops paths of scheme-less input; ``b64dec`` errors on invalid input).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from services import missing_service

from lynq_bridge.core.functions import GLOBALS
from lynq_bridge.core.templating import TemplateEngine, TemplateError

VECTORS_FILE = "lynq-template-vectors.json"
REPO_ROOT = Path(__file__).resolve().parents[2]

_MARKER_KIND = "Lynq's in-band type marker: ParseTypedValue parses marker strings, which our "
_MARKER_REASON = _MARKER_KIND + "engine never produces (types travel in CompiledTemplate.typed)"
NOT_RUN: dict[str, str] = {
    "tf-parse-int-positive": _MARKER_REASON,
    "tf-parse-int-negative": _MARKER_REASON,
    "tf-parse-int-zero": _MARKER_REASON,
    "tf-parse-float-simple": _MARKER_REASON,
    "tf-parse-float-integer": _MARKER_REASON,
    "tf-parse-float-negative": _MARKER_REASON,
    "tf-parse-bool-true": _MARKER_REASON,
    "tf-parse-bool-false": _MARKER_REASON,
    "eb-fromjson-null-value": (
        "deliberate difference: a JSON null prints as an empty string, not Go's '<no value>'"
    ),
    "eb-region-prefix-absent": (
        'deliberate difference: Go\'s `index . "region"` gives nil for a missing key; our '
        "variables are strict and only default/d absorb a missing one (in Jinja: `is defined`)"
    ),
}

_TYPES: dict[str, type] = {"int64": int, "float64": float, "bool": bool, "string": str}
_PARSE_TYPED_VALUE: dict[str, Callable[[str], object]] = {  # what Lynq's ParseTypedValue does
    "int": int,
    "float": float,
    "bool": lambda text: text == "true",
}
_MARKERS = {
    "__LYNQ_TYPE_INT__": "int",
    "__LYNQ_TYPE_FLOAT__": "float",
    "__LYNQ_TYPE_BOOL__": "bool",
}


def _vectors_path() -> Path:
    """``$LYNQ_SHARED_DIR/data/``, else ``shared/data/`` beside the repository (as in CI)."""
    shared = Path(os.environ.get("LYNQ_SHARED_DIR") or REPO_ROOT.parent / "shared")
    return shared / "data" / VECTORS_FILE


def _load_vectors() -> list[dict[str, Any]]:
    path = _vectors_path()
    if not path.exists():
        return []
    vectors: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return vectors


VECTORS = _load_vectors()
ENGINE = TemplateEngine()


# --- Go template -> Jinja -----------------------------------------------------------------------


class Untranslatable(Exception):
    """The Go template uses something the translator does not handle."""


_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s+
    | (?P<string>"(?:[^"\\]|\\.)*") | (?P<raw>`[^`]*`) | (?P<assign>:=)
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<field>(?:\.[A-Za-z_]\w*)+|\.) | (?P<var>\$[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*|\$)
    | (?P<ident>[A-Za-z_]\w*) | (?P<punct>[|(),])""",
    re.VERBOSE,
)
_CONSTANTS = {"true": "true", "false": "false", "nil": "none"}
Token = tuple[str, str]
Operand = tuple[str, str]  # ("ident" | "dot" | "value", text)


def _tokenize(action: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(action):
        match = _TOKEN.match(action, position)
        if match is None:
            raise Untranslatable(f"unexpected character {action[position]!r}")
        if match.lastgroup:
            tokens.append((match.lastgroup, match.group()))
        position = match.end()
    return tokens


class _Pipeline:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.position = tokens, 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise Untranslatable("unexpected end of action")
        self.position += 1
        return token

    def parse_all(self) -> str:
        expression = self.pipeline()
        if self.peek() is not None:
            raise Untranslatable(f"unexpected {self.peek()}")
        return expression

    def pipeline(self) -> str:
        expression = self.command(None)
        while self.peek() == ("punct", "|"):
            self.take()
            expression = self.command(expression)
        return expression

    def command(self, piped: str | None) -> str:
        operands: list[Operand] = []
        while self.peek() not in (None, ("punct", "|"), ("punct", ")")):
            operands.append(self.operand())
        if not operands:  # an empty stage stays empty, so Jinja reports the same syntax error
            return f"{piped} |" if piped is not None else ""
        kind, head = operands[0]
        if kind != "ident":
            if len(operands) > 1 or piped is not None or kind == "dot":
                raise Untranslatable("a value used as a function")
            return head
        return _call(head, operands[1:], piped)

    def operand(self) -> Operand:
        kind, text = self.take()
        if kind == "string":
            return "value", json.dumps(json.loads(text))
        if kind == "raw":
            return "value", json.dumps(text[1:-1])
        if kind == "number":
            return "value", text
        if kind == "ident":
            return ("value", _CONSTANTS[text]) if text in _CONSTANTS else ("ident", text)
        if kind == "field":
            return ("dot", ".") if text == "." else ("value", text[1:])
        if kind == "var" and text != "$":
            return "value", text[1:]
        if (kind, text) == ("punct", "("):
            inner = self.pipeline()
            if self.take() != ("punct", ")"):
                raise Untranslatable("unbalanced parenthesis")
            return "value", f"({inner})"
        raise Untranslatable(f"unsupported operand {text!r}")


def _call(name: str, operands: list[Operand], piped: str | None) -> str:
    """Translate Go's ``name a b ...`` (with the piped value, if any, as the last argument)."""
    if any(kind == "dot" for kind, _ in operands) and name != "index":
        raise Untranslatable("the whole data map `.` as an argument")
    args = [text for _, text in operands] + ([f"({piped})"] if piped is not None else [])
    if name == "index":
        return _index(operands, args)
    special = {
        "eq": lambda: f"({args[0]} == {args[1]})",
        "ne": lambda: f"({args[0]} != {args[1]})",
        "list": lambda: f"[{', '.join(args)}]",
        "print": lambda: f"({' ~ '.join(args)})",
        "printf": lambda: f"({args[0]} | format({', '.join(args[1:])}))",
        "ternary": lambda: f"({args[0]} if {args[2]} else {args[1]})",
        "len": lambda: f"({args[0]} | length)",
        "add": lambda: "(" + " + ".join(f"({a} | int)" for a in args) + ")",
        "max": lambda: "([" + ", ".join(f"{a} | int" for a in args) + "] | max)",
        "join": lambda: f"({args[1]} | join({args[0]}))",
    }
    if name in special:
        return special[name]()
    if piped is not None:
        extra = [text for _, text in operands]
        return f"{piped} | {name}" + (f"({', '.join(extra)})" if extra else "")
    if not args or (len(args) == 1 and name in GLOBALS):
        return f"{name}({', '.join(args)})"
    return f"({args[-1]} | {name}" + (f"({', '.join(args[:-1])}))" if args[:-1] else ")")


def _index(operands: list[Operand], args: list[str]) -> str:
    if len(operands) < 2:
        raise Untranslatable("index without a key")
    if operands[0][0] == "dot":
        key = json.loads(operands[1][1]) if operands[1][1].startswith('"') else None
        if not isinstance(key, str) or not key.isidentifier():
            raise Untranslatable("index . with a key that is not a variable name")
        base, keys = key, args[2:]
    else:
        base, keys = args[0], args[1:]
    return base + "".join(f"[{key}]" for key in keys)


def _action(inner: str, blocks: list[str]) -> str:
    if inner.startswith("-") or inner.endswith("-"):
        raise Untranslatable("white-space trim markers")
    tokens = _tokenize(inner)
    head = tokens[0] if tokens else ("", "")
    if head == ("ident", "if"):
        blocks.append("if")
        return "{% if " + _Pipeline(tokens[1:]).parse_all() + " %}"
    if head == ("ident", "else"):
        if len(tokens) == 1:
            return "{% else %}"
        if tokens[1] == ("ident", "if"):
            return "{% elif " + _Pipeline(tokens[2:]).parse_all() + " %}"
        raise Untranslatable(f"else followed by {tokens[1][1]!r}")
    if head == ("ident", "end"):
        if not blocks:
            raise Untranslatable("end without a block")
        return "{% endif %}" if blocks.pop() == "if" else "{% endfor %}"
    if head == ("ident", "range"):
        return _range(tokens[1:], blocks)
    if head[0] == "ident" and head[1] in ("with", "define", "template", "block", "break"):
        raise Untranslatable(f"Go-only action {head[1]!r}")
    if len(tokens) > 1 and head[0] == "var" and tokens[1] == ("assign", ":="):
        return "{% set " + head[1][1:] + " = " + _Pipeline(tokens[2:]).parse_all() + " %}"
    return "{{ " + _Pipeline(tokens).parse_all() + " }}"


def _range(tokens: list[Token], blocks: list[str]) -> str:
    kinds = [kind for kind, _ in tokens[:4]]
    if kinds[:4] == ["var", "punct", "var", "assign"] and tokens[1][1] == ",":
        index, item, rest = tokens[0][1][1:], tokens[2][1][1:], tokens[4:]
    elif kinds[:2] == ["var", "assign"]:
        index, item, rest = "", tokens[0][1][1:], tokens[2:]
    else:
        raise Untranslatable("range without loop variables rebinds `.`")
    blocks.append("range")
    loop = "{% for " + item + " in " + _Pipeline(rest).parse_all() + " %}"
    return loop + ("{% set " + index + " = loop.index0 %}" if index else "")


def translate(template: str) -> str:
    """The Jinja form of a Go template; raises ``Untranslatable``."""
    out: list[str] = []
    blocks: list[str] = []
    position = 0
    for match in _ACTION.finditer(template):
        out.append(_text(template[position : match.start()]))
        out.append(_action(match.group(1).strip(), blocks))
        position = match.end()
    out.append(_text(template[position:]))  # an unclosed "{{" stays unclosed
    return "".join(out)


def _text(text: str) -> str:
    if "{%" in text or "{#" in text:
        raise Untranslatable("text that Jinja would read as a tag or comment")
    return text


# --- the vectors ----------------------------------------------------------------------------------


def _check_render(vector: dict[str, Any], source: str) -> None:
    variables = vector["vars"]
    if vector["expect"] is None:
        with pytest.raises(TemplateError) as error:
            ENGINE.compile(source).render(variables)
        if vector["error_contains"]:
            assert vector["error_contains"] in str(error.value)
    else:
        assert ENGINE.compile(source).render(variables) == vector["expect"]


def _check_typed(vector: dict[str, Any], source: str) -> None:
    compiled, variables = ENGINE.compile(source), vector["vars"]
    if vector["typed_mode"] == "parse":
        value = compiled.render_typed(variables)
        assert value == vector["typed_expect"]
        assert type(value) is _TYPES[vector["typed_type"]]
    elif vector["typed_mode"] == "strip":
        assert compiled.render(variables) == vector["typed_expect"]
    else:
        prefix = next(p for p in _MARKERS if vector["expect"].startswith(p))
        text, kind = vector["expect"][len(prefix) :], _MARKERS[prefix]
        parsed = _PARSE_TYPED_VALUE[kind](text)
        assert compiled.typed == kind
        assert compiled.render(variables) == text
        value = compiled.render_typed(variables)
        assert value == parsed
        assert type(value) is type(parsed)


def _vectors_to_run() -> list[dict[str, Any]]:
    return [v for v in VECTORS if v["id"] not in NOT_RUN]


def test_vector_file_is_present() -> None:
    if _vectors_path().exists():
        return
    missing_service(VECTORS_FILE, f"not found at {_vectors_path()} (set LYNQ_SHARED_DIR)")


def test_every_vector_is_either_run_or_listed_with_a_reason() -> None:
    if not VECTORS:
        missing_service(VECTORS_FILE, "it was not found (set LYNQ_SHARED_DIR)")
    ids = [vector["id"] for vector in VECTORS]
    assert len(ids) == len(set(ids)), "vector ids are unique"
    assert set(NOT_RUN) <= set(ids), f"stale NOT_RUN entries: {set(NOT_RUN) - set(ids)}"
    assert len(_vectors_to_run()) + len(NOT_RUN) == len(VECTORS)


@pytest.mark.parametrize("vector", _vectors_to_run(), ids=lambda vector: vector["id"])
def test_lynq_vector_gives_the_same_result(vector: dict[str, Any]) -> None:
    try:
        source = translate(vector["template"])
    except Untranslatable as exc:
        pytest.fail(f"cannot translate {vector['template']!r} ({exc}); list it in NOT_RUN")
    if vector["kind"] == "render":
        _check_render(vector, source)
    else:
        _check_typed(vector, source)


@pytest.mark.parametrize(
    ("go", "jinja"),
    [
        ("node-{{ .uid }}", "node-{{ uid }}"),
        ('{{ .a | replace "." "-" | trunc63 }}', '{{ a | replace(".", "-") | trunc63 }}'),
        ('{{ index . "k" | default "x" }}', '{{ k | default("x") }}'),
        ('{{ default "x" .k }}', '{{ (k | default("x")) }}'),
        ('{{ trunc63 "abc" }}', '{{ trunc63("abc") }}'),
        ("{{ int nil }}", "{{ int(none) }}"),
        ('{{ $c := fromJson .j }}{{ index $c "k" }}', '{% set c = fromJson(j) %}{{ c["k"] }}'),
        ('{{ if eq .p "a" }}1{{ else }}2{{ end }}', '{% if (p == "a") %}1{% else %}2{% endif %}'),
    ],
)
def test_translator_turns_go_pipelines_into_jinja(go: str, jinja: str) -> None:
    assert translate(go) == jinja
