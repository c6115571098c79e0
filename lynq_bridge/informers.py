"""List-then-watch of one (kind, namespace): the watching reporter's eyes on the cluster.

An ``Informer`` runs in its own thread: it lists the collection, hands the objects to its
``Sink`` and then watches from the list's resourceVersion, passing every event on. Bookmarks
move the version forward without an object; a watch the server ends after ``timeoutSeconds``
is re-opened from the last version; ``410 Gone`` (the version was compacted away) relists at
once; any other failure relists after an exponential backoff (``core.watching``). The sink
owns the store and decides what an event means for LynqNode status (``reporter``); this
module only keeps the stream going. ``close()`` ends the thread within a second.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from lynq_bridge.adapters.cluster import ClusterClient, ResourceType, WatchStream
from lynq_bridge.core.watching import backoff_seconds, classify
from lynq_bridge.errors import ClusterUnavailable

log = logging.getLogger(__name__)

# The API server ends a watch after timeoutSeconds; re-opening costs one request. Jittered, as
# client-go does, so the watches of one reporter do not all re-open in the same second.
WATCH_SECONDS = (300, 360)
StoreKey = tuple[str | None, str]  # (namespace, name)


class Sink(Protocol):
    """Where an informer delivers; called from the informer's thread."""

    def on_list(self, informer: Informer, objects: list[dict[str, Any]]) -> None: ...

    def on_event(self, informer: Informer, deleted: bool, obj: Mapping[str, Any]) -> None: ...

    def on_error(self, informer: Informer, message: str) -> None: ...


def store_key(obj: Mapping[str, Any]) -> StoreKey:
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), str(meta.get("name", ""))


class Informer:
    """One list-then-watch loop; ``store`` and ``synced`` belong to the sink (its lock)."""

    def __init__(
        self,
        client: ClusterClient,
        rtype: ResourceType,
        namespace: str | None,
        *,
        sink: Sink,
        metadata_only: bool = False,
        missing_ok: bool = False,
        retry_cap: float = 30.0,
        absent_retry: float = 600.0,
        keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.client = client
        self.rtype = rtype
        self.namespace = namespace
        self.sink = sink
        self.metadata_only = metadata_only
        self.missing_ok = missing_ok
        self.retry_cap = retry_cap  # seconds: the longest backoff after failures
        self.absent_retry = absent_retry  # seconds between lists of a kind not served
        self.keep = keep  # what of each listed object the sink keeps, applied page by page
        self.store: dict[StoreKey, dict[str, Any]] = {}
        self.synced = False
        self.version: str | None = None
        self.lists = 0  # how many times it listed (tests: a relist happened)
        self._progress = False  # an event or bookmark arrived since the last list
        self._halt = threading.Event()
        self._stream = WatchStream()
        self._thread = threading.Thread(
            target=self._run, name=f"watch {rtype.describe(namespace)}", daemon=True
        )

    @property
    def key(self) -> tuple[ResourceType, str | None]:
        return self.rtype, self.namespace

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop listing and watching; a blocked watch read ends at once."""
        self._halt.set()
        self._stream.close()

    def join(self, timeout: float) -> bool:
        """Whether the thread has ended (or never started) within ``timeout`` seconds."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # ------------------------------------------------------------------------------ loop

    def _run(self) -> None:
        failures = 0
        need_list = True
        while not self._halt.is_set():
            if failures and self._halt.wait(backoff_seconds(failures, cap=self.retry_cap)):
                return
            if need_list:
                if not self._list():
                    failures += 1
                    continue
                need_list = False
                if self.version is None:  # kind not served (missing_ok): look again later
                    if self._halt.wait(self.absent_retry):
                        return
                    need_list = True
                    continue
            try:
                outcome = self._watch()
            except ClusterUnavailable as exc:
                if self._halt.is_set():
                    return
                self.sink.on_error(self, str(exc))
                failures, need_list = failures + 1, True
                continue
            if outcome == "ended":
                failures = 0
            elif outcome == "gone":
                need_list = True  # expected after compaction: relist at once, unless the
                if not self._progress:  # version of a fresh list expired already: do not spin
                    failures += 1
            else:
                failures, need_list = failures + 1, True

    def _list(self) -> bool:
        try:
            objects, version = self.client.list_versioned(
                self.rtype,
                self.namespace,
                missing_ok=self.missing_ok,
                metadata_only=self.metadata_only,
                keep=self.keep,
            )
        except ClusterUnavailable as exc:
            if not self._halt.is_set():
                self.sink.on_error(self, str(exc))
            return False
        self.lists += 1
        self._progress = False
        self.version = version
        self.sink.on_list(self, objects)
        return True

    def _watch(self) -> str:
        """Follow one watch request: ``ended`` normally, ``gone`` (410) or ``failed``."""
        events = self.client.watch_objects(
            self.rtype,
            self.namespace,
            self.version,
            timeout_seconds=random.randint(*WATCH_SECONDS),  # jitter, not secrets
            metadata_only=self.metadata_only,
            stream=self._stream,
        )
        for event in events:
            if self._halt.is_set():
                return "ended"
            decision = classify(event)
            if decision.step in ("apply", "delete"):
                self.sink.on_event(self, decision.step == "delete", event["object"])
            elif decision.step == "relist":
                log.info("watch of %s expired; listing again", self.rtype.describe(self.namespace))
                return "gone"
            elif decision.step == "retry":
                self.sink.on_error(
                    self,
                    f"The watch of {self.rtype.describe(self.namespace)} failed: "
                    f"{decision.message}.",
                )
                return "failed"
            if decision.resource_version:
                self.version = decision.resource_version
                self._progress = True
        return "ended"
