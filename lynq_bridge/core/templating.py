"""The sandboxed template engine: compile each form string once, render it for every row.

Every string of a Jinja2 LynqForm is a Jinja2 template (forms written for Lynq, in Go's syntax,
use ``goexec.GoTemplateEngine``, which shares ``CompiledTemplate``, ``TemplateError`` and the
``Engine`` protocol defined here; ``formsyntax`` picks one). This module turns a string into a
``CompiledTemplate`` and is the only place that touches Jinja. It is separate from ``functions``
(what templates can call) and from ``rendering`` (which templates a resource has) because it owns
the safety rules, checked on the parsed template at compile time so that a bad form fails
validation instead of failing one row at a time:

- syntax errors, unknown filters, tests and functions are errors;
- functions that read the clock, randomness, the environment, DNS or the cluster are rejected
  with the reason (the output would change on every sync and commit forever);
- ``{% include %}``, ``{% import %}`` and ``{% extends %}`` are rejected: no file access;
- attribute or item names starting with ``_`` are rejected (sandbox escapes such as
  ``''.__class__``); the Jinja sandbox still guards everything at render time.

Rendering happens exactly once: variables are data, never template source, so a row value
containing ``{{ 7*7 }}`` comes out literally. Missing variables are errors (strict undefined)
except under ``default``/``d``. Output follows Go's printing so that Lynq forms render the same:
``true``/``false`` for booleans, ``1.5``/``42``/``1e+06`` for floats, nothing for ``None``;
printing a function, generator or other object whose text holds a memory address is an error,
because those bytes would differ on every run.

A template that is entirely one ``{{ expr }}`` whose last operation is ``int``, ``float`` or
``bool`` (as a filter or a call) is *typed*: ``render_typed`` returns the Python value, which
becomes a YAML number or boolean. White space around that single expression is allowed and
ignored (``" {{ r | int }} "`` is typed), because it carries no meaning in a number and block
scalars add a trailing newline; any other text makes the field a plain string.

Compiling never evaluates an expression: Jinja folds constant expressions at compile time (its
optimizer, and the folding of ``{{ }}`` output), so ``{{ "x" * 10**12 }}`` or a catastrophic
regex would run inside ``validate`` without any limit. Both are off; everything runs at render
time in ``sandbox``'s environment, where every ``*``, ``%``, ``+``, ``**``, ``~``, call, filter
and ``for`` loop goes through a hook that bounds its result and checks the deadline (``limits``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

from lynq_bridge.core import functions
from lynq_bridge.core.sandbox import BoundedEnvironment, Rewrite, bounded_filter, join

__all__ = ["CompiledTemplate", "Engine", "TemplateEngine", "TemplateError", "TypedKind"]

TypedKind = Literal["int", "float", "bool"]

_TYPED: Final[dict[str, TypedKind]] = {"int": "int", "float": "float", "bool": "bool"}
_SYNTAX_MARKERS: Final = ("{{", "{%", "{#")

_CHANGES_EVERY_SYNC: Final = "its output would change on every sync and commit forever"
_READS_THE_WORLD: Final = (
    "it reads the machine, DNS or the cluster, so the same rows would not always give the same "
    "files"
)
_NOT_DETERMINISTIC: Final[dict[str, str]] = {
    **dict.fromkeys(
        (
            "now",
            "ago",
            "utcnow",
            "today",
            "random",
            "shuffle",
            "lipsum",
            "randAlpha",
            "randAlphaNum",
            "randAscii",
            "randNumeric",
            "randInt",
            "randBytes",
            "uuid",
            "uuidv4",
            "genPrivateKey",
            "genCA",
            "genCAWithKey",
            "genSelfSignedCert",
            "genSelfSignedCertWithKey",
            "genSignedCert",
            "genSignedCertWithKey",
            "bcrypt",
            "htpasswd",
            "encryptAES",
        ),
        _CHANGES_EVERY_SYNC,
    ),
    **dict.fromkeys(
        ("env", "expandenv", "getenv", "getHostByName", "lookup", "hostname"), _READS_THE_WORLD
    ),
}
_FILE_TAGS: Final[dict[type[nodes.Node], str]] = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Extends: "extends",
}
# Filters whose positional argument at this index names an attribute to read.
_ATTRIBUTE_ARGUMENT: Final = {"attr": 0, "selectattr": 0, "rejectattr": 0, "groupby": 0, "sum": 0}
_INTERNALS: Final = "templates cannot reach Python internals"

_UNDEFINED_PATTERNS: Final = (
    (re.compile(r"""^(['"])(?P<name>.*)\1 is undefined$"""), 'undefined variable "{name}"'),
    (re.compile(r"""has no attribute (['"])(?P<name>.*)\1$"""), 'undefined attribute "{name}"'),
    (re.compile(r"has no element (?P<name>.*)$"), "undefined element {name}"),
)
_UNSAFE_ATTRIBUTE: Final = re.compile(r"access to attribute '(?P<name>[^']*)'")


class TemplateError(Exception):
    """A template cannot be compiled or rendered; the message is the cause only."""


@dataclass(frozen=True)
class CompiledTemplate:
    """One form string, parsed and checked; render it with any number of variable sets."""

    source: str
    typed: TypedKind | None
    """The Python type of the value when the whole template is one int/float/bool expression."""
    constant: bool
    """True when the source has no template syntax: rendering returns it without Jinja."""
    _template: jinja2.Template | None = field(default=None, repr=False, compare=False)

    def render(self, variables: Mapping[str, object]) -> str:
        """The rendered text; raises ``TemplateError`` naming the cause."""
        template = self._template
        if template is None:
            return self.source
        try:
            return template.render(variables)
        except Exception as exc:  # anything a template or filter raises is a render error
            raise TemplateError(_render_message(exc)) from exc

    def render_typed(self, variables: Mapping[str, object]) -> str | int | float | bool:
        """The rendered value: an int, float or bool when ``typed`` says so, else text."""
        text = self.render(variables)
        if self.typed is None:
            return text
        value = text.strip()
        try:
            if self.typed == "int":
                return int(value)
            if self.typed == "float":
                return float(value)
        except ValueError:
            raise TemplateError(f'expected {self.typed} value, got "{value}"') from None
        return value.lower() == "true"


class Engine(Protocol):
    """What forms need of an engine: this one (Jinja2) or ``goexec.GoTemplateEngine`` (Go)."""

    def compile(self, source: str) -> CompiledTemplate: ...


class TemplateEngine:
    """Compiles templates in one sandboxed environment and caches them by source text.

    The cache is unbounded on purpose: its keys are the strings of the configured forms, a
    fixed and small set, and every row renders the same strings.
    """

    def __init__(self) -> None:
        self._environment = _make_environment()
        self._cache: dict[str, CompiledTemplate] = {}

    def compile(self, source: str) -> CompiledTemplate:
        """The compiled template; raises ``TemplateError`` for anything that cannot render."""
        compiled = self._cache.get(source)
        if compiled is None:
            compiled = self._compile(source)
            self._cache[source] = compiled
        return compiled

    def _compile(self, source: str) -> CompiledTemplate:
        if not any(marker in source for marker in _SYNTAX_MARKERS):
            return CompiledTemplate(source=source, typed=None, constant=True)
        try:
            tree = self._environment.parse(source)
            _check(tree, self._environment)
            typed = _typed_kind(tree)
            Rewrite().visit(tree)
            tree.set_environment(self._environment)
            template = self._environment.from_string(tree)
        except TemplateSyntaxError as exc:
            message = (exc.message or "invalid syntax").rstrip(".")
            message = message[:1].lower() + message[1:]
            raise TemplateError(f"template syntax error: {message} (line {exc.lineno})") from exc
        # Jinja layers the globals as a ChainMap and copies it key by key on every render (about
        # 10 us with our functions); the environment never changes, so a flat snapshot is exact.
        template.globals = dict(template.globals)
        return CompiledTemplate(source=source, typed=typed, constant=False, _template=template)


def _make_environment() -> BoundedEnvironment:
    environment = BoundedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_finalize,
        optimized=False,  # the optimizer evaluates constant expressions at compile time
    )
    for name in _NOT_DETERMINISTIC:
        environment.filters.pop(name, None)
        environment.globals.pop(name, None)
    environment.filters.update(functions.FILTERS)
    environment.filters["join"] = join
    environment.filters.update(
        {name: bounded_filter(name, f) for name, f in environment.filters.items()}
    )
    environment.globals.update(functions.GLOBALS)
    return environment


