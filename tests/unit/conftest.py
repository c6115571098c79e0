"""Fixtures shared by unit tests: loopback ports an API server kubeconfig can point at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import unreachable


@pytest.fixture
def closed_port() -> Iterator[int]:
    with unreachable.closed_port() as port:
        yield port


@pytest.fixture
def silent_port() -> Iterator[int]:
    with unreachable.silent_port() as port:
        yield port
