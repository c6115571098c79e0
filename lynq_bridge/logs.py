"""Logging set-up: human lines by default, one JSON object per line with ``--log-json``.

Log records never carry credentials: URLs are masked where they are formatted.
"""

from __future__ import annotations

import json
import logging
import sys

_EXTRA = ("hub", "commit")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: getattr(record, k) for k in _EXTRA if getattr(record, k, None)})
        return json.dumps(data, sort_keys=True)


def configure(*, level: int, json_lines: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(message)s")
    )
    root = logging.getLogger("lynq_bridge")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
