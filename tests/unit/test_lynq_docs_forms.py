"""Lynq's documented forms render, unchanged, to the bodies Lynq itself renders.

``tests/data/lynq/docs-forms/`` holds every LynqForm of Lynq's documentation and its sample form
(some doc snippets wrapped minimally into a form, as their headers say), and for each one a
``*.expected.json`` written by Lynq's own engine and controllers (``scripts/lynq-reference``):
whether Lynq accepts the form (API server + webhooks) and, for the rows of ``rows.json``, each
resource's body as the LynqNode controller hands it to its applier, or Lynq's render error.

Each form Lynq accepts is loaded as our LynqForm, rendered with the same rows through
``render_node`` and compared object by object. Only these differences are normalised, each
documented:

- Lynq drops the template's ``spec.metadata.annotations`` (docs/lynq.md, deliberate difference):
  those keys are removed from our body unless ``annotationsTemplate`` sets them too;
- Lynq replaces the template's ``spec.metadata.labels`` whenever it sets labels itself (a
  non-empty ``labelsTemplate``, or its ``lynq.sh/node`` labels on an object in another namespace
  or a Namespace; docs/lynq.md, deliberate difference): then those keys are removed from our body
  unless ``labelsTemplate`` sets them too;
- Lynq forces the node's namespace (docs/lynq.md): where a resource sets
  ``spec.metadata.namespace`` without ``targetNamespace``, our namespace is taken to be Lynq's;
  the API server ignores the namespace Lynq puts on cluster-scoped objects, which we omit;
- the bridge's tracking labels and annotations of SPEC §6.2 (``lynq.sh/node``,
  ``lynq.sh/node-namespace``, ``lynq.sh/hub``, ``lynq.sh/uid``) replace the ownerReferences that
  Lynq's applier adds after rendering: where Lynq's body has such a key the values must be equal,
  otherwise ours is dropped before comparing; empty label and annotation maps count as absent.

Where Lynq fails a resource (a render error, or metadata the API server refuses), ours must
fail it too. A form calling a non-deterministic function (``now``, ``rand*``, ``uuid*``: its
reference output holds one random draw) must be refused with the function named instead.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from lynq_bridge.config.models import LynqForm, LynqHub
from lynq_bridge.core.forms import CompiledForm, compile_forms
from lynq_bridge.core.naming import is_cluster_scoped
from lynq_bridge.core.rendering import NodeRender, render_node
from lynq_bridge.core.rows import Row, rows_from_records
from renderers.plain import PlainTarget

CORPUS = Path(__file__).resolve().parents[1] / "data" / "lynq" / "docs-forms"
# Sprig's functions whose output changes from call to call (the issue: rejected with the reason)
NONDETERMINISTIC = re.compile(r"\{\{[^}]*\b(now|rand[A-Za-z]*|uuidv4)\b")
TRACKING_KEYS = ("lynq.sh/node", "lynq.sh/node-namespace", "lynq.sh/hub", "lynq.sh/uid")


def _expected(form_file: str) -> dict[str, Any]:
    path = CORPUS / form_file.replace(".yaml", ".expected.json")
    result: dict[str, Any] = json.loads(path.read_text())
    return result


FORM_FILES = sorted(p.name for p in CORPUS.glob("*.yaml"))
ACCEPTED = [f for f in FORM_FILES if _expected(f)["accepted"]]


@cache
def _inputs() -> tuple[list[str], list[Row]]:
    rows = json.loads((CORPUS / "rows.json").read_text())["rows"]
    extras = sorted(rows[0]["extra"])
    records = [
        (r["uid"], r["activate"], r["hostOrUrl"], *(r["extra"][k] for k in extras)) for r in rows
    ]
    return extras, rows_from_records(records, columns=("hostOrUrl", *extras))


def _document(form_file: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CORPUS / form_file).read_text())
    return document


def _hub(document: dict[str, Any], extras: list[str]) -> LynqHub:
    """A hub of ours named as the form's hubId, in the form's namespace, mapping every extra."""
    return LynqHub.model_validate(
        {
            "apiVersion": "operator.lynq.sh/v1",
            "kind": "LynqHub",
            "metadata": {
                "name": document["spec"]["hubId"],
                "namespace": document["metadata"].get("namespace", "default"),
            },
            "spec": {
                "source": {"type": "sqlite", "sqlite": {"path": "/x.db", "table": "tenants"}},
                "valueMappings": {"uid": "uid", "activate": "activate", "hostOrUrl": "url"},
                "extraValueMappings": {k: k for k in extras},
            },
        }
    )


def _compiled(document: dict[str, Any]) -> tuple[CompiledForm | None, list[str]]:
    form = LynqForm.model_validate(document)
    compiled, problems, _ = compile_forms([form])
    return next(iter(compiled.values()), None), problems


def _form_resources(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["id"]: r
        for key, value in document["spec"].items()
        if isinstance(value, list)
        for r in value
        if isinstance(r, dict) and "id" in r
    }


def _without_empty(metadata: dict[str, Any]) -> None:
    for key in ("labels", "annotations"):
        if key in metadata and not metadata[key]:
            del metadata[key]


def _normalised(ours: dict[str, Any], lynq: dict[str, Any], resource: dict[str, Any]) -> Any:
    """Our body with exactly the documented differences from Lynq's undone."""
    ours = copy.deepcopy(ours)
    meta = ours.setdefault("metadata", {})
    lynq_meta = lynq.get("metadata", {})
    spec_meta = resource.get("spec", {}).get("metadata") or {}
    annotations = meta.get("annotations", {})
    for key in spec_meta.get("annotations") or {}:
        if key not in (resource.get("annotationsTemplate") or {}):
            annotations.pop(key, None)
    # Lynq replaces the template's labels whenever it sets labels itself: with a non-empty
    # labelsTemplate, or with its lynq.sh/node labels on other namespaces' objects (docs/lynq.md)
    if resource.get("labelsTemplate") or "lynq.sh/node" in lynq_meta.get("labels", {}):
        labels = meta.get("labels", {})
        for key in spec_meta.get("labels") or {}:
            if key not in (resource.get("labelsTemplate") or {}):
                labels.pop(key, None)
    if "namespace" in spec_meta and "targetNamespace" not in resource:
        meta["namespace"] = lynq_meta.get("namespace")
    for key in TRACKING_KEYS:
        for part in ("labels", "annotations"):
            if key in meta.get(part, {}) and key not in lynq_meta.get(part, {}):
                del meta[part][key]
    _without_empty(meta)
    return ours


