"""structlog set-up. Process logs carry no personal data: the redaction processor drops every
known personal key whatever the caller passed, and the gateway logs references, not values.

Libraries that log through the standard library (aiohttp's server, access and web loggers,
asyncio) are bridged into the same JSON lines by :class:`LibraryBridge`, which keeps only what
cannot hold request bytes: the logger's name, the level, the message's template (never its
arguments) and the class of an exception (never its text or traceback).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

#: Keys whose values are personal data wherever they appear in an event.
PERSONAL_KEYS = frozenset(
    {
        "name", "first_name", "last_name", "street", "postal_code", "town", "phone", "email",
        "door_code", "customer", "customer_id", "receiver", "address", "marketing_consent",
        "tracking_number", "label", "body", "payload", "values",
    }
)
REDACTED = "[redacted]"


def redact_personal(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace the value of every personal key, at any depth of dicts, with a marker."""
    for key, value in event_dict.items():
        if key in PERSONAL_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(value, dict):
            event_dict[key] = redact_personal(_logger, _method, dict(value))
    return event_dict


#: Standard-library loggers bridged into the JSON log.
BRIDGED = ("aiohttp", "asyncio")


class LibraryBridge(logging.Handler):
    """A ``logging`` handler writing each record as a structlog event named after its logger.

    A message is kept only when it is a template with separate arguments (the arguments, which
    carry URLs, headers and addresses, are dropped); a message formatted beforehand (aiohttp's
    access line, asyncio's task reprs) is dropped whole. An exception is named by its class."""

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, Any] = {}
        if record.args and isinstance(record.msg, str):
            fields["message"] = record.msg
        if record.exc_info and record.exc_info[0] is not None:
            fields["error"] = record.exc_info[0].__name__
        structlog.get_logger().log(record.levelno, record.name, **fields)


def _bridge(level: int) -> None:
    for name in BRIDGED:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, LibraryBridge)]:
            logger.removeHandler(handler)
        logger.addHandler(LibraryBridge())
        logger.setLevel(level)
        logger.propagate = False
    # The gateway writes its own access line (routes, no paths); aiohttp's default one would
    # say nothing more once its formatted text is dropped.
    logging.getLogger("aiohttp.access").setLevel(max(level, logging.WARNING))


class UtcTimestamp:
    """Adds ``timestamp``: the time in UTC, ISO 8601 with microseconds (omitted when zero) and a
    ``Z``, exactly as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it; the date and
    time of day are formatted once a second rather than for every event."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, _logger: object, _method: str,
                 event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        cached = self._second
        if cached[0] != second:
            cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
            self._second = cached
        event_dict["timestamp"] = f"{cached[1]}.{micro:06d}Z" if micro else f"{cached[1]}Z"
        return event_dict


def _dumps(obj: Any, default: Any = None) -> str:  # noqa: ANN401 - structlog's serializer shape
    return orjson.dumps(obj, default=default or str).decode()


def configure(level: str = "info", stream: Any = None) -> None:  # noqa: ANN401 - a text stream
    _bridge(logging.getLevelName(level.upper()))
    printer = structlog.PrintLogger(stream or sys.stderr)
    structlog.configure(
        # No context-variable merge: nothing binds context variables, and merging them copies
        # the context for every event.
        processors=[
            structlog.processors.add_log_level,
            UtcTimestamp(),
            redact_personal,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # One logger for every event (a factory would make a new one for each).
        logger_factory=lambda *_args: printer,
        cache_logger_on_first_use=False,
    )
