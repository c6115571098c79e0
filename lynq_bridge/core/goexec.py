"""The Go-template engine for Lynq forms: compile once with ``goparse``, render per row.

``GoTemplateEngine`` has the interface of the Jinja ``TemplateEngine`` (``compile(source)`` ->
``CompiledTemplate`` with ``render``, ``render_typed``, ``typed``, ``constant``), so forms use
either. It evaluates the tree as Go's ``text/template`` executes it, with the options Lynq uses
(``internal/template/engine.go``: ``missingkey=error``, Sprig's ``TxtFuncMap`` plus Lynq's
functions):

- data: the row's variables (``.uid``, ``.host``, ``.hubId``, ``.templateRef``, extra mappings)
  are the root map ``$``; a missing key is an error (``map has no entry for key "x"``), while
  ``index . "x"`` of a missing key is nil, which prints ``<no value>`` and which ``default``
  replaces, as in Lynq;
- functions: Go's builtins (``gobuiltins``), then ``sprig.SPRIG``, then Lynq's typed ``int``,
  ``float`` and ``bool``; a name outside them is a compile error, a non-deterministic one
  (``now``, ``randAlpha``, ``uuidv4``) a compile error with the reason, ``call`` a compile error
  (it would call a function held in data). Argument counts are checked when compiling;
- typed values: where Lynq's ``int``/``float``/``bool`` write an in-band marker
  (``__LYNQ_TYPE_INT__3``) that its controller parses when the rendered field starts with it,
  ours return text that remembers its kind (``Typed``); when the output *starts* with such a
  value, ``render_typed`` parses the whole output (surrounding white space ignored, as for
  Jinja forms) into an int, float or bool - ``bool`` is true exactly when the text is ``true``,
  an int or float that does not parse stays text. So ``replicas: "{{ .r | int }}"`` is a YAML
  integer exactly where Lynq's is. No marker text ever reaches the output, and a row value that
  contains marker text stays text; a marker written literally at the start of a template is
  honoured (it is form source, not data). ``typed`` is the kind when the template is a single
  action ending in ``int``/``float``/``bool``;
- limits: every function call checks the deadline and the growth rule (``limits``), every
  ``range`` iterates through ``checked_iteration``, ``template`` calls nest at most
  ``MAX_TEMPLATE_DEPTH`` deep, and the output may grow at most ``MAX_RESULT`` beyond the largest
  variable. Rendering happens once: row values are data, never template source.

Parsing is ``goparse``, evaluating ``goeval``, printing ``gofmt``; this module compiles (checks
that every ``template`` name exists and every call has a number of arguments its function
takes) and decides what a render's type is.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from lynq_bridge.core import functions
from lynq_bridge.core.goast import (
    Action,
    Chain,
    Command,
    Identifier,
    If,
    Parsed,
    Pipeline,
    Range,
    TemplateCall,
    Text,
    With,
)
from lynq_bridge.core.gobuiltins import BUILTINS
from lynq_bridge.core.goeval import MAX_TEMPLATE_DEPTH, Program, Typed, parse_typed
from lynq_bridge.core.goparse import GoSyntaxError, parse
from lynq_bridge.core.paths import quote
from lynq_bridge.core.templating import CompiledTemplate, TemplateError, TypedKind

__all__ = ["MAX_TEMPLATE_DEPTH", "GoTemplateEngine", "Typed"]

MARKERS: Final[dict[str, TypedKind]] = {
    "__LYNQ_TYPE_INT__": "int",
    "__LYNQ_TYPE_FLOAT__": "float",
    "__LYNQ_TYPE_BOOL__": "bool",
}
_TYPED_NAMES: Final[dict[str, TypedKind]] = {"int": "int", "float": "float", "bool": "bool"}
_CALL_REFUSED: Final = (
    'function "call" is not allowed: templates cannot call functions held in their data'
)


def _typed_int(value: object) -> Typed:
    return Typed(str(functions.to_int(value)), "int")


def _typed_float(value: object) -> Typed:
    return Typed(functions.format_float(functions.to_float(value)), "float")


def _typed_bool(value: object) -> Typed:
    return Typed("true" if functions.to_bool(value) else "false", "bool")


TYPED_FUNCTIONS: Final[Mapping[str, Callable[..., object]]] = {
    "int": _typed_int,
    "float": _typed_float,
    "bool": _typed_bool,
}


# --- compiling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledGoTemplate(CompiledTemplate):
    """A Go template of a Lynq form; rendering follows Go's ``text/template`` (see module)."""

    _program: Program | None = field(default=None, repr=False, compare=False)

    def render(self, variables: Mapping[str, object]) -> str:
        return self._run(variables)[0]

    def render_typed(self, variables: Mapping[str, object]) -> str | int | float | bool:
        text, kind = self._run(variables)
        if kind is None:
            return text
        value = parse_typed(kind, text.strip())
        if value is not None:
            return value
        if self._program is not None and self._program.marker is not None:
            return _marker_of(kind) + text  # Lynq keeps the marker text of what does not parse
        return text

    def _run(self, variables: Mapping[str, object]) -> tuple[str, TypedKind | None]:
        program = self._program
        if program is None:
            return self.source, None
        return program.run(variables)


