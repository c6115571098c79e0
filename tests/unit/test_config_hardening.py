"""Config values that pass a careless check and then break every sync, or silently mean
something else: duplicate YAML keys, branch names Git refuses, commit identities that corrupt
the commit object, a managed path inside ``.git``, SQL names and schemas (issue 7, class 10 and
the config side of class 8)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lynq_bridge.cli import main
from lynq_bridge.config.loading import load_config
from lynq_bridge.config.models import branch_problem
from lynq_bridge.errors import ConfigError

BRIDGE = """\
apiVersion: bridge.lynq.sh/v1alpha1
kind: BridgeConfig
metadata: {name: default}
spec:
  git:
    url: ../remote.git
    path: lynq
"""
HUB: dict[str, Any] = {
    "apiVersion": "operator.lynq.sh/v1",
    "kind": "LynqHub",
    "metadata": {"name": "tenants", "namespace": "default"},
    "spec": {
        "source": {"type": "sqlite", "sqlite": {"path": "t.db", "table": "tenants"}},
        "valueMappings": {"uid": "tenant_id", "activate": "active"},
        "extraValueMappings": {"plan": "plan"},
    },
}
PG_SOURCE = {"host": "db", "username": "app", "database": "app", "table": "tenants"}


def config_dir(tmp_path: Path, *texts: str) -> Path:
    directory = tmp_path / "config"
    directory.mkdir(parents=True, exist_ok=True)
    for index, text in enumerate(texts):
        (directory / f"{index}.yaml").write_text(text)
    return directory


def problems(directory: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    return str(caught.value)


def bridge_with(**git: Any) -> str:
    document = yaml.safe_load(BRIDGE)
    document["spec"]["git"].update(git)
    return yaml.safe_dump(document)


def hub_with(source_type: str, source: dict[str, Any], **spec: Any) -> str:
    document = copy.deepcopy(HUB)
    document["spec"]["source"] = {"type": source_type, source_type: source}
    document["spec"].update(spec)
    return yaml.safe_dump(document)


# ------------------------------------------------------------------------- duplicate keys


def test_duplicate_key_in_the_bridge_config_is_an_error_naming_file_document_and_key(
    tmp_path: Path,
) -> None:
    text = BRIDGE + "    path: elsewhere\n"  # a second git.path: last-wins would move the root
    directory = config_dir(tmp_path, text, yaml.safe_dump(HUB))
    first, *_ = problems(directory).splitlines()
    assert first == '0.yaml, document 1: key "path" is given twice (lines 7 and 8)'


def test_duplicate_key_in_a_later_document_names_that_document(tmp_path: Path) -> None:
    hub = yaml.safe_dump(HUB, sort_keys=False).replace(
        "  valueMappings:", "  valueMappings:\n    uid: id\n", 1
    )
    directory = config_dir(tmp_path, BRIDGE + "---\n" + hub)
    assert '0.yaml, document 2: key "uid" is given twice' in problems(directory)


def test_duplicate_key_in_a_form_fails_validate_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    form = """\
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {name: web, namespace: default}
spec:
  hubId: tenants
  configMaps:
    - id: a
      spec: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: x, k: y}}
