"""Names: node names, object names, file names, tracking labels and the scope of kinds.

Node names (``{uid}-{form}``) and object names are DNS-1123 subdomains of at most 253
characters, as Lynq allows (a UUID uid and a long form name still make a node). Both rules also
guarantee that no rendered name can contain a path separator, so nothing is ever written outside
the managed directory, and a node name is one path component (253 < 255 bytes).

A label value has at most 63 characters. The tracking labels (``lynq.sh/node``, ``lynq.sh/uid``,
...) therefore carry ``label_value``: the value itself up to 63 characters (exactly what Lynq
writes, so a cutover keeps them), and past that a deterministic short form: its first 52
characters, "-" and the first 10 hex digits of its SHA-256. The annotation with the same key then
carries the full value, and ``tracked_value`` reads it back only when it shortens to the label,
so two long names sharing a short form, or a short name equal to another's short form, never
mix. Lynq itself has no such scheme: it writes the raw value, which the API server refuses
past 63 characters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from lynq_bridge.core.paths import MAX_COMPONENT, quote

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
QUALIFIED_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")

MAX_LABEL_VALUE: Final = 63  # Kubernetes' limit for a label value
MAX_NODE_NAME: Final = 253  # a DNS-1123 subdomain, as Lynq allows for LynqNode names
SHORT_HASH: Final = 10  # hex digits of SHA-256 in a short form: 40 bits, collisions need 2^20
SHORT_PREFIX: Final = MAX_LABEL_VALUE - SHORT_HASH - 1  # 52 characters kept of the value
FILE_HASH: Final = 16  # hex digits of SHA-256 ending a shortened file name: 64 bits

# Kinds that have no namespace. Custom resources are assumed namespaced.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterIssuer",
        "ClusterRole",
        "ClusterRoleBinding",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeSnapshotClass",
    }
)

NODE_FILE = "lynqnode.yaml"
KUSTOMIZATION_FILE = "kustomization.yaml"


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and DNS_LABEL.match(value) is not None


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= 253 and DNS_SUBDOMAIN.match(value) is not None


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and LABEL_VALUE.match(value) is not None


def is_qualified_name(key: str) -> bool:
    """A label or annotation key: ``name`` or ``prefix/name`` (prefix a DNS subdomain)."""
    prefix, slash, name = key.rpartition("/")
    if slash and not is_dns_subdomain(prefix):  # "/app" has an empty prefix: invalid
        return False
    return QUALIFIED_NAME.fullmatch(name) is not None


def kind_problem(kind: str) -> str | None:
    """Why ``kind`` is not a Kubernetes kind (a letter, then letters and digits, at most 63)."""
    if KIND.fullmatch(kind) is None:
        return f"kind {quote(kind)} is not a Kubernetes kind (a letter, then letters and digits)"
    return None


def api_group(api_version: str) -> str | None:
    """The API group of ``group/version`` ("" for the core ``version``), None when invalid."""
    group, sep, version = api_version.rpartition("/")
    if not is_dns_label(version) or (sep and not is_dns_subdomain(group)):
        return None
    return group


def node_name(uid: str, form: str) -> str:
    """``{uid}-{form}``: the LynqNode name and its directory."""
    return f"{uid}-{form}"


def uid_problem(uid: str, form: str) -> str | None:
    """Why ``uid`` cannot form a node name with ``form``, or None when it can."""
    name = node_name(uid, form)
    if not uid:
        return "the uid is empty"
    if len(name) > MAX_NODE_NAME:
        return f"node name {quote(name)} is longer than {MAX_NODE_NAME} characters"
    if not is_dns_subdomain(name):
        return (
            f"node name {quote(name)} is not a DNS-1123 subdomain (lowercase letters, digits, "
            '"-" and ".", each dot-separated part starting and ending with a letter or digit)'
        )
    return None


def event_name(involved: str, token: str) -> str:
    """The name of an Event about object ``involved``: ``<involved>.<token>``, the object's name
    cut (at a letter or digit) so that the whole stays a 253-character DNS subdomain."""
    return f"{involved[: MAX_NODE_NAME - len(token) - 1].rstrip('-.')}.{token}"


def label_value(value: str) -> str:
    """``value`` as a tracking label value: itself up to 63 characters; longer, its first 52
    characters + "-" + the first 10 hex digits of its SHA-256 (63 characters).

    The short form ends with a hex digit, so it is a valid label value whenever ``value``
    starts with a letter or digit and has only label characters (every node name and every
    usable uid).
    """
    if len(value) <= MAX_LABEL_VALUE:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:SHORT_HASH]
    return f"{value[:SHORT_PREFIX]}-{digest}"


def tracking_metadata(values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The labels for ``values`` (key -> full value) and the annotations, under the same keys,
    that carry each shortened value in full. A value whose label form is still no valid label
    value (a uid ending in "-") gets neither, as before: SPEC §6.2 sets the uid label "when a
    valid label value"."""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for key, value in values.items():
        short = label_value(value)
        if not is_label_value(short):
            continue
        labels[key] = short
        if short != value:
            annotations[key] = value
    return labels, annotations


def tracked_value(metadata: Mapping[str, Any], key: str) -> str | None:
    """The full value behind the tracking label ``key`` of an object's ``metadata``: the
    annotation of the same key when it shortens to the label, else the label itself (None
    without the label). An annotation that does not match its label is ignored, so it cannot
    claim an object for another node."""
    label = (metadata.get("labels") or {}).get(key)
    if not isinstance(label, str):
        return None
    full = (metadata.get("annotations") or {}).get(key)
    if isinstance(full, str) and full != label and label_value(full) == label:
        return full
    return label


def is_cluster_scoped(kind: str) -> bool:
    return kind in CLUSTER_SCOPED_KINDS


def child_file_name(kind: str, namespace: str | None, name: str) -> str:
    """The file of one child: ``kind_namespace_name.yaml`` (``kind_name.yaml`` if cluster-wide).

    ``_`` cannot occur in kinds, namespaces or names, so the name is collision-free and never
    clashes with ``lynqnode.yaml`` or ``kustomization.yaml``. A name longer than a path
    component may be (255: a 253-character object name in a long namespace) keeps its first
    characters and ends in ``__`` and 16 hex digits of the SHA-256 of the full file name; no
    other file name has two ``_`` in a row, since no part is empty.
    """
    parts = [kind.lower(), namespace, name] if namespace else [kind.lower(), name]
    file = "_".join(parts) + ".yaml"
    if len(file) <= MAX_COMPONENT:
        return file
    digest = hashlib.sha256(file.encode()).hexdigest()[:FILE_HASH]
    keep = MAX_COMPONENT - len("__") - FILE_HASH - len(".yaml")
    return f"{file[:keep]}__{digest}.yaml"
