"""What the Argo CD and Flux renderers share: object names, labels, API groups, JSON paths and
the wording of ``validate`` warnings.

Kept out of the engine modules so that ``both`` can combine the two without one importing the
other, and so that the two engines name and label their objects the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lynq_bridge.config.models import LynqHub, ResourceEntry
from lynq_bridge.core import naming
from lynq_bridge.core.forms import CompiledForm, CompiledResource, Constant, Mapping_
from lynq_bridge.core.layout import NodeLayout
from lynq_bridge.core.rendering import (
    LABEL_FORM,
    LABEL_HUB,
    LABEL_NODE,
    LABEL_NODE_NAMESPACE,
    LABEL_UID,
)

MAX_NAME = 63  # engine object names end up in label values (Flux, Argo CD label tracking)
_HASH = 10
_JSONPATH_TOKEN = re.compile(r"\.([A-Za-z0-9_-]+)|\[([0-9]+)\]|\[(\*)\]|\['([^'\]]+)'\]")
_JQ_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NOT_BODY = frozenset({"apiVersion", "kind", "metadata", "status"})


def engine_name(*parts: str) -> str:
    """A name for an engine object: the parts joined by ".", unique per hub namespace and node.

    Namespaces and levels never contain "." and a node name ends with its form's name, which
    does not either, so the join cannot be ambiguous. Names longer than 63 characters keep
    their start and end in a hash, so they stay unique and stable.
    """
    name = ".".join(parts)
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH]
    return f"{name[: MAX_NAME - _HASH - 1].rstrip('.-')}-{digest}"


def engine_labels(node: NodeLayout) -> dict[str, Any]:
    """The labels of a node's engine objects, to select a hub's or a tenant's, as metadata:
    ``{"labels": ...}``, plus ``{"annotations": ...}`` with the full node name and uid when
    they are too long for a label (see ``naming.tracking_metadata``)."""
    labels, full_values = naming.tracking_metadata(
        {
            LABEL_HUB: node.hub.metadata.name,
            LABEL_NODE: node.name,
            LABEL_NODE_NAMESPACE: node.hub.metadata.namespace,
            LABEL_FORM: node.form,
            LABEL_UID: node.uid,
        }
    )
    return {"labels": labels, "annotations": full_values} if full_values else {"labels": labels}


def hub_path(git_path: str, hub: LynqHub) -> str:
    """The hub directory relative to the repository root."""
    return f"{git_path}/{hub.metadata.namespace}/{hub.metadata.name}"


def api_group(api_version: str) -> str:
    """``apps`` of ``apps/v1``; "" for the core group (``v1``)."""
    group, sep, _ = api_version.rpartition("/")
    return group if sep else ""


def api_version_only(api_version: str) -> str:
    """``v1`` of ``apps/v1``."""
    return api_version.rpartition("/")[2]


def jsonpath_segments(path: str) -> list[str | int | None]:
    """The segments of an ignoreFields JSONPath (``$.a.b``, ``$.a[0]``, ``$.a['x.y']``,
    ``$.a[*]``): keys as str, indexes as int, ``[*]`` as None."""
    segments: list[str | int | None] = []
    for key, index, star, quoted in _JSONPATH_TOKEN.findall(path[1:]):
        if star:
            segments.append(None)
        elif index:
            segments.append(int(index))
        else:
            segments.append(key or quoted)
    return segments


def json_pointer(path: str) -> str | None:
    """The RFC 6901 pointer of a JSONPath, or None when it has a wildcard."""
    segments = jsonpath_segments(path)
    if any(s is None for s in segments):
        return None
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in segments)


def jq_path(path: str) -> str:
    """The jq path expression of a JSONPath (``[*]`` becomes ``[]``)."""
    out = []
    for segment in jsonpath_segments(path):
        if segment is None:
            out.append("[]")
        elif isinstance(segment, int):
            out.append(f"[{segment}]")
        elif _JQ_KEY.match(segment):
            out.append(f".{segment}")
        else:
            out.append('["' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"]')
    return "".join(out)


def body_keys(resource: CompiledResource | None) -> list[str]:
    """The top-level fields of a resource's manifest besides its identity and metadata
    (``spec``, ``data``, ...): what ``creationPolicy: Once`` must never update."""
    if resource is None:
        return []
    tree = resource.spec
    if isinstance(tree, Mapping_):
        keys = [k for k, _ in tree.items]
    elif isinstance(tree, Constant) and isinstance(tree.value, dict):
        keys = [str(k) for k in tree.value]
    else:
        keys = []
    return sorted(k for k in keys if k not in _NOT_BODY)


def ignore_fields(resource: CompiledResource | None) -> list[str]:
    return list(resource.entry.ignoreFields) if resource is not None else []


def set_annotation(manifest: dict[str, Any], key: str, value: str) -> None:
    metadata = manifest.setdefault("metadata", {})
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        annotations = metadata["annotations"] = {}
    annotations[key] = value


def gap_warning(
    form: CompiledForm,
    when: Callable[[ResourceEntry], bool],
    what: str,
) -> list[str]:
    """One warning naming the form and the ids of its resources for which ``when`` holds."""
    ids = [r.entry.id for r in form.resources if when(r.entry)]
    if not ids:
        return []
    listed = ", ".join(f'"{rid}"' for rid in sorted(ids))
    noun = "resource" if len(ids) == 1 else "resources"
    return [f"form {form.name}, {noun} {listed}: {what}"]


def stuck_warnings(forms: Sequence[CompiledForm], engines: str) -> list[str]:
    """``conflictPolicy: Stuck`` (the default) has no equivalent in either engine; the sync
    makes up for it only with cluster access (see ``lynq_bridge.claims``)."""
    what = (
        f"conflictPolicy Stuck has no {engines} equivalent (the engine takes over an object that "
        "already exists): with spec.report.enabled the sync keeps a new object that belongs to "
        "someone else out of Git and the status reporter reports it as Conflicted; without "
        "cluster access the engine adopts it"
    )
    return [w for f in forms for w in gap_warning(f, lambda e: e.conflictPolicy == "Stuck", what)]


def skip_warnings(forms: Sequence[CompiledForm], engines: str, blocked: str) -> list[str]:
    """``skipOnDependencyFailure: false``: both engines stop at a failing dependency."""
    what = (
        f"skipOnDependencyFailure false has no {engines} equivalent: {blocked} while a "
        "dependency fails"
    )
    return [w for f in forms for w in gap_warning(f, lambda e: not e.skipOnDependencyFailure, what)]


def unique(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, in their first order."""
    return list(dict.fromkeys(items))
