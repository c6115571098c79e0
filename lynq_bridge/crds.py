"""CustomResourceDefinitions for LynqHub, LynqForm and LynqNode, generated from the config models.

The pydantic models in ``lynq_bridge.config.models`` validate the config files; this module turns
their JSON schema into the structural OpenAPI v3 schemas that ``apiextensions.k8s.io/v1`` demands,
so the CRDs in ``crds/`` and the loader can never disagree (``tests/unit/test_crds.py`` fails when
the committed files drift from what the models generate). Conversion rules:

- ``$ref`` is inlined; ``Optional[X]`` becomes ``X`` with ``nullable: true``; a single ``Literal``
  becomes a one-value ``enum``;
- ``title`` is dropped. Scalar ``default``s under ``spec`` are kept (``syncInterval: 30s``,
  ``port: 3306``, ``timeoutSeconds: 300``, …): they are Lynq's CRD defaults, and Lynq users'
  objects must round-trip through these CRDs with the values Lynq's API server gave them. The
  models apply the same defaults when the bridge reads a file, so both agree. Defaults of lists,
  maps, objects and ``None`` are not carried (a missing ``spec.resources`` stays detectable as a
  malformed LynqNode instead of being defaulted to an empty inventory), nor are defaults under
  ``status``, which only its writers fill;
- ``x-kubernetes-*`` keys a model field declares (``json_schema_extra``) pass through: the
  ``hubId`` immutability rule and the ``listType=map`` of a form's arrays, as in Lynq;
- ``additionalProperties: false`` is dropped (structural schemas prune unknown fields instead);
  a free-form ``dict[str, Any]`` (a form's manifest ``spec``) keeps its content with
  ``x-kubernetes-preserve-unknown-fields: true``;
- ``metadata`` is a bare object: the API server owns name and namespace validation.

Names, scope and printer columns are Lynq's (every Lynq column, same name and JSONPath), with
the bridge's own columns added; ``tests/unit/test_lynq_crd_compat.py`` checks every field path of
Lynq's published CRDs against these.

``python -m lynq_bridge.crds --write`` rewrites ``crds/``; ``render_crds()`` is what
``lynq-bridge crds`` prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lynq_bridge.config.models import LynqForm, LynqHub, LynqNode
from lynq_bridge.core.yamltext import dump_manifest

GROUP = "operator.lynq.sh"
VERSION = "v1"
CRD_DIR = Path(__file__).resolve().parent.parent / "crds"

# JSON-schema keywords that structural OpenAPI v3 schemas accept and that we keep as they are.
_KEPT_KEYWORDS = (
    "type",
    "description",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)


@dataclass(frozen=True)
class CrdSpec:
    """What the models cannot say about a kind: its names and its printer columns."""

    model: type[BaseModel]
    kind: str
    description: str
    plural: str
    short_names: tuple[str, ...]
    columns: tuple[dict[str, Any], ...]


def _column(
    name: str, kind: str, path: str, description: str, *, priority: int = 0
) -> dict[str, Any]:
    column: dict[str, Any] = {
        "name": name,
        "type": kind,
        "jsonPath": path,
        "description": description,
    }
    if priority:
        column["priority"] = priority
    return column


_READY_REASON = _column(
    "Conditions", "string", ".status.conditions[?(@.type=='Ready')].reason", "Condition reason"
)
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

KINDS: tuple[CrdSpec, ...] = (
    CrdSpec(
        model=LynqHub,
        kind="LynqHub",
        description="Where rows come from: a SQL table or view whose active rows become nodes.",
        plural="lynqhubs",
        short_names=("lh",),
        columns=(
            _column(
                "Templates",
                "integer",
                ".status.referencingTemplates",
                "Number of referencing templates",
            ),
            _column("Desired", "integer", ".status.desired", "Total node CRs (Templates * Rows)"),
            _column("Ready", "integer", ".status.ready", "Number of ready nodes"),
            _column("Failed", "integer", ".status.failed", "Number of failed nodes"),
            _READY_REASON,
            _column("Source", "string", ".spec.source.type", "Type of the data source"),
            _AGE,
        ),
    ),
    CrdSpec(
        model=LynqForm,
        kind="LynqForm",
        description="What each row becomes: the templated resources of one stack.",
        plural="lynqforms",
        short_names=("lf",),
        columns=(
            _column("Hub", "string", ".spec.hubId", "LynqHub reference"),
            _column("Total", "integer", ".status.totalNodes", "Total nodes using form"),
            _column("Ready", "integer", ".status.readyNodes", "Ready nodes"),
            _column("Rollout", "string", ".status.rollout.phase", "Rollout phase"),
            _column(
                "Updating", "integer", ".status.rollout.updatingNodes", "Nodes currently updating"
            ),
            _column(
                "Applied",
                "string",
                ".status.conditions[?(@.type=='Applied')].status",
                "Applied status",
            ),
            _AGE,
        ),
    ),
    CrdSpec(
        model=LynqNode,
        kind="LynqNode",
        description="One active row rendered with one form: the inventory of its children and, "
        "in status, their live state as seen by the lynq-bridge status reporter.",
        plural="lynqnodes",
        short_names=("ln",),
        columns=(
            _column("UID", "string", ".spec.uid", "Node unique identifier"),
            _column("Form", "string", ".spec.templateRef", "LynqForm reference"),
            _column("Ready", "integer", ".status.readyResources", "Number of ready resources"),
            _column("Desired", "integer", ".status.desiredResources", "Total number of resources"),
            _column(
                "Skipped",
                "integer",
                ".status.skippedResources",
                "Resources skipped due to dependency failures",
            ),
            _column(
                "Conflicted",
                "string",
                ".status.conditions[?(@.type=='Conflicted')].status",
                "Conflict status",
            ),
            _READY_REASON,
            _column("Failed", "integer", ".status.failedResources", "Number of failed resources"),
            _AGE,
            _column("Hub", "string", ".spec.hubId", "LynqHub reference", priority=1),
            _column(
                "ConflictedResources",
                "integer",
                ".status.conflictedResources",
                "Resources owned by someone else",
                priority=1,
            ),
        ),
    ),
)


class SchemaError(ValueError):
    """A model uses a construct that has no structural OpenAPI v3 equivalent."""


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _scalar_default(schema: Mapping[str, Any]) -> bool:
    return isinstance(schema.get("default"), str | int | float)  # bool is an int


def structural_schema(
    schema: Mapping[str, Any], defs: Mapping[str, Any], *, defaults: bool = False
) -> dict[str, Any]:
    """Translate one pydantic JSON-schema node into a structural OpenAPI v3 schema node;
    with ``defaults``, scalar defaults are kept (see the module docstring)."""
    schema = _resolve(schema, defs)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            variants = [_resolve(v, defs) for v in schema[combinator]]
            non_null = [v for v in variants if v.get("type") != "null"]
            if len(non_null) != 1:
                raise SchemaError(f"{combinator} with {len(non_null)} non-null variants")
            merged = {**{k: v for k, v in schema.items() if k != combinator}, **non_null[0]}
            result = structural_schema(merged, defs, defaults=defaults)
            if len(non_null) < len(variants):
                result["nullable"] = True
            if "description" in schema:
                result["description"] = schema["description"]
            return result

    out: dict[str, Any] = {k: schema[k] for k in _KEPT_KEYWORDS if k in schema}
    out.update({k: v for k, v in schema.items() if k.startswith("x-kubernetes-")})
    if defaults and _scalar_default(schema):
        out["default"] = schema["default"]
    if "const" in schema:
        out["enum"] = [schema["const"]]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties:
            out["properties"] = {
                name: structural_schema(sub, defs, defaults=defaults)
                for name, sub in properties.items()
            }
            if schema.get("required"):
                out["required"] = list(schema["required"])
        elif isinstance(extra, Mapping) and extra:
            out["additionalProperties"] = structural_schema(extra, defs, defaults=defaults)
        else:
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array":
        out["items"] = structural_schema(schema.get("items", {}), defs, defaults=defaults)
    elif kind is None:
        raise SchemaError(f"schema without a type: {dict(schema)}")
    return out


def _keyed_conditions(schema: dict[str, Any]) -> None:
    """Mark every ``conditions`` list as a map keyed by ``type`` (Kubernetes convention)."""
    for name, sub in schema.get("properties", {}).items():
        if name == "conditions" and sub.get("type") == "array":
            sub["x-kubernetes-list-type"] = "map"
            sub["x-kubernetes-list-map-keys"] = ["type"]
        else:
            _keyed_conditions(sub)
    if "items" in schema:
        _keyed_conditions(schema["items"])


def openapi_schema(model: type[BaseModel], description: str) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of one kind: apiVersion, kind, bare metadata, spec, status."""
    full = model.model_json_schema()
    defs = full.get("$defs", {})
    properties = full["properties"]
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": structural_schema(properties["spec"], defs, defaults=True),
        },
        # `spec` is not required at the top, as in Lynq: the API server must keep every object
        # Lynq's accepted (the bridge's readers report a node without a spec as malformed).
    }
    if "status" in properties:
        status = structural_schema(properties["status"], defs)
        status.pop("nullable", None)
        schema["properties"]["status"] = status
    _keyed_conditions(schema)
    return schema


def build_crd(spec: CrdSpec) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind as a plain mapping."""
    singular = spec.kind.lower()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{spec.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": spec.kind,
                "listKind": f"{spec.kind}List",
                "plural": spec.plural,
                "singular": singular,
                "shortNames": list(spec.short_names),
                "categories": ["lynq"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": list(spec.columns),
                    "schema": {"openAPIV3Schema": openapi_schema(spec.model, spec.description)},
                }
            ],
        },
    }


def render_crd_files() -> dict[str, str]:
    """File name (inside ``crds/``) -> YAML text, one CRD per file."""
    return {f"{spec.plural}.yaml": dump_manifest(build_crd(spec)) for spec in KINDS}


def render_crds() -> str:
    """All CRDs as one multi-document YAML text (what ``lynq-bridge crds`` prints)."""
    return "---\n".join(render_crd_files().values())


def write_crds(directory: Path = CRD_DIR) -> list[Path]:
    """Rewrite the generated files in ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_crd_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lynq_bridge.crds", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"rewrite {CRD_DIR}")
    parser.add_argument("--dir", type=Path, default=CRD_DIR, help="directory for --write")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_crds(args.dir):
            print(path)
    else:
        sys.stdout.write(render_crds())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
