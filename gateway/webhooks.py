"""Standard Webhooks signature verification (https://www.standardwebhooks.com/). Pure: the clock
is passed in.

Signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256 under the base64
secret (``whsec_`` prefix), sent as space-separated ``v1,<base64>`` entries. Every failure raises
the same opaque :class:`InvalidSignature`; its ``reason`` is for the log, never for the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

import attrs

from gateway.errors import Unauthorized

#: How far a hook's timestamp may be from now, either way.
TOLERANCE_SECONDS = 5 * 60
_PREFIX = "whsec_"


class InvalidSignature(Unauthorized):
    """The hook is not signed by the pipeline, or not now. One error for every cause."""

    def __init__(self, reason: str) -> None:
        super().__init__("The hook's signature could not be verified.")
        self.reason = reason


@attrs.frozen(repr=False)
class HookSecret:
    key: bytes

    def __repr__(self) -> str:
        return "HookSecret(<secret>)"

    @classmethod
    def from_string(cls, value: str) -> HookSecret:
        raw = value.strip().removeprefix(_PREFIX)
        try:
            key = base64.b64decode(raw, validate=True)
        except binascii.Error:
            msg = "a hook secret must be base64, optionally prefixed with whsec_"
            raise ValueError(msg) from None
        if len(key) < 24:  # noqa: PLR2004 - the spec asks for 24 to 64 bytes
            msg = "a hook secret must hold at least 24 bytes"
            raise ValueError(msg)
        return cls(key)

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        content = f"{msg_id}.{timestamp}.".encode() + body
        digest = hmac.new(self.key, content, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()


@attrs.frozen
class VerifiedHook:
    msg_id: str
    timestamp: int


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[HookSecret],
    *,
    now: float,
) -> VerifiedHook:
    """Check a hook's id, timestamp and signature against any of ``secrets`` (rotation: two valid
    at once). Raises :class:`InvalidSignature`."""
    msg_id = headers.get("webhook-id")
    ts_text = headers.get("webhook-timestamp")
    sig_header = headers.get("webhook-signature")
    if not msg_id or not ts_text or not sig_header:
        raise InvalidSignature("missing webhook headers")
    if len(msg_id) > 256 or not msg_id.isascii() or "." in msg_id:  # noqa: PLR2004
        raise InvalidSignature("malformed webhook-id")
    try:
        timestamp = int(ts_text)
    except ValueError:
        raise InvalidSignature("malformed webhook-timestamp") from None
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("timestamp outside the replay window")
    offered = [
        part.removeprefix("v1,").encode()
        for part in sig_header.split(" ")
        if part.startswith("v1,")
    ]
    for secret in secrets:
        expected = secret.sign(msg_id, timestamp, body).removeprefix("v1,").encode()
        if any(hmac.compare_digest(expected, sig) for sig in offered):
            return VerifiedHook(msg_id=msg_id, timestamp=timestamp)
    raise InvalidSignature("no matching v1 signature")


def sign_headers(
    secret: HookSecret, msg_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The three headers a sender attaches; used by the demo and by tests as the pipeline."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": secret.sign(msg_id, ts, body),
    }
