"""Checkpoints: C2SP signed notes (c2sp.org/signed-note) whose text is a tree head
(c2sp.org/tlog-checkpoint), signed with Ed25519.

A note is its text, a blank line, then one line per signature::

    <origin>
    <tree size, decimal>
    <root hash, base64>

    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>

Keys are written as golang.org/x/mod/sumdb/note writes them, so the Go tools read ours and we read
theirs: a verifier key is ``<name>+<hex key id>+<base64(0x01 || public key)>`` and a signer key
``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>``, where the key id is the first four
bytes of ``SHA-256(name || 0x0A || 0x01 || public key)``.

The signing time is not in the note: the spec advises against extension lines, which monitors
cannot audit, so the store keeps the time beside the note. Ed25519 is deterministic, so signing
is a pure function of the checkpoint and the key.

Every refusal raises ``CheckpointInvalid`` with a short reason and no key material, as Fernet
raises one ``InvalidToken`` whatever went wrong.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Final

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import ConfigError, RecordCorrupt
from gateway.record.note_keys import (
    KEY_ID_SIZE,
    KEY_SIZE,
    b64decode,
    b64encode,
    key_id,
    parse_private_key,
    parse_vkey,
    private_key_string,
    raw_public,
    valid_name,
    vkey_string,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "Checkpoint",
    "CheckpointInvalid",
    "Signer",
    "Verifier",
    "format_checkpoint",
    "open_note",
    "parse_and_verify",
    "sign_checkpoint",
    "sign_note",
]

ED25519: Final = 0x01
MAX_SIGNATURES: Final = 100  # the spec asks for at least 16; golang.org/x/mod allows 100

_SIG_PREFIX: Final = "\u2014 "  # em dash, space
_SIGNATURE_SIZE: Final = 64
_ROOT_SIZE: Final = KEY_SIZE  # SHA-256
_MAX_TREE_SIZE: Final = 2**64 - 1
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # every ASCII control character but newline
_DECIMAL = re.compile("0|[1-9][0-9]*")


class CheckpointInvalid(RecordCorrupt):
    """A checkpoint note was refused: malformed, unsigned by a known key, badly signed, or for
    another log. One class for every cause; the reason is short and names no key material."""


def _refuse(reason: str) -> CheckpointInvalid:
    return CheckpointInvalid(f"checkpoint refused: {reason}")


# -- checkpoints ----------------------------------------------------------------------------------


def _check_line(name: str, value: str) -> None:
    if not value or "\n" in value or _CONTROL.search(value):
        raise ValueError(f"{name} must be one non-empty line without control characters")


def _line(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    _check_line(attribute.name, value)


def _tree_size(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not 0 <= value <= _MAX_TREE_SIZE:
        raise ValueError("size must be an integer from 0 to 2**64 - 1")


def _root(_: object, __: attrs.Attribute[bytes], value: bytes) -> None:
    if len(value) != _ROOT_SIZE:
        raise ValueError("root must be a 32-byte SHA-256 hash")


def _extensions(_: object, __: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
    if not isinstance(value, tuple):
        raise TypeError("extensions must be a tuple of lines")
    for line in value:
        _check_line("an extension line", line)


@attrs.frozen
class Checkpoint:
    """A signed tree head: the log ``origin``, its ``size`` and its RFC 9162 ``root``.

    ``extensions`` holds any extension lines a note carried (the spec allows but advises against
    them; this gateway writes none).
    """

    origin: str = attrs.field(validator=[attrs.validators.instance_of(str), _line])
    size: int = attrs.field(validator=[attrs.validators.instance_of(int), _tree_size])
    root: bytes = attrs.field(validator=[attrs.validators.instance_of(bytes), _root])
    extensions: tuple[str, ...] = attrs.field(default=(), validator=_extensions)


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The note text of ``checkpoint``: origin, size and root, each on its own line."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root).decode("ascii"),
        *checkpoint.extensions,
    ]
    return "".join(line + "\n" for line in lines)


def _parse_checkpoint(text: str) -> Checkpoint:
    lines = text[:-1].split("\n") if text.endswith("\n") else []
    if len(lines) < 3 or not all(lines):  # noqa: PLR2004 - origin, size, root
        raise _refuse("malformed checkpoint")
    origin, size, root, *extensions = lines
    if not _DECIMAL.fullmatch(size) or int(size) > _MAX_TREE_SIZE:
        raise _refuse("malformed checkpoint")
    root_hash = b64decode(root)
    if root_hash is None or len(root_hash) != _ROOT_SIZE:
        raise _refuse("malformed checkpoint")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def read_checkpoint(text: str) -> Checkpoint:
    """The checkpoint a note's text (``note_text``) carries, its signatures NOT checked: for
    the record's own stored notes, to check a proof against the root they sign."""
    return _parse_checkpoint(text)


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer, *cosigners: Signer) -> str:
    """The whole signed note for ``checkpoint``, signed by ``signer`` (and any ``cosigners``)."""
    return sign_note(format_checkpoint(checkpoint), signer, *cosigners)


