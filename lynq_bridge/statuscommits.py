"""Where the status table learns which commit last changed each node: the Git remote.

``git_log(config)`` is the ``CommitLog`` of ``adapters.statustable.StatusTables``: for one hub,
the bridge's commits that touched its directory, newest first. It is read the way ``lynq-bridge
history`` reads it, from history's own bare mirror (``<workDir>/history/mirror.git``), fetched
first, and never from the daemon's mirror: that one belongs to the sync thread, while the
status table is written by the reporter's. Every ``lynq-bridge report`` and every daemon has
``spec.git`` (BridgeConfig requires it), so the remote is always configured; if it cannot be
reached, or ``lynq-bridge history`` holds the mirror's lock at that moment, the caller gets
``GitUnavailable`` and logs one warning.

The daemon then hands over the nodes of each commit it pushes (``record_sync``): it reads that
commit's own message from its mirror, in its sync thread, and reads its trailers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lynq_bridge.adapters.gitstore import GitStore
from lynq_bridge.adapters.secrets import password_lookup
from lynq_bridge.adapters.statustable import CommitLog, StatusTables
from lynq_bridge.config.loading import Config
from lynq_bridge.config.models import LynqHub
from lynq_bridge.core import history, statusrows
from lynq_bridge.errors import BridgeError
from lynq_bridge.history import history_work_dir, read_log
from lynq_bridge.sync import HubResult, Syncer

log = logging.getLogger(__name__)


def git_log(config: Config) -> CommitLog:
    """The commits of a hub's directory on the remote branch, newest first."""
    spec = config.bridge.spec

    def read(hub: LynqHub) -> Sequence[history.Commit]:
        root = spec.git.path.strip("/")
        pathspec = f"{root}/{hub.metadata.namespace}/{hub.metadata.name}/"
        secrets = password_lookup(spec.secretsDir, spec.report.kubeconfig)
        store = GitStore(
            spec.git,
            history_work_dir(config),
            secrets=secrets,
            namespace=config.bridge.metadata.namespace,
        )
        try:
            store.open()
            head = store.fetch_head().commit
            return read_log(store.git_dir, head, pathspec) if head else []
        finally:
            store.close()
            close = getattr(secrets, "close", None)
            if close is not None:
                close()

    return read


def record_sync(tables: StatusTables, syncer: Syncer, hub: LynqHub, result: HubResult) -> None:
    """Tell ``tables`` which nodes the commit of ``result`` added or updated (its trailers).
    Runs in the sync thread: the daemon's mirror is read there only."""
    if not result.commit:
        return
    key = result.hub
    try:
        message = syncer.git.last_message(result.commit, syncer.compiled.hub_dir(hub)) or ""
    except BridgeError as exc:  # the commit's nodes keep their previous commit in the table
        log.warning(
            "cannot read commit %s of hub %s for the status table: %s", result.commit, key, exc
        )
        return
    changed = statusrows.node_commits([history.Commit(result.commit, "", message)], hub=key)
    tables.record(key, result.commit, sorted(changed))
