"""The one rule for a test whose service (server, binary, extra, data file) is missing.

Locally the test is skipped with the reason, so a partial set-up still runs what it can. In CI it
fails: a silent skip there would hide a broken set-up. CI is recognised the way CI systems set it:
``CI`` holding anything but empty, ``0``, ``false``, ``no`` or ``off`` (any case).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

_FALSE = frozenset({"", "0", "false", "no", "off"})


def in_ci() -> bool:
    """True when the ``CI`` variable is set to a truthy value ("true", "1", "yes", ...)."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE


def missing_service(what: str, why: str) -> NoReturn:
    """Fail the test in CI, skip it locally: ``what`` is not available because ``why``."""
    message = f"{what} is not available: {why}"
    if in_ci():
        pytest.fail(f"{message} (required in CI)")
    pytest.skip(message)
