"""What each CLI command does, one function each, returning the exit code.

Kept apart from ``cli.py`` so that argument parsing stays free of behaviour, and apart from
``sync.py`` so that printing stays out of the sync pass.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from lynq_bridge.adapters.gitlocal import init_bare_remote, read_remote_log
from lynq_bridge.config.loading import Config, load_config
from lynq_bridge.errors import ConfigError
from lynq_bridge.sync import Compiled, HubResult, Syncer, render_directory

if TYPE_CHECKING:  # the reporter (and its Kubernetes client) loads only for `report`
    from lynq_bridge.reporter import ReportResult

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_HELD = 0, 1, 2, 3


def exit_code(results: Sequence[HubResult]) -> int:
    """1 if any hub failed or rendered with errors, else 3 if removals were held, else 0."""
    if any(r.failure or r.errors for r in results):
        return EXIT_FAILED
    if any(r.held for r in results):
        return EXIT_HELD
    return EXIT_OK


def _progress(done: int, total: int) -> None:
    end = "\n" if done == total else ""
    print(f"\rrendered {done}/{total} nodes", end=end, file=sys.stderr, flush=True)


def _summary(results: Sequence[HubResult]) -> None:
    for r in results:
        if r.failure:
            print(f"{r.hub}: FAILED: {r.failure}")
            continue
        if r.commit:
            state = f"commit {r.commit[:12]}"
        else:
            state = f"{r.written} file(s) written or removed" if r.written else "no change"
        print(
            f"{r.hub}: {state}; rows {r.rows}, nodes {r.nodes}, added {r.added}, "
            f"updated {r.updated}, removed {r.removed}, held {r.held}, errors {len(r.errors)}"
        )
        for error in r.errors:
            print(f"  error: {error}")
        if r.held:
            print(
                f"  DeletionGuardTriggered: {r.held} node removal(s) held; "
                "rerun with --allow-mass-delete if intended"
            )


def validate(config: Config) -> int:
    compiled = Compiled(config)  # raises ConfigError listing every problem
    for warning in compiled.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"config is valid: {len(config.hubs)} hub(s), {len(config.forms)} form(s), "
        f"{len(compiled.warnings)} warning(s)"
    )
    return EXIT_OK


def render(config: Config, out: Path, *, allow_mass_delete: bool) -> int:
    results = render_directory(config, out, allow_mass_delete=allow_mass_delete)
    _summary(results)
    return exit_code(results)


def sync_once(config: Config, *, allow_mass_delete: bool) -> int:
    syncer = Syncer(config, allow_mass_delete=allow_mass_delete)
    if sys.stderr.isatty():
        syncer.progress = _progress
    try:
        results = syncer.sync_all()
    finally:
        syncer.close()
    _summary(results)
    return exit_code(results)


def run(config: Config, *, allow_mass_delete: bool, listen: str) -> int:
    from lynq_bridge.daemon import run_daemon

    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f'--listen "{listen}" is not HOST:PORT')
    run_daemon(config, allow_mass_delete=allow_mass_delete, address=(host or "0.0.0.0", int(port)))
    return EXIT_OK


def report(config: Config, *, kubeconfig: str | None, namespace: str | None, watch: bool) -> int:
    """One reporter pass (or passes until SIGINT/SIGTERM with ``watch``)."""
    from lynq_bridge import reporter
    from lynq_bridge.adapters.secrets import password_lookup
    from lynq_bridge.adapters.statustable import StatusTables
    from lynq_bridge.statuscommits import git_log

    settings = config.bridge.spec.report
    kubeconfig = kubeconfig or settings.kubeconfig
    namespace = namespace or settings.namespace
    password = password_lookup(config.bridge.spec.secretsDir, settings.kubeconfig)
    tables = StatusTables(config.hubs, password, commits=git_log(config))  # closes password
    if watch:
        from lynq_bridge.daemon import stop_on_signals

        try:
            with stop_on_signals() as stop:
                reporter.watch(
                    kubeconfig=kubeconfig,
                    namespace=namespace,
                    interval_seconds=settings.interval_seconds,
                    stop=stop,
                    on_result=_print_report,
                    status_tables=tables,
                )
        finally:
            tables.close()
        return EXIT_OK
    try:
        result = reporter.report_once(
            kubeconfig=kubeconfig, namespace=namespace, status_tables=tables
        )
    finally:
        tables.close()
    _print_report(result)
    return EXIT_FAILED if result.errors else EXIT_OK


def _print_report(result: ReportResult) -> None:
    print(
        f"reported {result.nodes} LynqNode(s): {result.writes} status write(s), "
        f"{result.events} event(s), {result.requests} request(s), {result.errors} error(s) "
        f"in {result.seconds:.2f} s"
    )
    for message in result.messages:
        print(f"  error: {message}")


def diff(config_dir: Path, *, base: str, head: str | None, fmt: str = "text") -> int:
    """Print what merging ``head`` over ``base`` would change in Git, for the current rows:
    1 if a revision failed to render, else 3 if the deletion guard would hold removals."""
    from lynq_bridge.review import format_review, review_revisions

    review, results = review_revisions(config_dir, base=base, head=head)
    sys.stdout.write(format_review(review, fmt=fmt, base=base, head=head))
    for r in results:
        if r.failure:
            print(f"error: {r.hub}: {r.failure}", file=sys.stderr)
        for error in r.errors:
            print(f"error: {error}", file=sys.stderr)
    if any(r.failure or r.errors for r in results):
        return EXIT_FAILED
    return EXIT_HELD if review.held else EXIT_OK


def changes(config: Config, *, action: str, hub: str | None) -> int:
    """Print (``ddl``) or install (``install``, PostgreSQL only) what change detection needs."""
    from lynq_bridge.adapters import changesql
    from lynq_bridge.adapters.changes import install_postgres_trigger
    from lynq_bridge.adapters.secrets import password_lookup
    from lynq_bridge.core.paths import quote

    hubs = [h for h in config.hubs if hub in (None, f"{h.metadata.namespace}/{h.metadata.name}")]
    if not hubs:
        raise ConfigError(f"no hub {quote(hub or '')} in the config (give NAMESPACE/NAME)")
    spec = config.bridge.spec
    password = password_lookup(spec.secretsDir, spec.report.kubeconfig)
    for h in hubs:
        key, kind = f"{h.metadata.namespace}/{h.metadata.name}", h.spec.source.type
        print(f"-- hub {key} ({kind})")
        if kind == "postgresql" and action == "install":
            install_postgres_trigger(h, password)
            print(f"-- installed trigger {changesql.TRIGGER}; `run` LISTENs within 30 s")
        elif kind == "postgresql":
            sys.stdout.write(changesql.postgres_trigger_ddl(h))
        elif kind == "mysql":
            sys.stdout.write(changesql.mysql_setup_text(h))
            if action == "install":
                print("-- not run: a database administrator runs these")
        else:
            print("-- nothing needed: SQLite's PRAGMA data_version works as it is")
    return EXIT_OK


def status_table(config: Config, *, action: str, hub: str | None) -> int:
    """Print (``ddl``) or create (``install``) the ``spec.statusTable`` of each hub."""
    from lynq_bridge.adapters import statustable
    from lynq_bridge.adapters.secrets import password_lookup
    from lynq_bridge.core.paths import quote

    hubs = [
        h
        for h in config.hubs
        if hub in (None, statustable.hub_key(h)) and h.spec.statusTable is not None
    ]
    if not hubs:
        raise ConfigError(f"no hub {quote(hub or '')} with a statusTable in the config")
    if action != "install":
        for h in hubs:
            print(f"-- hub {statustable.hub_key(h)} ({h.spec.source.type})")
            sys.stdout.write(statustable.ddl(h))
        return EXIT_OK
    spec = config.bridge.spec
    password = password_lookup(spec.secretsDir, spec.report.kubeconfig)
    try:
        for h in hubs:
            print(f"-- hub {statustable.hub_key(h)} ({h.spec.source.type})")
            statustable.install(h, password)
            print(f"-- created {statustable.status_table(h).fullname} unless it existed")
    finally:
        close = getattr(password, "close", None)
        if close is not None:
            close()
    return EXIT_OK


def adopt(
    config: Config,
    *,
    kubeconfig: str | None,
    dry_run: bool,
    hubs: Sequence[str],
    field_manager: str | None,
    from_managers: Sequence[str],
) -> int:
    """Release a Lynq installation (docs/migrating-from-lynq.md); 1 if anything is left."""
    from lynq_bridge.adopt import engine_field_manager, run_adoption
    from lynq_bridge.core.adoption import LYNQ_FIELD_MANAGER, HandOver

    hand_over = HandOver(
        frozenset(from_managers or [LYNQ_FIELD_MANAGER]),
        engine_field_manager(config, field_manager),
    )
    result = run_adoption(
        config,
        kubeconfig=kubeconfig or config.bridge.spec.report.kubeconfig,
        hand_over=hand_over,
        dry_run=dry_run,
        hubs=hubs,
        show=lambda line: print(f"{'would patch' if dry_run else 'patch'} {line}"),
    )
    done = "" if dry_run else f", {result.patched} patched, {result.gone} found gone"
    print(
        f"adopt: {result.examined} Lynq object(s) examined, {len(result.planned)} patch(es) "
        f"planned{done} in {result.seconds:.2f} s ({result.requests} request(s))"
    )
    for patch in result.remaining:
        print(f"  still held by Lynq: {patch.describe()}")
    if result.remaining:
        print("error: Lynq's operator still runs (it re-added the above); scale it to zero")
        return EXIT_FAILED
    return EXIT_OK


def convert(paths: Sequence[Path], *, out: Path | None, check: bool) -> int:
    """Rewrite Lynq's Go-template forms to Jinja2 (``lynq_bridge.convert``)."""
    from lynq_bridge.convert import run

    return run(paths, out=out, check=check)