def _marker_of(kind: TypedKind) -> str:
    return next(marker for marker, marked in MARKERS.items() if marked == kind)


def default_library() -> tuple[Mapping[str, Callable[..., object]], Mapping[str, str]]:
    """Sprig's and Lynq's functions and the refused names (``core.sprig``)."""
    from lynq_bridge.core import sprig

    return sprig.SPRIG, sprig.REJECTED


class GoTemplateEngine:
    """Compiles Go templates against one function table and caches them by source text."""

    def __init__(
        self,
        *,
        library: Mapping[str, Callable[..., object]] | None = None,
        rejected: Mapping[str, str] | None = None,
    ) -> None:
        if library is None or rejected is None:
            library, rejected = default_library()
        self._functions: dict[str, Callable[..., object]] = {
            **BUILTINS,
            **{name: f for name, f in library.items() if name != "call"},
            **TYPED_FUNCTIONS,
        }
        self._rejected = dict(rejected)
        self._cache: dict[str, CompiledGoTemplate] = {}

    def compile(self, source: str) -> CompiledGoTemplate:
        """The compiled template; raises ``TemplateError`` for anything that cannot render."""
        compiled = self._cache.get(source)
        if compiled is None:
            compiled = self._compile(source)
            self._cache[source] = compiled
        return compiled

    def function_problem(self, name: str) -> str | None:
        """Why a template cannot call ``name``, or None."""
        if name == "call":
            return _CALL_REFUSED
        if name in self._rejected:
            return f'function "{name}" is not allowed: {self._rejected[name]}'
        if name in self._functions or name in ("and", "or"):
            return None
        return f'function "{name}" not defined'

    def _compile(self, source: str) -> CompiledGoTemplate:
        marker = next((m for m in MARKERS if source.startswith(m)), None)
        body = source[len(marker) :] if marker else source
        kind = MARKERS[marker] if marker else None
        if "{{" not in body and marker is None:
            return CompiledGoTemplate(source=source, typed=None, constant=True)
        try:
            parsed = parse(body, functions=self.function_problem)
            _check_calls(parsed, self._functions)
        except GoSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc}") from exc
        program = Program(parsed, self._functions, kind)
        return CompiledGoTemplate(
            source=source,
            typed=kind or _typed_kind(parsed),
            constant=False,
            _program=program,
        )


def _typed_kind(parsed: Parsed) -> TypedKind | None:
    nodes = [n for n in parsed.root if not (isinstance(n, Text) and not n.text.strip())]
    if len(nodes) != 1 or not isinstance(nodes[0], Action) or nodes[0].pipe.decl:
        return None
    last = nodes[0].pipe.commands[-1].args[0]
    if isinstance(last, Identifier):
        return _TYPED_NAMES.get(last.name)
    return None


def _check_calls(parsed: Parsed, table: Mapping[str, Callable[..., object]]) -> None:
    """Refuse a ``template`` of an undefined name and a call with the wrong number of args."""
    bodies = [parsed.root, *(define.body for define in parsed.defines)]
    stack: list[object] = [node for body in bodies for node in body]
    while stack:
        node = stack.pop()
        if isinstance(node, TemplateCall) and parsed.define(node.name) is None:
            raise GoSyntaxError(f"template {quote(node.name)} not defined", node.line)
        if isinstance(node, If | Range | With):
            stack += [node.pipe, *node.body, *(node.else_ or ())]
        elif isinstance(node, Action | TemplateCall) and node.pipe is not None:
            stack.append(node.pipe)
        elif isinstance(node, Pipeline):
            for stage, command in enumerate(node.commands):
                _check_arity(command, table, piped=stage > 0)
                stack += command.args
        elif isinstance(node, Chain):
            stack.append(node.node)


def _check_arity(
    command: Command, table: Mapping[str, Callable[..., object]], *, piped: bool
) -> None:
    head = command.args[0]
    count = len(command.args) - 1 + piped
    if isinstance(head, Identifier) and head.name in ("and", "or") and count == 0:
        raise GoSyntaxError(
            f"wrong number of args for {head.name}: want at least 1 got 0", head.line
        )
    if not isinstance(head, Identifier) or head.name not in table:
        return
    try:
        signature = inspect.signature(table[head.name])
        signature.bind(*([None] * count))
    except ValueError:  # no signature to check (a builtin of C)
        return
    except TypeError:
        parameters = signature.parameters.values()
        wanted = sum(p.default is p.empty and p.kind != p.VAR_POSITIONAL for p in parameters)
        message = f"wrong number of args for {head.name}: want {wanted} got {count}"
        raise GoSyntaxError(message, head.line) from None
