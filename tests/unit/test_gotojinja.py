"""Go templates (Lynq's form syntax) to Jinja2: what converts, what is refused, and equivalence.

Equivalence is the acceptance test: every converted template of Lynq's vectors
(``shared/data/lynq-template-vectors.json``) and of Lynq's sample form renders, through our
``TemplateEngine``, what Lynq's engine gives for the same variables; everything else is reported
as not convertible.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from services import missing_service

from lynq_bridge.core import gotojinja
from lynq_bridge.core.goexec import GoTemplateEngine
from lynq_bridge.core.gotojinja import convert, is_go_form
from lynq_bridge.core.templating import CompiledTemplate, TemplateEngine, TemplateError

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO.parent / "shared" / "data" / "lynq-template-vectors.json"
SAMPLE_FORM = REPO / "tests" / "data" / "lynq" / "samples" / "lynqnodes_v1_lynqform.yaml"
DOCS_FORMS = REPO / "tests" / "data" / "lynq" / "docs-forms"
ENGINE = TemplateEngine()
GO = GoTemplateEngine()

# The one vector whose converted Jinja renders differently: the bridge's documented difference
# (``core.functions``): a JSON null inside a value prints as an empty string, not "<no value>".
KNOWN_DIFFERENCES = {"eb-fromjson-null-value"}


def jinja(go: str) -> str:
    conversion = convert(go)
    assert conversion.jinja is not None, conversion.reasons
    return conversion.jinja


def reasons(go: str) -> str:
    conversion = convert(go)
    assert conversion.jinja is None, conversion.jinja
    return " ".join(conversion.reasons)


@pytest.mark.parametrize(
    ("go", "expected"),
    [
        ("node-{{ .uid }}", "node-{{ uid }}"),
        ("plain text", "plain text"),
        ('{{ default "nginx" .image }}', '{{ image | default("nginx") }}'),
        ('{{ .a | replace "." "-" | trunc63 }}', '{{ (a | replace(".", "-")) | trunc63 }}'),
        ("{{ trunc 5 .a }}", "{{ a | trunc(5) }}"),
        ('{{ regexReplaceAll "[0-9]" .a "x" }}', '{{ a | regexReplaceAll("[0-9]", "x") }}'),
        ('{{ index . "image" | default "x" }}', '{{ image | default("x") }}'),
        ('{{ index . "image" }}', '{{ image if image is defined else "<no value>" }}'),
        ("{{ .a.b.c }}", '{{ a["b"]["c"] }}'),
        ("{{ $c := fromJson .j }}{{ $c.k }}", '{% set c = j | fromJson %}{{ c["k"] }}'),
        (
            '{{ if eq .p "a" "b" }}1{{ else if .q }}2{{ else }}3{{ end }}',
            '{% if p == "a" or p == "b" %}1{% elif q %}2{% else %}3{% endif %}',
        ),
        ("{{ if and .a (not .b) }}y{{ end }}", "{% if a and (not b) %}y{% endif %}"),
        ('{{ printf "%s-%05d" .uid 7 }}', '{{ "%s-%05d" | format(uid, 7) }}'),
        ('{{ printf "%s" (.r | default "x") }}', '{{ "%s" | format(r | default("x")) }}'),
        (
            '{{ printf "%s" (index . "r" | default "x") }}',
            '{{ "%s" | format(r | default("x")) }}',
        ),
        ('{{ ternary "on" "off" (eq .x "1") }}', '{{ "on" if (x == "1") else "off" }}'),
        ('{{ list "a" .uid | join "-" }}', '{{ ["a", uid] | join("-") }}'),
        ('{{ quote .a "b" }}', '{{ a | quote("b") }}'),
        ("{{ .replicas | int }}", "{{ replicas | int }}"),
        ("{{ add 1 2 }}", "{{ 1 + 2 }}"),
        (
            "{{ with .a }}[{{ . }}]{{ else }}none{{ end }}",
            "{% set dot = a %}{% if dot %}[{{ dot }}]{% else %}none{% endif %}",
        ),
        (
            '{{ range $i, $x := list "a" "b" }}{{ $i }}={{ $x }}{{ else }}-{{ end }}',
            '{% for x in ["a", "b"] %}{% set i = loop.index0 %}{{ i }}={{ x }}'
            "{% else %}-{% endfor %}",
        ),
        ("{{/* why */}}x", "{# why #}x"),
        # trim markers are applied to the text: Go trims only " \t\r\n", Jinja's "-" more
        ("a \n {{- .x -}} \n b", "a{{ x }}b"),
        ("a\u00a0{{- .x }}", "a\u00a0{{ x }}"),
    ],
)
def test_go_template_becomes_this_jinja(go: str, expected: str) -> None:
    assert jinja(go) == expected


@pytest.mark.parametrize(
    ("go", "expected"),
    [
        ("{% x %} {{ .a }}", '{{ "{%" }} x %} {{ a }}'),
        ("{# x {{ .a }}", '{{ "{#" }} x {{ a }}'),
        ("a\r{{ .a }}", 'a{{ "\\r" }}{{ a }}'),
        ("x{ {{- .a }}", 'x{{ "{" }}{{ a }}'),
    ],
)
def test_text_jinja_would_read_is_written_as_a_string(go: str, expected: str) -> None:
    assert jinja(go) == expected
    assert ENGINE.compile(expected).render({"a": "A"}) == go.replace(" {{- .a }}", "A").replace(
        "{{ .a }}", "A"
    )


def test_printf_percent_signs_stay_literal() -> None:
    source = jinja('{{ printf "100%% %s" .a }}')
    assert ENGINE.compile(source).render({"a": "x"}) == "100% x"


def test_a_conversion_that_would_lose_the_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Untyped:
        def compile(self, source: str) -> CompiledTemplate:
            return CompiledTemplate(source=source, typed=None, constant=False)

    monkeypatch.setattr(gotojinja, "_GO", Untyped())
    assert "would not keep the value's type" in reasons("{{ .r | int }}")


def test_a_variable_is_renamed_when_a_field_has_its_name() -> None:
    assert jinja('{{ $uid := "x" }}{{ $uid }}-{{ .uid }}') == (
        '{% set uid_1 = "x" %}{{ uid_1 }}-{{ uid }}'
    )


def test_a_shadowing_declaration_inside_if_gets_its_own_name() -> None:
    go = '{{ $x := "a" }}{{ if .c }}{{ $x := "b" }}{{ $x }}{{ end }}{{ $x }}'
    source = jinja(go)
    assert ENGINE.compile(source).render({"c": "1"}) == "ba"


def test_assignment_inside_if_changes_the_outer_variable_as_in_go() -> None:
    source = jinja('{{ $x := "a" }}{{ if .c }}{{ $x = "b" }}{{ end }}{{ $x }}')
    assert ENGINE.compile(source).render({"c": "1"}) == "b"


@pytest.mark.parametrize(
    ("go", "reason"),
    [
        ('{{ define "x" }}a{{ end }}{{ template "x" }}', '"define" and "block"'),
        ('{{ define "x" }}a{{ end }}{{ template "x" }}', '"define" and "block"'),
        ('{{ block "x" . }}a{{ end }}', '"define" and "block"'),
        ("{{ range $x := list 1 }}{{ break }}{{ end }}", '"break" needs Jinja loop controls'),
        ("{{ range .items }}{{ . }}{{ end }}", "range over a value that may be a map"),
        ('{{ $x := "a" }}{{ range list 1 }}{{ $x = "b" }}{{ end }}', "assigning $x inside range"),
        ("{{ int .a }}-x", '"int" inside a larger template'),
        ("{{ if gt (int .a) 1 }}y{{ end }}", '"int" inside a larger template'),
        ("{{ len .a }}", "Go counts bytes"),
        ('{{ printf "%d" .a }}', '"printf" verb %d of a str'),
        ('{{ printf "%s" (.a | default 1) }}', '"printf" verb %s of a any'),
        ('{{ printf "%s" (index . "a") }}', '"printf" verb %s of a any'),
        ('{{ printf "%s %s" .a }}', "fewer arguments than verbs"),
        ('{{ printf "%s" .a .b }}', "arguments and verbs do not match"),
        ('{{ printf "%05s" .a }}', '"printf" verb %s of a str'),
        ("{{ printf .f .a }}", "without a literal format"),
        ("{{ eq .a 1 }}", '"eq" of a str and a int'),
        ('{{ ternary "a" "b" .flag }}', "condition that may not be a boolean"),
        ("{{ add 1 .a }}", "not all integers"),
        ("{{ print .a 1 }}", "not all strings"),
        ('{{ join "," .list }}', "may hold values other than strings"),
        ("{{ sha512sum .a }}", 'function "sha512sum" has no equivalent Jinja filter'),
        ("{{ . }}", "whole data map"),
        ("{{ upper $ }}", "whole data map"),
        ("{{ .if }}", 'the variable name "if" is reserved'),
        ("{{ .loop }}", 'the variable name "loop" is reserved'),
        ("{{ index . .k }}", "not a literal string"),
        ("{{ index .a 0 }}", '"index" of a str'),
        ("{{ $x := 0 }}{{ range $x = list 1 }}{{ end }}", "range assigning to outer variables"),
        ('{{ print ($x := "a") $x }}', "declaring a variable inside an expression"),
        ('{{ .a "b" }}', "a value used as a function"),
        ("{{ print list }}", 'function "list" used as a value'),
        ("{{ eq (list 1) (list 1) }}", '"eq" of a list'),
        ('{{ printf "50%" }}', "arguments and verbs do not match"),
        ("{{ trunc 5 }}", "wrong number of args for trunc"),
        ("{{ quote }}", '"quote" without arguments'),
        ("{{ index .a }}", '"index" without a key'),
        ("{{ eq .a }}", '"eq" with 1 argument(s)'),
        ("{{ now }}", 'function "now" is not allowed'),
        ("__LYNQ_TYPE_INT__{{ .a }}", "literal Lynq type marker"),
        ("{{ .a._b }}", "the Jinja form does not validate"),
        ("{{ .uid", "the Go template does not compile: template syntax error: unclosed action"),
    ],
)
def test_what_cannot_be_converted_is_reported_with_the_reason(go: str, reason: str) -> None:
    assert reason in reasons(go)


@pytest.mark.parametrize(
    ("sources", "declared", "is_go"),
    [
        (["{{ .uid }}", "plain"], None, True),
        (['{{ default "x" .plan }}', '{{ "both" }}'], None, True),
        (["{{ uid }}", "{{ plan | upper }}"], None, False),  # Jinja: Go has no function "uid"
        (["{{ uid }}", "{{ .uid }}"], None, False),  # mixed: validate reports it, not converted
        (['{{ "both" }}', "{% if x %}{% endif %}"], None, False),  # nothing votes for Go
        (["no templates"], None, False),
        (["{{ uid }}"], "go", True),  # spec.templateSyntax decides alone
        (["{{ .uid }}"], "jinja", False),
    ],
)
def test_a_form_is_go_by_the_engines_rule(
    sources: list[str], declared: str | None, is_go: bool
) -> None:
    assert is_go_form(sources, declared=declared) is is_go


# --- equivalence ------------------------------------------------------------------------------
#
# Lynq's engine is represented twice: by the outputs its tests assert (the vectors) and by our Go
# engine (``goexec``), which renders Lynq's forms unchanged. A converted template must give the
# same text, type and typed value for the same variables; where Go fails, Jinja may render.


def _outcome(compiled: CompiledTemplate, variables: dict[str, Any]) -> tuple[object, ...]:
    try:
        return ("ok", compiled.render(variables), compiled.typed, compiled.render_typed(variables))
    except TemplateError:
        return ("error",)


def _vectors() -> list[dict[str, Any]]:
    if not VECTORS.exists():
        return []
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return vectors


def _lynq_result(vector: dict[str, Any]) -> object:
    """What Lynq's tests assert: the rendered text or typed value, or None for an error."""
    if vector["kind"] == "render":
        return vector["expect"]
    if vector["typed_mode"] in ("parse", "strip"):
        return vector["typed_expect"]
    return vector["expect"].rpartition("__")[2]  # the marker's value, as text


