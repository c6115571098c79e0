"""Which syntax a form is written in (``lynq_bridge.core.formsyntax``): detection and the
declared ``spec.templateSyntax``."""

from __future__ import annotations

from typing import Any

from lynq_bridge.config.models import LynqForm
from lynq_bridge.core.forms import compile_form
from lynq_bridge.core.formsyntax import choose_engine, first_votes
from lynq_bridge.core.goexec import GoTemplateEngine
from lynq_bridge.core.templating import TemplateEngine

JINJA = TemplateEngine()
GO = GoTemplateEngine()
GO_ONLY = "{{ .uid }}"  # Jinja2 refuses the leading dot
JINJA_ONLY = "{{ uid }}"  # Go refuses the undefined function "uid"


def form(*templates: str, syntax: str | None = None) -> LynqForm:
    spec: dict[str, Any] = {
        "hubId": "h",
        "configMaps": [
            {"id": f"r{i}", "spec": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": t}}}
            for i, t in enumerate(templates)
        ],
    }
    if syntax is not None:
        spec["templateSyntax"] = syntax
    document = {"apiVersion": "operator.lynq.sh/v1", "kind": "LynqForm", "metadata": {"name": "f"}}
    return LynqForm.model_validate({**document, "spec": spec})


def test_the_two_probe_strings_compile_in_one_engine_each() -> None:
    strings = [("go", GO_ONLY), ("jinja", JINJA_ONLY)]
    assert first_votes(strings, jinja=JINJA, go=GO) == ("go", "jinja")


def test_jinja_only_string_before_a_go_only_string_is_a_mixed_syntax_error() -> None:
    assert choose_engine(form(JINJA_ONLY, GO_ONLY), jinja=JINJA, go=GO) == (
        JINJA,
        'form f: resource "r1" is written in Go template syntax (Lynq\'s) and resource "r0" in '
        "Jinja2 syntax; write the form in one syntax, or set spec.templateSyntax to say which "
        "one it uses",
    )


def test_first_votes_names_the_first_string_of_each_side_whatever_comes_first() -> None:
    strings = [("a", JINJA_ONLY), ("b", JINJA_ONLY), ("c", GO_ONLY), ("d", GO_ONLY)]
    assert first_votes(strings, jinja=JINJA, go=GO) == ("c", "a")


def test_form_declaring_jinja_whose_strings_are_go_only_is_compiled_as_jinja_and_fails() -> None:
    declared = form(GO_ONLY, syntax="jinja")
    assert choose_engine(declared, jinja=JINJA, go=GO) == (JINJA, None)
    compiled, problems, _ = compile_form(declared, engine=JINJA, go_engine=GO)
    assert compiled is None
    assert problems == [
        "form f, resource \"r0\", spec.data.k: template syntax error: unexpected '.' (line 1)"
    ]
    # Undeclared, the same form is Lynq's and compiles.
    assert compile_form(form(GO_ONLY), engine=JINJA, go_engine=GO)[1] == []


def test_declaring_go_wins_over_detection_even_for_mixed_strings() -> None:
    assert choose_engine(form(JINJA_ONLY, syntax="go"), jinja=JINJA, go=GO) == (GO, None)
    assert choose_engine(form(GO_ONLY, JINJA_ONLY, syntax="go"), jinja=JINJA, go=GO) == (GO, None)
    _, problems, _ = compile_form(form(JINJA_ONLY, syntax="go"), engine=JINJA, go_engine=GO)
    assert problems == [
        'form f, resource "r0", spec.data.k: template syntax error: '
        'function "uid" not defined (line 1)'
    ]
