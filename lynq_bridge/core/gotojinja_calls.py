"""The functions of Go templates as Jinja expressions, for ``gotojinja``.

Each Go function or builtin that has an exact Jinja form is a builder here: it gets the Go
arguments already converted (``Expr``: Jinja text and what the converter knows of the type) and
returns the Jinja expression, or raises ``Unconvertible`` with the reason. Separate from
``gotojinja`` (the template structure: text, actions, blocks, variables) because this is the
table that grows with every function the bridge's Jinja dialect gains.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "LISTS",
    "RESERVED",
    "ROOT",
    "Expr",
    "Type",
    "Unconvertible",
    "bare",
    "call",
    "value_of",
    "variable_name",
]

Type = str  # "str", "int", "float", "bool", "nil", "list", "strlist", "map", "any", "root"

RESERVED: Final = frozenset(
    {*keyword.kwlist, "true", "false", "none", "loop", "self", "super", "caller", "varargs"}
    | {"kwargs", "range", "dict", "namespace", "lipsum", "cycler", "joiner"}
)
TYPED: Final = frozenset({"int", "float", "bool"})
LISTS: Final = frozenset({"list", "strlist"})  # "strlist": every item is a string
# Lynq's functions that are our filters of one argument, and the type they return.
SINGLE: Final[dict[str, Type]] = {
    **dict.fromkeys(
        ("toHost", "trunc63", "sha1sum", "sha256sum", "toJson", "b64enc", "b64dec", "trim"), "str"
    ),
    **dict.fromkeys(("upper", "lower", "title", "kebabcase", "snakecase", "camelcase"), "str"),
    "fromJson": "any",
}
# Go argument order -> filter: (index of the piped value among Go's arguments, result type).
REORDERED: Final[dict[str, tuple[int, Type]]] = {
    "default": (1, "any"),
    "trunc": (1, "str"),
    "replace": (2, "str"),
    "hasPrefix": (1, "bool"),
    "hasSuffix": (1, "bool"),
    "contains": (1, "bool"),
    "regexMatch": (1, "bool"),
    "regexReplaceAll": (1, "str"),
}
_OPERATORS: Final = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_ARITHMETIC: Final = {"add": "+", "sub": "-", "mul": "*"}
_VERB: Final = re.compile(r"%([-+# 0]*)([0-9]*)(?:\.([0-9]*))?([a-zA-Z%])")


class Unconvertible(Exception):
    """One reason the template cannot be converted."""


@dataclass(frozen=True)
class Expr:
    text: str
    type: Type
    lenient: str | None = None
    """The same value as Jinja's undefined where Go's is nil (``default`` takes either)."""


ROOT: Final = Expr("", "root")  # the data map itself: only ``index . "k"`` can use it


def value_of(value: Expr) -> Expr:
    if value is ROOT:
        raise Unconvertible("the whole data map (.) has no Jinja name")
    return value


def filter_call(name: str, args: list[Expr], piped: int, kind: Type) -> Expr:
    """``name`` as a filter of Go's argument ``piped`` (Go's compile has counted them)."""
    others = [bare(a.text) for i, a in enumerate(args) if i != piped]
    call = f"{name}({', '.join(others)})" if others else name
    value, text = args[piped], args[piped].text
    if name == "default":
        fallback = args[0]
        # the value, or the fallback when it is empty or (index of a missing key) nil
        if value.type == fallback.type or value.lenient:
            kind = fallback.type
        text = value.lenient or text
    return Expr(f"({text} | {call})", kind)


def _compare(name: str) -> Callable[[list[Expr]], Expr]:
    def build(args: list[Expr]) -> Expr:
        if len(args) < 2 or (name != "eq" and len(args) != 2):
            raise Unconvertible(f'"{name}" with {len(args)} argument(s)')
        first, *others = args
        for other in others:
            known = {first.type, other.type} - {"any"}
            if len(known) > 1 and known != {"int", "float"}:
                raise Unconvertible(
                    f'"{name}" of a {first.type} and a {other.type} (an error in Go)'
                )
            if known & {*LISTS, "map"}:
                raise Unconvertible(f'"{name}" of a {known.pop()} (an error in Go)')
        op = _OPERATORS[name]
        tests = [f"{first.text} {op} {other.text}" for other in others]
        return Expr("(" + " or ".join(tests) + ")", "bool")

    return build


def _logic(name: str) -> Callable[[list[Expr]], Expr]:
    def build(args: list[Expr]) -> Expr:
        kinds = {a.type for a in args}
        text = f" {name} ".join(a.text for a in args)
        return Expr(f"({text})", kinds.pop() if len(kinds) == 1 else "any")

    return build


def _not(args: list[Expr]) -> Expr:
    return Expr(f"(not {args[0].text})", "bool")


def variable_name(name: str) -> str:
    if name in RESERVED or not name.isidentifier():
        raise Unconvertible(f'the variable name "{name}" is reserved in Jinja')
    return name


def _index(args: list[Expr]) -> Expr:
    if len(args) < 2:
        raise Unconvertible('"index" without a key')
    base, *keys = args
    if base is ROOT:
        first = json.loads(keys[0].text) if keys[0].text.startswith('"') else None
        if not isinstance(first, str):
            raise Unconvertible('"index ." with a key that is not a literal string')
        name = variable_name(first)
        # Go's index gives nil for a missing key where a Jinja name would be undefined.
        base = Expr(f"({name} if {name} is defined else none)", "any", lenient=name)
        keys = keys[1:]
        if not keys:
            return base
    if base.type in ("str", "int", "float", "bool", "nil"):
        raise Unconvertible(f'"index" of a {base.type}')
    return Expr(base.text + "".join(f"[{key.text}]" for key in keys), "any")


def _len(args: list[Expr]) -> Expr:
    if args[0].type not in {*LISTS, "map"}:
        raise Unconvertible(
            '"len" of a value that may be a string: Go counts bytes, Jinja characters'
        )
    return Expr(f"({args[0].text} | length)", "int")


def _print(args: list[Expr]) -> Expr:
    if not args or any(a.type != "str" for a in args):
        raise Unconvertible('"print" of values that are not all strings')
    return Expr("(" + " ~ ".join(a.text for a in args) + ")", "str")


def _printf(args: list[Expr]) -> Expr:
    if not args or not args[0].text.startswith('"') or args[0].type != "str":
        raise Unconvertible('"printf" without a literal format')
    fmt: str = json.loads(args[0].text)
    values = args[1:]
    used = 0
    out: list[str] = []
    position = 0
    for match in _VERB.finditer(fmt):
        flags, width, precision, verb = match.groups()
        out.append(fmt[position : match.start()])
        position = match.end()
        if verb == "%" and not (flags or width or precision is not None):
            out.append("%%")
            continue
        if used >= len(values):
            raise Unconvertible('"printf" with fewer arguments than verbs')
        kind = values[used].type
        used += 1
        allowed = {"s": ("str",), "d": ("int",), "v": ("str", "int")}.get(verb, ())
        flagged = set(flags) - {"-", "0"} or ("0" in flags and kind != "int")
        if kind not in allowed or flagged or (precision is not None and kind != "str"):
            raise Unconvertible(f'"printf" verb %{verb} of a {kind} value')
        spec = "%" + flags + width + (f".{precision}" if precision is not None else "")
        out.append(spec + ("s" if kind == "str" else "d"))
    if used != len(values) or "%" in fmt[position:]:
        raise Unconvertible('"printf" whose arguments and verbs do not match')
    out.append(fmt[position:])
    arguments = ", ".join(bare(v.text) for v in values)
    return Expr(f"({json.dumps(''.join(out), ensure_ascii=False)} | format({arguments}))", "str")


def _ternary(args: list[Expr]) -> Expr:
    yes, no, test = args
    if test.type != "bool":
        raise Unconvertible('"ternary" with a condition that may not be a boolean (an error in Go)')
    return Expr(f"({yes.text} if {test.text} else {no.text})", "any")


def _list(args: list[Expr]) -> Expr:
    kind = "strlist" if args and all(a.type == "str" for a in args) else "list"
    return Expr("[" + ", ".join(a.text for a in args) + "]", kind)


def _join(args: list[Expr]) -> Expr:
    separator, items = args
    if items.type != "strlist" or separator.type != "str":
        raise Unconvertible('"join" of a list that may hold values other than strings')
    return Expr(f"({items.text} | join({separator.text}))", "str")


def _quote(name: str) -> Callable[[list[Expr]], Expr]:
    def build(args: list[Expr]) -> Expr:
        if not args:
            raise Unconvertible(f'"{name}" without arguments')
        return filter_call(name, args, 0, "str")

    return build


def _arithmetic(name: str) -> Callable[[list[Expr]], Expr]:
    def build(args: list[Expr]) -> Expr:
        if len(args) < 2 or any(a.type != "int" for a in args):
            raise Unconvertible(f'"{name}" of values that are not all integers')
        return Expr("(" + f" {_ARITHMETIC[name]} ".join(a.text for a in args) + ")", "int")

    return build


BUILDERS: Final[dict[str, Callable[[list[Expr]], Expr]]] = {
    **{name: _compare(name) for name in _OPERATORS},
    **{name: _arithmetic(name) for name in _ARITHMETIC},
    "and": _logic("and"),
    "or": _logic("or"),
    "not": _not,
    "index": _index,
    "len": _len,
    "print": _print,
    "printf": _printf,
    "ternary": _ternary,
    "list": _list,
    "join": _join,
    "quote": _quote("quote"),
    "squote": _quote("squote"),
}


def call(name: str, args: list[Expr], *, typed_end: bool) -> Expr:
    """The Jinja form of Go's ``name args...`` (the piped value is the last of ``args``).

    ``typed_end``: the call is the last step of a field that is one action, where Lynq's
    ``int``/``float``/``bool`` give the field its type.
    """
    for arg in args[1:] if name == "index" else args:
        value_of(arg)
    if name in TYPED:
        if not typed_end:
            raise Unconvertible(
                f'"{name}" inside a larger template: Lynq renders its type marker there'
            )
        return filter_call(name, args, 0, name)
    if name in SINGLE:
        return filter_call(name, args, 0, SINGLE[name])
    if name in REORDERED:
        piped, kind = REORDERED[name]
        return filter_call(name, args, piped, kind)
    builder = BUILDERS.get(name)
    if builder is None:
        raise Unconvertible(f'function "{name}" has no equivalent Jinja filter')
    return builder(args)


def bare(text: str) -> str:
    """``text`` without parentheses around all of it (they only group inside an expression)."""
    if not (text.startswith("(") and text.endswith(")")):
        return text
    depth = 0
    quoted = False
    escaped = False
    for position, char in enumerate(text):
        if quoted:
            escaped = not escaped and char == "\\"
            quoted = escaped or char != '"'
        elif char == '"':
            quoted = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth == 0 and position != len(text) - 1:
                return text
    return text[1:-1]