"""
    directory = config_dir(tmp_path, BRIDGE, yaml.safe_dump(HUB), form)
    assert main(["validate", "--config", str(directory)]) == 2
    err = capsys.readouterr().err
    assert err == 'error: 2.yaml, document 1: key "k" is given twice (lines 8 and 8)\n'


def test_keys_equal_as_yaml_values_are_duplicates_and_merge_keys_may_be_overridden(
    tmp_path: Path,
) -> None:
    hub = yaml.safe_dump(HUB).replace("extraValueMappings:", "extraValueMappings:\n    yes: a\n")
    hub = hub.replace("    plan: plan", "    plan: plan\n    true: b")
    assert 'key "true" is given twice' in problems(config_dir(tmp_path / "a", BRIDGE, hub))
    merged = BRIDGE.replace("spec:\n", "base: &git {path: other}\nspec:\n").replace(
        "  git:\n", "  git:\n    <<: *git\n"
    )
    # `base` is an unknown top-level field, but no duplicate key is reported for the merge.
    assert "given twice" not in problems(config_dir(tmp_path / "b", merged, yaml.safe_dump(HUB)))


# ------------------------------------------------------------------------------ branches

REJECTED_BRANCHES = [
    "main.lock",
    "release/v1.lock",
    "a..b",
    "a@{1}",
    ".hidden",
    "team/.hidden",
    "a b",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[x",
    "a\\b",
    "a/",
    "a.",
    "a//b",
    "/a",
    "tab\there",
    "new\nline",
    "del\x7f",
]
ACCEPTED_BRANCHES = ["main", "release/v1.2", "feature/x_y", "lock.main", "a.lock.b", "user@host"]


@pytest.mark.parametrize("branch", REJECTED_BRANCHES + ACCEPTED_BRANCHES)
def test_branch_rule_agrees_with_git_check_ref_format(branch: str) -> None:
    git = subprocess.run(
        ["git", "check-ref-format", "--branch", branch], capture_output=True, check=False
    )
    assert (branch_problem(branch) is None) == (git.returncode == 0)
    assert (branch_problem(branch) is None) == (branch in ACCEPTED_BRANCHES)


@pytest.mark.parametrize("branch", ["main.lock", "a..b", "-x", "HEAD", "@", ""])
def test_unusable_branch_is_a_config_error(tmp_path: Path, branch: str) -> None:
    directory = config_dir(tmp_path, bridge_with(branch=branch), yaml.safe_dump(HUB))
    assert "spec.git.branch" in problems(directory)
    assert "is not a valid Git branch name" in problems(directory)


# ---------------------------------------------------------------------------- author


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "bridge\nLynq-Nodes-Removed: all"),
        ("name", "bridge <evil@x>"),
        ("name", "a>b"),
        ("name", "nul\x00"),
        ("name", "bell\x07"),
        ("name", " "),
        ("email", ""),
        ("email", "bridge"),
        ("email", "a b@example.com"),
        ("email", "bridge@example.com>"),
        ("email", "bridge@example.com\n"),
        ("email", "a@b@c"),
    ],
)
def test_unusable_author_is_a_config_error(tmp_path: Path, field: str, value: str) -> None:
    author = {"name": "lynq-bridge", "email": "bridge@example.com", field: value}
    directory = config_dir(tmp_path, bridge_with(author=author), yaml.safe_dump(HUB))
    assert f"spec.git.author.{field}" in problems(directory)


def test_plain_author_with_non_ascii_name_is_accepted(tmp_path: Path) -> None:
    author = {"name": "Jöhn Dœ (bridge)", "email": "lynq-bridge@localhost"}
    directory = config_dir(tmp_path, bridge_with(author=author), yaml.safe_dump(HUB))
    assert load_config(directory).bridge.spec.git.author.name == "Jöhn Dœ (bridge)"


# -------------------------------------------------------------------------- git.path


@pytest.mark.parametrize(
    "path",
    [".git", "x/.git", ".GIT", ".Git/x", "x/.git.", ".gitmodules", "lynq/.gitattributes", "GIT~1"],
)
def test_git_path_inside_gits_own_files_is_a_config_error(tmp_path: Path, path: str) -> None:
    directory = config_dir(tmp_path, bridge_with(path=path), yaml.safe_dump(HUB))
    assert "spec.git.path" in problems(directory)


def test_git_path_is_normalised_without_its_slashes(tmp_path: Path) -> None:
    directory = config_dir(tmp_path, bridge_with(path="/gitops/lynq/"), yaml.safe_dump(HUB))
    assert load_config(directory).bridge.spec.git.path == "gitops/lynq"


# --------------------------------------------------------------------- SQL names, schema


@pytest.mark.parametrize(
    ("hub", "field"),
    [
        (hub_with("postgresql", {**PG_SOURCE, "schema": "crm; DROP"}), "postgresql.schema"),
        (hub_with("postgresql", {**PG_SOURCE, "schema": "a.b"}), "postgresql.schema"),
        (hub_with("postgresql", {**PG_SOURCE, "schema": ""}), "postgresql.schema"),
        (hub_with("postgresql", {**PG_SOURCE, "table": "t x"}), "postgresql.table"),
        (hub_with("mysql", {**PG_SOURCE, "table": "db.t.u"}), "mysql.table"),
        (
            hub_with("sqlite", {"path": "t.db", "table": "t"}, valueMappings={"uid": "id;"}),
            "valueMappings.uid",
        ),
        (
            hub_with(
                "sqlite",
                {"path": "t.db", "table": "t"},
                valueMappings={"uid": "id", "activate": "a b"},
            ),
            "valueMappings.activate",
        ),
        (
            hub_with("sqlite", {"path": "t.db", "table": "t"}, extraValueMappings={"p": "p)"}),
            "extraValueMappings",
        ),
    ],
)
def test_every_sql_name_is_validated(tmp_path: Path, hub: str, field: str) -> None:
    assert field in problems(config_dir(tmp_path, BRIDGE, hub))


def test_schema_prefix_and_schema_field_together_are_a_config_error(tmp_path: Path) -> None:
    hub = hub_with("postgresql", {**PG_SOURCE, "table": "crm.tenants", "schema": "crm"})
    text = problems(config_dir(tmp_path, BRIDGE, hub))
    assert 'table "crm.tenants" has a schema prefix and schema is set too' in text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (PG_SOURCE, ("public", "tenants")),
        ({**PG_SOURCE, "schema": "crm"}, ("crm", "tenants")),
        ({**PG_SOURCE, "table": "crm.tenants"}, ("crm", "tenants")),
    ],
)
def test_schema_comes_from_the_field_or_the_prefix_and_defaults_to_public(
    tmp_path: Path, source: dict[str, Any], expected: tuple[str, str]
) -> None:
    config = load_config(config_dir(tmp_path, BRIDGE, hub_with("postgresql", source)))
    postgresql = config.hubs[0].spec.source.postgresql
    assert postgresql is not None and postgresql.qualified == expected
