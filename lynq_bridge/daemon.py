"""``lynq-bridge run``: sync each hub on its ``syncInterval``, serve health and metrics.

Scheduling uses the ``schedule`` package with a private scheduler. SIGTERM and SIGINT set a
stop flag; the current hub sync finishes and the loop exits cleanly. A failing hub is logged
and retried at its next interval; it never stops the daemon or the other hubs. An address that
cannot be listened on is one sentence: a port out of range or a host that does not resolve is
a usage error (exit 2), a busy or forbidden port a runtime failure (exit 1).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import schedule
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lynq_bridge import reporter
from lynq_bridge.adapters.cluster import ClusterClient
from lynq_bridge.config.loading import Config
from lynq_bridge.config.models import LynqHub
from lynq_bridge.errors import ClusterUnavailable, ConfigError, TemporaryError
from lynq_bridge.hubstatus import write_hub_conditions
from lynq_bridge.metrics import Metrics
from lynq_bridge.sync import Syncer

log = logging.getLogger("lynq_bridge.daemon")


class Daemon:
    def __init__(self, config: Config, *, allow_mass_delete: bool = False) -> None:
        self.syncer = Syncer(config, allow_mass_delete=allow_mass_delete)
        self.metrics = Metrics()
        self.stop = threading.Event()
        self.scheduler = schedule.Scheduler()
        self.ready = False
        self.cluster: ClusterClient | None = None
        self.last_tick = time.monotonic()
        self.max_interval = (
            max(h.spec.source.interval_seconds for h in config.hubs) if config.hubs else 60
        )

    def _sync(self, hub: LynqHub) -> None:
        if self.stop.is_set():
            return
        result = self.syncer.sync_hub(hub)
        self.metrics.observe(result)
        client = self._cluster()
        if client is not None:
            write_hub_conditions(client, result)

    def _cluster(self) -> ClusterClient | None:
        """The cluster connection for hub conditions, when the bridge has cluster access."""
        settings = self.syncer.compiled.config.bridge.spec.report
        if not settings.enabled:
            return None
        if self.cluster is None:
            try:
                self.cluster = ClusterClient(settings.kubeconfig)
            except ClusterUnavailable as exc:
                log.warning("no cluster access for LynqHub conditions: %s", exc)
        return self.cluster

    def healthy(self) -> bool:
        """The loop is turning (a hung database or Git call shows up here)."""
        return time.monotonic() - self.last_tick < 3 * self.max_interval + 60

    def run(self) -> None:
        hubs = self.syncer.compiled.config.hubs
        for hub in hubs:
            self.scheduler.every(hub.spec.source.interval_seconds).seconds.do(self._sync, hub)
        for hub in hubs:  # first pass right away, then on each interval
            self._sync(hub)
        self.ready = True
        while not self.stop.is_set():
            self.last_tick = time.monotonic()
            self.scheduler.run_pending()
            idle = self.scheduler.idle_seconds
            self.stop.wait(min(max(idle or 1.0, 0.05), 1.0))
        log.info("stopping: current step finished")

    def close(self) -> None:
        self.syncer.close()
        if self.cluster is not None:
            self.cluster.close()


def serve(daemon: Daemon, address: tuple[str, int]) -> ThreadingHTTPServer:
    """Start /healthz, /readyz and /metrics in a background thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, kind = (
                    generate_latest(daemon.metrics.registry),
                    200,
                    CONTENT_TYPE_LATEST,
                )
            elif self.path == "/healthz":
                ok = daemon.healthy()
                body, status, kind = (
                    (b"ok\n" if ok else b"stalled\n"),
                    200 if ok else 503,
                    "text/plain",
                )
            elif self.path == "/readyz":
                ok = daemon.ready
                body, status, kind = (
                    (b"ok\n" if ok else b"starting\n"),
                    200 if ok else 503,
                    "text/plain",
                )
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    server = listen(address, Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="endpoints").start()
    return server


def listen(address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A server bound to ``address``; a bind failure is one sentence, never a traceback."""
    host, port = address
    shown = f"{host}:{port}"
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen {shown}: the port must be between 0 and 65535")
    try:
        return ThreadingHTTPServer(address, handler)
    except socket.gaierror as exc:
        raise ConfigError(f"--listen {shown}: host {host} is unknown ({exc.strerror})") from exc
    except (OSError, OverflowError) as exc:
        cause = getattr(exc, "strerror", None) or str(exc)
        raise TemporaryError(f"cannot listen on {shown} for the endpoints: {cause}") from exc


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while the block runs (handlers restored after)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s; finishing the current step", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_daemon(config: Config, *, allow_mass_delete: bool, address: tuple[str, int]) -> None:
    """Sync (and, when ``spec.report.enabled``, report status) until SIGTERM/SIGINT."""
    daemon = Daemon(config, allow_mass_delete=allow_mass_delete)
    settings = config.bridge.spec.report
    with stop_on_signals() as stop:
        daemon.stop = stop
        try:
            server = serve(daemon, address)
        except BaseException:
            daemon.close()
            raise
        status = None
        if settings.enabled:
            status = threading.Thread(
                target=reporter.watch,
                name="reporter",
                kwargs={
                    "kubeconfig": settings.kubeconfig,
                    "namespace": settings.namespace,
                    "interval_seconds": settings.interval_seconds,
                    "stop": stop,
                    "on_result": daemon.metrics.observe_report,
                },
            )
            status.start()
        try:
            daemon.run()
        finally:
            stop.set()
            if status is not None:
                status.join()
            server.shutdown()
            daemon.close()
