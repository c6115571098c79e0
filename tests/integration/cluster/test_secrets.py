"""passwordRef read from a Secret through the real API server (SPEC §3.2)."""

from __future__ import annotations

import base64

import pytest
from controlplane import ApiClient, ControlPlane

from lynq_bridge.adapters.secrets import KubernetesSecrets
from lynq_bridge.errors import SourceUnavailable


def test_password_comes_from_the_secret_in_the_hub_namespace(
    kube: ControlPlane, api: ApiClient, namespace: str
) -> None:
    api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": namespace},
            "data": {"password": base64.b64encode(b"s3cret pass").decode()},
        }
    )
    secrets = KubernetesSecrets(str(kube.kubeconfig))
    try:
        assert secrets(namespace, "db", "password") == "s3cret pass"
        with pytest.raises(SourceUnavailable, match=r"the Secret has no key user") as caught:
            secrets(namespace, "db", "user")
        assert "s3cret" not in str(caught.value)
        with pytest.raises(SourceUnavailable, match=r"Secret .*/nope\) not found"):
            secrets(namespace, "nope", "password")
    finally:
        secrets.close()


def test_unreachable_api_server_is_a_source_error(tmp_path: object) -> None:
    secrets = KubernetesSecrets("/nonexistent/kubeconfig")
    with pytest.raises(SourceUnavailable, match=r"passwordRef db/password .* cannot be read"):
        secrets("default", "db", "password")
