"""Standard Webhooks signature verification (https://www.standardwebhooks.com/). Pure: the clock
is passed in.

Signed content is ``{webhook-id}.{webhook-timestamp}.{body}``. The ``webhook-signature`` header
lists space-separated ``<version>,<base64 signature>`` entries:

- ``v1``: HMAC-SHA256 under a shared secret (``whsec_<base64>``, 24 to 64 bytes);
- ``v1a``: Ed25519 by the sender's signing key (``whsk_<base64>``, which stays with the sender),
  checked with its public key (``whpk_<base64>`` of the 32-byte key).

A hook passes when any offered signature matches any configured key (rotation: old and new
keys at once, of either kind). Every failure raises the same opaque :class:`InvalidSignature`;
its ``reason`` is for the log, never for the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs
from cryptography.exceptions import InvalidSignature as _BadEd25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import Unauthorized

#: How far a hook's timestamp may be from now, either way.
TOLERANCE_SECONDS = 5 * 60
#: The most signature entries one hook may offer (a rotation needs two per scheme).
MAX_SIGNATURES = 10
SECRET_PREFIX = "whsec_"  # noqa: S105 - a key format's prefix, not a key
PUBLIC_KEY_PREFIX = "whpk_"
SIGNING_KEY_PREFIX = "whsk_"
_ED25519_KEY_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64


class InvalidSignature(Unauthorized):
    """The hook is not signed by the pipeline, or not now. One error for every cause."""

    def __init__(self, reason: str) -> None:
        super().__init__("The hook's signature could not be verified.")
        self.reason = reason


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        msg = f"a {what} must be base64"
        raise ValueError(msg) from None


@attrs.frozen(repr=False)
class HookSecret:
    """A shared secret: ``v1`` (HMAC-SHA256) signatures."""

    key: bytes
    scheme: ClassVar[str] = "v1"

    def __repr__(self) -> str:
        return "HookSecret(<secret>)"

    @classmethod
    def from_string(cls, value: str) -> HookSecret:
        raw = value.strip().removeprefix(SECRET_PREFIX)
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
        return "v1," + base64.b64encode(self._digest(signed_content(msg_id, timestamp, body))
                                        ).decode()

    def _digest(self, content: bytes) -> bytes:
        return hmac.new(self.key, content, hashlib.sha256).digest()

    def matches(self, content: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self._digest(content), signature)


@attrs.frozen
class HookPublicKey:
    """The sender's Ed25519 public key: ``v1a`` signatures. Not a secret."""

    key: Ed25519PublicKey
    scheme: ClassVar[str] = "v1a"

    @classmethod
    def from_string(cls, value: str) -> HookPublicKey:
        text = value.strip()
        if not text.startswith(PUBLIC_KEY_PREFIX):
            msg = "a hook public key is written whpk_<base64>"
            raise ValueError(msg)
        raw = _b64(text.removeprefix(PUBLIC_KEY_PREFIX), "hook public key")
        if len(raw) != _ED25519_KEY_BYTES:
            msg = "a hook public key must hold 32 bytes (an Ed25519 public key)"
            raise ValueError(msg)
        return cls(Ed25519PublicKey.from_public_bytes(raw))

    def matches(self, content: bytes, signature: bytes) -> bool:
        if len(signature) != _ED25519_SIGNATURE_BYTES:
            return False
        try:
            self.key.verify(signature, content)
        except _BadEd25519:
            return False
        return True


#: A key that verifies hooks: a shared secret (``v1``) or a sender's public key (``v1a``).
HookKey = HookSecret | HookPublicKey


def hook_key(value: str) -> HookKey:
    """One configured key, told apart by its prefix: ``whpk_`` is an Ed25519 public key,
    ``whsec_`` (or no prefix) a shared secret. A ``whsk_`` signing key is refused: it belongs to
    the sender, the gateway holds only its public half. Raises :class:`ValueError`."""
    text = value.strip()
    if text.startswith(SIGNING_KEY_PREFIX):
        msg = ("a whsk_ key is the sender's signing key and stays with the sender; "
               "configure its whpk_ public key instead")
        raise ValueError(msg)
    if text.startswith(PUBLIC_KEY_PREFIX):
        return HookPublicKey.from_string(text)
    return HookSecret.from_string(text)


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def new_signing_pair() -> tuple[str, str]:
    """A fresh Ed25519 pair for ``v1a``: the sender's ``whsk_`` signing key (base64 of the
    32-byte private key, RFC 8032) and the ``whpk_`` public key the gateway is given."""
    private = Ed25519PrivateKey.generate()
    return (SIGNING_KEY_PREFIX + base64.b64encode(private.private_bytes_raw()).decode(),
            PUBLIC_KEY_PREFIX + base64.b64encode(private.public_key().public_bytes_raw()).decode())


@attrs.frozen
class VerifiedHook:
    msg_id: str
    timestamp: int


def verify(
    headers: Mapping[str, str],
    body: bytes,
    keys: Sequence[HookKey],
    *,
    now: float,
) -> VerifiedHook:
    """Check a hook's id, timestamp and signature against any of ``keys`` (rotation: several
    valid at once, of either scheme). Raises :class:`InvalidSignature`."""
    msg_id = headers.get("webhook-id")
    ts_text = headers.get("webhook-timestamp")
    sig_header = headers.get("webhook-signature")
    if not msg_id or not ts_text or not sig_header:
        raise InvalidSignature("missing webhook headers")
    if len(msg_id) > 256 or not msg_id.isascii() or "." in msg_id:  # noqa: PLR2004
        raise InvalidSignature("malformed webhook-id")
    if not (ts_text.isascii() and ts_text.isdigit()):
        raise InvalidSignature("malformed webhook-timestamp")
    timestamp = int(ts_text)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("timestamp outside the replay window")
    offered = _offered(sig_header)
    content = signed_content(msg_id, timestamp, body)
    for key in keys:
        if any(key.matches(content, sig) for sig in offered.get(key.scheme, ())):
            return VerifiedHook(msg_id=msg_id, timestamp=timestamp)
    held = sorted({key.scheme for key in keys})
    counts = ", ".join(f"{scheme} x{len(sigs)}" for scheme, sigs in sorted(offered.items()))
    raise InvalidSignature(
        f"no matching signature (offered: {counts or 'none readable'}; "
        f"keys held: {', '.join(held) or 'none'})")


def _offered(sig_header: str) -> dict[str, list[bytes]]:
    """The header's readable signatures by scheme; unknown versions and bad base64 are
    skipped (a sender may add schemes this gateway does not know)."""
    entries = sig_header.split()
    if len(entries) > MAX_SIGNATURES:
        raise InvalidSignature(f"more than {MAX_SIGNATURES} signatures offered")
    offered: dict[str, list[bytes]] = {}
    for entry in entries:
        version, comma, text = entry.partition(",")
        if not comma or version not in (HookSecret.scheme, HookPublicKey.scheme):
            continue
        try:
            signature = base64.b64decode(text, validate=True)
        except binascii.Error:
            continue
        offered.setdefault(version, []).append(signature)
    return offered


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
