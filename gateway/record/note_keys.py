"""Ed25519 keys of C2SP signed notes, written once for every signer of a note: the checkpoint
signer (algorithm 0x01, signed-note) and witness cosigners (algorithm 0x04,
tlog-cosignature) share the key names, key ids, base64 spelling and key strings.

- a verifier key (vkey): ``<name>+<hex key id>+<base64(algorithm || public key)>``
- a private key: ``PRIVATE+KEY+<name>+<hex key id>+<base64(algorithm || seed)>``
- the key id: the first four bytes of SHA-256(name || 0x0A || algorithm || public key)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

KEY_SIZE: Final = 32
KEY_ID_SIZE: Final = 4
_HEX_ID = re.compile("[0-9a-fA-F]{8}")
_BASE64 = re.compile("[A-Za-z0-9+/]*={0,2}")


def valid_name(name: str) -> bool:
    """Key names are non-empty and hold no space, plus sign or control character."""
    return bool(name) and not any(c.isspace() or c == "+" or c < " " for c in name)


def key_id(name: str, algorithm: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([algorithm]) + public_key).digest()[
        :KEY_ID_SIZE
    ]


def b64decode(text: str) -> bytes | None:
    """Standard base64 with padding, in its one canonical spelling; None if it is not."""
    if not _BASE64.fullmatch(text):
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def parse_vkey(text: str, algorithm: int) -> tuple[str, bytes, bytes] | None:
    """(name, key id, public key) of a verifier key of ``algorithm``; None if it is not one,
    or its key id does not match its name and key."""
    name, hex_id, key = [*text.strip().split("+", 2), "", ""][:3]
    raw = b64decode(key)
    if (not valid_name(name) or not _HEX_ID.fullmatch(hex_id) or raw is None
            or len(raw) != 1 + KEY_SIZE or raw[0] != algorithm
            or key_id(name, algorithm, raw[1:]) != bytes.fromhex(hex_id)):
        return None
    return name, bytes.fromhex(hex_id), raw[1:]


def vkey_string(name: str, algorithm: int, public_key: bytes) -> str:
    encoded = b64encode(bytes([algorithm]) + public_key)
    return f"{name}+{key_id(name, algorithm, public_key).hex()}+{encoded}"


def parse_private_key(text: str, algorithm: int) -> tuple[str, Ed25519PrivateKey] | None:
    """(name, key) of a private key string of ``algorithm``; None if it is not one, or its
    key id does not match its name and key."""
    private, marker, name, hex_id, key = [*text.strip().split("+", 4), "", "", "", ""][:5]
    raw = b64decode(key)
    if ((private, marker) != ("PRIVATE", "KEY") or not valid_name(name)
            or not _HEX_ID.fullmatch(hex_id) or raw is None or len(raw) != 1 + KEY_SIZE
            or raw[0] != algorithm):
        return None
    private_key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if key_id(name, algorithm, raw_public(private_key.public_key())) != bytes.fromhex(hex_id):
        return None
    return name, private_key


def private_key_string(name: str, algorithm: int, key: Ed25519PrivateKey) -> str:
    """The secret key string; keep it as a secret."""
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = raw_public(key.public_key())
    return (f"PRIVATE+KEY+{name}+{key_id(name, algorithm, public).hex()}+"
            f"{b64encode(bytes([algorithm]) + seed)}")
