"""Render rows × forms into children: manifests, file names and inventory entries.

A render error is isolated to its resource: it is recorded per node with a message naming the
resource, node, hub and uid, dependents are skipped per ``skipOnDependencyFailure``, and every
other resource and node renders normally. Row values are data: they are passed to templates as
variables and never rendered themselves.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lynq_bridge.config.models import InventoryEntry, LynqHub, ResourceEntry
from lynq_bridge.core import naming
from lynq_bridge.core.conflicts import possible_conflicts, settle_conflicts
from lynq_bridge.core.forms import (
    CompiledForm,
    CompiledResource,
    Constant,
    Mapping_,
    Sequence_,
    Text,
    Tree,
    literal_secret_problem,
)
from lynq_bridge.core.functions import FILTERS
from lynq_bridge.core.gittree import Store, deflate
from lynq_bridge.core.inputs import CommittedInputs
from lynq_bridge.core.layout import Target
from lynq_bridge.core.limits import Deadline, active_deadline, object_size_problem
from lynq_bridge.core.objectchecks import key_problem, number_problem, unusable_field
from lynq_bridge.core.paths import one_line, path_problem, quote
from lynq_bridge.core.rows import Row
from lynq_bridge.core.templating import CompiledTemplate, TemplateError
from lynq_bridge.core.yamltext import UnusableValue, dump_manifest

LABEL_NODE = "lynq.sh/node"
LABEL_NODE_NAMESPACE = "lynq.sh/node-namespace"
LABEL_HUB = "lynq.sh/hub"
LABEL_UID = "lynq.sh/uid"
LABEL_FORM = "lynq.sh/form"
ANNOTATION_DELETION_POLICY = "lynq.sh/deletion-policy"

_to_bool = FILTERS["bool"]
_to_host = FILTERS["toHost"]
# Every field of an entry is given, so its entries share one set of given fields rather than
# holding a copy each (about 700 bytes an object; five objects per row); see ``Child.entry``.
_ENTRY_FIELDS: Final = set(InventoryEntry.model_fields)


@dataclass(frozen=True, slots=True)
class Child:
    """One rendered object of a node. Its inventory ``entry`` is made when asked for, from the
    resource's settings (its id, dependencies and policies, shared by every row) and the
    object's own fields: a hub's worth of pydantic entries, held from render to commit, were
    a third of a first sync's memory (slots for the same reason: five children a row)."""

    settings: ResourceEntry | InventoryEntry  # id, dependIds and the policies
    apiVersion: str
    kind: str
    namespace: str | None
    name: str
    digest: bytes  # the SHA-256 of ``content``: 65 bytes in memory, 113 as hex (``hash``)
    depth: int
    # The manifest compressed as a pack stores it (``content`` gives it back): a hub's worth of
    # manifests is held from render to plan, and the pack takes this as it is. Empty once the
    # manifest went to a sync's pack as it was rendered (``stored``): then ``blob`` is its id.
    deflated: bytes
    blob: bytes | None = None

    @property
    def file(self) -> str:
        """Its file name in the node directory (``naming.child_file_name``), made when asked:
        five a row, held from render to plan, were 43 MB at 100,000 rows."""
        return naming.child_file_name(self.kind, self.namespace, self.name)

    @classmethod
    def of(cls, entry: InventoryEntry, *, depth: int, content: bytes) -> Child:
        """The child of ``entry``, whose ``entry`` then equals it."""
        return cls(
            entry,
            entry.apiVersion,
            entry.kind,
            entry.namespace,
            entry.name,
            bytes.fromhex(entry.hash),
            depth,
            deflate(content),
        )

    @property
    def content(self) -> bytes:
        """The manifest's bytes (not those of a stored child: they are in the pack)."""
        if self.blob is not None:
            raise ValueError(f"the manifest of {self.file} went to a pack: only its id is here")
        return zlib.decompress(self.deflated)

    def stored(self, store: Store) -> Child:
        """This child with its manifest handed to ``store``, keeping only its blob id."""
        return dataclasses.replace(
            self, deflated=b"", blob=store(b"blob", self.content, self.deflated)
        )

    @property
    def hash(self) -> str:
        """The inventory's hash of the object: the hex SHA-256 of its manifest."""
        return self.digest.hex()

    @property
    def entry(self) -> InventoryEntry:
        """The inventory entry (validated in parts: the settings with the form, the object's
        fields when it was rendered), sharing the set of given fields: every field is given."""
        settings = self.settings
        return InventoryEntry.model_construct(
            _fields_set=_ENTRY_FIELDS,
            id=settings.id,
            apiVersion=self.apiVersion,
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
            dependIds=settings.dependIds,
            waitForReady=settings.waitForReady,
            timeoutSeconds=settings.timeoutSeconds,
            skipOnDependencyFailure=settings.skipOnDependencyFailure,
            creationPolicy=settings.creationPolicy,
            deletionPolicy=settings.deletionPolicy,
            conflictPolicy=settings.conflictPolicy,
            patchStrategy=settings.patchStrategy,
            hash=self.hash,
        )


