"""``conflictPolicy: Stuck`` before the commit, the pure part (``core.conflicts``): which objects
the sync must look up in the cluster (``stuck_claims``) and what withholding one does to the
node's files and inventory (``withhold_foreign``). The lookups themselves run against the real
API server in tests/integration/cluster/test_stuck_claims_on_cluster.py.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import targets_fixture as fixture
import yaml
from unreachable import collected, kubeconfig

from lynq_bridge import claims
from lynq_bridge.claims import ClaimCheck
from lynq_bridge.core.conflicts import Claim, Withheld, stuck_claims, withhold_foreign
from lynq_bridge.core.inputs import INPUTS_FILE, node_blobs, object_files, trusted_inputs
from lynq_bridge.core.naming import NODE_FILE
from lynq_bridge.core.planning import DeletionGuard, HubPlan, blob_id
from lynq_bridge.core.rendering import HubRender, render_hub
from lynq_bridge.core.status import foreign_owner
from renderers import target_for
from renderers.plain import PlainTarget

PLAIN = PlainTarget()
FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: apps}
spec:
  hubId: tenants
  configMaps:
    - id: profile
      nameTemplate: "{{ uid }}-profile"
      spec: {apiVersion: v1, kind: ConfigMap, data: {plan: "{{ plan | default('basic') }}"}}
    - id: after
      dependIds: [profile]
      nameTemplate: "{{ uid }}-after"
      spec: {apiVersion: v1, kind: ConfigMap}
    - id: free
      dependIds: [profile]
      skipOnDependencyFailure: false
      nameTemplate: "{{ uid }}-free"
      spec: {apiVersion: v1, kind: ConfigMap}
    - id: forced
      conflictPolicy: Force
      nameTemplate: "{{ uid }}-forced"
      spec: {apiVersion: v1, kind: ConfigMap}
"""
ROWS: list[tuple[Any, ...]] = [("acme", "1", None, None, None), ("golf", "1", None, None, None)]
FOREIGN = Withheld("it has no lynq.sh/node label", checked=True)


def render(records: list[tuple[Any, ...]] = ROWS, **kw: Any) -> HubRender:
    return fixture.render(kw.pop("target", PLAIN), records, FORM, **kw)


def plan(render_: HubRender, existing: dict[str, str] | None = None, **kw: Any) -> HubPlan:
    guard = DeletionGuard(100, allow_mass_delete=True)
    return fixture.plan(kw.pop("target", PLAIN), render_, existing, guard=guard, **kw)


def committed(plan_: HubPlan) -> dict[str, str]:
    return {path: blob_id(content) for path, content in plan_.writes.items()}


def objects(existing: dict[str, str]) -> dict[str, tuple[str, ...]]:
    return object_files(node_blobs(existing))


def inventory(content: bytes) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in yaml.safe_load(content)["spec"]["resources"]}


# ------------------------------------------------------------------ which objects are checked


def test_new_stuck_objects_are_claimed_and_force_objects_never() -> None:
    claims = stuck_claims(render(), {})
    assert [(c.node, c.resource) for c in claims] == [
        ("acme-web", "after"), ("acme-web", "free"), ("acme-web", "profile"),
        ("golf-web", "after"), ("golf-web", "free"), ("golf-web", "profile"),
    ]  # fmt: skip
    assert claims[2] == Claim("acme-web", "profile", "v1", "ConfigMap", "apps", "acme-profile")


def test_objects_committed_in_flux_level_directories_are_not_claimed() -> None:
    flux = target_for(fixture.bridge_spec("flux"))
    first = fixture.render(flux)
    existing = committed(fixture.plan(flux, first))
    assert any("/level-2/" in path for path in existing)  # compared by base name
    assert stuck_claims(fixture.render(flux), objects(existing)) == []
    settings = "acme-web/level-1/configmap_t-acme_acme-settings.yaml"
    del existing[settings]
    (claim,) = stuck_claims(fixture.render(flux), objects(existing))
    assert (claim.node, claim.resource) == ("acme-web", "settings")