def parse_and_verify(
    note: str, verifiers: Sequence[Verifier], *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in ``note``, once a signature by one of ``verifiers`` holds.

    Signatures by keys not among ``verifiers`` are ignored, as the spec requires; a signature by
    a known key that fails refuses the whole note. With ``origin``, a note for any other log is
    refused too.
    """
    checkpoint = _parse_checkpoint(open_note(note, verifiers))
    if origin is not None and checkpoint.origin != origin:
        raise _refuse("the checkpoint is for another log")
    return checkpoint


# -- keys -----------------------------------------------------------------------------------------


@attrs.frozen
class Verifier:
    """A public key that may sign notes, under its key name."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_public_key(cls, name: str, key: Ed25519PublicKey | bytes) -> Verifier:
        raw = key if isinstance(key, bytes) else raw_public(key)
        if not valid_name(name) or len(raw) != KEY_SIZE:
            raise ConfigError("a verifier needs a valid key name and a 32-byte Ed25519 key")
        return cls(name, key_id(name, ED25519, raw), raw)

    @classmethod
    def from_key_string(cls, text: str) -> Verifier:
        """A verifier from ``<name>+<hex key id>+<base64(0x01 || public key)>``."""
        parsed = parse_vkey(text, ED25519)
        if parsed is None:
            raise ConfigError("not a valid Ed25519 note verifier key")
        return cls(*parsed)

    def key_string(self) -> str:
        return vkey_string(self.name, ED25519, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (64 bytes, without the key id) is this key's over ``message``."""
        if len(signature) != _SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@attrs.frozen(eq=False, repr=False)
class Signer:
    """A private key that signs notes under its key name. Its repr shows no key material."""

    name: str
    key_id: bytes
    _key: Ed25519PrivateKey = attrs.field(alias="key")

    @classmethod
    def from_private_key(cls, name: str, key: Ed25519PrivateKey) -> Signer:
        if not valid_name(name):
            raise ConfigError("a key name must be non-empty, without spaces or plus signs")
        return cls(name, key_id(name, ED25519, raw_public(key.public_key())), key)

    @classmethod
    def from_key_string(cls, text: str) -> Signer:
        """A signer from ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>``."""
        parsed = parse_private_key(text, ED25519)
        if parsed is None:
            raise ConfigError("not a valid Ed25519 note signer key")
        return cls.from_private_key(*parsed)

    @classmethod
    def generate(cls, name: str) -> tuple[Signer, str]:
        """A new random signer, and its verifier key string to hand to whoever checks."""
        signer = cls.from_private_key(name, Ed25519PrivateKey.generate())
        return signer, signer.verifier().key_string()

    def key_string(self) -> str:
        """The secret key string; store it as a secret."""
        return private_key_string(self.name, ED25519, self._key)

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, raw_public(self._key.public_key()))

    def signature_line(self, text: str) -> str:
        """``— <name> <base64(key id || signature)>`` over ``text``, newline included."""
        signature = self.key_id + self._key.sign(text.encode())
        return f"{_SIG_PREFIX}{self.name} {b64encode(signature)}\n"

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id.hex()!r})"


# -- notes ----------------------------------------------------------------------------------------


def sign_note(text: str, signer: Signer, *cosigners: Signer) -> str:
    """The signed note of ``text`` (one or more lines, each ending in a newline)."""
    if not text.endswith("\n") or _CONTROL.search(text) or not _is_utf8(text):
        raise ValueError("note text must end in a newline and hold no control characters")
    return text + "\n" + "".join(s.signature_line(text) for s in (signer, *cosigners))


def open_note(note: str, verifiers: Sequence[Verifier]) -> str:
    """The text of ``note`` once a signature by one of ``verifiers`` holds on it.

    Signature lines by keys (name and key id) not among ``verifiers`` are ignored; a signature by
    a known key that does not verify refuses the note, as does a note with none that does.
    """
    text, signatures = _split_note(note)
    known = _index(verifiers)
    message = text.encode()
    verified = False
    for name, signature in signatures:
        verifier = known.get((name, signature[:KEY_ID_SIZE]))
        if verifier is None:
            continue
        if not verifier.verify(message, signature[KEY_ID_SIZE:]):
            raise _refuse("a signature by a known key does not verify")
        verified = True
    if not verified:
        raise _refuse("no signature by a known key")
    return text


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text of ``note`` and its signatures as (key name, key id || signature) pairs."""
    split = note.rfind("\n\n")
    if not _is_utf8(note) or _CONTROL.search(note) or split < 0 or not note.endswith("\n"):
        raise _refuse("malformed note")
    text, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    if split + 2 == len(note) or len(lines) > MAX_SIGNATURES:
        raise _refuse("malformed note")
    signatures = []
    for line in lines:
        name, _, encoded = line.removeprefix(_SIG_PREFIX).partition(" ")
        signature = b64decode(encoded)
        if (
            not line.startswith(_SIG_PREFIX)
            or not valid_name(name)
            or signature is None
            or len(signature) <= KEY_ID_SIZE
        ):
            raise _refuse("malformed note")
        signatures.append((name, signature))
    return text, signatures


def _is_utf8(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (a str may hold lone surrogates, which do not)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _index(verifiers: Sequence[Verifier]) -> dict[tuple[str, bytes], Verifier]:
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        if known.setdefault((verifier.name, verifier.key_id), verifier) != verifier:
            raise _refuse("two verifier keys share a name and key id")
    return known