@dataclass(slots=True)
class NodeRender:
    """The outcome of one (row × form) (slots: a hub's worth is held from render to commit)."""

    name: str
    uid: str
    form: str
    children: list[Child] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # id -> message
    skipped: dict[str, str] = field(default_factory=dict)  # id -> message
    # id -> inventory entry of a failed resource whose object is withheld from Git but listed
    # in the LynqNode, so the reporter judges it (see conflicts.withhold_foreign)
    withheld: dict[str, InventoryEntry] = field(default_factory=dict)
    # The form's resources (shared, not copied): what the inventory does not carry, such as
    # ignoreFields and the depth of a resource whose previous file is kept after an error.
    resources: tuple[CompiledResource, ...] = ()
    # path -> blob id of its files once planned without errors; see planning._node_files
    assembled: dict[str, str] | None = None
    # what the node was rendered from (revision, form, row values); recorded in its LynqNode
    input_key: str = ""
    timed_out: bool = False  # the render ran out of time: tried again next sync
    # Its files went into a sync's pack as they were planned and its children and blob ids
    # were let go (``planning.plan_hub`` with a store), so it cannot be planned again.
    packed: bool = False

    @property
    def errors(self) -> list[str]:
        return [*self.failed.values(), *self.skipped.values()]


@dataclass
class HubRender:
    """Every node of one hub plus the per-row errors that kept a node from rendering."""

    nodes: dict[str, NodeRender] = field(default_factory=dict)
    row_errors: list[str] = field(default_factory=list)
    blocked_nodes: set[str] = field(default_factory=set)  # names whose files must be kept as is
    # node -> input key, for nodes whose committed files already are the render of the same
    # input (see core.inputs): not rendered again, their files are kept as they are
    unchanged: dict[str, str] = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return len(self.nodes) + len(self.unchanged)

    @property
    def error_count(self) -> int:
        return len(self.row_errors) + sum(len(n.failed) for n in self.nodes.values())


class _Failure(Exception):
    """A resource-level problem, already worded as its cause."""


def _render_text(template: CompiledTemplate, variables: Mapping[str, str], keep: bool) -> Any:
    try:
        value = template.render(variables) if keep else template.render_typed(variables)
    except TemplateError as exc:
        raise _Failure(str(exc)) from exc
    problem = number_problem(value)
    if problem:
        raise _Failure(f"the template renders {problem}")
    return value


def _render_tree(tree: Tree, variables: Mapping[str, str]) -> Any:
    if isinstance(tree, Constant):
        return tree.value
    if isinstance(tree, Text):
        return _render_text(tree.template, variables, tree.keep_string)
    if isinstance(tree, Mapping_):
        return {k: _render_tree(v, variables) for k, v in tree.items}
    if isinstance(tree, Sequence_):
        return [_render_tree(v, variables) for v in tree.items]
    raise AssertionError(tree)


def _render_map(
    pairs: Sequence[tuple[str, CompiledTemplate]], variables: Mapping[str, str]
) -> dict[str, str]:
    return {k: str(_render_text(t, variables, True)) for k, t in pairs}


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Failure(f"metadata.{what} must be a map of strings")
    return dict(value)


@dataclass(frozen=True)
class _NodeContext:
    hub: LynqHub
    node: str
    uid: str
    variables: Mapping[str, str]


