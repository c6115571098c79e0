"""The Kubernetes API, as the status reporter needs it: list, patch status, record Events.

The only module that talks to Kubernetes. lightkube loads the kubeconfig (a file, ``KUBECONFIG``,
``~/.kube/config`` or the in-cluster service account, with client certificates, tokens, token
files and exec plugins) and builds the authenticated HTTP client; requests are plain REST with
JSON bodies, so listed objects reach the core as the dictionaries the API server sent, unknown
fields included, and custom resources need no generated classes.

What it can do is deliberately narrow (SPEC §12): list objects (paged, one collection per call,
never a GET per object; with the list's resourceVersion), watch a collection from a version
(one long streaming request, with bookmarks), merge-patch the ``status`` subresource,
merge-patch annotations (the
push notification's reconcile requests), create Events, and read API discovery to find the
resource name of a custom kind, and read and write the Leases of leader election (``leases``).
Every HTTP request is counted
(``requests``) so tests and benchmarks can prove the cost model. Library and HTTP failures
become ``ClusterUnavailable`` with one sentence naming the request and the cause.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2
    from lightkube.config.kubeconfig import SingleConfig

from lynq_bridge.core.naming import event_name
from lynq_bridge.errors import ClusterConflict, ClusterUnavailable

PAGE_SIZE = 500  # objects per list page: large enough for few round trips, small for memory
DEFAULT_TIMEOUT = 30.0  # seconds per request; a list of 1,000 objects takes well under one
COMPONENT = "lynq-bridge-reporter"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
WATCH_READ_MARGIN = 30.0  # seconds a watch may stay silent beyond its timeoutSeconds


@dataclass(frozen=True)
class ResourceType:
    """How to address one kind over REST."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def prefix(self) -> str:
        return "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"

    def path(self, namespace: str | None, name: str = "", subresource: str = "") -> str:
        parts = [self.prefix]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
        if subresource:
            parts.append(subresource)
        return "/".join(parts)

    def describe(self, namespace: str | None) -> str:
        group = self.api_version.rpartition("/")[0]
        what = f"{self.plural}.{group}" if group else self.plural
        if not self.namespaced:
            return what
        return f"{what} in namespace {namespace}" if namespace else f"{what} in all namespaces"


def _builtin(api_version: str, kind: str, plural: str, namespaced: bool = True) -> ResourceType:
    return ResourceType(api_version, kind, plural, namespaced)


