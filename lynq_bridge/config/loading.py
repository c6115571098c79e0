"""Read a config directory into validated, immutable models.

Every ``*.yaml``/``*.yml`` file below the directory is read in sorted order; each document is
dispatched by ``kind``. Problems are collected, not raised one by one, so ``validate`` can list
them all; each names the file, the document and the field. Relative paths inside a document are
resolved against the directory of the file that contains them.

A key given twice in one mapping is an error, not "the last one wins": a duplicated ``path:`` or
``branch:`` would otherwise silently replace the one a reviewer read.

What Lynq users have on disk loads as it is:

- a document of another kind (the Secret beside the hub in Lynq's sample, a ConfigMap, a
  Namespace, a LynqNode) and a kustomize ``kustomization.yaml`` are skipped with one warning each,
  naming the document and, for a Secret, where the bridge reads passwords instead (never its
  data). An unknown kind of the bridge's own API groups is still an error: it is a typo;
- ``kubectl get -o yaml`` exports load: ``kind: List`` is read item by item, and what the API
  server and controllers set (``status``, ``uid``, ``resourceVersion``, ``generation``,
  ``creationTimestamp``, ``managedFields``, ``selfLink``, ``finalizers``, ``ownerReferences``, the
  ``kubectl.kubernetes.io/last-applied-configuration`` annotation) is dropped before validation:
  it describes one cluster's copy, not the configuration.

Warnings (skipped documents, Lynq fields that are not implemented yet) are collected in
``Config.warnings``; ``lynq-bridge validate`` prints them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lynq_bridge.config.models import BridgeConfig, LynqForm, LynqHub, SQLiteSource
from lynq_bridge.core.paths import quote
from lynq_bridge.errors import ConfigError

KINDS: dict[str, type[BaseModel]] = {
    "BridgeConfig": BridgeConfig,
    "LynqHub": LynqHub,
    "LynqForm": LynqForm,
}
# API groups whose kinds the bridge knows: an unknown kind there is a mistake, not a neighbour.
OWN_GROUPS = ("operator.lynq.sh/", "bridge.lynq.sh/")
# Metadata that the API server or a controller sets; meaningless in a config file.
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "finalizers",
    "ownerReferences",
)
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml")


@dataclass(frozen=True)
class Config:
    """Everything a config directory declares, validated and with absolute paths."""

    directory: Path
    bridge: BridgeConfig
    hubs: tuple[LynqHub, ...]
    forms: tuple[LynqForm, ...]
    sources: dict[tuple[str, str, str], str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def forms_of(self, hub: LynqHub) -> tuple[LynqForm, ...]:
        """The forms that name ``hub``, sorted by name."""
        return tuple(
            sorted(
                (
                    f
                    for f in self.forms
                    if f.spec.hubId == hub.metadata.name
                    and f.metadata.namespace == hub.metadata.namespace
                ),
                key=lambda f: f.metadata.name,
            )
        )

    def where(self, kind: str, namespace: str, name: str) -> str:
        """``file, document N`` of an object, for messages."""
        return self.sources.get((kind, namespace, name), "config")


def _field_path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _resolve(base: Path, value: str) -> str:
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (base / path).resolve())


def _absolute_paths(model: BaseModel, base: Path) -> BaseModel:
    """Rewrite the relative paths a document may carry against its file's directory."""
    if isinstance(model, BridgeConfig):
        spec = model.spec
        git = spec.git
        updates: dict[str, Any] = {}
        if git.url and "://" not in git.url and not git.url.startswith(("git@", "/")):
            updates["url"] = _resolve(base, git.url)
        if git.workDir:
            updates["workDir"] = _resolve(base, git.workDir)
        git = git.model_copy(update=updates)
        secrets = _resolve(base, spec.secretsDir) if spec.secretsDir else None
        return model.model_copy(
            update={"spec": spec.model_copy(update={"git": git, "secretsDir": secrets})}
        )
    if isinstance(model, LynqHub) and isinstance(model.spec.source.sqlite, SQLiteSource):
        source = model.spec.source
        sqlite = source.sqlite.model_copy(  # type: ignore[union-attr]
            update={"path": _resolve(base, source.sqlite.path)}  # type: ignore[union-attr]
        )
        return model.model_copy(
            update={
                "spec": model.spec.model_copy(
                    update={"source": source.model_copy(update={"sqlite": sqlite})}
                )
            }
        )
    return model