def _render_child(
    resource: CompiledResource, ctx: _NodeContext, target: Target
) -> tuple[dict[str, Any], InventoryEntry]:
    entry = resource.entry
    variables = ctx.variables
    manifest = _render_tree(resource.spec, variables)
    if not isinstance(manifest, dict):
        raise _Failure("the manifest is not a mapping")
    manifest = dict(manifest)
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not kind:
        raise _Failure("apiVersion and kind must render to non-empty strings")
    problem = naming.kind_problem(kind)
    if problem:
        raise _Failure(problem)
    if naming.api_group(api_version) is None:
        raise _Failure(
            f"apiVersion {quote(api_version)} is not a Kubernetes API version "
            '("version" or "group/version", the group a DNS name)'
        )
    metadata = manifest.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _Failure("metadata is not a mapping")
    metadata = dict(metadata)
    name = _render_text(resource.name, variables, True) if resource.name else metadata.get("name")
    if not isinstance(name, str) or not name:
        raise _Failure("the object has no name (set nameTemplate or spec.metadata.name)")
    if not naming.is_dns_subdomain(name) or (kind == "Namespace" and not naming.is_dns_label(name)):
        raise _Failure(f"name {quote(name)} is not a valid Kubernetes object name")
    namespace: str | None = None
    if not naming.is_cluster_scoped(kind):
        if resource.namespace is not None:
            namespace = str(_render_text(resource.namespace, variables, True))
        else:
            namespace = metadata.get("namespace") or ctx.hub.metadata.namespace
        if not isinstance(namespace, str) or not naming.is_dns_label(namespace):
            raise _Failure(f"namespace {quote(str(namespace))} is not a valid namespace name")
    labels = _string_map(metadata.get("labels"), "labels")
    labels.update(_render_map(resource.labels, variables))
    tracking, full_values = naming.tracking_metadata(
        {
            LABEL_NODE: ctx.node,
            LABEL_NODE_NAMESPACE: ctx.hub.metadata.namespace,
            LABEL_HUB: ctx.hub.metadata.name,
            LABEL_UID: ctx.uid,
        }
    )
    labels.update(tracking)
    for key, value in labels.items():
        problem = key_problem(key, "label")
        if problem:
            raise _Failure(problem)
        if not naming.is_label_value(value):
            raise _Failure(f"label {quote(key)} value {quote(value)} is not a valid label value")
    annotations = _string_map(metadata.get("annotations"), "annotations")
    annotations.update(_render_map(resource.annotations, variables))
    for key in annotations:
        problem = key_problem(key, "annotation")
        if problem:
            raise _Failure(problem)
    annotations.update(full_values)  # the full node name and uid where the labels are short
    annotations[ANNOTATION_DELETION_POLICY] = entry.deletionPolicy
    metadata.update(name=name, labels=labels, annotations=annotations)
    if namespace is None:
        metadata.pop("namespace", None)
    else:
        metadata["namespace"] = namespace
    manifest["metadata"] = metadata
    inventory = InventoryEntry(
        id=entry.id,
        apiVersion=api_version,
        kind=kind,
        namespace=namespace,
        name=name,
        dependIds=list(entry.dependIds),
        waitForReady=entry.waitForReady,
        timeoutSeconds=entry.timeoutSeconds,
        skipOnDependencyFailure=entry.skipOnDependencyFailure,
        creationPolicy=entry.creationPolicy,
        deletionPolicy=entry.deletionPolicy,
        conflictPolicy=entry.conflictPolicy,
        patchStrategy=entry.patchStrategy,
        hash="",
    )
    target.decorate_child(manifest, inventory, resource.depth)
    return manifest, inventory


def node_variables(hub: LynqHub, form: CompiledForm, row: Row) -> dict[str, str]:
    """The template variables of one (row × form): the row's plus hubId and templateRef."""
    variables = row.variables  # a new dict
    if "hostOrUrl" in variables:
        variables["host"] = str(_to_host(variables["hostOrUrl"]))
    variables["hubId"] = hub.metadata.name
    variables["templateRef"] = form.name
    return variables


def render_node(
    hub: LynqHub,
    form: CompiledForm,
    row: Row,
    target: Target,
    *,
    clock: Callable[[], float] | None = None,
) -> NodeRender:
    """Render every resource of ``form`` for ``row`` (the node name must be valid); with a
    ``clock``, resources still unrendered ``limits.NODE_SECONDS`` after the start fail."""
    deadline = Deadline(clock) if clock is not None else None
    with active_deadline(deadline):
        return _render_node(hub, form, row, target, deadline)


