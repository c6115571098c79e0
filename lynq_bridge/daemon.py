"""``lynq-bridge run``: sync each hub when its rows change and on its ``syncInterval``.

Each hub has a change feed (adapters/changes.py) in its own thread; a reported change wakes the
loop, which syncs the hub at once, and once more right after if changes arrived meanwhile.
``syncInterval`` stays the period of a full resync. Hubs sync one at a time in the main thread
(the Git mirror is not thread-safe); core/scheduling.py picks which. SIGTERM and SIGINT set a
stop flag; the current hub sync finishes and the loop exits cleanly. A failing hub is logged
and retried at its next interval; it never stops the daemon or the other hubs. An address that
cannot be listened on is one sentence: a port out of range or a host that does not resolve is
a usage error (exit 2), a busy or forbidden port a runtime failure (exit 1).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from lynq_bridge import leases, reporter
from lynq_bridge.adapters.changes import ChangeFeeds
from lynq_bridge.adapters.cluster import ClusterClient
from lynq_bridge.adapters.secrets import password_lookup
from lynq_bridge.adapters.statustable import StatusTables
from lynq_bridge.config.loading import Config
from lynq_bridge.config.models import LynqHub
from lynq_bridge.core.leasing import REPORTER
from lynq_bridge.core.scheduling import HubClock, plan_next_sync
from lynq_bridge.errors import ClusterUnavailable, ConfigError, TemporaryError
from lynq_bridge.hubstatus import write_hub_conditions
from lynq_bridge.leases import LeaseKeeper
from lynq_bridge.metrics import Metrics, forgetting_readiness
from lynq_bridge.statuscommits import git_log, record_sync
from lynq_bridge.sync import Syncer, hub_key

log = logging.getLogger("lynq_bridge.daemon")


class Daemon:
    def __init__(self, config: Config, *, allow_mass_delete: bool = False) -> None:
        self.syncer = Syncer(config, allow_mass_delete=allow_mass_delete)
        self.metrics = Metrics()
        self.stop = threading.Event()
        self.ready = False
        self.changed: set[str] = set()  # hubs whose feed reported a change not yet synced
        self.changed_lock = threading.Lock()
        self.wake = threading.Event()  # set by a feed thread; the loop re-decides at once
        self.last_sync: dict[str, float] = {}  # hub key -> monotonic end of its last sync
        self.cluster: ClusterClient | None = None
        self.last_tick = time.monotonic()
        self.max_interval = (
            max(h.spec.source.interval_seconds for h in config.hubs) if config.hubs else 60
        )

    # Several replicas (spec.leaderElection): set by run_daemon; None syncs every hub.
    leases: LeaseKeeper | None = None
    # The reporter's status tables (spec.statusTable), told each commit's nodes; set by run_daemon.
    status_tables: StatusTables | None = None

    def _sync(self, hub: LynqHub) -> None:
        if self.stop.is_set():
            return
        if self.leases is None:
            result = self.syncer.sync_hub(hub)
        else:
            key = hub_key(hub)
            if not self.leases.holds(key):
                self.metrics.forget_hub(key)  # the holder exports the hub's gauges
                return  # another replica holds the hub's Lease, or nobody yet
            with self.leases.syncing(key):
                result = self.syncer.sync_hub(hub)
            if not self.leases.holds(key):
                # Lost during the sync (nothing was pushed after that): the new holder reports.
                log.info("hub %s moved to another replica during its sync", key)
                self.metrics.forget_hub(key)
                return
        self.metrics.observe(result)
        if self.status_tables and result.commit:
            record_sync(self.status_tables, self.syncer, hub, result)
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

    def on_change(self, key: str) -> None:
        """Called from a feed thread: sync hub ``key`` as soon as the current sync ends."""
        with self.changed_lock:
            self.changed.add(key)
        self.wake.set()

    def run(self) -> None:
        config = self.syncer.compiled.config
        hubs = {hub_key(h): h for h in config.hubs}
        spec = config.bridge.spec
        password = password_lookup(spec.secretsDir, spec.report.kubeconfig)
        feeds = ChangeFeeds(
            list(hubs.values()),
            password=password,
            mode=spec.changeDetection,
            on_change=self.on_change,
        )
        feeds.start()  # before the first pass, so a change during it is not missed
        try:
            while not self.stop.is_set():
                self.last_tick = time.monotonic()
                self.wake.clear()  # before reading `changed`: a later change sets it again
                with self.changed_lock:
                    changed = set(self.changed)
                clocks = [
                    HubClock(
                        key, h.spec.source.interval_seconds, self.last_sync.get(key), key in changed
                    )
                    for key, h in hubs.items()
                ]
                decision = plan_next_sync(clocks, now=time.monotonic())
                if decision.hub is None:
                    # Short waits: the stop flag is another Event, set by a signal handler.
                    self.wake.wait(min(decision.wait_seconds, 0.25))
                    continue
                with self.changed_lock:
                    self.changed.discard(decision.hub)  # changes from now on sync again
                self._sync(hubs[decision.hub])
                self.last_sync[decision.hub] = time.monotonic()
                self.ready = self.ready or self.last_sync.keys() >= hubs.keys()
        finally:
            feeds.close()
            close = getattr(password, "close", None)
            if close is not None:
                close()
        log.info("stopping: current step finished")

    def close(self) -> None:
        self.syncer.close()
        if self.cluster is not None:
            self.cluster.close()
        if self.status_tables is not None:
            self.status_tables.close()


def serve(daemon: Daemon, address: tuple[str, int]) -> ThreadingHTTPServer:
    """Start /healthz, /readyz and /metrics in a background thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, kind = daemon.metrics.exposition(), 200, CONTENT_TYPE_LATEST
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
    """Sync (and, when ``spec.report.enabled``, report status) until SIGTERM/SIGINT.

    With ``spec.leaderElection.enabled`` a lease keeper thread decides which hubs this replica
    syncs and whether it runs the reporter; on a clean stop it releases its Leases after the
    last sync, so another replica takes over at its next round."""
    daemon = Daemon(config, allow_mass_delete=allow_mass_delete)
    settings = config.bridge.spec.report
    keeper = leases.keeper_for(config)
    with stop_on_signals() as stop:
        daemon.stop = stop
        try:
            server = serve(daemon, address)
        except BaseException:
            daemon.close()
            raise
        threads: list[threading.Thread] = []
        # The keeper renews until the last sync has finished (a sync running when SIGTERM
        # arrives may still push), then releases everything at once.
        keeper_stop = threading.Event()
        if keeper is not None:
            daemon.leases = keeper
            daemon.syncer.may_push = lambda hub: keeper.holds(hub_key(hub))
            keeper.on_acquired = daemon.on_change  # a hub taken over syncs at once
            threads.append(threading.Thread(target=keeper.run, args=(keeper_stop,), name="leases"))
            log.info("leader election on: this replica is %s", keeper.identity)
        if settings.enabled:
            daemon.status_tables = StatusTables(
                config.hubs,
                password_lookup(config.bridge.spec.secretsDir, settings.kubeconfig),
                commits=git_log(config),
            )
            watch = functools.partial(
                reporter.watch,
                kubeconfig=settings.kubeconfig,
                namespace=settings.namespace,
                interval_seconds=settings.interval_seconds,
                on_result=daemon.metrics.observe_report,
                status_tables=daemon.status_tables,
            )
            if keeper is None:
                target: Callable[[], None] = functools.partial(watch, stop=stop)
            else:
                target = functools.partial(
                    leases.run_while_held,
                    keeper,
                    REPORTER,
                    forgetting_readiness(daemon.metrics, lambda own: watch(stop=own)),
                    stop,
                )
            threads.append(threading.Thread(target=target, name="reporter"))
        for thread in threads:
            thread.start()
        try:
            daemon.run()
        finally:
            stop.set()
            keeper_stop.set()
            for thread in threads:
                thread.join()
            if keeper is not None:
                keeper.release_all()  # after the last sync: nothing of ours can push any more
            server.shutdown()
            daemon.close()
