"""``scripts/local-cluster.sh`` works as the README says: ``up`` starts the whole loop, a row
INSERT into the printed table becomes a Ready tenant, ``down`` stops every process it started."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from controlplane import find_binaries
from e2e_bridge import eventually
from services import missing_service
from stack import find_e2e_binaries

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "local-cluster.sh"


def ours(directory: Path) -> list[str]:
    """Command lines of live processes that name ``directory`` or run inside it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (str(directory) in args or cwd.startswith(str(directory))):
            found.append(args)
    return found


def environment(env_file: Path) -> dict[str, str]:
    """The variables ``up`` wrote (``export NAME=value`` lines)."""
    pairs = (
        line.removeprefix("export ").split("=", 1) for line in env_file.read_text().split("\n")
    )
    return {name: value for name, value, *_ in (p for p in pairs if len(p) == 2)}


def test_up_runs_the_loop_and_down_stops_everything(tmp_path: Path) -> None:
    plane_bin, missing = find_binaries()
    e2e_bin, e2e_missing = find_e2e_binaries()
    if missing or e2e_missing:
        missing_service("the end-to-end stack", f"missing: {', '.join(missing + e2e_missing)}")
    directory = tmp_path / "local"
    del e2e_bin  # the script finds (or builds) the same cached programs itself
    up = subprocess.run(
        [str(SCRIPT), "up", str(directory)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        assert up.returncode == 0, up.stderr
        assert f". {directory}/env" in up.stdout  # the instructions it prints
        values = environment(directory / "env")
        with sqlite3.connect(values["LYNQ_FLUX_DB"]) as connection:
            connection.execute(
                "INSERT INTO tenants (tenant_id, active, plan) VALUES ('acme', 1, 'gold')"
            )
        connection.close()
        kubectl = [str(plane_bin / "kubectl"), "--kubeconfig", values["KUBECONFIG"]]

        def ready() -> bool:
            out = subprocess.run(
                [*kubectl, "get", "lynqnode", "acme-stack", "-n", "hub-flux", "-o", "json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            conditions = json.loads(out).get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        eventually("acme-stack Ready through the local cluster's Flux", ready, timeout=240)
        assert len(ours(directory)) >= 10  # the detector below sees the stack while it runs
    finally:
        down = subprocess.run(
            [str(SCRIPT), "down", str(directory)],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert down.returncode == 0, down.stderr
    assert not directory.exists()
    assert ours(directory) == []
