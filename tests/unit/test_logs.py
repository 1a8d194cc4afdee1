"""The log redaction processor."""

from __future__ import annotations

import io

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
