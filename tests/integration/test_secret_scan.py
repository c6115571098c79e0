"""Secret scan: credentials in every supported place reach the remote and nothing else.

The remote is a real smart-HTTP Git server on loopback (``git http-backend`` behind HTTP basic
authentication), so the credentials are really used: a right one pushes, a wrong one fails. The
bridge runs as a subprocess (text and JSON logs, ``--debug``, the daemon with ``/metrics``), with
a ``git`` on ``PATH`` that records every argv, and a global Git config whose credential helper
would store whatever it is given. Afterwards no secret may appear in the remote's history, any
file of the work dir, any output, ``/metrics``, any git argv or the stored credentials.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from bridge_harness import Bridge, SqliteDatabase, free_port, get
from git_http_server import GitHTTPServer

from lynq_bridge.adapters.gitstore import GitStore
from lynq_bridge.adapters.secrets import SecretsDirectory
from lynq_bridge.config.models import GitSettings
from lynq_bridge.errors import GitUnavailable


def wait_for(predicate: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def new_secret(what: str) -> str:
    return f"lynq{what}{secrets.token_hex(12)}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitHTTPServer]:
    http = GitHTTPServer(tmp_path, set())
    yield http
    http.close()


@pytest.fixture
def git_spy(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose ``git`` records its argv, and whose global Git config has a
    credential helper that stores every credential it is given (as a user's might)."""
    spy = tmp_path / "spy"
    spy.mkdir()
    argv_log = spy / "argv.log"
    real_git = shutil.which("git")
    assert real_git is not None
    wrapper = spy / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{argv_log}"\nexec {real_git} "$@"\n')
    wrapper.chmod(0o755)
    stored = spy / "stored-credentials"
    global_config = spy / "gitconfig"
    global_config.write_text(f"[credential]\n\thelper = store --file={stored}\n")
    env = {
        **os.environ,
        "PATH": f"{spy}{os.pathsep}{os.environ['PATH']}",
        "GIT_CONFIG_GLOBAL": str(global_config),
    }
    return env, spy


CLI = (sys.executable, "-m", "lynq_bridge")


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tenants(bridge: Bridge) -> list[str]:
    return [node for node in bridge.nodes() if node != "argocd"]


def set_git(bridge: Bridge, **git: Any) -> None:
    document = bridge.load_config_document("lynq-bridge.yaml")
    document["spec"]["git"] = {
        k: v for k, v in {**document["spec"]["git"], **git}.items() if v is not None
    }
    bridge.write("lynq-bridge.yaml", document)


def leaks(secret_values: list[str], where: dict[str, bytes]) -> list[str]:
    """Every (place, form of a secret) where a secret shows, in any encoding we can think of."""
    forms: list[str] = []
    for value in secret_values:
        forms += [value, quote(value, safe=""), base64.b64encode(value.encode()).decode()]
    return sorted(
        f"{place}: {form}"
        for place, data in where.items()
        for form in forms
        if form.encode() in data
    )


