"""The evaluator of Go templates: walks a ``goparse`` tree for one row, as Go's ``exec.go`` does.

Separate from ``goexec`` (compiling, checks, the engine) because this is the per-row hot path
and holds Go's execution rules only: the variable stack (``$`` is the data root; declarations
end with their block), pipelines with the piped value as the last argument, ``and``/``or``
short-circuit, ``range`` over lists, maps (sorted keys), ints and nil, ``break``/``continue``,
``template`` calls with a fresh variable stack, ``missingkey=error`` for fields, and Go's
printing (``gofmt``). Each call checks the deadline and the growth rule, each ``range`` goes
through ``limits.checked_iteration``, and the output may grow at most ``MAX_RESULT`` beyond the
largest variable. Field access works on maps only (and on ``semver`` results' Go fields): the
data is plain values, so a template can reach no Python attribute.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from lynq_bridge.core import limits
from lynq_bridge.core.goast import (
    Action,
    Bool,
    Break,
    Chain,
    Command,
    Comment,
    Continue,
    Dot,
    Field,
    Identifier,
    If,
    Nil,
    Node,
    Number,
    Operand,
    Parsed,
    Pipeline,
    Range,
    String,
    TemplateCall,
    Text,
    Variable,
    With,
)
from lynq_bridge.core.gobuiltins import BuiltinError, truth
from lynq_bridge.core.gofmt import go_type, to_string
from lynq_bridge.core.paths import quote
from lynq_bridge.core.sprig_semver import SemVersion
from lynq_bridge.core.templating import TemplateError, TypedKind

__all__ = ["MAX_TEMPLATE_DEPTH", "Program", "Typed", "parse_typed"]

MAX_TEMPLATE_DEPTH: Final = 25
"""``{{ template }}`` calls inside each other. Go allows 100,000; a form's helpers nest a few
levels, and a recursive template must stop long before Python's stack does."""

_GO_INT: Final = re.compile(r"[+-]?[0-9]+")
_GO_FLOAT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEMVER_FIELDS: Final = frozenset(("Major", "Minor", "Patch", "Prerelease", "Metadata", "Original"))


class Typed(str):
    """The text of Lynq's ``int``/``float``/``bool`` result, remembering which it was."""

    kind: TypedKind

    def __new__(cls, text: str, kind: TypedKind) -> Typed:
        value = super().__new__(cls, text)
        value.kind = kind
        return value


class _Missing:
    """No value piped into a command (Go's ``missingVal``)."""


_MISSING: Final = _Missing()


class _ExecError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def parse_typed(kind: TypedKind, text: str) -> int | float | bool | None:
    """Lynq's ``ParseTypedValue`` of the text after a marker; None when it does not parse."""
    if kind == "bool":
        return text == "true"
    if kind == "int":
        if _GO_INT.fullmatch(text) and -(1 << 63) <= int(text) < (1 << 63):
            return int(text)
        return None
    if _GO_FLOAT.fullmatch(text):
        return float(text)
    return None


@dataclass(frozen=True)
class Program:
    parsed: Parsed
    functions: Mapping[str, Callable[..., object]]
    marker: TypedKind | None
    """The kind of a Lynq marker written at the very start of the source."""

    def run(self, variables: Mapping[str, object]) -> tuple[str, TypedKind | None]:
        state = _State(self, variables)
        try:
            state.walk(self.parsed.root, variables)
        except _ExecError as exc:
            raise TemplateError(f"{exc} (line {exc.line})") from None
        except (limits.LimitExceeded, BuiltinError) as exc:
            raise TemplateError(str(exc)) from None
        return "".join(state.out), self.marker or state.typed