def _render_node(
    hub: LynqHub, form: CompiledForm, row: Row, target: Target, deadline: Deadline | None
) -> NodeRender:
    name = naming.node_name(row.uid, form.name)
    out = NodeRender(name=name, uid=row.uid, form=form.name, resources=form.resources)
    ctx = _NodeContext(hub, name, row.uid, node_variables(hub, form, row))
    where = f"node {name} (hub {hub.metadata.name}, uid {row.uid})"
    excluded: set[str] = set()
    files: dict[str, str] = {}
    # One copy of each rendered string of the node's inventory (a namespace, or a name that
    # several objects share), as every node's are held until its plan.
    same: dict[str, str] = {}
    for resource in form.resources:
        rid = resource.entry.id
        if deadline is not None and deadline.expired:
            out.failed[rid] = one_line(
                f'failed to render resource "{rid}" of {where}: {deadline.message}'
            )
            continue
        broken = [d for d in resource.entry.dependIds if d in out.failed or d in out.skipped]
        if broken and resource.entry.skipOnDependencyFailure:
            out.skipped[rid] = one_line(
                f'skipped resource "{rid}" of {where}: dependency "{broken[0]}" failed'
            )
            continue
        try:
            if resource.include_when is not None:
                flag = _render_text(resource.include_when, ctx.variables, True)
                if not _to_bool(flag):
                    excluded.add(rid)
                    continue
            manifest, entry = _render_child(resource, ctx, target)
            secret = literal_secret_problem(manifest) if form.strict_secrets else None
            if secret:
                raise _Failure(f"kind renders to {secret} (strictSecrets is on)")
            file = naming.child_file_name(entry.kind, entry.namespace, entry.name)
            problem = path_problem(f"{name}/{target.place(file, resource.depth)}")
            if problem:
                raise _Failure(problem)
            if file in files:
                raise _Failure(
                    f"it renders the same object ({entry.kind} {entry.name}) as resource "
                    f'"{files[file]}"'
                )
            try:
                content = dump_manifest(manifest).encode()
            except UnusableValue as exc:
                raise _Failure(unusable_field(manifest, ctx.variables) or str(exc)) from exc
            too_large = object_size_problem(len(content))
            if too_large:
                raise _Failure(too_large)
        except (_Failure, ValueError, TypeError) as exc:
            out.failed[rid] = one_line(f'failed to render resource "{rid}" of {where}: {exc}')
            continue
        files[file] = rid
        out.children.append(
            Child(
                resource.entry,
                same.setdefault(entry.apiVersion, entry.apiVersion),
                same.setdefault(entry.kind, entry.kind),
                None
                if entry.namespace is None
                else same.setdefault(entry.namespace, entry.namespace),
                same.setdefault(entry.name, entry.name),
                hashlib.sha256(content).digest(),
                resource.depth,
                deflate(content),
            )
        )
    out.timed_out = deadline is not None and deadline.expired
    return out


def input_key_of(revision: str, form: CompiledForm, row: Row) -> str:
    """A short hash of everything one node is rendered from: 16 hex characters over the row,
    then 16 over the form revision (``form_key_of``), so a rollout can tell a node whose only
    change is the form (see ``core.rollout``)."""
    text = "\0".join((form.name, *row.values))
    return hashlib.sha256(text.encode()).hexdigest()[:16] + form_key_of(revision, form)


def form_key_of(revision: str, form: CompiledForm) -> str:
    """The form half of the input keys of ``form``'s nodes under ``revision``."""
    return _form_key(revision, form.name, form.fingerprint)