def _jinja_result(vector: dict[str, Any], source: str) -> object:
    try:
        compiled = ENGINE.compile(source)
        if vector["kind"] == "typed" and vector["typed_mode"] == "parse":
            return compiled.render_typed(vector["vars"])
        return compiled.render(vector["vars"])
    except TemplateError:
        return None


def test_every_converted_lynq_vector_renders_what_lynq_and_our_go_engine_render() -> None:
    vectors = _vectors()
    if not vectors:
        missing_service("lynq-template-vectors.json", f"not found at {VECTORS}")
    converted, different = 0, set()
    for vector in vectors:
        conversion = convert(vector["template"])
        if conversion.jinja is None:
            continue
        converted += 1
        if _jinja_result(vector, conversion.jinja) != _lynq_result(vector):
            different.add(vector["id"])
        go = _outcome(GO.compile(vector["template"]), vector["vars"])
        if go != ("error",) and go != _outcome(ENGINE.compile(conversion.jinja), vector["vars"]):
            different.add(vector["id"])
    assert different == KNOWN_DIFFERENCES
    # 203 vectors: 5 are invalid Go, 9 literal type markers, 3 need Sprig's number parsing
    assert converted == len(vectors) - 17, f"{converted} of {len(vectors)} vectors convert"


def _form_templates(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _form_templates(v)]
    if isinstance(value, list):
        return [t for v in value for t in _form_templates(v)]
    return []


