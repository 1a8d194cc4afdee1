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
from collections.abc import MutableMapping
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


def _dumps(obj: Any, default: Any = None) -> str:  # noqa: ANN401 - structlog's serializer shape
    return orjson.dumps(obj, default=default or str).decode()


def configure(level: str = "info", stream: Any = None) -> None:  # noqa: ANN401 - a text stream
    _bridge(logging.getLevelName(level.upper()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_personal,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
