"""Per-subject encryption of personal values.

Each subject (customer) gets a random AES-256-GCM key: random, not derived, so deleting it really
destroys every value sealed under it. Keys are stored wrapped by the key-encryption key (KEK).
Subjects are named by an HMAC of their id, never the bare id.

A sealed value is bound to its use by an AEAD context (associated data), built here and only
here (``*_context``): a value cannot be opened under another use's context.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from collections.abc import Sequence
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import RecordCorrupt
from gateway.record.entry import Kind

_NONCE = 12


def entry_context(kind: Kind, disclosure: str | None) -> str:
    """An entry's sealed values: its kind and disclosure id."""
    return f"{kind}:{disclosure}"


def intent_context(disclosure: str) -> str:
    """A disclosure intent's sealed values (receiver or sender, add-on parameters, items)."""
    return entry_context(Kind.INTENT, disclosure)


def outcome_context(disclosure: str) -> str:
    """A disclosure outcome's sealed values (the carrier's tracking number and reference)."""
    return entry_context(Kind.OUTCOME, disclosure)


def hook_context(webhook_id: str) -> str:
    """A hook's answer, kept for an idempotent retry."""
    return f"hook:{webhook_id}"


def authority_subject_context(request: str) -> str:
    """A customer id an authority request named, kept with the request."""
    return f"authority-subject:{request}"


def erasure_notice_context(notice: str) -> str:
    """The identifiers an erasure notice gives a recipient, kept until it is sent."""
    return f"erasure-notice:{notice}"


def subject_ref(hmac_key: bytes, subject_id: str) -> str:
    """The pseudonymous reference the record uses for a customer id."""
    return hmac.new(hmac_key, subject_id.encode(), hashlib.sha256).hexdigest()


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


_KEK_ID = 8


def kek_id(kek: bytes) -> bytes:
    """Names a key-encryption key inside what it wraps, so several can be valid during a
    rotation."""
    return _kek(kek)[0]


@functools.lru_cache(maxsize=8)
def _kek(kek: bytes) -> tuple[bytes, AESGCM]:
    """A key-encryption key's id and cipher, made once per KEK: the configured KEKs live as
    long as the process, and every new or read subject key passes through one. (Subject keys
    are never cached: erasing one must leave no copy behind.)"""
    return hashlib.sha256(b"gateway kek id\x00" + kek).digest()[:_KEK_ID], AESGCM(kek)


def wrap(kek: bytes, subject: str, key: bytes) -> bytes:
    """kek id (8 bytes) || nonce (12) || AES-GCM(kek, key, aad=subject)."""
    nonce = os.urandom(_NONCE)
    ident, cipher = _kek(kek)
    return ident + nonce + cipher.encrypt(nonce, key, subject.encode())


def wrapped_by(wrapped: bytes) -> bytes:
    return wrapped[:_KEK_ID]


def unwrap(keks: Sequence[bytes], subject: str, wrapped: bytes) -> bytes:
    """Unwrap with whichever of ``keks`` wrapped it (current first, then previous ones)."""
    wanted = wrapped_by(wrapped)
    for kek in keks:
        ident, cipher = _kek(kek)
        if ident == wanted:
            try:
                body = wrapped[_KEK_ID:]
                return cipher.decrypt(body[:_NONCE], body[_NONCE:], subject.encode())
            except InvalidTag:
                break
    raise RecordCorrupt("a subject key cannot be unwrapped with the configured key-encryption "
                        "keys")


#: A sealed value: version, the id of the key that sealed it, nonce, AES-GCM ciphertext.
_SEALED_VERSION = b"\x01"
_KEY_ID = 8


def key_id(key: bytes) -> bytes:
    """Names a subject key without revealing it. A customer erased and seen again gets a new
    key; values sealed under the old one are told apart by this id and read as erased."""
    return hashlib.sha256(b"disclosure-gateway subject key id\x00" + key).digest()[:_KEY_ID]


def seal(key: bytes, context: str, values: dict[str, Any]) -> bytes:
    """Encrypt ``values`` (JSON) under a subject key; ``context`` binds it to its use."""
    nonce = os.urandom(_NONCE)
    plaintext = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
    return (_SEALED_VERSION + key_id(key) + nonce
            + AESGCM(key).encrypt(nonce, plaintext, context.encode()))


def unseal(key: bytes, context: str, sealed: bytes) -> dict[str, Any] | None:
    """The sealed values, or None if they were sealed under another (an erased) key of the
    subject. RecordCorrupt if the value is malformed or fails authentication."""
    head = 1 + _KEY_ID
    if len(sealed) < head + _NONCE or sealed[:1] != _SEALED_VERSION:
        raise RecordCorrupt("a sealed value is malformed")
    if sealed[1:head] != key_id(key):
        return None
    body = sealed[head:]
    try:
        plaintext = AESGCM(key).decrypt(body[:_NONCE], body[_NONCE:], context.encode())
    except InvalidTag:
        raise RecordCorrupt("a sealed value failed authentication") from None
    value: dict[str, Any] = orjson.loads(plaintext)
    return value