def test_a_claim_is_per_node_even_when_another_node_committed_the_file_name() -> None:
    existing = committed(plan(render([ROWS[0]])))
    claims = stuck_claims(render(), objects(existing))
    assert {c.node for c in claims} == {"golf-web"}


def test_nodes_the_input_index_left_unrendered_are_never_claimed() -> None:
    first = plan(render(revision="rev1"))
    existing = committed(first)
    trusted = trusted_inputs(existing, first.writes[INPUTS_FILE])
    out = render(revision="rev1", committed=trusted)
    assert sorted(out.unchanged) == ["acme-web", "golf-web"] and not out.nodes
    assert stuck_claims(out, {}) == []


# ------------------------------------------------------------------------ what withholding does


def test_withheld_object_is_a_failed_resource_naming_node_hub_uid_object_and_owner() -> None:
    out = render()
    withhold_foreign(out, "tenants", {("golf-web", "profile"): FOREIGN})
    golf = out.nodes["golf-web"]
    assert golf.failed == {
        "profile": 'withheld resource "profile" of node golf-web (hub tenants, uid golf): '
        "conflict: ConfigMap apps/golf-profile exists in the cluster and belongs to someone "
        "else (it has no lynq.sh/node label); conflictPolicy Stuck does not adopt it"
    }
    assert golf.skipped == {
        "after": 'skipped resource "after" of node golf-web (hub tenants, uid golf): '
        'dependency "profile" failed'
    }
    assert sorted(c.entry.id for c in golf.children) == ["forced", "free"]
    assert list(golf.withheld) == ["profile"]
    assert not out.nodes["acme-web"].failed  # the other node is untouched


def test_unchecked_object_says_it_waits_for_the_cluster_check_and_why() -> None:
    out = render()
    cause = "cannot get ConfigMap apps/golf-profile: the API server did not answer"
    withhold_foreign(out, "tenants", {("golf-web", "profile"): Withheld(cause, checked=False)})
    assert out.nodes["golf-web"].failed["profile"] == (
        'withheld resource "profile" of node golf-web (hub tenants, uid golf): ConfigMap '
        "apps/golf-profile waits for the cluster check of conflictPolicy Stuck, which failed: "
        f"{cause}; it is committed once a check shows that nobody else owns it"
    )


def test_withholding_copies_the_node_and_leaves_the_plain_render_as_it_was() -> None:
    out = render()
    original = out.nodes["golf-web"]
    withhold_foreign(out, "tenants", {("golf-web", "profile"): FOREIGN})
    assert out.nodes["golf-web"] is not original
    assert not original.failed and not original.skipped and not original.withheld
    assert len(original.children) == 4


def test_withheld_object_has_no_file_but_stays_in_the_lynqnode_inventory() -> None:
    out = render()
    withhold_foreign(out, "tenants", {("golf-web", "profile"): FOREIGN})
    result = plan(out)
    golf = sorted(p for p in result.writes if p.startswith("golf-web/"))
    assert "golf-web/configmap_apps_golf-profile.yaml" not in golf
    assert "golf-web/configmap_apps_golf-after.yaml" not in golf  # skipped dependent
    assert "golf-web/configmap_apps_golf-free.yaml" in golf
    entries = inventory(result.writes[f"golf-web/{NODE_FILE}"])
    assert sorted(entries) == ["forced", "free", "profile"]
    assert entries["profile"]["name"] == "golf-profile"
    assert entries["profile"]["conflictPolicy"] == "Stuck"


def test_node_with_a_withheld_object_is_left_out_of_the_input_index_so_it_is_checked_again() -> (
    None
):
    out = render(revision="rev1")
    withhold_foreign(out, "tenants", {("golf-web", "profile"): FOREIGN})
    result = plan(out)
    index = result.writes[INPUTS_FILE].decode()
    assert "acme-web " in index and "golf-web " not in index
    again = render(revision="rev1", committed=trusted_inputs(committed(result), index.encode()))
    assert "golf-web" in again.nodes and "acme-web" in again.unchanged
    assert [c.resource for c in stuck_claims(again, objects(committed(result)))] == [
        "after",
        "profile",
    ]


