"""structlog set-up. Process logs carry no personal data: the redaction processor drops every
known personal key whatever the caller passed, and the gateway logs references, not values."""

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


def _dumps(obj: Any, default: Any = None) -> str:  # noqa: ANN401 - structlog's serializer shape
    return orjson.dumps(obj, default=default or str).decode()


def configure(level: str = "info", stream: Any = None) -> None:  # noqa: ANN401 - a text stream
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
