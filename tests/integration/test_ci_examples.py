"""examples/ci/: the GitHub Actions workflow and the GitLab CI job run the commands they show.

A config repository with two branches (main, and a form change) stands in for a pull request;
the command each example runs is taken from its YAML and run as it is, with the posting step
replaced by ``LYNQ_COMMENT_FILE``. The YAML is also checked against what the script documents,
so the examples and the script cannot drift apart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_harness import Bridge, SqliteDatabase, commit_by_hand, git

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
SCRIPT = CI / "pr-comment.sh"
ROWS = [{"tenant_id": t, "active": "1", "plan": p} for t, p in (("a", "pro"), ("b", ""), ("c", ""))]
COMMAND = 'sh ci/pr-comment.sh "$CONFIG_DIR" "$BASE_REF"'


def github() -> tuple[str, dict[str, str]]:
    """The workflow's diff step: its command and its environment, the base branch being main."""
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["diff"]["steps"] if "pr-comment.sh" in s.get("run", "")]
    env = {k: str(v).replace("${{ github.base_ref }}", "main") for k, v in step["env"].items()}
    return step["run"], env


def gitlab() -> tuple[str, dict[str, str]]:
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["lynq-bridge-diff"]
    (command,) = job["script"]
    env = {
        k: str(v).replace("$CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main")
        for k, v in job["variables"].items()
    }
    return command, env


@pytest.fixture(name="pull_request")
def pull_request_fixture(tmp_path: Path, sqlite_database: Path, create_tenants: Any) -> Path:
    """A config repository on branch form-change, one commit ahead of main (and origin/main)."""
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, ROWS)
    bridge = Bridge(tmp_path / "bridge", db)
    repo = tmp_path / "repo"
    shutil.copytree(bridge.config, repo / "config")
    (repo / "ci").mkdir()
    shutil.copy(SCRIPT, repo / "ci" / "pr-comment.sh")
    git("init", "-q", "--initial-branch=main", str(repo))
    commit_by_hand(repo, "config v1", push=False)
    git("-C", str(repo), "update-ref", "refs/remotes/origin/main", "main")  # as a fetch would
    git("-C", str(repo), "checkout", "-q", "-b", "form-change")
    form = repo / "config" / "form.yaml"
    form.write_text(form.read_text().replace("default('basic')", "default('starter')"))
    commit_by_hand(repo, "starter plan by default", push=False)
    return repo


def run(command: str, env: dict[str, str], repo: Path, comment: Path) -> int:
    clean = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITLAB_CI")}
    path = f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}"
    env = {**clean, **env, "PATH": path, "LYNQ_COMMENT_FILE": str(comment)}
    return subprocess.run(["sh", "-c", command], cwd=repo, env=env, check=False).returncode


@pytest.mark.parametrize("example", [github, gitlab], ids=["github", "gitlab"])
def test_example_command_writes_the_pull_request_comment(
    example: Any, pull_request: Path, tmp_path: Path
) -> None:
    command, env = example()
    comment = tmp_path / "comment.md"
    assert run(command, env, pull_request, comment) == 0
    text = comment.read_text()
    assert text.startswith("<!-- lynq-bridge-diff -->\n### lynq-bridge diff: origin/main → HEAD")
    assert "**2 of 3 node(s) change, 0 added, 0 removed** in 1 hub(s)." in text
    assert "+          value: starter" in text and len(text) < 60_000


def test_the_comment_shows_the_error_when_the_diff_prints_nothing(
    pull_request: Path, tmp_path: Path
) -> None:
    comment = tmp_path / "comment.md"
    env = {"CONFIG_DIR": "config", "BASE_REF": "nope"}
    assert run(COMMAND, env, pull_request, comment) == 1
    text = comment.read_text()
    assert text.startswith("<!-- lynq-bridge-diff -->\n### lynq-bridge diff failed (exit 1)")
    assert "error: revision nope of " in text


def test_examples_call_the_script_as_it_documents() -> None:
    script = SCRIPT.read_text()
    assert "# Usage: sh ci/pr-comment.sh CONFIG_DIR BASE_REF [HEAD_REF]" in script
    (gh_command, gh_env), (gl_command, gl_env) = github(), gitlab()
    assert gh_command == gl_command == COMMAND
    assert gh_env["CONFIG_DIR"] == gl_env["CONFIG_DIR"] == "config"
    assert gh_env["BASE_REF"] == gl_env["BASE_REF"] == "origin/main"
    for name in ("GH_TOKEN", "PR_NUMBER"):  # what the script's GitHub branch reads
        assert name in gh_env and name in script
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    trigger = workflow.get("on") or workflow[True]  # YAML 1.1 reads the key on as true
    assert trigger["pull_request"]["paths"] == ["config/**"]
    assert workflow["permissions"]["pull-requests"] == "write"
    (checkout,) = [s for s in workflow["jobs"]["diff"]["steps"] if "checkout" in s.get("uses", "")]
    assert checkout["with"]["fetch-depth"] == 0
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["lynq-bridge-diff"]
    (rule,) = job["rules"]
    assert "merge_request_event" in rule["if"] and rule["changes"] == ["config/**/*"]
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert "GITLAB_TOKEN" in script and "CI_MERGE_REQUEST_IID" in script
