"""Settings of the GitOps targets: ``BridgeConfig.spec.argocd`` and ``spec.flux``.

Apart from ``models.py`` so that the engines' knobs, which only matter for ``target: argocd``,
``flux`` or ``both``, are read in one place. Same rules as every config model: unknown fields are
errors and objects are frozen. Each default is what a stock installation of the engine expects.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Go durations as the Flux CRDs accept them: 30s, 10m, 1h30m, 1.5h.
GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _dns_label(value: str | None) -> str | None:
    if value is not None and not DNS_LABEL.match(value):
        raise ValueError(f'"{value}" is not a DNS-1123 label (lowercase a-z, 0-9 and "-")')
    return value


class ArgoSyncPolicy(_Model):
    """``syncPolicy`` of every per-node Application."""

    automated: bool = Field(
        True, description="Sync each commit without a click: the bridge's commits are the change."
    )
    prune: bool = Field(
        True,
        description="Delete objects whose files the bridge removed (a resource left out or a "
        "row gone); Retain resources are kept by their own Prune=false annotation.",
    )
    selfHeal: bool = Field(True, description="Revert changes made in the cluster by hand.")
    retryLimit: int = Field(
        5,
        ge=0,
        le=100,
        description="Retries of a failed sync (Argo CD's default backoff); 0 = no retry. A "
        "transient failure (a webhook not up yet) should not wedge a tenant until its next commit.",
    )


class ArgoCDSettings(_Model):
    """How the per-node Argo CD Applications are written (``target: argocd`` or ``both``)."""

    namespace: str = Field(
        "argocd", description="Namespace of the Applications: where Argo CD looks for them."
    )
    project: str = Field("default", min_length=1, description="AppProject of the Applications.")
    destinationServer: str = Field(
        "https://kubernetes.default.svc",
        min_length=1,
        description="Cluster the tenant stacks go to; the default is Argo CD's own cluster.",
    )
    repoURL: str | None = Field(
        None, description="Repository URL as Argo CD knows it; default: spec.git.url."
    )
    targetRevision: str | None = Field(None, description="Revision to track; default: git.branch.")
    syncPolicy: ArgoSyncPolicy = Field(default_factory=ArgoSyncPolicy)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str | None:
        return _dns_label(value)


class FluxSourceRef(_Model):
    """The Flux source that holds the bridge's repository (created by hand, once)."""

    kind: Literal["GitRepository", "OCIRepository", "Bucket"] = "GitRepository"
    name: str = Field("lynq-bridge", description="Name of the source object.")
    namespace: str | None = Field(
        None, description="Namespace of the source; default: that of the Kustomizations."
    )

    @field_validator("name", "namespace")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return _dns_label(value)


class FluxSettings(_Model):
    """How the per-node Flux Kustomizations are written (``target: flux`` or ``both``)."""

    namespace: str = Field(
        "flux-system", description="Namespace of the Kustomizations (and, by default, the source)."
    )
    sourceRef: FluxSourceRef = Field(default_factory=FluxSourceRef)
    interval: str = Field(
        "10m",
        description="How often Flux re-applies a node to undo drift. New commits are applied at "
        "once (a source revision change triggers its Kustomizations), so this is not latency.",
    )
    prune: bool = Field(
        True,
        description="Delete objects whose files the bridge removed; Retain resources carry "
        "kustomize.toolkit.fluxcd.io/prune: disabled.",
    )
    wait: bool = Field(
        True,
        description="Health-check each dependency level before the next is applied (kstatus); "
        "false orders the levels by apply only.",
    )
    timeout: str | None = Field(
        None,
        description="Apply and health-check timeout per level; default: the largest "
        "timeoutSeconds of the level's resources.",
    )
    serviceAccountName: str | None = Field(
        None, description="Service account to impersonate when applying (multi-tenancy lockdown)."
    )
    ignoreRules: bool = Field(
        False,
        description="Translate ignoreFields into spec.ignore rules; needs kustomize-controller "
        "v1.9.0 (Flux 2.9) or newer, older ones drop the field.",
    )

    @field_validator("namespace", "serviceAccountName")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return _dns_label(value)

    @field_validator("interval", "timeout")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and not GO_DURATION.match(value):
            raise ValueError(f'"{value}" is not a duration like 30s, 10m or 1h30m')
        return value
