"""The log redaction processor."""

from __future__ import annotations

import io
import logging

import orjson
import structlog

from gateway.logs import REDACTED, configure, redact_personal


class TestRedactPersonal:
    def test_replaces_personal_keys_at_any_depth(self) -> None:
        """Known personal keys are replaced in the event and in nested dicts."""
        event = {"event": "x", "phone": "+358401", "ctx": {"email": "a@b", "order": "O-1"}}
        out = redact_personal(None, "info", event)
        assert out["phone"] == REDACTED
        assert out["ctx"] == {"email": REDACTED, "order": "O-1"}

    def test_keeps_non_personal_keys(self) -> None:
        """References, ids and counts pass unchanged."""
        event = {"event": "disclosure.intent", "disclosure": "d_1", "seq": 4}
        assert redact_personal(None, "info", dict(event)) == event


class TestConfigure:
    def test_renders_json_lines_without_personal_values(self) -> None:
        """A configured logger writes one JSON object a line with personal values redacted."""
        stream = io.StringIO()
        configure(stream=stream)
        structlog.get_logger("t").info("hook.received", email="canary@example.invalid", seq=1)
        line = orjson.loads(stream.getvalue().splitlines()[-1])
        assert line["email"] == REDACTED
        assert line["seq"] == 1
        assert "canary" not in stream.getvalue()


class TestLibraryBridge:
    """aiohttp's and asyncio's standard-library loggers write into the same JSON log, without
    the values their messages and exceptions carry."""

    def test_templates_are_kept_arguments_and_tracebacks_dropped(self) -> None:
        stream = io.StringIO()
        configure(stream=stream)
        try:
            raise ValueError("GET /v1/review/entries?customer=Kanariina")
        except ValueError:
            logging.getLogger("aiohttp.server").exception(
                "Error handling request from %s", "Kanariina's host")
        lines = stream.getvalue().splitlines()
        event = orjson.loads(lines[-1])
        assert event["event"] == "aiohttp.server"
        assert event["level"] == "error"
        assert event["message"] == "Error handling request from %s"
        assert event["error"] == "ValueError"
        assert "Kanariina" not in stream.getvalue()
        assert "Traceback" not in stream.getvalue()

    def test_a_message_formatted_beforehand_is_dropped_whole(self) -> None:
        """asyncio's and aiohttp's access messages arrive formatted (task reprs, request
        lines): only the logger's name and the level are kept."""
        stream = io.StringIO()
        configure(stream=stream)
        logging.getLogger("asyncio").error("Task exception was never retrieved: Kanariina")
        logging.getLogger("aiohttp.access").warning('1.2.3.4 "GET /?name=Kanariina HTTP/1.1"')
        events = [orjson.loads(line) for line in stream.getvalue().splitlines()]
        assert [(e["event"], e["level"]) for e in events] == [("asyncio", "error"),
                                                               ("aiohttp.access", "warning")]
        assert "Kanariina" not in stream.getvalue()
