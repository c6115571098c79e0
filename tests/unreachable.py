"""API servers that cannot answer, for tests of what the bridge does when the cluster fails.

A kubeconfig pointing at a loopback port that refuses connections (bound, not listening) or that
accepts them and never answers (listening, never read), and a log collector for the one warning
sentence such a failure must produce. Real sockets, no fake of the Kubernetes client.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import yaml


class Collected(logging.Handler):
    """Keeps every record of the logger it is added to (whatever its propagation)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def collected(logger_name: str) -> Iterator[list[logging.LogRecord]]:
    """Every record of ``logger_name`` (DEBUG and up) while the block runs."""
    handler = Collected()
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def kubeconfig(path: Path, port: int) -> str:
    """A kubeconfig for an API server at ``127.0.0.1:port``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound, so nothing else takes it, but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]
