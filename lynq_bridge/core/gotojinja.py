"""Go ``text/template`` (Lynq's form syntax) to the bridge's Jinja2 dialect, or why not.

``lynq-bridge convert`` rewrites Lynq forms with this module; it is pure (a parsed template in,
text out) and separate from ``goexec`` because it must decide, without rows, whether the Jinja
renders what Go renders for every row. It converts only what it can prove: a template with
anything else is reported with the reasons, never turned into Jinja that fails validation or
renders differently; two guards check every result: the Jinja compiles in the bridge's engine,
and its value type (``CompiledTemplate.typed``) is the one the Go engine gives. The functions
are ``gotojinja_calls``. What it relies on:

- row values are strings (SPEC §5), so ``.x`` is a string; other values have the type their
  literal or function gives, or are unknown;
- ``.a.b`` -> ``a["b"]`` (item access first, as Go looks up map keys), ``$x`` -> ``x`` (renamed
  when the name is taken by a field, a keyword or a shadowed outer variable), ``$`` is the root;
  ``index . "k"`` -> ``k`` if defined, else Go's nil (printed ``<no value>`` as Go does);
- Lynq's functions are our filters with the piped (last Go) argument first:
  ``default "x" .v`` -> ``v | default("x")``, ``replace "a" "b" .s`` -> ``s | replace("a", "b")``;
- ``eq``/``ne``/``lt``/… -> operators; ``and``/``or``/``not`` -> the same operators (Python's
  ``and``/``or`` also return an operand, as Go's do); ``index`` -> ``[]``; ``printf`` with a
  literal format of ``%s``/``%d``/``%v`` whose argument types are known -> ``format``;
  ``print`` of strings -> ``~``; ``ternary`` with a boolean condition -> ``if``/``else``;
  ``list`` -> ``[...]``; ``len`` of lists and maps -> ``length`` (Go counts a string's bytes);
- ``if``/``else if``/``else`` -> the same blocks; ``with`` -> a fresh variable and ``if``;
  ``range`` over a list -> ``for`` (with ``else``; ``loop.index0`` for the index);
- ``int``/``float``/``bool`` only as the last step of a template that is one action: that is
  where Lynq's type markers become a typed value, as ``CompiledTemplate.typed`` does;
- trim markers are applied by the parser, so the Jinja text is the trimmed text: Go trims only
  `` \\t\\r\\n`` where Jinja's ``-`` would also trim other Unicode white space;
- text that Jinja would read (``{%``, ``{#``, a carriage return Jinja would normalise) is
  written as a string expression.

Not converted (each with its reason): ``define``/``template``/``block``, ``break``/``continue``,
``range`` over a value that may be a map or a string, functions without an equal filter (most of
Sprig, ``html``, ``js``, ``urlquery``, ``slice``, ``call``), and uses whose result depends on
types the template cannot know. Two differences remain and are the bridge's documented ones
(``functions``): a ``None`` inside a value (a JSON null) prints as an empty string where Go
prints ``<no value>``, and where a missing variable or a type mismatch makes Go fail, Jinja may
render a value (``default`` of a missing variable gives the fallback).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lynq_bridge.core import goast as go
from lynq_bridge.core.formsyntax import first_votes
from lynq_bridge.core.goexec import GoTemplateEngine
from lynq_bridge.core.goparse import GoSyntaxError, parse
from lynq_bridge.core.gotojinja_calls import (
    LISTS,
    RESERVED,
    ROOT,
    Expr,
    Type,
    Unconvertible,
    bare,
    call,
    value_of,
    variable_name,
)
from lynq_bridge.core.templating import TemplateEngine, TemplateError

__all__ = ["Conversion", "convert", "is_go_form"]

_JINJA_OPENERS: Final = re.compile(r"\{[%#]|\r")


@dataclass(frozen=True)
class Conversion:
    """The Jinja text of a Go template, or None with the reasons it cannot be converted."""

    jinja: str | None
    reasons: tuple[str, ...] = ()


_ENGINE: Final = TemplateEngine()
_GO: Final = GoTemplateEngine()
_MARKER: Final = "__LYNQ_TYPE_"


def convert(source: str) -> Conversion:
    """The Jinja form of the Go template ``source``, or the reasons there is none."""
    if source.startswith(_MARKER):
        return Conversion(None, ("a literal Lynq type marker has no Jinja form",))
    try:
        go_template = _GO.compile(source)
        parsed = parse(source)
    except (TemplateError, GoSyntaxError) as exc:
        return Conversion(None, (f"the Go template does not compile: {exc}",))
    converter = _Converter(_names(parsed.root))
    try:
        if parsed.defines:
            raise Unconvertible('"define" and "block" have no equivalent in a form string')
        text = converter.body(parsed.root, top=True)
    except Unconvertible as exc:
        return Conversion(None, (str(exc),))
    try:
        jinja_template = _ENGINE.compile(text)
    except TemplateError as exc:  # a guard: what this module writes should always compile
        return Conversion(None, (f"the Jinja form does not validate: {exc}",))
    if jinja_template.typed != go_template.typed:  # a guard, as above
        return Conversion(None, ("the Jinja form would not keep the value's type",))
    return Conversion(text)


def is_go_form(sources: Sequence[str], *, declared: str | None = None) -> bool:
    """Whether a form with these template strings is a Go form, by the engines' rule.

    The rule of ``core.formsyntax``: ``spec.templateSyntax`` (``declared``) decides alone;
    without it the form is Go when some string compiles only as Go and none only as Jinja.
    """
    if declared is not None:
        return declared == "go"
    keyed = ((str(i), source) for i, source in enumerate(sources))
    go_only, jinja_only = first_votes(keyed, jinja=_ENGINE, go=_GO)
    return go_only is not None and jinja_only is None


def _names(body: Sequence[object]) -> set[str]:
    """Every field and key name the template mentions: Jinja names must not collide with them."""
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, go.Field | go.Chain | go.Variable):
            found.update(node.names)
        if isinstance(node, go.String) and node.value.isidentifier():
            found.add(node.value)
        for name in getattr(node, "__slots__", ()):
            value = getattr(node, name)
            for item in value if isinstance(value, tuple) else (value,):
                if hasattr(item, "__slots__"):
                    visit(item)

    for node in body:
        visit(node)
    return found


class _Converter:
    def __init__(self, fields: set[str]) -> None:
        self.taken = set(fields) | RESERVED
        self.scopes: list[dict[str, tuple[str, Type, int]]] = [{"$": ("", "map", 0)}]
        self.loops = 0
        self.dot: Expr | None = None  # None: the data root
        self.serial = 0

    # --- names --------------------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        name = hint if hint.isidentifier() else "v"
        while name in self.taken:
            self.serial += 1
            name = f"{hint}_{self.serial}"
        self.taken.add(name)
        return name

    def lookup(self, name: str) -> tuple[str, Type, int]:
        """The variable's Jinja name, type and loop depth (Go's parser refused undefined ones)."""
        return next(scope[name] for scope in reversed(self.scopes) if name in scope)

    def declare(self, name: str, kind: Type) -> str:
        jinja = self.fresh(name[1:] or "v")
        self.scopes[-1][name] = (jinja, kind, self.loops)
        return jinja

    def assign(self, pipe: go.Pipeline) -> str:
        """The ``{% set %}`` of a declaring or assigning pipeline, without its value."""
        value = self.pipeline(go.Pipeline((), False, pipe.commands, pipe.line))
        name = pipe.decl[0]
        if pipe.is_assign:
            jinja, _, loops = self.lookup(name)
            if loops != self.loops:
                raise Unconvertible(f"assigning {name} inside range: Jinja loops cannot change it")
            self.scopes[-1 if name in self.scopes[-1] else 0][name] = (jinja, "any", loops)
        else:
            jinja = self.declare(name, value.type)
        return "{% set " + jinja + " = " + bare(value.text) + " %}"

    # --- bodies -------------------------------------------------------------------------------

    def body(self, nodes: Sequence[go.Node], *, top: bool = False) -> str:
        typed = top and _single_action(nodes)
        out: list[str] = []
        for node in nodes:
            out.append(self.node(node, typed=typed))
        return _concatenate(out)

    def node(self, node: go.Node, *, typed: bool = False) -> str:
        if isinstance(node, go.Text):
            return _text(node.text)
        if isinstance(node, go.Comment):
            inner = node.text.removeprefix("/*").removesuffix("*/").replace("#}", "# }")
            return "{#" + inner + "#}"
        if isinstance(node, go.Action):
            if node.pipe.decl:
                return self.assign(node.pipe)
            value = self.pipeline(node.pipe, typed_end=typed)
            if value.lenient:  # Go prints the nil of a missing key as "<no value>"
                name = value.lenient
                return "{{ " + name + " if " + name + ' is defined else "<no value>" }}'
            return "{{ " + bare(value.text) + " }}"
        if isinstance(node, go.If):
            return self.conditional(node)
        if isinstance(node, go.With):
            return self.with_(node)
        if isinstance(node, go.Range):
            return self.range_(node)
        if isinstance(node, go.TemplateCall):
            raise Unconvertible(
                f'"{"block" if node.block else "template"}" has no Jinja equivalent'
            )
        word = "break" if isinstance(node, go.Break) else "continue"
        raise Unconvertible(f'"{word}" needs Jinja loop controls, which the bridge does not enable')

    def scoped(
        self, nodes: Sequence[go.Node], dot: Expr | None = None, *, loop: bool = False
    ) -> str:
        saved = self.dot
        self.scopes.append({})
        self.loops += loop
        if dot is not None:
            self.dot = dot
        try:
            return self.body(nodes)
        finally:
            self.scopes.pop()
            self.loops -= loop
            self.dot = saved

    def condition(self, pipe: go.Pipeline) -> tuple[str, str]:
        """(a ``{% set %}`` before the test, or "", the tested expression)."""
        if not pipe.decl:
            return "", bare(self.pipeline(pipe).text)
        setter = self.assign(pipe)
        return setter, self.lookup(pipe.decl[0])[0]

    def conditional(self, node: go.If) -> str:
        self.scopes.append({})  # a variable declared in the condition lives until "end"
        try:
            setter, test = self.condition(node.pipe)
            out = setter + "{% if " + test + " %}" + self.scoped(node.body)
            out += self.else_(node.else_)
        finally:
            self.scopes.pop()
        return out + "{% endif %}"

    def else_(self, nodes: tuple[go.Node, ...] | None) -> str:
        if nodes is None:
            return ""
        (only,) = nodes if len(nodes) == 1 else (None,)
        if isinstance(only, go.If) and not only.pipe.decl:
            test = bare(self.pipeline(only.pipe).text)
            return "{% elif " + test + " %}" + self.scoped(only.body) + self.else_(only.else_)
        return "{% else %}" + self.scoped(nodes)

    def with_(self, node: go.With) -> str:
        self.scopes.append({})
        try:
            if node.pipe.decl:
                setter, test = self.condition(node.pipe)
                kind = self.lookup(node.pipe.decl[0])[1]
            else:
                value = self.pipeline(node.pipe)
                test, kind = self.fresh("dot"), value.type
                setter = "{% set " + test + " = " + bare(value.text) + " %}"
            out = setter + "{% if " + test + " %}" + self.scoped(node.body, Expr(test, kind))
            out += self.else_(node.else_)
        finally:
            self.scopes.pop()
        return out + "{% endif %}"

    def range_(self, node: go.Range) -> str:
        pipe = node.pipe
        value = self.pipeline(go.Pipeline((), False, pipe.commands, pipe.line))
        if value.type not in LISTS:
            raise Unconvertible(
                "range over a value that may be a map (Go visits sorted keys) or a string "
                "(an error in Go); only lists built in the template are converted"
            )
        if pipe.is_assign:
            raise Unconvertible("range assigning to outer variables")
        self.scopes.append({})
        self.loops += 1
        try:
            index = self.declare(pipe.decl[0], "int") if len(pipe.decl) == 2 else None
            item = self.declare(pipe.decl[-1], "any") if pipe.decl else self.fresh("item")
            head = "{% for " + item + " in " + value.text + " %}"
            if index is not None:
                head += "{% set " + index + " = loop.index0 %}"
            out = head + self.scoped(node.body, Expr(item, "any"))
        finally:
            self.scopes.pop()
            self.loops -= 1
        if node.else_ is not None:
            out += "{% else %}" + self.scoped(node.else_)
        return out + "{% endfor %}"

    # --- expressions --------------------------------------------------------------------------

    def pipeline(self, pipe: go.Pipeline, *, typed_end: bool = False) -> Expr:
        if pipe.decl:
            raise Unconvertible("declaring a variable inside an expression")
        value: Expr | None = None
        last = len(pipe.commands) - 1
        for position, command in enumerate(pipe.commands):
            value = self.command(command, value, typed_end=typed_end and position == last)
        assert value is not None
        return value

    def command(self, command: go.Command, piped: Expr | None, *, typed_end: bool) -> Expr:
        head, *rest = command.args
        if not isinstance(head, go.Identifier):
            if rest or piped is not None:
                raise Unconvertible("a value used as a function")
            return value_of(self.operand(head))
        args = [self.operand(arg) for arg in rest] + ([piped] if piped else [])
        return call(head.name, args, typed_end=typed_end)

    def operand(self, node: go.Operand) -> Expr:
        if isinstance(node, go.String):
            return Expr(json.dumps(node.value, ensure_ascii=False), "str")
        if isinstance(node, go.Number):
            kind = "int" if isinstance(node.value, int) else "float"
            return Expr(f"({node.value!r})" if node.value < 0 else repr(node.value), kind)
        if isinstance(node, go.Bool):
            return Expr("true" if node.value else "false", "bool")
        if isinstance(node, go.Nil):
            return Expr("none", "nil")
        if isinstance(node, go.Dot):
            return self.fields(self.dot, ())
        if isinstance(node, go.Field):
            return self.fields(self.dot, node.names)
        if isinstance(node, go.Variable):
            if node.name == "$":
                return self.fields(None, node.names)
            jinja, kind, _ = self.lookup(node.name)
            return self.fields(Expr(jinja, kind), node.names)
        if isinstance(node, go.Chain):
            return self.fields(self.paren(self.operand(node.node)), node.names)
        if isinstance(node, go.Pipeline):
            return self.paren(self.pipeline(node))
        raise Unconvertible(f'function "{node.name}" used as a value')

    @staticmethod
    def paren(value: Expr) -> Expr:
        if bare(value.text) != value.text:  # parenthesized already
            return value
        return Expr(f"({value.text})", value.type)

    @staticmethod
    def fields(base: Expr | None, names: Sequence[str]) -> Expr:
        if base is None:
            if not names:
                return ROOT
            first, *names = names
            base = Expr(variable_name(first), "str")
        text = base.text + "".join(f"[{json.dumps(name)}]" for name in names)
        return Expr(text, "any" if names else base.type)


def _single_action(nodes: Sequence[go.Node]) -> bool:
    """Whether the template is one printing action with only white space around it."""
    actions = [n for n in nodes if not (isinstance(n, go.Text) and not n.text.strip())]
    return len(actions) == 1 and isinstance(actions[0], go.Action) and not actions[0].pipe.decl


def _text(text: str) -> str:
    """Template text Jinja reads as text: ``{%``, ``{#`` and ``\\r`` become string expressions."""
    out: list[str] = []
    position = 0
    for match in _JINJA_OPENERS.finditer(text):
        out.append(text[position : match.start()])
        out.append("{{ " + json.dumps(match.group()) + " }}")
        position = match.end()
    out.append(text[position:])
    return "".join(out)


def _concatenate(parts: list[str]) -> str:
    """Concatenate, keeping a text's last ``{`` from joining the next tag's ``{{`` or ``{%``."""
    out = ""
    for part in parts:
        if out.endswith("{") and part.startswith("{"):
            out = out[:-1] + '{{ "{" }}'
        out += part
    return out
