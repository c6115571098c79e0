"""The syntax tree of Go ``text/template`` templates: frozen dataclasses, no behaviour.

``goparse`` builds these trees from Lynq's Go-template form strings, ``goexec`` evaluates them and
``gotojinja`` rewrites them to Jinja. They are a module of their own so that both consumers depend
on the shape of a template only, not on how it is parsed. The tree changes only by addition.

Nodes of a template body (``Node``):

- ``Text(text)``: literal text, trim markers already applied;
- ``Comment(text)``: ``{{/* … */}}`` (kept for rewriters; prints nothing);
- ``Action(pipe)``: ``{{ pipeline }}``; prints the value unless the pipeline declares variables;
- ``If``/``Range``/``With(pipe, body, else_)``: ``else_`` is None without ``{{ else }}``;
  ``{{ else if p }}``/``{{ else with p }}`` are an ``else_`` holding one ``If``/``With``;
- ``TemplateCall(name, pipe, block)``: ``{{ template "n" p }}``; ``block`` when it came from
  ``{{ block "n" p }}…{{ end }}`` (whose body is a ``Define``);
- ``Break``, ``Continue``.

Expressions (``Operand``), the words of a ``Command``:

- ``Pipeline(decl, is_assign, commands)``: ``$x := c1 | c2``; also a parenthesized operand;
- ``Command(args)``: ``args[0]`` is the function (``Identifier``) or the value;
- ``Field(names)`` ``.a.b``; ``Variable(name, names)`` ``$x.a.b`` (``$`` is the data root);
  ``Chain(node, names)`` ``(pipeline).a``; ``Identifier(name)`` a function;
- literals: ``String(value, quoted)`` (quoted and raw), ``Number(value, text)`` (int, float,
  character constants as int), ``Bool(value)``, ``Nil()``, ``Dot()``.

Every node carries ``line`` (1-based, where it starts). ``parse`` returns a ``Parsed``: the
``root`` body and the ``defines`` (``{{ define }}`` and ``{{ block }}`` bodies) by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --- expressions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dot:
    line: int = 0


@dataclass(frozen=True, slots=True)
class Nil:
    line: int = 0


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    line: int = 0


@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    """The value Go gives the literal where any type is accepted: int unless the text has a
    ``.``, an exponent or is a hex float; character constants (``'a'``) are ints."""
    text: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class String:
    value: str
    quoted: str
    """The literal as written: ``"a\\n"`` or a raw ```a```."""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Field:
    names: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    """``$`` or ``$x``."""
    names: tuple[str, ...] = ()
    """Fields after the variable: ``$x.a.b`` -> ``("a", "b")``."""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Identifier:
    name: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class Chain:
    node: Operand
    names: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Command:
    args: tuple[Operand, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Pipeline:
    decl: tuple[str, ...]
    """Variables declared (``:=``) or assigned (``=``) with the value: ``("$i", "$x")``."""
    is_assign: bool
    commands: tuple[Command, ...]
    line: int = 0


Operand = Dot | Nil | Bool | Number | String | Field | Variable | Identifier | Chain | Pipeline


# --- template body ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class Comment:
    text: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class Action:
    pipe: Pipeline
    line: int = 0


@dataclass(frozen=True, slots=True)
class If:
    pipe: Pipeline
    body: tuple[Node, ...]
    else_: tuple[Node, ...] | None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Range:
    pipe: Pipeline
    body: tuple[Node, ...]
    else_: tuple[Node, ...] | None
    line: int = 0


@dataclass(frozen=True, slots=True)
class With:
    pipe: Pipeline
    body: tuple[Node, ...]
    else_: tuple[Node, ...] | None
    line: int = 0


@dataclass(frozen=True, slots=True)
class TemplateCall:
    name: str
    pipe: Pipeline | None
    block: bool = False
    line: int = 0


@dataclass(frozen=True, slots=True)
class Break:
    line: int = 0


@dataclass(frozen=True, slots=True)
class Continue:
    line: int = 0


Node = Text | Comment | Action | If | Range | With | TemplateCall | Break | Continue


@dataclass(frozen=True, slots=True)
class Define:
    name: str
    body: tuple[Node, ...]
    line: int = 0


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed template: its body and the templates it defines, sorted by name."""

    root: tuple[Node, ...]
    defines: tuple[Define, ...] = field(default=())

    def define(self, name: str) -> Define | None:
        return next((d for d in self.defines if d.name == name), None)