# The kinds of Lynq's resource arrays and of the bridge itself; anything else is discovered.
BUILTIN_TYPES: dict[tuple[str, str], ResourceType] = {
    (t.api_version, t.kind): t
    for t in (
        _builtin("v1", "Namespace", "namespaces", namespaced=False),
        _builtin("v1", "ServiceAccount", "serviceaccounts"),
        _builtin("v1", "Service", "services"),
        _builtin("v1", "ConfigMap", "configmaps"),
        _builtin("v1", "Secret", "secrets"),
        _builtin("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
        _builtin("v1", "Event", "events"),
        _builtin("apps/v1", "Deployment", "deployments"),
        _builtin("apps/v1", "StatefulSet", "statefulsets"),
        _builtin("apps/v1", "DaemonSet", "daemonsets"),
        _builtin("batch/v1", "Job", "jobs"),
        _builtin("batch/v1", "CronJob", "cronjobs"),
        _builtin("networking.k8s.io/v1", "Ingress", "ingresses"),
        _builtin("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
        _builtin("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        _builtin("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        _builtin("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        _builtin("operator.lynq.sh/v1", "LynqNode", "lynqnodes"),
        _builtin("operator.lynq.sh/v1", "LynqHub", "lynqhubs"),
        _builtin("operator.lynq.sh/v1", "LynqForm", "lynqforms"),
    )
}
LYNQ_NODE = BUILTIN_TYPES[("operator.lynq.sh/v1", "LynqNode")]
LYNQ_HUB = BUILTIN_TYPES[("operator.lynq.sh/v1", "LynqHub")]
LYNQ_FORM = BUILTIN_TYPES[("operator.lynq.sh/v1", "LynqForm")]
EVENT = BUILTIN_TYPES[("v1", "Event")]
LEASE = ResourceType("coordination.k8s.io/v1", "Lease", "leases", namespaced=True)


def _client_errors(*more: type[Exception]) -> tuple[type[Exception], ...]:
    """What the HTTP client and kubeconfig loading raise when the cluster cannot be reached.

    lightkube and its HTTP client load on first use (here, and in ``ClusterClient``), not on
    import: a ``sync --once`` without cluster access starts 0.15 s sooner."""
    import httpx2
    from lightkube.core.exceptions import ConfigError

    return (httpx2.HTTPError, ConfigError, OSError, *more)


def _load_config(kubeconfig: str | None, context: str | None) -> SingleConfig:
    from lightkube.config.kubeconfig import KubeConfig

    try:
        config = KubeConfig.from_file(kubeconfig) if kubeconfig else KubeConfig.from_env()
        single = config.get(context)
    except _client_errors(KeyError, ValueError, TypeError) as exc:
        where = f"kubeconfig {kubeconfig}" if kubeconfig else "the in-cluster or default kubeconfig"
        raise ClusterUnavailable(f"Cannot load {where}: {exc}.") from exc
    if single is None:  # pragma: no cover - get() raises instead when no context is set
        raise ClusterUnavailable("The kubeconfig has no usable context.")
    return single


def _status_text(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and body.get("message"):
        return f"{response.status_code} {body.get('reason') or ''}: {body['message']}".strip()
    return f"{response.status_code} {response.reason_phrase}"


class WatchStream:
    """A handle to stop one ``ClusterClient.watch_objects`` from another thread.

    A watch blocks in a socket read for minutes; closing the HTTP response from another thread
    does not wake that read, shutting the socket down does. Once closed, a watch that has not
    opened yet returns at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: httpx2.Response | None = None
        self.closed = False

    def attach(self, response: httpx2.Response) -> bool:
        with self._lock:
            self._response = response
            return not self.closed

    def close(self) -> None:
        with self._lock:
            self.closed = True
            response, self._response = self._response, None
        if response is None:
            return
        network = response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if isinstance(sock, socket.socket):
            # The plain socket's shutdown, not SSLSocket's (which unwraps the TLS state under
            # the reading thread): the blocked read then ends. OSError: already closed.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class ClusterClient:
    """A connection to one API server; thread-safe, so writes may run in a pool."""

    def __init__(
        self,
        kubeconfig: str | None = None,
        *,
        context: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._config = _load_config(kubeconfig, context)
        self.server = self._config.cluster.server
        self._lock = threading.Lock()
        self._requests = 0
        self._discovered: dict[tuple[str, str], ResourceType | None] = dict(BUILTIN_TYPES)
        self._groups_read: set[str] = set()
        import httpx2
        from lightkube.config import client_adapter

        params = client_adapter.ConnectionParams(timeout=httpx2.Timeout(timeout), trust_env=False)
        try:
            self._http = client_adapter.Client(self._config, params)
        except _client_errors(ValueError) as exc:
            raise ClusterUnavailable(
                f"Cannot set up a connection to {self.server}: {exc}."
            ) from exc
        self._http.event_hooks = {"request": [self._count]}

    # ------------------------------------------------------------------------ plumbing

    def _count(self, request: httpx2.Request) -> None:
        with self._lock:
            self._requests += 1

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (every page, patch, Event and discovery read)."""
        with self._lock:
            return self._requests

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        allow_missing: bool = False,
    ) -> Any:
        content = None if body is None else json.dumps(body).encode()
        headers = {"Accept": accept, "Content-Type": content_type}
        try:
            response = self._http.request(
                method, path, params=params, content=content, headers=headers
            )
        except _client_errors() as exc:
            # lightkube's ConfigError and OSError: an exec credential plugin that fails or is
            # missing runs inside the request, not when the kubeconfig is loaded.
            raise ClusterUnavailable(
                f"Cannot {action}: the API server at {self.server} did not answer ({exc})."
            ) from exc
        if allow_missing and response.status_code == 404:
            return None
        if response.status_code >= 400:
            # 409 (a stale resourceVersion, a name already taken) means someone else won.
            error = ClusterConflict if response.status_code == 409 else ClusterUnavailable
            raise error(f"The API server refused to {action}: {_status_text(response)}.")
        try:
            return response.json()
        except ValueError as exc:
            raise ClusterUnavailable(f"Cannot {action}: the answer is not JSON.") from exc

    # --------------------------------------------------------------------- operations

    def resource_type(self, api_version: str, kind: str) -> ResourceType | None:
        """How to address ``kind``; ``None`` when the API server does not serve it.

        Built-in kinds are known; other kinds cost one discovery request per group-version for
        the lifetime of this client.
        """
        key = (api_version, kind)
        if key in self._discovered:
            return self._discovered[key]
        if api_version not in self._groups_read:
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = self._send(
                "GET", prefix, action=f"discover {api_version}", allow_missing=True
            )
            self._groups_read.add(api_version)
            for resource in (listing or {}).get("resources", []):
                if "/" in resource.get("name", ""):
                    continue  # subresources such as deployments/status
                found = ResourceType(
                    api_version, resource["kind"], resource["name"], resource["namespaced"]
                )
                self._discovered.setdefault((api_version, found.kind), found)
        return self._discovered.setdefault(key, None)

    def list_objects(
        self,
        rtype: ResourceType,
        namespace: str | None,
        *,
        missing_ok: bool = False,
        metadata_only: bool = False,
    ) -> list[dict[str, Any]]:
        """Every object of ``rtype`` in ``namespace`` (all namespaces when ``None``), paged.

        With ``missing_ok`` a kind the server does not serve (its CRD is not installed) lists
        as empty instead of raising. With ``metadata_only`` the server sends metadata alone
        (``PartialObjectMetadataList``): enough for kinds that are ready once they exist, and
        Secret data never reaches this process.
        """
        items, _ = self.list_versioned(
            rtype, namespace, missing_ok=missing_ok, metadata_only=metadata_only
        )
        return items

    def list_versioned(
        self,
        rtype: ResourceType,
        namespace: str | None,
        *,
        missing_ok: bool = False,
        metadata_only: bool = False,
        keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """``list_objects`` and the list's resourceVersion, where a watch of it starts.

        The version is the first page's: continue tokens serve every page from that snapshot.
        ``None`` when the kind is not served (``missing_ok``). ``keep`` reduces each object as
        its page arrives, so a large list never holds every full object at once.
        """
        path = rtype.path(namespace)
        items: list[dict[str, Any]] = []
        version: str | None = None
        params = {"limit": str(PAGE_SIZE)}
        while True:
            page = self._send(
                "GET",
                path,
                params=params,
                action=f"list {rtype.describe(namespace)}",
                accept=METADATA_LIST if metadata_only else "application/json",
                allow_missing=missing_ok,
            )
            if page is None:
                return [], None
            found = page.get("items") or []
            items.extend(found if keep is None else [keep(item) for item in found])
            meta = page.get("metadata") or {}
            version = version or meta.get("resourceVersion")
            token = meta.get("continue")
            if not token:
                return items, version
            params = {"limit": str(PAGE_SIZE), "continue": token}

    def watch_objects(
        self,
        rtype: ResourceType,
        namespace: str | None,
        resource_version: str | None,
        *,
        timeout_seconds: int,
        metadata_only: bool = False,
        stream: WatchStream | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The watch events of ``rtype`` in ``namespace`` after ``resource_version``.

        One long request (counted once) with bookmarks; the server ends it after
        ``timeout_seconds`` and the iterator then ends normally. An expired version answered
        with HTTP 410 is yielded as the ERROR event the server would otherwise stream, so the
        caller has one place to decide on a relist. ``stream.close()`` from another thread
        ends the iterator at once (it shuts the socket down under the blocked read).
        """
        params = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if resource_version:
            params["resourceVersion"] = resource_version
        action = f"watch {rtype.describe(namespace)}"
        accept = METADATA_OBJECT if metadata_only else "application/json"
        # The server may stay silent until timeoutSeconds (bookmarks come about once a minute).
        import httpx2

        timeout = httpx2.Timeout(DEFAULT_TIMEOUT, read=timeout_seconds + WATCH_READ_MARGIN)
        try:
            with self._http.stream(
                "GET",
                rtype.path(namespace),
                params=params,
                headers={"Accept": accept},
                timeout=timeout,
            ) as response:
                if response.status_code == 410:
                    yield {"type": "ERROR", "object": {"code": 410, "message": "Gone"}}
                    return
                if response.status_code >= 400:
                    response.read()
                    raise ClusterUnavailable(
                        f"The API server refused to {action}: {_status_text(response)}."
                    )
                if stream is not None and not stream.attach(response):
                    return  # closed before the watch opened
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except _client_errors(ValueError) as exc:
            if stream is not None and stream.closed:
                return
            raise ClusterUnavailable(
                f"Cannot {action}: the watch from the API server at {self.server} broke ({exc})."
            ) from exc

    def get_object(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        metadata_only: bool = False,
    ) -> Any:
        """One object, or None when it (or its kind) does not exist; with ``metadata_only``
        its metadata alone (``PartialObjectMetadata``: a Secret's data never reaches us)."""
        return self._send(
            "GET",
            rtype.path(namespace, name),
            action=f"get {rtype.kind} {namespace}/{name}",
            accept=METADATA_OBJECT if metadata_only else "application/json",
            allow_missing=True,
        )

    def patch_status(
        self, rtype: ResourceType, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> bool:
        """Merge-patch ``status`` via the status subresource; ``False`` if the object is gone."""
        return self.patch_status_object(rtype, namespace, name, status) is not None

    def patch_status_object(
        self, rtype: ResourceType, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """``patch_status`` returning the patched object (``None``: gone), for a cache that
        must hold what was written before the watch event of the write arrives."""
        answer: dict[str, Any] | None = self._send(
            "PATCH",
            rtype.path(namespace, name, "status"),
            body={"status": status},
            content_type="application/merge-patch+json",
            action=f"patch the status of {rtype.kind} {namespace}/{name}",
            allow_missing=True,
        )
        return answer

    def patch_annotations(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        annotations: Mapping[str, str],
    ) -> bool:
        """Merge-patch ``metadata.annotations``; ``False`` if the object (or its kind) is gone."""
        answer = self._send(
            "PATCH",
            rtype.path(namespace, name),
            body={"metadata": {"annotations": dict(annotations)}},
            content_type="application/merge-patch+json",
            action=f"annotate {rtype.kind} {namespace}/{name}",
            allow_missing=True,
        )
        return answer is not None

    def patch_json(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        operations: list[dict[str, Any]],
        *,
        field_manager: str,
    ) -> dict[str, Any] | None:
        """Apply a JSON patch (RFC 6902) to one object (``lynq-bridge adopt``); ``None`` if it
        is gone, ``ClusterConflict`` when a ``/metadata/resourceVersion`` in it is stale."""
        answer: dict[str, Any] | None = self._send(
            "PATCH",
            rtype.path(namespace, name),
            params={"fieldManager": field_manager},
            body=operations,
            content_type="application/json-patch+json",
            action=f"patch {rtype.kind} {namespace}/{name}" if namespace else f"patch {name}",
            allow_missing=True,
        )
        return answer

    def create_event(
        self,
        involved: Mapping[str, Any],
        *,
        event_type: str,
        reason: str,
        message: str,
        timestamp: str,
    ) -> None:
        """Record a core/v1 Event about ``involved`` (a listed object with apiVersion and kind)."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": event_name(meta["name"], uuid.uuid4().hex[:16]),  # 253 at most
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta["name"],
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": socket.gethostname()[:128],
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
        }
        self._send(
            "POST",
            EVENT.path(namespace),
            body=event,
            action=f"record Event {reason} on {involved.get('kind')} {namespace}/{meta['name']}",
        )

    # ------------------------------------------------------- leases (leader election)

    def list_leases(self, namespace: str, *, selector: str) -> list[dict[str, Any]]:
        """The Leases in ``namespace`` matching the label ``selector`` (one request: a config
        has one Lease per hub and per replica, far below a page)."""
        answer = self._send(
            "GET",
            LEASE.path(namespace),
            params={"labelSelector": selector},
            action=f"list {LEASE.describe(namespace)} with {selector}",
        )
        return list(answer.get("items") or [])

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """One Lease, or None when it does not exist."""
        answer: dict[str, Any] | None = self._send(
            "GET",
            LEASE.path(namespace, name),
            action=f"get Lease {namespace}/{name}",
            allow_missing=True,
        )
        return answer

    def write_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        """Create ``lease``, or replace it when its metadata carries a ``resourceVersion``
        (the precondition). ``ClusterConflict`` when another replica wrote first."""
        meta = lease["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        if meta.get("resourceVersion"):
            method, path, verb = "PUT", LEASE.path(namespace, name), "update"
        else:
            method, path, verb = "POST", LEASE.path(namespace), "create"
        answer: dict[str, Any] = self._send(
            method, path, body=dict(lease), action=f"{verb} Lease {namespace}/{name}"
        )
        return answer

    def delete_lease(self, namespace: str, name: str, *, version: str) -> None:
        """Delete a Lease if it is still at ``version``; gone already is fine,
        ``ClusterConflict`` when it changed since."""
        self._send(
            "DELETE",
            LEASE.path(namespace, name),
            body={"preconditions": {"resourceVersion": version}},
            action=f"delete Lease {namespace}/{name}",
            allow_missing=True,
        )


class LazyConnection:
    """One ``ClusterClient`` opened at the first request and kept until ``close()``: for the
    sync's occasional cluster requests (push notification, the ``Stuck`` check), so a daemon
    that never needs the cluster never connects, and one that does reuses its connection."""

    def __init__(self, kubeconfig: str | None, *, timeout: float) -> None:
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self._client: ClusterClient | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _connect(self) -> ClusterClient:
        if self._client is None:
            self._client = ClusterClient(self.kubeconfig, timeout=self.timeout)
        return self._client