def test_every_template_of_lynqs_sample_form_converts_and_renders_the_same() -> None:
    form = yaml.safe_load(SAMPLE_FORM.read_text(encoding="utf-8"))
    templates = [t for t in _form_templates(form["spec"]) if "{{" in t]
    row = {"uid": "acme", "host": "acme.example.com", "deployImage": "", "hostOrUrl": "x"}
    expected = {
        "{{ .uid }}": "acme",
        "{{ .uid }}-sa": "acme-sa",
        "{{ .uid }}-api": "acme-api",
        "{{ .uid }}-isolation": "acme-isolation",
        "{{ .host }}": "acme.example.com",
        '{{ default "nginx:stable" .deployImage }}': "nginx:stable",
    }
    assert set(templates) == set(expected)
    for template in templates:
        assert ENGINE.compile(jinja(template)).render(row) == expected[template]


# Row values that exercise the functions of Lynq's documented forms: empty (NULL), words,
# numbers, booleans, URLs, non-ASCII text and JSON.
ROW_VALUES = (
    "",
    "pro",
    "enterprise",
    "3",
    "true",
    "https://acme.example.com:8443/x",
    "Ünïcode Välue",
    '{"a": {"b": "c"}, "n": null, "l": [1, 2]}',
)
# Why the templates of Lynq's documented forms that do not convert cannot.
CORPUS_GAPS = (
    'function "urlquery" has no equivalent Jinja filter',
    '"add" of values that are not all integers',
    '"mul" of values that are not all integers',
    'function "max" has no equivalent Jinja filter',
    "is not allowed",  # randAlphaNum: rejected by the Go engine too
)


