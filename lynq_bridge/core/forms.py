"""Compile LynqForms: every template compiled once, the dependency graph checked and ordered.

Compiling is validating: a form that compiles renders without syntax or sandbox surprises,
and ``lynq-bridge validate`` reports exactly the problems this module finds, each naming the
form, the resource id and the field. The compiled form is reused for every row of a sync.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lynq_bridge.config.models import LynqForm, ResourceEntry
from lynq_bridge.core.formsyntax import choose_engine
from lynq_bridge.core.goexec import GoTemplateEngine
from lynq_bridge.core.objectchecks import number_problem
from lynq_bridge.core.templating import CompiledTemplate, Engine, TemplateEngine, TemplateError

# Fields that stay strings even when their template ends in int/float/bool (SPEC §5).
KEEP_STRING_KEYS = frozenset(
    {"apiVersion", "kind", "labels", "annotations", "matchLabels", "nodeSelector"}
)
KEEP_STRING_DATA_KINDS = frozenset({"ConfigMap", "Secret"})
KEEP_STRING_DATA_KEYS = frozenset({"data", "binaryData", "stringData"})


@dataclass(frozen=True)
class Text:
    """A template leaf; ``keep_string`` disables typed conversion."""

    template: CompiledTemplate
    keep_string: bool


@dataclass(frozen=True)
class Mapping_:
    items: tuple[tuple[str, Tree], ...]


@dataclass(frozen=True)
class Sequence_:
    items: tuple[Tree, ...]


@dataclass(frozen=True)
class Constant:
    """A subtree without any template: rendered as is (never mutated)."""

    value: Any


Tree = Text | Mapping_ | Sequence_ | Constant


@dataclass(frozen=True)
class CompiledResource:
    entry: ResourceEntry
    spec: Tree
    name: CompiledTemplate | None
    namespace: CompiledTemplate | None
    labels: tuple[tuple[str, CompiledTemplate], ...]
    annotations: tuple[tuple[str, CompiledTemplate], ...]
    include_when: CompiledTemplate | None
    depth: int


@dataclass(frozen=True)
class CompiledForm:
    form: LynqForm
    resources: tuple[CompiledResource, ...]  # dependencies first, then form order
    fingerprint: str
    warnings: tuple[str, ...] = field(default=())
    strict_secrets: bool = False
    """Whether a resource that renders to a Secret with literal data is an error (see
    ``literal_secret_problem``): a templated kind is only known once rendered."""

    @property
    def name(self) -> str:
        return self.form.metadata.name


@dataclass
class _Compiler:
    engine: Engine
    form: str
    problems: list[str]

    def template(self, source: str, rid: str, where: str) -> CompiledTemplate | None:
        try:
            return self.engine.compile(source)
        except TemplateError as exc:
            self.problems.append(f'form {self.form}, resource "{rid}", {where}: {exc}')
            return None

    def tree(self, value: Any, rid: str, path: tuple[str, ...], keep: bool) -> Tree:
        if isinstance(value, str):
            compiled = self.template(value, rid, "spec." + ".".join(path))
            if compiled is None or compiled.constant:
                return Constant(value)
            return Text(compiled, keep)
        if isinstance(value, Mapping):
            items = tuple(
                (str(k), self.tree(v, rid, (*path, str(k)), keep or str(k) in KEEP_STRING_KEYS))
                for k, v in value.items()
            )
            if all(isinstance(t, Constant) for _, t in items):
                return Constant(value)
            return Mapping_(items)
        if isinstance(value, list):
            seq = tuple(self.tree(v, rid, (*path, str(i)), keep) for i, v in enumerate(value))
            if all(isinstance(t, Constant) for t in seq):
                return Constant(value)
            return Sequence_(seq)
        problem = number_problem(value)
        if problem:
            where = "spec." + ".".join(path)
            self.problems.append(f'form {self.form}, resource "{rid}", {where}: {problem}')
        return Constant(value)

    def templates(
        self, values: Mapping[str, str], rid: str, where: str
    ) -> tuple[tuple[str, CompiledTemplate], ...]:
        out = []
        for key in sorted(values):
            compiled = self.template(values[key], rid, f"{where}.{key}")
            if compiled is not None:
                out.append((key, compiled))
        return tuple(out)


def _order(form: str, entries: list[ResourceEntry], problems: list[str]) -> dict[str, int]:
    """Depth of every resource (0 = no dependencies); reports unknown ids and cycles."""
    ids = {e.id for e in entries}
    deps = {e.id: [d for d in e.dependIds if d in ids] for e in entries}
    for e in entries:
        for d in e.dependIds:
            if d not in ids:
                problems.append(f'form {form}, resource "{e.id}", dependIds: unknown id "{d}"')
            if d == e.id:
                problems.append(f'form {form}, resource "{e.id}", dependIds: depends on itself')
    depth: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset[str]] = set()

    def visit(rid: str, stack: list[str]) -> int:
        if state.get(rid) == 2:
            return depth[rid]
        if state.get(rid) == 1:
            cycle = [*stack[stack.index(rid) :], rid]
            if frozenset(cycle) not in reported and len(cycle) > 2:
                reported.add(frozenset(cycle))
                problems.append(f"form {form}: dependency cycle {' -> '.join(cycle)}")
            return 0
        state[rid] = 1
        level = 0
        for d in deps[rid]:
            if d != rid:
                level = max(level, visit(d, [*stack, rid]) + 1)
        state[rid] = 2
        depth[rid] = level
        return level

    for e in entries:
        visit(e.id, [])
    return depth


def literal_secret_problem(manifest: Mapping[str, Any]) -> str | None:
    """Why ``manifest`` (a form's spec or a rendered object) must not go to Git, or None."""
    if manifest.get("kind") != "Secret":
        return None
    if manifest.get("data") or manifest.get("stringData"):
        return (
            "Secret with literal data; secrets do not belong in Git, use ExternalSecrets, "
            "SealedSecrets or SOPS"
        )
    return None


def _secret_warning(form: str, entry: ResourceEntry) -> str | None:
    problem = literal_secret_problem(entry.spec)
    return f'form {form}, resource "{entry.id}": {problem}' if problem else None


def fingerprint_of(*documents: Any) -> str:
    """A stable hash of config documents (their JSON dumps)."""
    text = json.dumps(documents, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compile_form(
    form: LynqForm,
    *,
    engine: TemplateEngine,
    go_engine: GoTemplateEngine | None = None,
    strict_secrets: bool = False,
) -> tuple[CompiledForm | None, list[str], list[str]]:
    """Compile one form: (compiled form or None, problems, warnings).

    ``engine`` compiles Jinja2 forms, ``go_engine`` Go (Lynq) forms; ``formsyntax`` decides."""
    name = form.metadata.name
    problems: list[str] = []
    chosen, mixed = choose_engine(form, jinja=engine, go=go_engine or GoTemplateEngine())
    if mixed:
        problems.append(mixed)
    warnings: list[str] = []
    entries = form.spec.resources()
    seen: set[str] = set()
    for e in entries:
        if e.id in seen:
            problems.append(f'form {name}, resource "{e.id}": duplicate id')
        seen.add(e.id)
        warning = _secret_warning(name, e)
        if warning:
            (problems if strict_secrets else warnings).append(warning)
    depth = _order(name, entries, problems)
    compiler = _Compiler(chosen, name, problems)
    compiled: list[CompiledResource] = []
    for e in entries:
        kind = e.spec.get("kind")
        spec_tree = compiler.tree(e.spec, e.id, (), False)
        if kind in KEEP_STRING_DATA_KINDS and isinstance(spec_tree, Mapping_):
            spec_tree = Mapping_(
                tuple(
                    (k, _keep_all(v) if k in KEEP_STRING_DATA_KEYS else v)
                    for k, v in spec_tree.items
                )
            )
        compiled.append(
            CompiledResource(
                entry=e,
                spec=spec_tree,
                name=compiler.template(e.nameTemplate, e.id, "nameTemplate")
                if e.nameTemplate is not None
                else None,
                namespace=compiler.template(e.targetNamespace, e.id, "targetNamespace")
                if e.targetNamespace is not None
                else None,
                labels=compiler.templates(e.labelsTemplate, e.id, "labelsTemplate"),
                annotations=compiler.templates(e.annotationsTemplate, e.id, "annotationsTemplate"),
                include_when=compiler.template(e.includeWhen, e.id, "includeWhen")
                if e.includeWhen is not None
                else None,
                depth=depth.get(e.id, 0),
            )
        )
    if problems:
        return None, problems, warnings
    position = {e.id: i for i, e in enumerate(entries)}
    ordered = sorted(compiled, key=lambda r: (r.depth, position[r.entry.id]))
    return (
        CompiledForm(
            form=form,
            resources=tuple(ordered),
            # strictSecrets changes what renders, so it is part of the fingerprint when set
            fingerprint=fingerprint_of(
                form.model_dump(mode="json", exclude={"status"}),
                *(["strictSecrets"] if strict_secrets else []),
            ),
            warnings=tuple(warnings),
            strict_secrets=strict_secrets,
        ),
        problems,
        warnings,
    )


def _keep_all(tree: Tree) -> Tree:
    if isinstance(tree, Text):
        return Text(tree.template, True)
    if isinstance(tree, Mapping_):
        return Mapping_(tuple((k, _keep_all(v)) for k, v in tree.items))
    if isinstance(tree, Sequence_):
        return Sequence_(tuple(_keep_all(v) for v in tree.items))
    return tree


def compile_forms(
    forms: Iterable[LynqForm], *, strict_secrets: bool = False
) -> tuple[dict[str, CompiledForm], list[str], list[str]]:
    """Compile every form with one shared engine: (forms by name, problems, warnings)."""
    engine = TemplateEngine()
    go_engine = GoTemplateEngine()
    out: dict[str, CompiledForm] = {}
    problems: list[str] = []
    warnings: list[str] = []
    for form in forms:
        compiled, p, w = compile_form(
            form, engine=engine, go_engine=go_engine, strict_secrets=strict_secrets
        )
        problems += p
        warnings += w
        if compiled is not None:
            out[f"{form.metadata.namespace}/{form.metadata.name}"] = compiled
    return out, problems, warnings