@jinja2.pass_eval_context  # needing the context, it cannot be folded into constants at compile time
def _finalize(eval_ctx: object, value: object) -> str:
    """The text of one ``{{ }}`` value as Go prints it; never a memory address."""
    if isinstance(value, str):
        return value
    text = functions.to_text(value)
    if " at 0x" in text and not isinstance(value, int | float | list | tuple | dict):
        # A function, generator or opaque object prints its memory address.
        kind = type(value).__name__
        raise TypeError(f'cannot print a "{kind}" object: its text would change on every run')
    return text


def _typed_kind(tree: nodes.Template) -> TypedKind | None:
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    expressions = [
        node
        for node in tree.body[0].nodes
        if not (isinstance(node, nodes.TemplateData) and not node.data.strip())
    ]
    if len(expressions) != 1:
        return None
    (expression,) = expressions
    if isinstance(expression, nodes.Filter):
        return _TYPED.get(expression.name)
    if isinstance(expression, nodes.Call) and isinstance(expression.node, nodes.Name):
        return _TYPED.get(expression.node.name)
    return None


def _check(tree: nodes.Template, environment: jinja2.Environment) -> None:
    callables = {"caller", "loop"} | {macro.name for macro in tree.find_all(nodes.Macro)}
    for node in tree.find_all(nodes.Node):
        if type(node) in _FILE_TAGS:
            tag = _FILE_TAGS[type(node)]
            raise TemplateError(f'"{{% {tag} %}}" is not allowed: templates cannot read files')
        if isinstance(node, nodes.Filter):
            _check_name("filter", node.name, environment.filters)
            _check_attribute_arguments(node)
        elif isinstance(node, nodes.Test) and node.name not in environment.tests:
            raise TemplateError(f'unknown test "{node.name}"')
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            if node.node.name not in callables:
                _check_name("function", node.node.name, environment.globals)
        elif isinstance(node, nodes.Getattr | nodes.Getitem):
            _check_access(node)


