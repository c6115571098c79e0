"""The ``lynq-bridge`` command line: parse arguments, load config, call one function.

Exit codes (SPEC §10): 0 success; 1 runtime failure or some rows/resources failed to render
(everything else was still written); 2 invalid configuration or usage; 3 the deletion guard
held removals. Errors are one sentence each; a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from lynq_bridge import __version__, commands
from lynq_bridge.commands import EXIT_CONFIG, EXIT_FAILED
from lynq_bridge.config.loading import load_config
from lynq_bridge.errors import BridgeError, ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lynq-bridge",
        description="RecordOps through GitOps: render SQL rows into a Git repository.",
    )
    parser.add_argument("--version", action="version", version=f"lynq-bridge {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, *, config: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        if config:
            p.add_argument("--config", required=True, type=Path, help="config directory")
        return p

    demo = command("demo", "create a SQLite demo with a local Git remote and sync it", config=False)
    demo.add_argument(
        "--dir", type=Path, default=Path("lynq-demo"), help="where (default ./lynq-demo)"
    )
    command("validate", "check every config document; exit 0 or 2 listing all problems")
    render = command("render", "write the tree a sync would commit under git.path, without Git")
    render.add_argument("--out", required=True, type=Path, help="directory playing git.path")
    render.add_argument("--allow-mass-delete", action="store_true", help="override the guard")
    sync = command("sync", "sync every hub once: read, render, commit, push")
    sync.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    sync.add_argument("--allow-mass-delete", action="store_true", help="override the guard")
    run = command("run", "the daemon: sync each hub on its syncInterval until SIGTERM")
    run.add_argument("--allow-mass-delete", action="store_true", help="override the guard")
    run.add_argument(
        "--listen",
        default="0.0.0.0:8080",
        help="address of /healthz, /readyz and /metrics (default 0.0.0.0:8080)",
    )
    report = command("report", "one status-reporter pass over the LynqNodes in the cluster")
    report.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, ~/.kube/config)"
    )
    report.add_argument("--namespace", help="only LynqNodes of this namespace")
    report.add_argument("--watch", action="store_true", help="keep following the cluster (watches)")
    diff = command("diff", "render two revisions of the config against the current rows")
    diff.add_argument("--base", required=True, help="Git revision of the config (e.g. main)")
    diff.add_argument("--head", help="Git revision to compare (default: the working tree)")
    diff.add_argument(
        "--format",
        choices=["text", "markdown", "json"],
        default="text",
        help="text (default), markdown (a pull-request comment) or json; exit 3 when the "
        "deletion guard would hold removals after the merge",
    )
    status_table = command("status-table", "print (ddl) or create (install) the status tables")
    status_table.add_argument("action", choices=["ddl", "install"], help="print, or create")
    status_table.add_argument("--hub", metavar="NAMESPACE/NAME", help="only this hub")
    history = command("history", "list the commits that changed a tenant's nodes, from Git")
    who = history.add_mutually_exclusive_group()
    who.add_argument("--uid", help="every node of this uid")
    who.add_argument("--node", help="this node ({uid}-{form})")
    history.add_argument("--hub", metavar="NAMESPACE/NAME", help="only this hub")
    history.add_argument("--since", metavar="DATE", help="from this ISO 8601 date or time on")
    history.add_argument("--format", choices=["text", "json"], default="text", dest="output")
    history.add_argument("--show", metavar="COMMIT", help="print that commit's node changes")
    rollout = command("rollout", "show or resume the progressive rollouts of forms (maxSkew)")
    rollout.add_argument("action", choices=["status", "resume"], help="show, or clear a halt")
    rollout.add_argument("--form", metavar="NAMESPACE/NAME", help="only this form")
    command("crds", "print the CustomResourceDefinitions", config=False)
    changes = command("changes", "print (ddl) or install what change detection needs per hub")
    changes.add_argument("action", choices=["ddl", "install"], help="print, or run on PostgreSQL")
    changes.add_argument("--hub", metavar="NAMESPACE/NAME", help="only this hub")
    convert = command("convert", "rewrite Lynq's Go-template forms to Jinja2", config=False)
    convert.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="YAML file or dir")
    where = convert.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="write here (same relative names), not in place")
    where.add_argument("--check", action="store_true", help="write nothing; 1 if one would change")
    adopt = command("adopt", "release a running Lynq installation's objects to Flux or Argo CD")
    adopt.add_argument("--kubeconfig", help="kubeconfig file (default: report.kubeconfig, ~/.kube)")
    adopt.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    adopt.add_argument("--hub", action="append", metavar="NAMESPACE/NAME", help="only these hubs")
    adopt.add_argument("--field-manager", help="the engine's field manager (default: from target)")
    adopt.add_argument(
        "--from-field-manager",
        action="append",
        metavar="NAME",
        help="a manager whose fields to hand over (default: lynq-operator; repeatable)",
    )
    return parser


def _setup_logging(debug: bool, json_lines: bool) -> None:
    from lynq_bridge.logs import configure

    configure(level=logging.DEBUG if debug else logging.INFO, json_lines=json_lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    _setup_logging(args.debug, args.log_json)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        _print_problems(str(exc))
        return EXIT_CONFIG
    except BridgeError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _print_problems(text: str) -> None:
    lines = text.splitlines()
    if len(lines) == 1:
        print(f"error: {lines[0]}", file=sys.stderr)
        return
    print(f"error: {len(lines)} configuration problems:", file=sys.stderr)
    for line in lines:
        print(f"  - {line}", file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return commands.demo(args.dir)
    if args.command == "crds":
        return commands.crds()
    if args.command == "convert":
        return commands.convert(args.paths, out=args.out, check=args.check)
    if args.command == "diff":
        return commands.diff(args.config, base=args.base, head=args.head, fmt=args.format)
    config = load_config(args.config)
    if args.command == "history":
        from lynq_bridge.history import run as history

        return history(
            config,
            uid=args.uid,
            node=args.node,
            hub=args.hub,
            since=args.since,
            output=args.output,
            show_commit=args.show,
        )
    if args.command == "validate":
        return commands.validate(config)
    if args.command == "rollout":
        return commands.rollout(config, action=args.action, form=args.form)
    if args.command == "render":
        return commands.render(config, args.out, allow_mass_delete=args.allow_mass_delete)
    if args.command == "sync":
        return commands.sync_once(config, allow_mass_delete=args.allow_mass_delete)
    if args.command == "status-table":
        return commands.status_table(config, action=args.action, hub=args.hub)
    if args.command == "report":
        return commands.report(
            config, kubeconfig=args.kubeconfig, namespace=args.namespace, watch=args.watch
        )
    if args.command == "changes":
        return commands.changes(config, action=args.action, hub=args.hub)
    if args.command == "adopt":
        return commands.adopt(
            config,
            kubeconfig=args.kubeconfig,
            dry_run=args.dry_run,
            hubs=args.hub or [],
            field_manager=args.field_manager,
            from_managers=args.from_field_manager or [],
        )
    if args.command == "run":
        return commands.run(config, allow_mass_delete=args.allow_mass_delete, listen=args.listen)
    raise ConfigError(f"unknown command {args.command}")