def work_files(*roots: Path) -> dict[str, bytes]:
    return {
        str(path): path.read_bytes()
        for root in roots
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_credentials_in_every_supported_place_never_leak(
    tmp_path: Path,
    sqlite_database: Path,
    create_tenants: Any,
    server: GitHTTPServer,
    git_spy: tuple[dict[str, str], Path],
) -> None:
    env, spy = git_spy
    token_as_user = new_secret("user")
    password = new_secret("pw") + "@/:%"  # needs percent-encoding in a URL
    file_token = new_secret("file")
    wrong_token = new_secret("wrong")
    wrong_file_token = new_secret("wrongfile")
    server.accounts |= {(token_as_user, ""), ("bot", password), ("x-access-token", file_token)}
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": "acme", "active": "1"}])
    bridge = Bridge(tmp_path, db, bridge_spec={"target": "argocd"})
    secret_file = tmp_path / "secrets" / "git" / "token"
    secret_file.parent.mkdir(parents=True)
    outputs: dict[str, bytes] = {}

    def sync(name: str, *options: str) -> subprocess.CompletedProcess[str]:
        done = run_cli(env, *options, "sync", "--once", "--config", str(bridge.config))
        outputs[f"{name} stdout"] = done.stdout.encode()
        outputs[f"{name} stderr"] = done.stderr.encode()
        return done

    def add(uid: str) -> None:
        db.execute(f"INSERT INTO tenants (tenant_id, active) VALUES ('{uid}', '1')")

    # 1. A token as the user name of git.url; validate warns, masked.
    set_git(bridge, url=server.url("remote.git", token_as_user))
    validated = run_cli(env, "validate", "--config", str(bridge.config))
    outputs["validate stdout"] = validated.stdout.encode()
    outputs["validate stderr"] = validated.stderr.encode()
    assert validated.returncode == 0, validated.stderr
    assert "name it with git.credentialsRef" in validated.stderr
    assert f'git.url "{server.url("remote.git", "***")}" carries credentials' in validated.stderr
    assert "argo cd the credentials in a repository secret" in validated.stderr.lower()
    assert sync("token-as-user").returncode == 0, outputs["token-as-user stderr"]
    assert tenants(bridge) == ["acme-web"]

    # 2. User and percent-encoded password in git.url, JSON logs.
    add("beta")
    set_git(bridge, url=server.url("remote.git", f"bot:{quote(password, safe='')}"))
    assert sync("user-password", "--log-json").returncode == 0, outputs["user-password stderr"]
    assert tenants(bridge) == ["acme-web", "beta-web"]

    # 3. A clean git.url and the token in a file named by credentialsRef, debug logs.
    add("gamma")
    secret_file.write_text(file_token + "\n")
    set_git(bridge, url=server.url("remote.git"), credentialsRef={"name": "git", "key": "token"})
    assert sync("credentials-ref", "--debug").returncode == 0, outputs["credentials-ref stderr"]
    assert tenants(bridge) == ["acme-web", "beta-web", "gamma-web"]

    # 4. Wrong credentials fail with one masked sentence, in both log formats.
    add("delta")
    head = bridge.head()
    secret_file.write_text(wrong_file_token)
    failed = sync("wrong-file-token", "--log-json")
    assert failed.returncode != 0
    set_git(bridge, url=server.url("remote.git", wrong_token), credentialsRef=None)
    failed = sync("wrong-token", "--debug")
    assert failed.returncode != 0
    assert bridge.head() == head
    (error,) = [line for line in failed.stderr.splitlines() if line.startswith("ERROR")]
    assert error.startswith(
        f"ERROR sync of hub default/tenants failed: git ls-remote failed for "
        f"{server.url('remote.git', '***')}: fatal: Authentication failed for "
    )

    # 5. The daemon with user and password in git.url: logs and /metrics.
    set_git(bridge, url=server.url("remote.git", f"bot:{quote(password, safe='')}"))
    port = free_port()
    daemon = subprocess.Popen(
        [
            *CLI,
            "--log-json",
            "run",
            "--config",
            str(bridge.config),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: "lynq_bridge_commits_total" in get(f"http://127.0.0.1:{port}/metrics")[1])
        wait_for(lambda: tenants(bridge) == ["acme-web", "beta-web", "delta-web", "gamma-web"])
        outputs["metrics"] = get(f"http://127.0.0.1:{port}/metrics")[1].encode()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
        outputs["daemon stdout"], outputs["daemon stderr"] = daemon.communicate()

    # Every credential was really used, and a wrong one really refused.
    users = {user for user, accepted in server.logins if accepted}
    assert users == {token_as_user, "bot", "x-access-token"}
    assert {user for user, accepted in server.logins if not accepted} == {
        wrong_token,
        "x-access-token",
    }
    history = subprocess.run(
        ["git", "--git-dir", str(bridge.remote), "log", "-p", "--all", "--format=fuller"],
        capture_output=True,
        check=True,
    ).stdout
    assert b"repoURL: " + server.url("remote.git").encode() in history
    work = tmp_path / "work"
    mirror_files = {path.name for path in work.rglob("*") if path.is_file()}
    assert {"config", "FETCH_HEAD"} <= mirror_files  # the files that once held the URL
    places = {
        "git log -p --all of the remote": history,
        **outputs,
        **work_files(work),
        "git argv": (spy / "argv.log").read_bytes(),
    }
    stored = spy / "stored-credentials"
    if stored.exists():
        places["stored credentials"] = stored.read_bytes()
    secret_values = [token_as_user, password, file_token, wrong_token, wrong_file_token]
    assert leaks(secret_values, places) == []


def test_rotating_the_token_in_git_url_changes_no_revision_and_makes_no_commit(
    tmp_path: Path,
    sqlite_database: Path,
    create_tenants: Any,
    server: GitHTTPServer,
    git_spy: tuple[dict[str, str], Path],
) -> None:
    env, _ = git_spy
    old, new = new_secret("old"), new_secret("new")
    server.accounts |= {(old, ""), (new, "")}
    db = SqliteDatabase(sqlite_database)
    create_tenants(db, [{"tenant_id": "acme", "active": "1"}])
    bridge = Bridge(tmp_path, db, bridge_spec={"target": "argocd"})
    set_git(bridge, url=server.url("remote.git", old))
    assert run_cli(env, "sync", "--once", "--config", str(bridge.config)).returncode == 0
    commits = bridge.commits()
    set_git(bridge, url=server.url("remote.git", new))
    done = run_cli(env, "sync", "--once", "--config", str(bridge.config))
    assert done.returncode == 0, done.stderr
    assert bridge.commits() == commits
    assert (new, True) in server.logins
    # The revision the output depends on names the repository, not its credentials.
    revision = trailer(bridge.message(), "Lynq-Form-Revision")
    db.execute("INSERT INTO tenants (tenant_id, active) VALUES ('beta', '1')")
    done = run_cli(env, "sync", "--once", "--config", str(bridge.config))
    assert done.returncode == 0, done.stderr
    assert bridge.commits() == commits + 1
    assert trailer(bridge.message(), "Lynq-Form-Revision") == revision


def trailer(message: str, key: str) -> str:
    (value,) = [line.split(": ", 1)[1] for line in message.splitlines() if line.startswith(key)]
    return value


def git_store(tmp_path: Path, url: str, **settings: Any) -> GitStore:
    return GitStore(
        GitSettings(url=url, **settings),
        tmp_path / "mirror",
        secrets=SecretsDirectory(str(tmp_path / "secrets")),
    )


def test_credential_with_a_line_break_is_refused_before_git_sees_it(
    tmp_path: Path, server: GitHTTPServer
) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "remote.git")], check=True)
    token = new_secret("token")
    server.accounts.add(("x-access-token", token))
    (tmp_path / "secrets" / "git").mkdir(parents=True)
    (tmp_path / "secrets" / "git" / "token").write_text(f"{token}\nusername=root")
    store = git_store(
        tmp_path, server.url("remote.git"), credentialsRef={"name": "git", "key": "token"}
    )
    store.open()
    try:
        with pytest.raises(GitUnavailable, match=r"contain a line break or NUL") as caught:
            store.fetch_head()
    finally:
        store.close()
    assert token not in str(caught.value)
    assert server.logins == []