def _lynq_body(lynq: dict[str, Any]) -> dict[str, Any]:
    lynq = copy.deepcopy(lynq)
    meta = lynq.setdefault("metadata", {})
    if is_cluster_scoped(str(lynq.get("kind"))):
        meta.pop("namespace", None)
    _without_empty(meta)
    return lynq


def _render(form_file: str) -> dict[str, NodeRender]:
    extras, rows = _inputs()
    document = _document(form_file)
    compiled, problems = _compiled(document)
    assert compiled is not None and not problems, problems
    hub = _hub(document, extras)
    return {row.uid: render_node(hub, compiled, row, PlainTarget()) for row in rows}


def test_every_corpus_form_has_lynqs_reference_output() -> None:
    assert len(FORM_FILES) == 66
    for form_file in FORM_FILES:
        expected = _expected(form_file)
        assert expected["form"] == form_file
        assert expected["accepted"] == ("rejected" not in expected), form_file


def test_the_corpus_counts_the_forms_lynq_accepts() -> None:
    assert len(ACCEPTED) == 41


DETERMINISTIC = [f for f in ACCEPTED if not NONDETERMINISTIC.search((CORPUS / f).read_text())]
RANDOM = [f for f in ACCEPTED if f not in DETERMINISTIC]


def test_the_corpus_has_forms_with_nondeterministic_functions() -> None:
    assert RANDOM == ["use-case-multi-tier-L208.yaml"]


@pytest.mark.parametrize("form_file", RANDOM)
def test_lynq_form_with_a_nondeterministic_function_is_refused_naming_it(form_file: str) -> None:
    compiled, problems = _compiled(_document(form_file))
    functions = set(NONDETERMINISTIC.findall((CORPUS / form_file).read_text()))
    assert compiled is None
    assert all(any(f'"{f}"' in p for p in problems) for f in functions), problems


@pytest.mark.parametrize("form_file", DETERMINISTIC)
def test_lynq_form_renders_the_bodies_lynq_renders(form_file: str) -> None:
    expected = _expected(form_file)
    resources = _form_resources(_document(form_file))
    nodes = _render(form_file)
    for row in expected["rows"]:
        node = nodes[row["uid"]]
        ours = {c.entry.id: yaml.safe_load(c.content) for c in node.children}
        lynq_ids = {r["id"] for r in row["resources"]}
        assert set(ours) <= lynq_ids, f"{row['uid']}: resources Lynq does not render"
        for item in row["resources"]:
            rid, where = item["id"], f"{form_file}, uid {row['uid']}, resource {item['id']}"
            refused = item.get("error") or row.get("applyProblems", {}).get(rid)
            if refused:
                assert rid in node.failed, f"{where}: Lynq fails it ({refused}); we render it"
                continue
            assert rid in ours, f"{where}: {node.failed.get(rid) or node.skipped.get(rid)}"
            lynq = _lynq_body(item["object"])
            assert _normalised(ours[rid], lynq, resources[rid]) == lynq, where