def _check_name(kind: str, name: str, known: Mapping[str, object]) -> None:
    reason = _NOT_DETERMINISTIC.get(name)
    if reason is not None:
        raise TemplateError(f'{kind} "{name}" is not allowed: {reason}')
    if name not in known:
        raise TemplateError(f'unknown {kind} "{name}"')


def _check_access(node: nodes.Getattr | nodes.Getitem) -> None:
    # Innermost first, so that ''.__class__.__mro__ names "__class__", the first step out.
    chain: list[nodes.Getattr | nodes.Getitem] = []
    current: nodes.Node = node
    while isinstance(current, nodes.Getattr | nodes.Getitem):
        chain.append(current)
        current = current.node
    for step in reversed(chain):
        if isinstance(step, nodes.Getattr):
            _check_attribute(step.attr)
        elif isinstance(step.arg, nodes.Const):
            _check_attribute(step.arg.value)


def _check_attribute(name: object) -> None:
    if isinstance(name, str) and any(part.startswith("_") for part in name.split(".")):
        raise TemplateError(f'access to "{name}" is not allowed: {_INTERNALS}')


def _check_attribute_arguments(node: nodes.Filter) -> None:
    index = _ATTRIBUTE_ARGUMENT.get(node.name)
    arguments = [keyword.value for keyword in node.kwargs if keyword.key == "attribute"]
    if index is not None and len(node.args) > index:
        arguments.append(node.args[index])
    for argument in arguments:
        if isinstance(argument, nodes.Const):
            _check_attribute(argument.value)


def _render_message(exc: Exception) -> str:
    message = str(exc).rstrip(".")
    if isinstance(exc, UndefinedError):
        for pattern, template in _UNDEFINED_PATTERNS:
            match = pattern.search(message)
            if match:
                return template.format(name=match["name"])
    elif isinstance(exc, SecurityError):
        match = _UNSAFE_ATTRIBUTE.search(message)
        if match:
            name = match["name"]
            reason = _INTERNALS if name.startswith("_") else "templates cannot change data"
            return f'access to "{name}" is not allowed: {reason}'
    return message or type(exc).__name__
