"""Compatibility with Lynq: Lynq's own template test vectors, run unchanged on the Go engine.

``shared/data/lynq-template-vectors.json`` (see its README) holds the outputs that Lynq's Go tests
assert for its engine (Go ``text/template`` + Sprig). Each template runs as written through
``GoTemplateEngine``; the expectations are read from the file at test time, never copied here.

Typed vectors: ``parse`` compares ``render_typed`` (value and Go type), ``strip`` compares
``render`` (a string-only field, where Lynq strips its marker). Where a vector expects Lynq's
in-band marker (``__LYNQ_TYPE_INT__42``), the equivalent is checked: ``typed`` is the marker's
kind, ``render`` gives the text after the marker (Lynq's StripTypeMarker) and ``render_typed``
the parsed value (Lynq's ParseTypedValue); our engine carries the kind beside the text instead
of inside it (see ``goexec``).

Every vector runs; ``NOT_RUN`` is empty and must stay so unless a reason is written there and
in docs/lynq.md ("Templates").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from services import missing_service

from lynq_bridge.core.goexec import GoTemplateEngine
from lynq_bridge.core.templating import TemplateError

VECTORS_FILE = "lynq-template-vectors.json"
REPO_ROOT = Path(__file__).resolve().parents[2]

NOT_RUN: dict[str, str] = {}

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
ENGINE = GoTemplateEngine()


def _check_render(vector: dict[str, Any]) -> None:
    source, variables = vector["template"], vector["vars"]
    if vector["expect"] is None:
        with pytest.raises(TemplateError) as error:
            ENGINE.compile(source).render(variables)
        if vector["error_contains"]:
            assert vector["error_contains"] in str(error.value)
    else:
        assert ENGINE.compile(source).render(variables) == vector["expect"]


def _check_typed(vector: dict[str, Any]) -> None:
    compiled, variables = ENGINE.compile(vector["template"]), vector["vars"]
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
    if vector["kind"] == "render":
        _check_render(vector)
    else:
        _check_typed(vector)
