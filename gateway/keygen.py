"""Create the gateway's secrets as files: hook secret, key-encryption key, subject HMAC key and
the checkpoint signing key with its public verifier key; on request, an Ed25519 pair for
Standard Webhooks v1a hook signatures (the signing key is for the order pipeline)."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from gateway.operations.signature import new_signing_pair
from gateway.record.checkpoint import Signer

FILES = ("hook-secret", "record-kek", "subject-hmac", "checkpoint.key", "checkpoint.pub")
#: The v1a pair: ``whsk_`` signing key (the pipeline's) and ``whpk_`` public key (the gateway's).
HOOK_SIGNING_FILES = ("hook-signing.key", "hook-signing.pub")


def _write(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def keygen(directory: Path, *, origin: str, hook_signing: bool = False) -> list[Path]:
    """Write any missing secret file under ``directory``; existing files are kept as they are.
    With ``hook_signing``, also a v1a pair (``hook-signing.key``, ``hook-signing.pub``).
    Returns the files written."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    values: dict[str, Callable[[], str]] = {
        "hook-secret": lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "record-kek": lambda: secrets.token_hex(32),
        "subject-hmac": lambda: secrets.token_hex(32),
    }
    for name, make in values.items():
        path = directory / name
        if not path.exists():
            _write(path, make(), 0o600)
            written.append(path)
    key, pub = directory / "checkpoint.key", directory / "checkpoint.pub"
    if not key.exists():
        signer, verifier = Signer.generate(origin)
        _write(key, signer.key_string(), 0o600)
        written.append(key)
        if pub.exists():
            pub.unlink()
        _write(pub, verifier, 0o644)
        written.append(pub)
    if hook_signing:
        written += _hook_signing_pair(directory)
    return written


def _hook_signing_pair(directory: Path) -> list[Path]:
    """Written only when neither half exists: the signing key is meant to move to the
    pipeline, and its public key must then stay as it is."""
    key, pub = (directory / name for name in HOOK_SIGNING_FILES)
    if key.exists() or pub.exists():
        return []
    signing, public = new_signing_pair()
    _write(key, signing, 0o600)
    _write(pub, public, 0o644)
    return [key, pub]