def test_missing_credentials_file_is_one_sentence_naming_the_reference(
    tmp_path: Path, server: GitHTTPServer
) -> None:
    store = git_store(
        tmp_path, server.url("remote.git"), credentialsRef={"name": "git", "key": "token"}
    )
    store.open()
    try:
        with pytest.raises(GitUnavailable) as caught:
            store.fetch_head()
    finally:
        store.close()
    message = str(caught.value)
    assert message.startswith(f"git credentials of {server.url('remote.git')} cannot be read: ")
    assert "git/token not found" in message and "\n" not in message


@pytest.mark.parametrize("backend", ["mysql_database", "postgres_database"])
def test_database_password_never_leaks(
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    create_tenants: Any,
    git_spy: tuple[dict[str, str], Path],
) -> None:
    env, _ = git_spy
    database = request.getfixturevalue(backend)
    create_tenants(database, [{"tenant_id": "acme", "active": "1"}])
    bridge = Bridge(tmp_path, database)
    outputs: dict[str, bytes] = {}
    wrong = new_secret("dbwrong")
    for name, options in [("text", ()), ("json", ("--log-json",)), ("debug", ("--debug",))]:
        done = run_cli(env, *options, "sync", "--once", "--config", str(bridge.config))
        assert done.returncode == 0, done.stderr
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = (
            done.stdout.encode(),
            done.stderr.encode(),
        )
    (tmp_path / "secrets" / "db" / "password").write_text(wrong)
    for name, options in [("text", ()), ("json", ("--log-json",)), ("debug", ("--debug",))]:
        done = run_cli(env, *options, "sync", "--once", "--config", str(bridge.config))
        assert done.returncode != 0
        assert "***" in done.stderr
        outputs[f"wrong {name} stdout"], outputs[f"wrong {name} stderr"] = (
            done.stdout.encode(),
            done.stderr.encode(),
        )
    history = subprocess.run(
        ["git", "--git-dir", str(bridge.remote), "log", "-p", "--all"],
        capture_output=True,
        check=True,
    ).stdout
    places = {"history": history, **outputs, **work_files(tmp_path / "work")}
    assert bridge.nodes() == ["acme-web"]
    assert leaks([database.password, wrong], places) == []
