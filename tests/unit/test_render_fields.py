"""Where each field of a rendered child comes from: the variables, spec.metadata, the templates."""

from __future__ import annotations

from typing import Any

import targets_fixture as fixture
import yaml

from lynq_bridge.core.rendering import node_variables, render_hub
from lynq_bridge.core.rows import rows_from_records
from renderers.plain import PlainTarget

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: apps}
spec:
  hubId: tenants
  configMaps:
    - id: plain
      spec:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: "{{ uid }}-plain"
          namespace: elsewhere
          labels: {team: "{{ plan }}"}
          annotations: {note: "{{ domain }}"}
        data: {hub: "{{ hubId }}", form: "{{ templateRef }}"}
    - id: numeric
      nameTemplate: "{{ replicas | int }}"
      spec: {apiVersion: v1, kind: ConfigMap}
  namespaces:
    - id: space
      nameTemplate: "{{ domain }}"
      spec: {apiVersion: v1, kind: Namespace, metadata: {namespace: ignored}}
"""


def rendered(domain: str = "tenant-acme") -> dict[str, Any]:
    rows = fixture.rows([("acme", "1", domain, "pro", "7")])
    out = render_hub(fixture.HUB, [fixture.compiled_form(FORM)], rows, PlainTarget())
    node = out.nodes["acme-web"]
    docs = {c.entry.id: yaml.safe_load(c.content) for c in node.children}
    return {"failed": node.failed, **docs}


def test_name_namespace_labels_and_annotations_come_from_spec_metadata() -> None:
    child = rendered()["plain"]
    assert child["metadata"]["name"] == "acme-plain"
    assert child["metadata"]["namespace"] == "elsewhere"
    assert child["metadata"]["labels"]["team"] == "pro"
    assert child["metadata"]["annotations"]["note"] == "tenant-acme"
    assert child["data"] == {"hub": "tenants", "form": "web"}


def test_a_name_template_stays_text_even_when_it_ends_in_int() -> None:
    assert rendered()["numeric"]["metadata"]["name"] == "7"


def test_cluster_scoped_objects_lose_their_namespace() -> None:
    space = rendered()["space"]
    assert space["metadata"]["name"] == "tenant-acme" and "namespace" not in space["metadata"]


def test_a_namespace_name_must_be_a_dns_label_not_a_subdomain() -> None:
    result = rendered(domain="a.b")
    assert "is not a valid Kubernetes object name" in result["failed"]["space"]
    assert "plain" in result  # a ConfigMap may carry dots in the same name rules


def test_node_variables_add_hub_form_and_the_host_of_host_or_url() -> None:
    form = fixture.compiled_form(FORM)
    (row,) = rows_from_records(
        [("acme", "1", "https://Acme.example.com:8443/x")], columns=["hostOrUrl"]
    )
    variables = node_variables(fixture.HUB, form, row)
    assert variables == {
        "uid": "acme",
        "activate": "1",
        "hostOrUrl": "https://Acme.example.com:8443/x",
        "host": "Acme.example.com",
        "hubId": "tenants",
        "templateRef": "web",
    }
    (plain,) = rows_from_records([("acme", "1", "x")], columns=["domain"])
    assert "host" not in node_variables(fixture.HUB, form, plain)
