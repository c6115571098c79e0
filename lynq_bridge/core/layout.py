"""The layout of a hub directory, and the hooks a GitOps target renderer plugs into it.

The core keeps the rules that protect running infrastructure (SPEC §6): every file under a hub
directory belongs either to the hub or to exactly one node, so the planner can keep a held or
blocked node whole, keep the files of resources that failed to render, and remove everything of
a node that is gone. A target (``renderers/``) decides, within those rules:

- where a node's manifests go inside its directory (``place``, ``node_path``): flat for plain
  and Argo CD, one sub-directory per dependency level for Flux;
- the annotations on children and on the LynqNode (``decorate_child``, ``decorate_node``);
- a node's engine files (an Argo CD Application, Flux Kustomizations), under hub-level engine
  directories (``engine_dirs``) as ``<dir>/<node>.yaml`` or ``<dir>/<node>/<file>``.

Ownership is read off the path alone (``path_owner``): node directories carry their node's name,
and node names always contain "-" (``{uid}-{form}``) while engine directory names never do; the
second segment of an engine path names its node. So the planner needs no target to tell whose a
committed file is, which matters when ``spec.target`` changes between two syncs.

Every directory of a node gets a kustomization.yaml listing its own manifests and
sub-directories, and every engine directory one listing all engine files below it. Each directory
an engine points at thus builds with ``kubectl kustomize`` under its default load restrictor,
which refuses files outside the kustomization's own directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lynq_bridge.config.models import InventoryEntry, LynqHub
from lynq_bridge.core.forms import CompiledForm, CompiledResource
from lynq_bridge.core.naming import KUSTOMIZATION_FILE, NODE_FILE
from lynq_bridge.core.yamltext import dump_document

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


def kustomization(resources: Iterable[str]) -> bytes:
    """A kustomization.yaml listing ``resources`` in sorted order."""
    return dump_document(
        {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": sorted(resources)}
    ).encode()


def directory_kustomizations(paths: Iterable[str]) -> dict[str, bytes]:
    """A kustomization.yaml for the root and every sub-directory of ``paths`` (relative files),
    each listing the files and sub-directories directly inside it."""
    listed: dict[str, set[str]] = {"": set()}
    for path in paths:
        parts = path.split("/")
        for depth, part in enumerate(parts):
            listed.setdefault("/".join(parts[:depth]), set()).add(part)
    return {
        f"{directory}/{KUSTOMIZATION_FILE}" if directory else KUSTOMIZATION_FILE: kustomization(
            names
        )
        for directory, names in listed.items()
    }


def is_node_dir(name: str) -> bool:
    """Whether a top-level entry of a hub directory is a node directory (``{uid}-{form}``)."""
    return "-" in name


def path_owner(path: str) -> str | None:
    """The node owning ``path`` (relative to the hub directory); None for the hub's own files.

    ``acme-web/...`` belongs to node acme-web; in an engine directory, ``argocd/acme-web.yaml``
    and ``flux/acme-web/level-0.yaml`` do too, while ``argocd/kustomization.yaml`` is the hub's.
    """
    first, sep, rest = path.partition("/")
    if not sep:
        return None
    if is_node_dir(first):
        return first
    second = rest.split("/", 1)[0].removesuffix(".yaml")
    return second if is_node_dir(second) else None


@dataclass(frozen=True)
class NodeObject:
    """One manifest of a node directory, as a target sees it when it writes engine files.

    ``entry`` and ``resource`` are None for the LynqNode itself. ``resource`` is the form's
    compiled resource (for what the inventory does not carry, such as ``ignoreFields``); it is
    None when the form no longer lists the id.
    """

    path: str  # relative to the node directory
    depth: int
    entry: InventoryEntry | None = None
    resource: CompiledResource | None = None


@dataclass(frozen=True)
class NodeLayout:
    """Everything a target needs to write one node's engine files."""

    hub: LynqHub
    name: str
    uid: str
    form: str
    objects: tuple[NodeObject, ...]  # sorted by path; the LynqNode is the one without entry


class Target(Protocol):
    """What a GitOps target renderer decides (see the module docstring and ``renderers/``)."""

    @property
    def engine_dirs(self) -> tuple[str, ...]:
        """Hub-level directories of this target's engine files (names without "-")."""

    def decorate_child(self, manifest: dict[str, Any], entry: InventoryEntry, depth: int) -> None:
        """Add engine annotations to a rendered child, in place."""

    def decorate_node(self, manifest: dict[str, Any], deepest: int) -> None:
        """Add engine annotations to the LynqNode; ``deepest`` is its deepest resource's depth
        (-1 without resources)."""

    def place(self, file: str, depth: int) -> str:
        """The path inside the node directory of a child's ``file`` at dependency ``depth``."""

    def node_path(self, deepest: int) -> str:
        """The path inside the node directory of the LynqNode."""

    def engine_files(self, node: NodeLayout) -> dict[str, bytes]:
        """The node's engine files by path relative to the hub directory, each under one of
        ``engine_dirs`` and owned by the node (see ``path_owner``)."""

    def warnings(self, forms: Sequence[CompiledForm]) -> list[str]:
        """What the engines cannot express, for ``lynq-bridge validate``."""


class FlatTarget:
    """No engine: children and the LynqNode side by side in the node directory, no annotations.

    The plain target, and the base the engine renderers override.
    """

    name = "plain"
    engine_dirs: tuple[str, ...] = ()

    def decorate_child(self, manifest: dict[str, Any], entry: InventoryEntry, depth: int) -> None:
        """No engine annotations."""

    def decorate_node(self, manifest: dict[str, Any], deepest: int) -> None:
        """No engine annotations."""

    def place(self, file: str, depth: int) -> str:
        return file

    def node_path(self, deepest: int) -> str:
        return NODE_FILE

    def engine_files(self, node: NodeLayout) -> dict[str, bytes]:
        return {}

    def warnings(self, forms: Sequence[CompiledForm]) -> list[str]:
        return []