class _State:
    __slots__ = ("depth", "out", "program", "size", "typed", "variables", "vars")

    def __init__(self, program: Program, variables: Mapping[str, object]) -> None:
        self.program = program
        self.variables = variables
        self.out: list[str] = []
        self.vars: list[list[object]] = [["$", variables]]
        self.size = 0
        self.typed: TypedKind | None = None
        self.depth = 0

    def write(self, text: str) -> None:
        if not text:
            return
        if not self.out and self.program.marker is None:
            self.typed = text.kind if isinstance(text, Typed) else None
        self.out.append(text)
        self.size += len(text)
        if self.size > limits.MAX_RESULT:
            limits.check_growth("the template output", self.size, *self.variables.values())

    # --- the template body ------------------------------------------------------------------

    def walk(self, nodes: tuple[Node, ...], dot: object) -> None:
        for node in nodes:
            kind = type(node)
            if kind is Text:
                self.write(node.text)  # type: ignore[union-attr]
            elif kind is Action:
                pipe: Pipeline = node.pipe  # type: ignore[union-attr, assignment]
                value = self.pipeline(pipe, dot)
                if not pipe.decl:
                    self.write(value if isinstance(value, str) else self.printable(value, node))
            elif kind is If or kind is With:
                self.if_or_with(node, dot)  # type: ignore[arg-type]
            elif kind is Range:
                self.range(node, dot)  # type: ignore[arg-type]
            elif kind is TemplateCall:
                self.template(node, dot)  # type: ignore[arg-type]
            elif kind is Break:
                raise _Break
            elif kind is Continue:
                raise _Continue
            elif kind is not Comment:  # pragma: no cover - the parser makes no other node
                raise AssertionError(node)

    def printable(self, value: object, node: Node) -> str:
        try:
            return to_string(value)
        except TypeError as exc:
            raise _ExecError(str(exc), node.line) from None

    def if_or_with(self, node: If | With, dot: object) -> None:
        mark = len(self.vars)
        value = self.pipeline(node.pipe, dot)
        if truth(value):
            self.walk(node.body, value if type(node) is With else dot)
        elif node.else_ is not None:
            self.walk(node.else_, dot)
        del self.vars[mark:]

    def range(self, node: Range, dot: object) -> None:
        outer = len(self.vars)
        value = self.pipeline(node.pipe, dot)
        mark = len(self.vars)
        decl, assign = node.pipe.decl, node.pipe.is_assign
        items: Iterable[tuple[object, object]]
        if isinstance(value, bool) or not isinstance(value, int | list | tuple | Mapping):
            if value is not None:
                raise _ExecError(f"range can't iterate over {_shown(value)}", node.line)
            items = ()
        elif isinstance(value, int):
            if len(decl) > 1:
                message = f"can't use {value} to iterate over more than one variable"
                raise _ExecError(message, node.line)
            items = ((None, number) for number in range(value))
        elif isinstance(value, Mapping):
            items = ((key, value[key]) for key in sorted(value))
        else:
            items = enumerate(value)
        ran = False
        try:
            for key, item in limits.checked_iteration(items):
                ran = True
                if decl:
                    if assign:
                        self.set_var(decl[0], key if len(decl) > 1 else item, node.line)
                        if len(decl) > 1:
                            self.set_var(decl[1], item, node.line)
                    else:
                        self.vars[-1][1] = item
                        if len(decl) > 1:
                            self.vars[-2][1] = key
                try:
                    self.walk(node.body, item)
                except _Continue:
                    pass
                finally:
                    del self.vars[mark:]
        except _Break:
            pass
        if not ran and node.else_ is not None:
            self.walk(node.else_, dot)
        del self.vars[outer:]

    def template(self, node: TemplateCall, dot: object) -> None:
        define = self.program.parsed.define(node.name)
        if define is None:  # pragma: no cover - compile() checks every name
            raise _ExecError(f"template {quote(node.name)} not defined", node.line)
        if self.depth >= MAX_TEMPLATE_DEPTH:
            message = f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"
            raise _ExecError(message, node.line)
        value = self.pipeline(node.pipe, dot) if node.pipe is not None else None
        saved = self.vars
        self.vars = [["$", value]]
        self.depth += 1
        try:
            self.walk(define.body, value)
        finally:
            self.depth -= 1
            self.vars = saved

    # --- expressions ------------------------------------------------------------------------

    def pipeline(self, pipe: Pipeline, dot: object) -> object:
        value: object = _MISSING
        for command in pipe.commands:
            value = self.command(command, dot, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value, pipe.line)
            else:
                self.vars.append([name, value])
        return value

    def set_var(self, name: str, value: object, line: int) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise _ExecError(f"undefined variable: {name}", line)

    def var(self, name: str, line: int) -> object:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise _ExecError(f"undefined variable: {name}", line)

    def command(self, command: Command, dot: object, final: object) -> object:
        first = command.args[0]
        if type(first) is Identifier:
            return self.call(first, command.args[1:], final, dot)
        if len(command.args) > 1 or final is not _MISSING:
            raise _ExecError(f"can't give argument to non-function {_node_text(first)}", first.line)
        if type(first) is Nil:
            raise _ExecError("nil is not a command", first.line)
        return self.arg(first, dot)

    def arg(self, node: Operand, dot: object) -> object:
        kind = type(node)
        if kind is Field:
            return self.fields(dot, node.names, node)  # type: ignore[union-attr]
        if kind is String or kind is Number or kind is Bool:
            return node.value  # type: ignore[union-attr]
        if kind is Variable:
            value = self.var(node.name, node.line)  # type: ignore[union-attr]
            return self.fields(value, node.names, node) if node.names else value  # type: ignore[union-attr]
        if kind is Dot:
            return dot
        if kind is Pipeline:
            return self.pipeline(node, dot)  # type: ignore[arg-type]
        if kind is Identifier:
            return self.call(node, (), _MISSING, dot)  # type: ignore[arg-type]
        if kind is Chain:
            return self.fields(self.arg(node.node, dot), node.names, node)  # type: ignore[union-attr]
        return None  # Nil

    def fields(self, value: object, names: tuple[str, ...], node: Operand) -> object:
        for name in names:
            if isinstance(value, Mapping):
                if name not in value:
                    message = f"map has no entry for key {quote(name)}"
                    raise _ExecError(f"{message} at <{_node_text(node)}>", node.line)
                value = value[name]
            elif isinstance(value, SemVersion) and name in _SEMVER_FIELDS:
                value = getattr(value, name)
            elif value is None:
                message = f"nil pointer evaluating interface {{}}.{name}"
                raise _ExecError(f"{message} at <{_node_text(node)}>", node.line)
            else:
                message = f"can't evaluate field {name} in type {go_type(value)}"
                raise _ExecError(message, node.line)
        return value

    def call(
        self, node: Identifier, arg_nodes: tuple[Operand, ...], final: object, dot: object
    ) -> object:
        name = node.name
        if name in ("and", "or") and name not in self.program.functions:
            return self.and_or(name == "or", arg_nodes, final, dot)
        args = [self.arg(arg, dot) for arg in arg_nodes]
        if final is not _MISSING:
            args.append(final)
        limits.check_time()
        try:
            result = self.program.functions[name](*args)
        except (limits.LimitExceeded, TemplateError):
            raise
        except Exception as exc:  # a function's error is the template's error, with its cause
            cause = str(exc).rstrip(".") or type(exc).__name__
            raise _ExecError(f"error calling {name}: {cause}", node.line) from None
        limits.check_growth(f'calling "{name}"', limits.size_of(result), *args)
        return result

    def and_or(
        self, is_or: bool, arg_nodes: tuple[Operand, ...], final: object, dot: object
    ) -> object:
        value: object = None
        for arg in arg_nodes:
            value = self.arg(arg, dot)
            if truth(value) == is_or:
                return value
        return value if final is _MISSING else final


def _shown(value: object) -> str:
    text = to_string(value, nested=True)
    return quote(text) if isinstance(value, str) else text[:120]


def _node_text(node: Operand) -> str:
    """An operand as Go's parser prints it in an error: ``.a.b``, ``$x``, ``"text"``."""
    if isinstance(node, Field):
        return "." + ".".join(node.names)
    if isinstance(node, Variable):
        return ".".join((node.name, *node.names))
    if isinstance(node, Identifier):
        return node.name
    if isinstance(node, String):
        return node.quoted
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, Chain):
        return f"({_node_text(node.node)}).{'.'.join(node.names)}"
    if isinstance(node, Pipeline):
        commands = (" ".join(_node_text(a) for a in c.args) for c in node.commands)
        return "(" + " | ".join(commands) + ")"
    return "nil" if isinstance(node, Nil) else "."
