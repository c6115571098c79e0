"""Logging set-up: human lines by default, one JSON object per line with ``--log-json``.

Log records never carry credentials: URLs are masked where they are formatted. Row values can
reach messages, so a text line is made one line (``paths.one_line``: control characters and
line breaks escaped, a traceback included), and a JSON line is ASCII-only JSON: no value can
forge a log line or break the stream.
"""

from __future__ import annotations

import json
import logging
import sys

from lynq_bridge.core.paths import one_line

_EXTRA = ("hub", "commit")
LOG_LINE_LIMIT = 20_000  # characters of one text log line (a traceback fits)


class TextFormatter(logging.Formatter):
    """``LEVEL message``, always exactly one line."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record), LOG_LINE_LIMIT)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: getattr(record, k) for k in _EXTRA if getattr(record, k, None)})
        return json.dumps(data, sort_keys=True, ensure_ascii=True)


def configure(*, level: int, json_lines: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger("lynq_bridge")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
