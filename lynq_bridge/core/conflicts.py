"""Cross-node conflicts: two nodes of a hub rendering the same object.

Two files for one object (API group, kind, namespace, name) in one hub would stop its
kustomization from building, blocking every tenant. The node of the first uid (then form name)
keeps the object; the other node's resource becomes a conflict error and its dependents are
skipped per ``skipOnDependencyFailure``. Nodes the render-input index kept unrendered still own
their committed objects: ``possible_conflicts`` names those that share a file name with another
node, so they are rendered and the outcome never depends on which nodes were rendered.

Conflicts with the cluster: Argo CD and Flux apply with force, so an object committed for a node
is taken over even when someone else made it. With cluster access the sync looks up the
``conflictPolicy: Stuck`` objects new to their node (``stuck_claims``) and
``withhold_foreign`` keeps those that belong to someone else (or that could not be checked) out
of Git; they stay in the node's inventory, so the reporter reports them Conflicted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lynq_bridge.config.models import InventoryEntry
from lynq_bridge.core.inputs import ObjectFiles
from lynq_bridge.core.paths import one_line

if TYPE_CHECKING:  # rendering imports this module; the types are only annotations here
    from lynq_bridge.core.rendering import Child, HubRender, NodeRender


def possible_conflicts(out: HubRender, objects: Mapping[str, ObjectFiles]) -> list[str]:
    """The unrendered nodes whose committed object files share a name with an object of a
    rendered or blocked node: they must be rendered so that conflicts are settled on what they
    render.

    Two unrendered nodes need no comparison: both are clean in the index of a settled commit,
    where a shared object would have failed one of them (and a node with a failed resource is
    never in the index), so only the few rendered and blocked nodes are looked up."""
    if not out.unchanged:  # a first sync: no claim of its hub's worth of children is made
        return []
    claims: dict[str, set[str]] = {}
    for name, node in out.nodes.items():
        for child in node.children:
            claims.setdefault(child.file, set()).add(name)
    for name in out.blocked_nodes:
        for file in objects.get(name, ()):
            claims.setdefault(file, set()).add(name)
    shared: set[str] = set()
    for name in out.unchanged:
        for file in objects.get(name, ()):
            if file in claims:
                shared.add(name)
    return sorted(shared)


def _object_key(entry: InventoryEntry | Child) -> tuple[str, str, str, str]:
    group = entry.apiVersion.rpartition("/")[0]
    return (group, entry.kind, entry.namespace or "", entry.name)


def settle_conflicts(
    out: HubRender,
    hub: str,
    objects: Mapping[str, ObjectFiles],
    *,
    held: Iterable[str] = (),
) -> None:
    """First uid wins: walk the rendered nodes by (uid, form); a child whose object an earlier
    node renders, or that a node kept as it is has committed (a name collision, or ``held``:
    removals the deletion guard holds), becomes a failed resource of its node, and its
    dependents are skipped per ``skipOnDependencyFailure``.

    The outcome depends only on what the nodes render, not on which were left unrendered:
    every unrendered node that may share an object was rendered first (``possible_conflicts``).
    Nodes are copied before they change."""
    keepers = sorted({*out.blocked_nodes, *held})
    reserved = {file: n for n in keepers for file in objects.get(n, ())}
    # Object file name -> the nodes keeping an object of that file name (one node, unless API
    # groups differ), for the names more than one child has (``_shared``): a map of a hub's
    # every object was a first sync's peak of memory. A file name is unique within a node, so
    # the node's child of that file is the object kept.
    shared = _shared(out.nodes.values())
    owners: dict[str, NodeRender | list[NodeRender]] = {}
    for node in sorted(out.nodes.values(), key=lambda n: (n.uid, n.form)):
        lost: dict[str, str] = {}
        for child in node.children:
            file = child.file
            if hash(file) not in shared:  # no other child has its file name
                other = reserved.get(file)
            else:
                other = _owner(owners, child, file) or reserved.get(file)
                if other is None:
                    _claim(owners, file, node)
            if other is None:
                continue
            where = f"node {node.name} (hub {hub}, uid {node.uid})"
            entry = child.entry
            shown = f"{entry.namespace}/{entry.name}" if entry.namespace else entry.name
            lost[entry.id] = one_line(
                f'failed to render resource "{entry.id}" of {where}: conflict: object '
                f"{entry.kind} {shown} is already rendered by node {other}"
            )
        if lost:
            out.nodes[node.name] = _without(node, lost, hub)


@dataclass(frozen=True)
class Claim:
    """A rendered ``conflictPolicy: Stuck`` object that is new to its node: before it is
    committed, the cluster must show that nobody else owns it."""

    node: str
    resource: str  # the resource id in the node's form
    api_version: str
    kind: str
    namespace: str | None
    name: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.resource)


@dataclass(frozen=True)
class Withheld:
    """Why a claimed object stays out of Git this sync: it belongs to someone else
    (``checked``, ``cause`` says whose), or the cluster could not be asked (``cause`` says
    why)."""

    cause: str
    checked: bool


def stuck_claims(out: HubRender, objects: Mapping[str, ObjectFiles]) -> list[Claim]:
    """The ``conflictPolicy: Stuck`` objects of the rendered nodes that have no committed file
    in their node (``objects``: node -> base names of its committed object files), by node and
    resource id. A committed object was applied for the node before, so it is the node's; a
    node the render-input index left unrendered has every object committed."""
    found: list[Claim] = []
    for name in sorted(out.nodes):
        committed = objects.get(name, ())
        for child in out.nodes[name].children:
            if child.settings.conflictPolicy != "Stuck" or child.file in committed:
                continue
            entry = child.entry
            found.append(
                Claim(name, entry.id, entry.apiVersion, entry.kind, entry.namespace, entry.name)
            )
    return sorted(found, key=lambda c: c.key)


def withhold_foreign(
    out: HubRender, hub: str, withheld: Mapping[tuple[str, str], Withheld]
) -> None:
    """Fail each child that ``withheld`` names (by node and resource id): its file is not
    committed, its dependents are skipped per ``skipOnDependencyFailure``, and its inventory
    entry stays in the node's LynqNode (``NodeRender.withheld``) so the reporter reports the
    conflict. Nodes are copied before they change.
    """
    by_node: dict[str, dict[str, Withheld]] = {}
    for (name, rid), withholding in withheld.items():
        by_node.setdefault(name, {})[rid] = withholding
    for name, reasons in sorted(by_node.items()):
        node = out.nodes.get(name)
        if node is None:
            continue
        where = f"node {node.name} (hub {hub}, uid {node.uid})"
        entries: dict[str, InventoryEntry] = {}
        lost: dict[str, str] = {}
        for child in node.children:
            entry = child.entry
            reason = reasons.get(entry.id)
            if reason is None:
                continue
            shown = f"{entry.namespace}/{entry.name}" if entry.namespace else entry.name
            what = f"{entry.kind} {shown}"
            if reason.checked:
                cause = (
                    f"conflict: {what} exists in the cluster and belongs to someone else "
                    f"({reason.cause}); conflictPolicy Stuck does not adopt it"
                )
            else:
                cause = (
                    f"{what} waits for the cluster check of conflictPolicy Stuck, which failed: "
                    f"{reason.cause}; it is committed once a check shows that nobody else owns it"
                )
            entries[entry.id] = entry
            lost[entry.id] = one_line(f'withheld resource "{entry.id}" of {where}: {cause}')
        if lost:
            copy = _without(node, lost, hub)
            copy.withheld = {**node.withheld, **entries}
            out.nodes[name] = copy


def _shared(nodes: Iterable[NodeRender]) -> set[int]:
    """The hashes of the object file names that more than one child of ``nodes`` has, and a
    few more (a bitmap of at least 16 bits a child sees each name: two names may share a
    bit), which ``settle_conflicts`` then compares by their objects."""
    children = [node.children for node in nodes]
    bits = max(1 << 10, 1 << (16 * sum(map(len, children))).bit_length())
    seen = bytearray(bits >> 3)
    found: set[int] = set()
    for group in children:
        for child in group:
            key = hash(child.file)
            bit = key & (bits - 1)
            if seen[bit >> 3] & (1 << (bit & 7)):
                found.add(key)
            else:
                seen[bit >> 3] |= 1 << (bit & 7)
    return found


def _owner(
    owners: Mapping[str, NodeRender | list[NodeRender]], child: Child, file: str
) -> str | None:
    """The node keeping the object of ``child``, whose file name is ``file`` (see
    ``settle_conflicts``), if any."""
    found = owners.get(file)
    if found is None:
        return None
    key = _object_key(child)
    for node in found if isinstance(found, list) else (found,):
        if any(c.file == file and _object_key(c) == key for c in node.children):
            return node.name
    return None


def _claim(owners: dict[str, NodeRender | list[NodeRender]], file: str, node: NodeRender) -> None:
    """Record that ``node`` keeps its object of the file name ``file``."""
    found = owners.get(file)
    if found is None:
        owners[file] = node
    elif isinstance(found, list):
        found.append(node)
    else:
        owners[file] = [found, node]


def _without(node: NodeRender, lost: Mapping[str, str], hub: str) -> NodeRender:
    """A copy of ``node`` with the children of ``lost`` failed and their dependents skipped."""
    copy = dataclasses.replace(
        node,
        children=list(node.children),
        failed={**node.failed, **lost},
        skipped=dict(node.skipped),
        assembled=None,
    )
    where = f"node {node.name} (hub {hub}, uid {node.uid})"
    for resource in node.resources:
        rid = resource.entry.id
        broken = [d for d in resource.entry.dependIds if d in copy.failed or d in copy.skipped]
        present = any(c.settings.id == rid for c in copy.children)
        if present and rid not in lost and broken and resource.entry.skipOnDependencyFailure:
            copy.skipped[rid] = one_line(
                f'skipped resource "{rid}" of {where}: dependency "{broken[0]}" failed'
            )
        if rid in lost or rid in copy.skipped:
            copy.children = [c for c in copy.children if c.settings.id != rid]
    return copy