def rollout(config: Config, *, action: str, form: str | None) -> int:
    """``rollout status|resume``: see ``lynq_bridge.rollout_commands``."""
    from lynq_bridge.rollout_commands import resume_rollouts, rollout_status

    if action == "resume":
        for line in resume_rollouts(config, form=form):
            print(line)
        return EXIT_OK
    found = rollout_status(config, form=form)
    for item in found:
        print(item.line())
    if not found:
        print("no form sets spec.rollout.maxSkew > 0")
    return EXIT_OK


def crds() -> int:
    from lynq_bridge.crds import render_crds

    sys.stdout.write(render_crds())
    return EXIT_OK


def demo(directory: Path) -> int:
    """Create a SQLite database, a config and a bare Git remote in ``directory``; sync once."""
    directory.mkdir(parents=True, exist_ok=True)
    data = resources.files("lynq_bridge") / "demo_data"
    config_dir = directory / "config"
    config_dir.mkdir(exist_ok=True)
    for name in ("lynq-bridge.yaml", "tenants.yaml"):
        with resources.as_file(data / name) as source:
            shutil.copyfile(source, config_dir / name)
    database = directory / "tenants.db"
    if not database.exists():
        with sqlite3.connect(database) as connection:
            connection.executescript((data / "tenants.sql").read_text(encoding="utf-8"))
        connection.close()
    remote = directory / "gitops.git"
    init_bare_remote(remote)
    config = load_config(config_dir)
    code = sync_once(config, allow_mass_delete=False)
    print()
    print(read_remote_log(remote, config.bridge.spec.git.branch))
    print(f'Demo in {directory}/: edit {database} (e.g. sqlite3 {database} "UPDATE tenants SET')
    print("replicas = 5 WHERE tenant_id = 'acme'\") and run it again, or sync with:")
    print(f"  lynq-bridge sync --once --config {config_dir}")
    return code
