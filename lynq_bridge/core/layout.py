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

A hub is laid out flat (``<node>/``, ``argocd/<node>.yaml``) or, with ``git.layout: sharded``,
in 256 shards named by the first two hex digits of the SHA-256 of the node's name
(``<shard>/<node>/``, ``argocd/<shard>/<node>.yaml``, ``flux/<shard>/<node>/``), so that a
commit touching one node rewrites Git trees of a few hundred entries instead of one entry per
node of the hub (``node_dir``). Ownership reads both layouts, so switching moves every node once
and leaves nothing behind. A shard's name (two lowercase hex digits) is neither a node's (no
"-") nor an engine directory's.

Every directory of a node gets a kustomization.yaml listing its own manifests and
sub-directories, and every engine directory one listing all engine files below it. Each directory
an engine points at thus builds with ``kubectl kustomize`` under its default load restrictor,
which refuses files outside the kustomization's own directory.
"""

from __future__ import annotations

import functools
import hashlib
import re
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


SHARD = re.compile(r"[0-9a-f]{2}")


@functools.lru_cache(maxsize=1 << 18)  # a daemon asks for the same names every sync
def shard_of(node: str) -> str:
    """The shard of a node in the sharded layout: the first two hex digits of the SHA-256 of its
    name (256 shards, evenly filled whatever the names look like)."""
    return hashlib.sha256(node.encode()).hexdigest()[:2]


def is_shard(name: str) -> bool:
    """Whether a directory name is a shard's (two lowercase hex digits)."""
    return len(name) == 2 and SHARD.fullmatch(name) is not None


def node_dir(node: str, *, sharded: bool) -> str:
    """The directory of a node relative to the hub directory: ``<node>`` or ``<shard>/<node>``."""
    return f"{shard_of(node)}/{node}" if sharded else node


def is_node_dir(name: str) -> bool:
    """Whether a directory name is a node directory's (``{uid}-{form}``; a node name is a DNS
    subdomain, so it never starts with "." as the hub's ``.lynq-inputs`` does)."""
    return "-" in name and not name.startswith(".")


def split_owner(path: str) -> tuple[str | None, str | None]:
    """The node owning ``path`` (relative to the hub directory) and the path inside that node's
    directory; (node, None) for its engine files, (None, None) for the hub's own files.

    ``acme-web/x.yaml`` and ``3f/acme-web/x.yaml`` are node acme-web's ``x.yaml``;
    ``argocd/acme-web.yaml``, ``argocd/3f/acme-web.yaml`` and ``flux/3f/acme-web/level-0.yaml``
    are its engine files; ``kustomization.yaml``, ``3f/kustomization.yaml``,
    ``3f/.lynq-inputs`` and ``argocd/3f/kustomization.yaml`` are the hub's.
    """
    parts = path.split("/")
    if len(parts) < 2:
        return None, None
    if is_node_dir(parts[0]):
        return parts[0], "/".join(parts[1:])
    if is_shard(parts[0]):
        if len(parts) > 2 and is_node_dir(parts[1]):
            return parts[1], "/".join(parts[2:])
        return None, None
    rest = parts[1:]
    if len(rest) > 1 and is_shard(rest[0]):
        rest = rest[1:]
    second = rest[0].removesuffix(".yaml")
    return (second, None) if is_node_dir(second) else (None, None)


def path_owner(path: str) -> str | None:
    """The node owning ``path`` (relative to the hub directory); None for the hub's own files
    (see ``split_owner``)."""
    return split_owner(path)[0]


def listed_directories(paths: Iterable[str]) -> dict[str, list[str]]:
    """What the kustomization.yaml of a directory and of each of its shards list, given the
    ``paths`` (relative to the directory) it lists: "" -> the paths outside any shard plus the
    shards, and each shard -> its paths, relative to the shard."""
    top: set[str] = set()
    shards: dict[str, set[str]] = {}
    for path in paths:
        first, sep, rest = path.partition("/")
        if sep and is_shard(first):
            shards.setdefault(first, set()).add(rest)
            top.add(first)
        else:
            top.add(path)
    return {"": sorted(top), **{s: sorted(names) for s, names in sorted(shards.items())}}


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
    directory: str  # relative to the hub directory (``Target.node_dir``)


class Target(Protocol):
    """What a GitOps target renderer decides (see the module docstring and ``renderers/``)."""

    @property
    def engine_dirs(self) -> tuple[str, ...]:
        """Hub-level directories of this target's engine files (names without "-")."""

    sharded: bool  # whether nodes go into shards (``git.layout: sharded``, see ``node_dir``)

    def node_dir(self, node: str) -> str:
        """The directory of ``node`` relative to the hub directory."""

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
    sharded = False  # set by ``renderers.target_for`` from ``git.layout``

    def node_dir(self, node: str) -> str:
        return node_dir(node, sharded=self.sharded)

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
