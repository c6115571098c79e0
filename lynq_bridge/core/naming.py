"""Names: node names, object names, file names and the scope of kinds.

Node names are DNS-1123 labels because they are also label values and directory names; object
names are DNS-1123 subdomains. Both rules also guarantee that no rendered name can contain a
path separator, so nothing is ever written outside the managed directory.
"""

from __future__ import annotations

import re

from lynq_bridge.core.paths import quote

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
QUALIFIED_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")

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
    if not is_dns_label(name):
        if len(name) > 63:
            return f"node name {quote(name)} is longer than 63 characters"
        return (
            f"node name {quote(name)} is not a DNS-1123 label (lowercase letters, digits and "
            '"-", '
            "starting and ending with a letter or digit)"
        )
    return None


def is_cluster_scoped(kind: str) -> bool:
    return kind in CLUSTER_SCOPED_KINDS


def child_file_name(kind: str, namespace: str | None, name: str) -> str:
    """The file of one child: ``kind_namespace_name.yaml`` (``kind_name.yaml`` if cluster-wide).

    ``_`` cannot occur in kinds, namespaces or names, so the name is collision-free and never
    clashes with ``lynqnode.yaml`` or ``kustomization.yaml``.
    """
    parts = [kind.lower(), namespace, name] if namespace else [kind.lower(), name]
    return "_".join(parts) + ".yaml"
