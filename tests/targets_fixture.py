"""A hub and a form that use every policy in a three-level dependency graph, for the target tests.

Shared by the unit tests of the renderers (golden trees, ownership of engine files) and the
integration tests that build and dry-run the rendered trees. Every object is of a built-in kind
and valid for the API server, so the trees can be applied for real.

    level 0   ns (Namespace, Retain)
    level 1   settings (ConfigMap, Once + merge)   sa (ServiceAccount, merge)
    level 2   app (Deployment: ignoreFields, timeout 600)   svc (Service: replace + Retain)
              pdb (PodDisruptionBudget: waitForReady false, Force, no skip)
              web (Ingress: ignoreFields with [*], only for rows with a domain)
"""

from __future__ import annotations

from typing import Any

import yaml

from lynq_bridge.config.models import BridgeSpec, LynqForm, LynqHub
from lynq_bridge.core.forms import CompiledForm, compile_form
from lynq_bridge.core.layout import Target
from lynq_bridge.core.planning import DeletionGuard, HubPlan, plan_hub
from lynq_bridge.core.rendering import HubRender, render_hub
from lynq_bridge.core.rows import Row, rows_from_records
from lynq_bridge.core.templating import TemplateEngine
from renderers import target_for

HUB_DOCUMENT: dict[str, Any] = {
    "apiVersion": "operator.lynq.sh/v1",
    "kind": "LynqHub",
    "metadata": {"name": "tenants", "namespace": "apps"},
    "spec": {
        "source": {"type": "sqlite", "sqlite": {"path": "/x.db", "table": "tenants"}},
        "valueMappings": {"uid": "tenant_id", "activate": "active"},
        "extraValueMappings": {"domain": "domain", "plan": "plan", "replicas": "replicas"},
    },
}
HUB = LynqHub.model_validate(HUB_DOCUMENT)

FORM_YAML = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: apps}
spec:
  hubId: tenants
  namespaces:
    - id: ns
      nameTemplate: "t-{{ uid }}"
      deletionPolicy: Retain
      spec: {apiVersion: v1, kind: Namespace}
  serviceAccounts:
    - id: sa
      dependIds: [ns]
      nameTemplate: "{{ uid }}-app"
      targetNamespace: "t-{{ uid }}"
      patchStrategy: merge
      spec: {apiVersion: v1, kind: ServiceAccount}
  configMaps:
    - id: settings
      dependIds: [ns]
      nameTemplate: "{{ uid }}-settings"
      targetNamespace: "t-{{ uid }}"
      creationPolicy: Once
      patchStrategy: merge
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {plan: "{{ plan | default('basic') }}"}
  deployments:
    - id: app
      dependIds: [settings, sa]
      nameTemplate: "{{ uid }}-app"
      targetNamespace: "t-{{ uid }}"
      timeoutSeconds: 600
      ignoreFields:
        - "$.spec.replicas"
        - "$.spec.template.metadata.annotations['example.com/restartedAt']"
      spec:
        apiVersion: apps/v1
        kind: Deployment
        spec:
          replicas: "{{ replicas | default('1') | int }}"
          selector: {matchLabels: {app: "{{ uid }}"}}
          template:
            metadata: {labels: {app: "{{ uid }}"}}
            spec:
              serviceAccountName: "{{ uid }}-app"
              containers:
                - name: app
                  image: nginx:1.27
                  envFrom: [{configMapRef: {name: "{{ uid }}-settings"}}]
  services:
    - id: svc
      dependIds: [settings]
      nameTemplate: "{{ uid }}-app"
      targetNamespace: "t-{{ uid }}"
      patchStrategy: replace
      deletionPolicy: Retain
      annotationsTemplate:
        argocd.argoproj.io/sync-options: "SkipDryRunOnMissingResource=true"
      spec:
        apiVersion: v1
        kind: Service
        spec:
          selector: {app: "{{ uid }}"}
          ports: [{port: 80}]
  podDisruptionBudgets:
    - id: pdb
      dependIds: [sa]
      nameTemplate: "{{ uid }}-app"
      targetNamespace: "t-{{ uid }}"
      waitForReady: false
      conflictPolicy: Force
      skipOnDependencyFailure: false
      spec:
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        spec:
          minAvailable: 1
          selector: {matchLabels: {app: "{{ uid }}"}}
  ingresses:
    - id: web
      dependIds: [settings]
      includeWhen: "{{ domain != '' }}"
      nameTemplate: "{{ uid }}-web"
      targetNamespace: "t-{{ uid }}"
      ignoreFields: ["$.spec.rules[*].host"]
      spec:
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        spec:
          rules:
            - host: "{{ domain | toHost }}"
              http:
                paths:
                  - path: /
                    pathType: Prefix
                    backend: {service: {name: "{{ uid }}-app", port: {number: 80}}}
"""

RECORDS: list[tuple[Any, ...]] = [
    ("acme", "1", "https://acme.example.com", "pro", 3),
    ("beta", "1", None, None, None),
]

SPEC: dict[str, Any] = {
    "git": {"url": "https://git.example.com/platform/gitops.git", "branch": "main", "path": "lynq"}
}


def bridge_spec(target: str, **extra: Any) -> BridgeSpec:
    return BridgeSpec.model_validate({**SPEC, "target": target, **extra})


def compiled_form(text: str = FORM_YAML) -> CompiledForm:
    form = LynqForm.model_validate(yaml.safe_load(text))
    compiled, problems, _ = compile_form(form, engine=TemplateEngine())
    assert compiled is not None, problems
    return compiled


def rows(records: list[tuple[Any, ...]] = RECORDS) -> list[Row]:
    return rows_from_records(records, columns=("domain", "plan", "replicas"))


def render(
    target: Target, records: list[tuple[Any, ...]] = RECORDS, text: str = FORM_YAML, **kw: Any
) -> HubRender:
    """The fixture hub rendered with one form; ``kw`` goes to ``render_hub``."""
    return render_hub(HUB, [compiled_form(text)], rows(records), target, **kw)


def plan(
    target: Target,
    render_: HubRender,
    existing: dict[str, str] | None = None,
    **kw: Any,
) -> HubPlan:
    return plan_hub(
        HUB,
        render_,
        existing or {},
        previous_nodes=kw.pop("previous", {}),
        guard=kw.pop("guard", DeletionGuard(25)),
        target=target,
        **kw,
    )


def tree(target_name: str, **spec: Any) -> dict[str, bytes]:
    """The files a first sync writes for the fixture with ``target_name``."""
    target = target_for(bridge_spec(target_name, **spec))
    return plan(target, render(target)).writes
