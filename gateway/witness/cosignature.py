"""Witness cosignatures (c2sp.org/tlog-cosignature, cosignature/v1 with Ed25519).

A cosignature is a note signature line over a checkpoint::

    — <cosigner name> base64(4-byte key id || 8-byte big-endian timestamp || 64-byte signature)

where the key id is ``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` and the Ed25519
signature is over the message::

    cosignature/v1
    time <timestamp, decimal>
    <the checkpoint's note text, final newline included, no signature lines>

Keys are written like the checkpoint keys (``gateway.record.checkpoint``), with signature type
0x04: a verifier key (vkey) is ``<name>+<hex key id>+<base64(0x04 || public key)>`` and a signer
key ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || seed)>``.

The Ed25519 message does not commit to the cosigner's name, so one key must serve one cosigner.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable, Sequence
from typing import Final

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import ConfigError
from gateway.record.note_keys import (
    KEY_ID_SIZE,
    b64decode,
    key_id,
    parse_private_key,
    parse_vkey,
    private_key_string,
    raw_public,
    valid_name,
    vkey_string,
)

__all__ = [
    "COSIGNATURE_V1",
    "Cosigner",
    "CosignerKey",
    "note_text",
    "signature_lines",
    "signed_message",
    "valid_cosignatures",
]

#: The signature type byte of timestamped Ed25519 cosignatures (c2sp.org/signed-note).
COSIGNATURE_V1: Final = 0x04
_HEADER: Final = b"cosignature/v1\n"
_SIG_PREFIX: Final = "\u2014 "  # em dash, space
_SIGNATURE_SIZE: Final = 64
_MAX_TIME: Final = 2**63 - 1


def signed_message(text: str, timestamp: int) -> bytes:
    """What a v1 cosignature signs: the header line, the time line, then the note text."""
    return _HEADER + f"time {timestamp}\n".encode() + text.encode()


def note_text(note: str) -> str:
    """The text of a signed note (everything before its last blank line, final newline kept)."""
    split = note.rfind("\n\n")
    return note[: split + 1] if split >= 0 else note


def signature_lines(text: str) -> list[tuple[str, bytes]]:
    """The (key name, decoded signature) of each well-formed note signature line in ``text``;
    lines that are not signature lines are skipped."""
    out = []
    for line in text.splitlines():
        if not line.startswith(_SIG_PREFIX):
            continue
        name, _, encoded = line.removeprefix(_SIG_PREFIX).partition(" ")
        signature = b64decode(encoded)
        if valid_name(name) and signature is not None and len(signature) > KEY_ID_SIZE:
            out.append((name, signature))
    return out


@attrs.frozen
class CosignerKey:
    """A witness's public key, under the cosigner name it signs with."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_vkey(cls, text: str) -> CosignerKey:
        """A key from ``<name>+<hex key id>+<base64(0x04 || public key)>``."""
        parsed = parse_vkey(text, COSIGNATURE_V1)
        if parsed is None:
            raise ConfigError("not a valid witness key (a cosignature/v1 Ed25519 vkey)")
        return cls(*parsed)

    def vkey(self) -> str:
        return vkey_string(self.name, COSIGNATURE_V1, self.public_key)

    @property
    def label(self) -> str:
        """Name and key id: how the store tells one witness key from another."""
        return f"{self.name}+{self.key_id.hex()}"

    def timestamp(self, text: str, name: str, signature: bytes) -> int | None:
        """The time of this key's cosignature ``signature`` (as decoded from a line named
        ``name``) over note ``text``, or None if it is not a valid one by this key."""
        body = signature[KEY_ID_SIZE:]
        if (name != self.name or signature[:KEY_ID_SIZE] != self.key_id
                or len(body) != 8 + _SIGNATURE_SIZE):
            return None
        (timestamp,) = struct.unpack(">Q", body[:8])
        if timestamp > _MAX_TIME:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                body[8:], signed_message(text, timestamp))
        except InvalidSignature:
            return None
        return int(timestamp)


def valid_cosignatures(text: str, lines: str, keys: Iterable[CosignerKey],
                       ) -> dict[CosignerKey, str]:
    """Each of ``keys`` with a valid cosignature over note ``text`` among ``lines``, and that
    line (newline included). Lines by other keys, or that do not verify, are left out."""
    found: dict[CosignerKey, str] = {}
    wanted: Sequence[CosignerKey] = list(keys)
    for line in lines.splitlines():
        for name, signature in signature_lines(line):
            for key in wanted:
                if key not in found and key.timestamp(text, name, signature) is not None:
                    found[key] = line + "\n"
    return found


@attrs.frozen(eq=False, repr=False)
class Cosigner:
    """A witness's private key. Its repr shows no key material."""

    name: str
    key_id: bytes
    _key: Ed25519PrivateKey = attrs.field(alias="key")

    @classmethod
    def from_private_key(cls, name: str, key: Ed25519PrivateKey) -> Cosigner:
        if not valid_name(name):
            raise ConfigError("a witness name must be non-empty, without spaces or plus signs")
        return cls(name, key_id(name, COSIGNATURE_V1, raw_public(key.public_key())), key)

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        return cls.from_private_key(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_key_string(cls, text: str) -> Cosigner:
        """A signer from ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || seed)>``."""
        parsed = parse_private_key(text, COSIGNATURE_V1)
        if parsed is None:
            raise ConfigError("not a valid witness signing key")
        return cls.from_private_key(*parsed)

    def key_string(self) -> str:
        """The secret key string; keep it as a secret."""
        return private_key_string(self.name, COSIGNATURE_V1, self._key)

    def public(self) -> CosignerKey:
        return CosignerKey(self.name, self.key_id, raw_public(self._key.public_key()))

    def cosign(self, text: str, timestamp: int) -> str:
        """The cosignature line (newline included) over note ``text`` at ``timestamp``."""
        if not 0 <= timestamp <= _MAX_TIME:
            raise ValueError("a cosignature's time is a POSIX time from 0 to 2**63 - 1")
        signature = self._key.sign(signed_message(text, timestamp))
        encoded = base64.b64encode(self.key_id + struct.pack(">Q", timestamp) + signature)
        return f"{_SIG_PREFIX}{self.name} {encoded.decode()}\n"

    def __repr__(self) -> str:
        return f"Cosigner(name={self.name!r}, key_id={self.key_id.hex()!r})"