class DuplicateKey(yaml.YAMLError):
    """A mapping names the same key twice."""


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The safe loader, refusing a mapping that names a key twice.

    Keys are compared as loaded values, so ``1``/``"1"`` differ and ``yes``/``true`` are the
    same key. Keys brought in by a ``<<`` merge may be overridden, as YAML defines.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if first is not key_node:
                    line, again = first.start_mark.line + 1, key_node.start_mark.line + 1
                    text = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key)
                    raise DuplicateKey(
                        f"key {quote(text)} is given twice (lines {line} and {again})"
                    )
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _documents(path: Path, shown: Path, problems: list[str]) -> list[tuple[int, Any]]:
    documents: list[tuple[int, Any]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read: {exc}")
        return []
    try:
        for document in yaml.load_all(text, Loader=UniqueKeyLoader):
            documents.append((len(documents) + 1, document))
    except DuplicateKey as exc:
        problems.append(f"{shown}, document {len(documents) + 1}: {exc}")
        return []
    except yaml.YAMLError as exc:
        problems.append(f"{path}: is not valid YAML: {str(exc).splitlines()[0]}")
        return []
    return documents


def without_server_fields(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without ``status`` and the metadata an API server or controller sets."""
    cleaned = {k: v for k, v in document.items() if k != "status"}
    meta = document.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        cleaned["metadata"] = meta
    return cleaned


def _items(where: str, document: dict[str, Any], problems: list[str]) -> list[tuple[str, Any]]:
    """The objects of a document: a ``kind: List`` (``kubectl get -o yaml``) item by item."""
    if document.get("kind") != "List" or document.get("apiVersion") != "v1":
        return [(where, document)]
    items = document.get("items")
    if not isinstance(items, list):
        problems.append(f"{where}: the List has no items list")
        return []
    nested = [i for i, item in enumerate(items, 1) if isinstance(item, dict) and "items" in item]
    for i in nested:
        problems.append(f"{where}, item {i}: a List inside a List is not read")
    return [(f"{where}, item {i}", item) for i, item in enumerate(items, 1) if i not in nested]


def skip_warning(where: str, document: dict[str, Any]) -> str | None:
    """The warning for a Kubernetes object the bridge does not read, or None when it reads it
    (or when it is not a Kubernetes object of another kind, which is a problem instead)."""
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str) or kind in KINDS:
        return None
    if api_version.startswith(OWN_GROUPS) and kind != "LynqNode":
        return None
    meta = document.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = f"{meta.get('namespace') or 'default'}/{meta.get('name', '?')}"
    skipped = f"{where}: skipped {kind} {quote(name)}"
    if kind == "LynqNode":
        return f"{skipped}: LynqNodes are written by lynq-bridge, never read from its config."
    if kind == "Secret" and api_version == "v1":
        return (
            f"{skipped}: secrets do not belong in the config directory, which goes to Git; "
            "a hub's passwordRef is read from <secretsDir>/<name>/<key> (spec.secretsDir of "
            "the BridgeConfig, a mounted Secret volume) or, without it, from the Secret in "
            "the hub's namespace through the Kubernetes API."
        )
    return (
        f"{skipped}: lynq-bridge reads only BridgeConfig, LynqHub and LynqForm documents; "
        "apply it to the cluster some other way."
    )


def rollout_problems(where: str, form: LynqForm, bridge: BridgeConfig | None) -> list[str]:
    """A progressive rollout (``maxSkew > 0``) waits for LynqNodes to be Ready, which only the
    cluster can say: without cluster access (``spec.report.enabled``) it is an error."""
    skew = form.spec.rollout.maxSkew
    if not skew or bridge is None or bridge.spec.report.enabled:
        return []
    return [
        f"{where} (LynqForm {form.metadata.name}): spec.rollout.maxSkew is {skew}, but a "
        "progressive rollout needs cluster access to see which nodes are Ready: set "
        "spec.report.enabled (and spec.report.kubeconfig outside the cluster) in the "
        "BridgeConfig, or set maxSkew to 0"
    ]


def config_files(directory: Path) -> list[Path]:
    """The YAML files of a config directory, in a stable order.

    Hidden files and directories are skipped: a ConfigMap volume keeps a second copy of every
    file under ``..<timestamp>/`` (and ``..data``), which must not be read twice.
    """
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def load_config(directory: Path | str, *, paths_relative_to: Path | None = None) -> Config:
    """Load and validate a config directory; raise one ConfigError listing every problem.

    ``paths_relative_to`` resolves relative paths as if the files were in that directory
    (``diff`` loads old revisions exported to a temporary directory).
    """
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"config directory {root} does not exist")
    problems: list[str] = []
    bridges: list[BridgeConfig] = []
    hubs: dict[tuple[str, str], LynqHub] = {}
    forms: dict[tuple[str, str], LynqForm] = {}
    sources: dict[tuple[str, str, str], str] = {}
    warnings: list[str] = []
    for path in config_files(root):
        shown = path.relative_to(root)
        objects: list[tuple[str, Any]] = []
        for index, document in _documents(path, shown, problems):
            where = f"{shown}, document {index}"
            if isinstance(document, dict):
                objects.extend(_items(where, document, problems))
            elif document is not None:
                objects.append((where, document))
        for where, raw in objects:
            if not isinstance(raw, dict):
                problems.append(f"{where}: is not a mapping")
                continue
            if path.name in KUSTOMIZATION_FILES and "kind" not in raw:
                warnings.append(
                    f"{where}: skipped the kustomization file: lynq-bridge reads every YAML "
                    "file of the config directory itself."
                )
                continue
            skipped = skip_warning(where, raw)
            if skipped:
                warnings.append(skipped)
                continue
            document = without_server_fields(raw)
            kind = document.get("kind")
            model_type = KINDS.get(kind) if isinstance(kind, str) else None
            if model_type is None:
                problems.append(
                    f'{where}: unknown kind "{kind}" (expected one of {", ".join(KINDS)})'
                )
                continue
            name = (document.get("metadata") or {}).get("name", "?")
            try:
                model = model_type.model_validate(document)
            except ValidationError as exc:
                problems.extend(
                    f"{where} ({kind} {name}): {_field_path(e['loc'])}: {_describe(e)}"
                    for e in exc.errors()
                )
                continue
            base = (paths_relative_to or root) / path.parent.relative_to(root)
            model = _absolute_paths(model, base)
            meta = model.metadata  # type: ignore[attr-defined]
            key = (meta.namespace, meta.name)
            sources[(str(kind), *key)] = where
            if isinstance(model, BridgeConfig):
                bridges.append(model)
            elif isinstance(model, LynqHub | LynqForm):
                registry: dict[tuple[str, str], Any] = hubs if isinstance(model, LynqHub) else forms
                if key in registry:
                    problems.append(
                        f"{where}: {kind} {meta.namespace}/{meta.name} is declared twice"
                    )
                registry[key] = model
    if len(bridges) != 1:
        problems.append(f"{root}: expected exactly one BridgeConfig document, found {len(bridges)}")
    for (namespace, name), form in sorted(forms.items()):
        problems.extend(
            rollout_problems(
                sources[("LynqForm", namespace, name)],
                form,
                bridges[0] if len(bridges) == 1 else None,
            )
        )
        if (namespace, form.spec.hubId) not in hubs:
            problems.append(
                f"{sources[('LynqForm', namespace, name)]} (LynqForm {name}): spec.hubId: "
                f'hub "{form.spec.hubId}" does not exist in namespace "{namespace}"'
            )
    if problems:
        raise ConfigError("\n".join(problems))
    return Config(
        directory=root.resolve(),
        bridge=bridges[0],
        hubs=tuple(hubs[k] for k in sorted(hubs)),
        forms=tuple(forms[k] for k in sorted(forms)),
        sources=sources,
        warnings=tuple(warnings),
    )