def _corpus_templates() -> list[str]:
    templates = []
    for path in sorted(DOCS_FORMS.glob("*.yaml")):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            continue  # a snippet that is not YAML (a template outside quotes): Lynq's too
        for document in documents:
            if isinstance(document, dict) and document.get("kind") == "LynqForm":
                templates += [t for t in _form_templates(document["spec"]) if "{{" in t]
    return templates


def test_converted_templates_of_lynqs_documented_forms_render_what_go_renders() -> None:
    templates = _corpus_templates()
    if not templates:
        missing_service("tests/data/lynq/docs-forms", "no forms found")
    converted, gaps, different = 0, [], []
    for template in templates:
        conversion = convert(template)
        if conversion.jinja is None:
            gaps += [r for r in conversion.reasons if not any(g in r for g in CORPUS_GAPS)]
            continue
        converted += 1
        go, ours = GO.compile(template), ENGINE.compile(conversion.jinja)
        names = {"uid", "host", "hostOrUrl", "hubId", "templateRef", "activate"}
        names |= set(re.findall(r"\.([A-Za-z_]\w*)", template))
        for value in ROW_VALUES:
            row = dict.fromkeys(names, value) | {"uid": "acme"}
            expected = _outcome(go, row)
            if expected != ("error",) and _outcome(ours, row) != expected:
                different.append((template, value))
    assert gaps == []
    assert different == []
    assert converted >= 0.95 * len(templates), f"{converted} of {len(templates)} convert"
