"""Fuzzed hostile row values through the real pipeline: SQLite -> sync -> bare remote -> clone ->
``git fsck --strict`` -> ``kubectl kustomize``.

Each example writes a batch of rows whose columns hold hostile text (control characters, NUL,
line breaks, quotes, ``{{ }}``, ``..``, long strings) into labels, annotations, ConfigMap data,
an object name and a templated kind, and syncs them onto the same remote. Whatever the values,
the branch passes ``git fsck --strict``, clones, and its hub directory builds with kustomize
(the kubectl of the test control plane); every value the bridge accepted comes back unchanged
from the build, and every value it refused is a per-resource error, not a broken hub.

Lone surrogates cannot be stored in SQLite's UTF-8 text; the unit tests cover them.
kustomize output is read with PyYAML's safe loader taking "=" as the string it is: go-yaml v3
writes it plain, and the YAML 1.1 "value" tag it resolves to in PyYAML and ruamel.yaml is
unknown to Go readers (which read a string).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lynq_bridge.core import naming
from lynq_bridge.core.yamltext import string_problem

BIN_ENV = "LYNQ_TEST_CONTROL_PLANE_BIN"
ROWS_PER_SYNC = 6
HUB_DIR = "lynq/default/tenants"

FORM = """
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: default}
spec:
  hubId: tenants
  configMaps:
    - id: data
      nameTemplate: "{{ uid }}-data"
      annotationsTemplate: {example.com/domain: "{{ domain }}"}
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {domain: "{{ domain }}", plan: "{{ plan }}"}
    - id: labelled
      nameTemplate: "{{ uid }}-labelled"
      labelsTemplate: {example.com/plan: "{{ plan }}"}
      spec: {apiVersion: v1, kind: ConfigMap}
    - id: named
      nameTemplate: "{{ plan }}"
      spec: {apiVersion: v1, kind: ConfigMap, data: {uid: "{{ uid }}"}}
    - id: kinded
      nameTemplate: "{{ uid }}-kinded"
      spec: {apiVersion: example.com/v1, kind: "{{ plan }}"}
"""

# Hostile text: any code point but surrogates, biased towards what breaks parsers and paths.
TRICKY = st.sampled_from(
    ["\n", "\r", "\t", "\x00", "\x7f", "\x85", "\ufffe", "\u2028", "\ufeff", '"', "'", "\\",
     "{{ uid }}", "{%", "..", "/", ".git", ": ", " #", "- ", "---", "=", "~", "<<", "%"]
)  # fmt: skip
CHARS = st.characters(blacklist_categories=["Cs"])
HOSTILE = st.lists(st.one_of(TRICKY, st.text(CHARS, max_size=8)), max_size=12).map("".join)
VALUE = st.one_of(HOSTILE, st.text(CHARS, max_size=300), st.just("x" * 2000))


class Reader(yaml.SafeLoader):
    """yaml.safe_load, but "=" is a string (as for go-yaml) rather than an unknown tag."""


Reader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_scalar)


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(name="kubectl")
def kubectl_fixture(require_service: Any) -> str:
    """The control plane's kubectl: skip locally, fail in CI, when it is not there."""
    found = Path(require_service(BIN_ENV, "The test control plane's kubectl")) / "kubectl"
    if not found.exists():
        pytest.fail(f"{BIN_ENV} holds no kubectl: {found}")
    return str(found)


@pytest.fixture(name="bridge")
def bridge_fixture(create_tenants: Any) -> Iterator[tuple[Bridge, SqliteDatabase]]:
    # One bridge for every example (hypothesis runs examples inside one test call): each
    # example replaces the rows, so later examples also exercise updates and removals.
    with tempfile.TemporaryDirectory() as root:
        database = SqliteDatabase(Path(root) / "tenants.db")
        create_tenants(database)
        bridge = Bridge(
            Path(root),
            database,
            form=FORM,
            bridge_spec={"deletionGuard": {"allowMassDelete": True}},
        )
        yield bridge, database


def built_objects(bridge: Bridge, kubectl: str) -> dict[tuple[str, str], Any]:
    """fsck the remote, clone it and build the hub: (kind, name) -> object."""
    fsck = run("git", "--git-dir", str(bridge.remote), "fsck", "--strict", "--no-dangling")
    assert fsck.returncode == 0, fsck.stderr
    clone = bridge.root / "clone"
    run("rm", "-rf", str(clone))
    cloned = run("git", "clone", "--quiet", str(bridge.remote), str(clone))
    assert cloned.returncode == 0, cloned.stderr
    built = run(kubectl, "kustomize", str(clone / HUB_DIR))
    assert built.returncode == 0, built.stderr[-2000:]
    return {(o["kind"], o["metadata"]["name"]): o for o in yaml.load_all(built.stdout, Reader) if o}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(st.tuples(VALUE, VALUE), min_size=ROWS_PER_SYNC, max_size=ROWS_PER_SYNC))
def test_hostile_row_values_never_break_the_branch_or_the_build(
    bridge: tuple[Bridge, SqliteDatabase], kubectl: str, values: list[tuple[str, str]]
) -> None:
    hub, database = bridge
    rows = [
        {"tenant_id": f"t{i}", "active": "1", "domain": domain, "plan": plan}
        for i, (domain, plan) in enumerate(values)
    ]
    database.execute("DELETE FROM tenants", insert(rows))
    hub.sync()
    assert hub.head() is not None
    objects = built_objects(hub, kubectl)
    for row in rows:
        uid, domain, plan = row["tenant_id"], row["domain"], row["plan"]
        data = objects.get(("ConfigMap", f"{uid}-data"))
        accepted = string_problem(domain) is None and string_problem(plan) is None
        if accepted:
            assert data is not None, (domain, plan)
            assert data["data"] == {"domain": domain, "plan": plan}
            assert data["metadata"]["annotations"]["example.com/domain"] == domain
        labelled = objects.get(("ConfigMap", f"{uid}-labelled"))
        if naming.is_label_value(plan):
            assert (
                labelled is not None and labelled["metadata"]["labels"]["example.com/plan"] == plan
            )
        kinded = objects.get((plan, f"{uid}-kinded"))
        if naming.kind_problem(plan) is None:
            assert kinded is not None


def insert(rows: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    sql = "INSERT INTO tenants (tenant_id, active, domain, plan) VALUES (:tenant_id, :active, "
    return sql + ":domain, :plan)", rows
