"""The process's logging: readable text by default, or one JSON object per line.

``DISPATCH_LOG_FORMAT=json`` (or ``--log-format json``) writes each record as one line with ``time``
(UTC, ISO 8601), ``level``, ``logger`` and ``message``, the ids bound where it was logged
(``request_id``, ``incident_id``, ``alert_id``, ``unit_id``: ``core/logcontext.py``) and ``exception``
(the traceback) when there is one. ``DISPATCH_LOG_LEVEL`` sets the level (INFO). Libraries that log a
line per request, socket or scheduled run are kept at WARNING unless the level is DEBUG.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Literal

import orjson

from core import logcontext

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# a line per scheduled run (apscheduler), per request made by the demo's clients (httpx, httpcore), per
# request answered (uvicorn.access: /metrics counts them) and per socket opened or closed (uvicorn.error,
# websockets); their warnings and errors still come through
NOISY = ("apscheduler", "httpx", "httpcore", "uvicorn.access", "uvicorn.error", "websockets")

# the attributes every LogRecord has; anything else was passed with ``extra=`` and is written too
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is a field, its newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **logcontext.current(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def setup(log_format: LogFormat = "text", level: str | int = "INFO") -> None:
    """Configure the root logger once for the process (replacing any handler set before)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    quiet = root.getEffectiveLevel() > logging.DEBUG
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
