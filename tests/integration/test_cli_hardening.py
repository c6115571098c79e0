"""Command-line and sync behaviour of issue 7, class 10: a listener that cannot bind is one
sentence, and a row change that alters no manifest makes no commit."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from bridge_harness import Bridge, SqliteDatabase, hub_document


@pytest.fixture
def bridge(tmp_path: Path) -> Bridge:
    """A SQLite hub whose table has a ``note`` column mapped to a variable no template uses."""
    db = SqliteDatabase(tmp_path / "tenants.db")
    db.execute(
        "CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, active TEXT, domain TEXT, plan TEXT, "
        "replicas INTEGER, note TEXT)",
        "INSERT INTO tenants VALUES ('acme', '1', 'acme.example.com', 'pro', 2, 'first')",
        "INSERT INTO tenants VALUES ('beta', '1', '', 'basic', 1, 'first')",
    )
    bridge = Bridge(tmp_path, db)
    hub = hub_document(db, tmp_path)
    hub["spec"]["extraValueMappings"]["note"] = "note"
    bridge.write("hub.yaml", hub)
    return bridge


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_run_on_a_busy_port_is_one_sentence_and_exit_1(
    bridge: Bridge, busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bridge.cli("run", "--listen", f"127.0.0.1:{busy_port}") == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: cannot listen on 127.0.0.1:{busy_port} for the endpoints: Address already in use\n"
    )


@pytest.mark.parametrize("port", ["65536", "99999999999999999999"])
def test_run_on_a_port_out_of_range_is_one_sentence_and_exit_2(
    bridge: Bridge, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bridge.cli("run", "--listen", f"127.0.0.1:{port}") == 2
    err = capsys.readouterr().err
    assert err == f"error: --listen 127.0.0.1:{port}: the port must be between 0 and 65535\n"


def test_a_row_change_that_alters_no_manifest_makes_no_commit(bridge: Bridge) -> None:
    assert bridge.sync() == 0
    head, files = bridge.head(), bridge.files()
    assert "lynq/default/tenants/.lynq-inputs" in files
    bridge_db = SqliteDatabase(bridge.root / "tenants.db")
    bridge_db.execute("UPDATE tenants SET note = 'second' WHERE tenant_id = 'acme'")
    assert bridge.sync() == 0
    assert bridge.head() == head  # the index is stale now: nothing else would change
    assert bridge.sync() == 0  # a fresh process re-renders acme from the stale index: same
    assert bridge.head() == head
    bridge_db.execute("UPDATE tenants SET plan = 'enterprise' WHERE tenant_id = 'acme'")
    assert bridge.sync() == 0
    assert bridge.commits() == 2
    assert "value: enterprise" in bridge.show(
        "lynq/default/tenants/acme-web/deployment_default_acme-app.yaml"
    )


def test_run_on_an_unknown_host_is_one_sentence_and_exit_2(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bridge.cli("run", "--listen", "no-such-host.invalid:8080") == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: --listen no-such-host.invalid:8080: host no-such-host.invalid is unknown ("
    )
    assert err.count("\n") == 1