def test_withheld_rename_drops_the_old_object_and_lists_the_resource_once() -> None:
    first = plan(render())
    existing = committed(first)
    renamed = FORM.replace('"{{ uid }}-profile"', '"{{ uid }}-profile2"')
    out = render_hub(fixture.HUB, [fixture.compiled_form(renamed)], fixture.rows(ROWS), PLAIN)
    withhold_foreign(out, "tenants", {("golf-web", "profile"): FOREIGN})
    node_file = f"golf-web/{NODE_FILE}"
    result = plan(out, existing, previous={"golf-web": first.writes[node_file]})
    assert "golf-web/configmap_apps_golf-profile.yaml" in result.deletes
    entries = yaml.safe_load(result.writes[node_file])["spec"]["resources"]
    assert [e["name"] for e in entries if e["id"] == "profile"] == ["golf-profile2"]


def test_withholding_an_unknown_node_or_resource_changes_nothing() -> None:
    out = render()
    before = dict(out.nodes)
    withhold_foreign(out, "tenants", {("nobody-web", "profile"): FOREIGN})
    withhold_foreign(out, "tenants", {("golf-web", "missing"): FOREIGN})
    assert out.nodes == before and all(n is before[k] for k, n in out.nodes.items())


def test_a_later_withheld_object_of_a_node_is_withheld_too() -> None:
    out = render()
    withhold_foreign(out, "tenants", {("golf-web", "free"): FOREIGN})  # profile comes first
    assert list(out.nodes["golf-web"].failed) == ["free"]
    assert list(out.nodes["golf-web"].withheld) == ["free"]


def test_a_node_that_is_not_rendered_does_not_stop_the_withholding_of_the_next() -> None:
    out = render()
    withheld = {("acme-gone", "profile"): FOREIGN, ("golf-web", "profile"): FOREIGN}
    withhold_foreign(out, "tenants", withheld)
    assert list(out.nodes["golf-web"].failed) == ["profile"]


def test_withheld_cluster_scoped_object_is_named_without_a_namespace() -> None:
    out = fixture.render(PLAIN)
    withhold_foreign(out, "tenants", {("acme-web", "ns"): FOREIGN})
    assert "conflict: Namespace t-acme exists in the cluster" in out.nodes["acme-web"].failed["ns"]


# ------------------------------------------------------- the sync's check: when the cluster fails


@pytest.fixture
def claims_log() -> Iterator[list[logging.LogRecord]]:
    with collected("lynq_bridge.claims") as records:
        yield records


def check(kubeconfig: str, *, enabled: bool = True) -> ClaimCheck:
    return ClaimCheck(
        fixture.bridge_spec("plain", report={"enabled": enabled, "kubeconfig": kubeconfig})
    )


def withheld_causes(out: HubRender) -> dict[tuple[str, str], str]:
    return {(n.name, rid): text for n in out.nodes.values() for rid, text in n.failed.items()}


def test_unreadable_kubeconfig_withholds_every_new_stuck_object_with_one_warning(
    tmp_path: Path, claims_log: list[logging.LogRecord]
) -> None:
    missing = tmp_path / "missing"
    claim_check = check(str(missing))
    out = render()
    claim_check.withhold(fixture.HUB, out, {})
    assert claim_check._client is None
    causes = withheld_causes(out)
    assert sorted(causes) == [(c.node, c.resource) for c in stuck_claims(render(), {})]
    assert causes[("acme-web", "profile")].startswith(
        'withheld resource "profile" of node acme-web (hub tenants, uid acme): ConfigMap '
        "apps/acme-profile waits for the cluster check of conflictPolicy Stuck, which failed: "
        f"cannot load kubeconfig {missing}: "
    )
    assert ".; it is committed once" not in causes[("acme-web", "profile")]
    assert sorted(out.nodes["acme-web"].withheld) == ["after", "free", "profile"]
    warning, summary = (r.getMessage() for r in claims_log)
    assert claims_log[0].levelno == logging.WARNING
    assert warning.startswith(
        "could not check 6 new conflictPolicy Stuck object(s) of hub apps/tenants in the "
        f"cluster: cannot load kubeconfig {missing}: "
    )
    assert warning.endswith("; they are withheld from Git until a sync can check them")
    assert re.fullmatch(
        r"checked 6 new conflictPolicy Stuck object\(s\) of hub apps/tenants in the cluster: "
        r"requests=0 foreign=0 unchecked=6 seconds=\d\.\d{3}",
        summary,
    )