@functools.lru_cache(maxsize=256)  # the same for every row of a form: 100,000 hashes saved
def _form_key(revision: str, name: str, fingerprint: str) -> str:
    text = "\0".join((revision, name, fingerprint))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def render_hub(
    hub: LynqHub,
    forms: Sequence[CompiledForm],
    rows: Sequence[Row],
    target: Target,
    *,
    progress: Callable[[int, int], None] | None = None,
    revision: str = "",
    committed: Mapping[str, str] | None = None,
    clock: Callable[[], float] | None = None,
    keys: dict[Any, tuple[str, str | None, str]] | None = None,
    store: Store | None = None,
) -> HubRender:
    """Render every (active row × form) of a hub.

    Unusable uids, duplicate uids and colliding node names are per-row errors that leave the
    other rows untouched. ``progress(done, total)`` is called every few hundred nodes.

    With a ``revision`` (everything besides the rows that the output depends on), each node
    gets an ``input_key``; a node whose key equals the one ``committed`` holds for it (from the
    hub's input index, checked against its files) is not rendered at all and lands in
    ``unchanged``: a fresh process then renders only the rows that changed.

    ``clock`` (``time.monotonic`` in a sync) bounds each node's render time (see
    ``render_node``); without it, time is not limited.

    ``keys`` (kept by the daemon for one hub and one ``revision``) memoises each (row × form)'s
    node name, uid problem and input key, so an unchanged row costs a lookup; it is left
    holding only this render's entries.

    ``store`` (a sync's pack): each manifest goes to it as soon as its node is rendered, and
    the render keeps its blob id (``Child.blob``), so a hub's manifests are never all in
    memory.

    Two nodes rendering the same object (API group, kind, namespace, name) would stop the hub's
    kustomization from building: the node of the first uid (then form name) keeps it, the other
    node's resource is a conflict error (see ``conflicts``).
    """
    out = HubRender()
    hub_name = hub.metadata.name
    seen: set[str] = set()
    owners: dict[str, list[tuple[str, str]]] = {}
    unique: list[Row] = []
    for row in rows:
        if row.uid in seen:
            out.row_errors.append(
                f"duplicate uid {quote(row.uid)} in hub {hub_name}: the first row in uid order "
                "is used"
            )
            continue
        seen.add(row.uid)
        unique.append(row)
    node_keys: dict[str, str] = {}
    known: dict[Any, tuple[str, str | None, str]] = {}
    for row in unique:
        for form in forms:
            memo_key = (form.name, form.fingerprint, row.values)
            entry = keys.get(memo_key) if keys is not None else None
            if entry is None:
                problem = naming.uid_problem(row.uid, form.name)
                name = "" if problem else naming.node_name(row.uid, form.name)
                input_key = input_key_of(revision, form, row) if revision and not problem else ""
                entry = (name, problem, input_key)
            known[memo_key] = entry
            name, problem, input_key = entry
            if problem:
                out.row_errors.append(  # the uid whole, up to the longest a node allows
                    f"row with uid {quote(row.uid, naming.MAX_NODE_NAME)} of hub {hub_name} "
                    f"cannot form a node with form {form.name}: {problem}"
                )
                continue
            owners.setdefault(name, []).append((row.uid, form.name))
            node_keys.setdefault(name, input_key)
    if keys is not None:
        keys.clear()
        keys.update(known)
    by_uid = {row.uid: row for row in unique}
    by_form = {form.name: form for form in forms}

    def render(name: str, uid: str, form_name: str, input_key: str) -> None:
        node = render_node(hub, by_form[form_name], by_uid[uid], target, clock=clock)
        node.input_key = input_key
        node.name = name  # the key's own string, not a second copy of it
        if store is not None:
            node.children = [child.stored(store) for child in node.children]
        out.nodes[name] = node

    for done, (name, pairs) in enumerate(sorted(owners.items()), start=1):
        if progress is not None and done % 500 == 0:
            progress(done, len(owners))
        if len(pairs) > 1:
            listed = " and ".join(f"(uid {u}, form {f})" for u, f in pairs)
            out.row_errors.append(
                f"node name {name} of hub {hub_name} is produced by {listed}; neither is rendered"
            )
            out.blocked_nodes.add(name)
            continue
        uid, form_name = pairs[0]
        input_key = node_keys[name]
        if input_key and committed is not None and committed.get(name) == input_key:
            out.unchanged[name] = input_key
            continue
        render(name, uid, form_name, input_key)
    objects = committed.objects if isinstance(committed, CommittedInputs) else {}
    for name in possible_conflicts(out, objects):
        uid, form_name = owners[name][0]
        render(name, uid, form_name, out.unchanged.pop(name))
    settle_conflicts(out, hub_name, objects)
    if progress is not None:
        progress(len(owners), len(owners))
    return out
