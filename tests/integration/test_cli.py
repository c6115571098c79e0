"""The command line as a person uses it: the demo, exit codes, progress on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path


def test_sync_prints_progress_only_on_a_terminal(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    command = [sys.executable, "-m", "lynq_bridge", "demo", "--dir", str(directory)]
    piped = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "rendered" not in piped.stderr
    (directory / "gitops.git").rename(tmp_path / "old.git")  # next run commits again
    leader, follower = pty.openpty()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, check=True)
    os.close(follower)
    output = os.read(leader, 65536).decode()
    os.close(leader)
    assert done.returncode == 0
    assert "rendered 3/3 nodes" in output


def test_demo_runs_twice_and_the_second_run_changes_nothing(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "lynq_bridge", "demo", "--dir", str(tmp_path / "d")]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "default/tenants: commit" in first.stdout
    assert "Lynq-Nodes-Added: acme-web, globex-web, umbrella-web" in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "default/tenants: no change; rows 4, nodes 3" in second.stdout


def test_bad_config_exits_2_with_one_line_per_problem_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "x.yaml").write_text(
        "apiVersion: bridge.lynq.sh/v1alpha1\nkind: BridgeConfig\n"
        "metadata: {name: x}\nspec: {git: {url: r}, colour: red}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "lynq_bridge", "sync", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "x.yaml, document 1 (BridgeConfig x): spec.colour: unknown field" in done.stderr
    assert "Traceback" not in done.stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lynq_bridge", "sync", "--config", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2


def test_log_json_writes_one_json_object_per_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lynq_bridge", "--log-json", "demo", "--dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=True,
    )
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    synced = [r for r in records if r["message"].startswith("synced hub default/tenants")]
    assert len(synced) == 1
    assert synced[0]["level"] == "info" and synced[0]["hub"] == "default/tenants"
    assert len(synced[0]["commit"]) == 40
