"""Which template syntax a form is written in: Jinja2 (the bridge's) or Go (Lynq's).

Lynq forms must load unchanged, so the syntax is recognised without a new field; a form may
still say it with ``spec.templateSyntax: jinja|go``, which then decides alone. Without it, every
template string of the form (spec values, ``nameTemplate``, ``targetNamespace``, label and
annotation templates, ``includeWhen``) is compiled by both engines:

- a string that compiles only as Go votes Go, one that compiles only as Jinja votes Jinja;
- a string that compiles as both (``{{ "x" }}``) or neither (a typo), a string without
  template syntax, and a string without ``{{`` (Go's only delimiter) does not vote for Go;
- the form is Go when some string votes Go and none votes Jinja; Jinja otherwise (the bridge's
  own syntax, also for a form whose strings decide nothing);
- votes for both are a validate error that names one resource of each side, because a guess
  would render half the form with the wrong rules.

Why not a marker such as a leading dot: ``{{ "x" }}``, ``{{ default "a" .b }}`` and
``{{ b | default("a") }}`` show that no single token separates the two; compiling does, and the
engines cache what they compile, so the form's strings are not parsed again afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from lynq_bridge.config.models import LynqForm
from lynq_bridge.core.templating import Engine, TemplateError

__all__ = ["choose_engine", "first_votes", "template_strings"]

_SYNTAX_MARKERS: Final = ("{{", "{%", "{#")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def template_strings(form: LynqForm) -> Iterator[tuple[str, str]]:
    """Every (resource id, template string) of the form, in form order."""
    for entry in form.spec.resources():
        fields = (
            entry.spec,
            entry.nameTemplate,
            entry.targetNamespace,
            entry.labelsTemplate,
            entry.annotationsTemplate,
            entry.includeWhen,
        )
        for source in _strings(list(fields)):
            yield entry.id, source


def _compiles(engine: Engine, source: str) -> bool:
    try:
        engine.compile(source)
    except TemplateError:
        return False
    return True


def first_votes(
    strings: Iterable[tuple[str, str]], *, jinja: Engine, go: Engine
) -> tuple[str | None, str | None]:
    """The key of the first (key, template string) that compiles only as Go, and of the first
    that compiles only as Jinja (None for a side without one): the votes of the rule above."""
    go_only: str | None = None
    jinja_only: str | None = None
    for key, source in strings:
        if not any(marker in source for marker in _SYNTAX_MARKERS):
            continue
        # Go reads text without "{{" as literal text: such a string (a "{% include %}" that Jinja
        # refuses) compiles as Go but must not vote for it, or the refusal would be lost.
        as_go = "{{" in source and _compiles(go, source)
        as_jinja = _compiles(jinja, source)
        if as_go and not as_jinja and go_only is None:
            go_only = key
        elif as_jinja and not as_go and jinja_only is None:
            jinja_only = key
        if go_only is not None and jinja_only is not None:
            break
    return go_only, jinja_only


def choose_engine(form: LynqForm, *, jinja: Engine, go: Engine) -> tuple[Engine, str | None]:
    """The engine for ``form`` and, when its strings mix both syntaxes, the problem."""
    declared = form.spec.templateSyntax
    if declared is not None:
        return (go if declared == "go" else jinja), None
    go_only, jinja_only = first_votes(template_strings(form), jinja=jinja, go=go)
    if go_only is not None and jinja_only is not None:
        problem = (
            f'form {form.metadata.name}: resource "{go_only}" is written in Go template '
            f'syntax (Lynq\'s) and resource "{jinja_only}" in Jinja2 syntax; write the form '
            "in one syntax, or set spec.templateSyntax to say which one it uses"
        )
        return jinja, problem
    return (go if go_only is not None else jinja), None