def test_refused_lookup_withholds_every_new_stuck_object_after_one_request(
    tmp_path: Path, claims_log: list[logging.LogRecord], closed_port: int
) -> None:
    port = closed_port
    claim_check = check(kubeconfig(tmp_path / "kubeconfig", port))
    out = render()
    try:
        claim_check.withhold(fixture.HUB, out, {})
        assert claim_check._client is not None and claim_check._client.requests == 1
        claim_check.withhold(fixture.HUB, render(), {})  # the next sync, same connection
        assert claim_check._client.requests == 2
    finally:
        claim_check.close()
    assert claim_check._client is None
    cause = (
        "cannot get ConfigMap apps/acme-after: the API server at "
        f"http://127.0.0.1:{port} did not answer ("
    )
    causes = withheld_causes(out)
    assert len(causes) == 6 and all(cause in text for text in causes.values())
    assert cause in claims_log[0].getMessage()
    for summary in (claims_log[1], claims_log[3]):  # requests of this sync, not of the connection
        assert "requests=1 foreign=0 unchecked=6" in summary.getMessage()


def test_silent_api_server_costs_one_timeout(
    tmp_path: Path,
    claims_log: list[logging.LogRecord],
    monkeypatch: pytest.MonkeyPatch,
    silent_port: int,
) -> None:
    monkeypatch.setattr(claims, "TIMEOUT", 1.0)  # 10 seconds in production
    claim_check = check(kubeconfig(tmp_path / "kubeconfig", silent_port))
    out = render()
    started = time.monotonic()
    try:
        claim_check.withhold(fixture.HUB, out, {})
    finally:
        claim_check.close()
    assert time.monotonic() - started < 10  # not the client's default of 30 seconds
    assert len(withheld_causes(out)) == 6
    assert "did not answer" in claims_log[0].getMessage()


@pytest.mark.parametrize("enabled", [False, True], ids=["no-cluster-access", "all-committed"])
def test_nothing_to_check_opens_no_connection_and_withholds_nothing(
    tmp_path: Path, claims_log: list[logging.LogRecord], enabled: bool
) -> None:
    claim_check = check(str(tmp_path / "missing"), enabled=enabled)
    existing = committed(plan(render())) if enabled else {}
    out = render()
    claim_check.withhold(fixture.HUB, out, existing)
    assert withheld_causes(out) == {} and claim_check._client is None and claims_log == []


# -------------------------------------------------------------------- the one ownership rule


@pytest.mark.parametrize(
    ("labels", "why"),
    [
        ({"lynq.sh/node": "golf-web", "lynq.sh/node-namespace": "apps"}, None),
        ({"lynq.sh/node": "golf-web"}, None),
        ({}, "it has no lynq.sh/node label"),
        ({"lynq.sh/node": "acme-web"}, "its lynq.sh/node label names ?/acme-web"),
        (
            {"lynq.sh/node": "golf-web", "lynq.sh/node-namespace": "other"},
            "its lynq.sh/node label names other/golf-web",
        ),
    ],
)
def test_foreign_owner_is_the_reporters_rule(labels: dict[str, str], why: str | None) -> None:
    obj = {"metadata": {"name": "golf-profile", "labels": labels}}
    assert foreign_owner(obj, node="golf-web", namespace="apps") == why
