"""Per-subject encryption of personal values.

Each subject (customer) gets a random AES-256-GCM key: random, not derived, so deleting it really
destroys every value sealed under it. Keys are stored wrapped by the key-encryption key (KEK).
Subjects are named by an HMAC of their id, never the bare id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import RecordCorrupt

_NONCE = 12


def subject_ref(hmac_key: bytes, subject_id: str) -> str:
    """The pseudonymous reference the record uses for a customer id."""
    return hmac.new(hmac_key, subject_id.encode(), hashlib.sha256).hexdigest()


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(kek: bytes, subject: str, key: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, key, subject.encode())


def unwrap(kek: bytes, subject: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], subject.encode())
    except InvalidTag:
        raise RecordCorrupt("a subject key cannot be unwrapped with this key-encryption key") from None


def seal(key: bytes, context: str, values: dict[str, Any]) -> bytes:
    """Encrypt ``values`` (JSON) under a subject key; ``context`` binds it to its use."""
    nonce = os.urandom(_NONCE)
    plaintext = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def unseal(key: bytes, context: str, sealed: bytes) -> dict[str, Any]:
    try:
        plaintext = AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode())
    except InvalidTag:
        raise RecordCorrupt("a sealed value failed authentication") from None
    value: dict[str, Any] = orjson.loads(plaintext)
    return value
