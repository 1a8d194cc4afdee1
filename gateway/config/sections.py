"""The frozen settings of config.toml's tables that ``Config`` holds: the record, each carrier,
TLS, the keys, and the address ranges of trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

import attrs

from carriers import Resilience
from gateway.config.secret import Secret, SecretRef
from gateway.operations.signature import HookKey

__all__ = ["CarrierConfig", "Keys", "Network", "RecordConfig", "TlsConfig"]

#: An address range written in ``[gateway] trusted_proxies``.
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@attrs.frozen
class CarrierConfig:
    name: str
    base_url: str
    timeout: float
    #: Read when the gateway reaches the carrier (``Config.carrier_credentials``).
    credentials: Mapping[str, SecretRef]
    resilience: Resilience = attrs.field(factory=Resilience)
    #: The adapter's own settings (its ``options``, e.g. Posti's token_url), as keywords.
    options: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class RecordConfig:
    """``path`` is the SQLite file; with PostgreSQL, the checkpoint witness file is kept beside
    it (``path`` + ``.checkpoint``), one per machine. ``url`` and ``schema`` name the PostgreSQL
    record."""

    store: str
    path: Path
    batch_max: int
    queue_max: int
    checkpoint_every: int
    checkpoint_interval: float
    url: Secret | None = None
    schema: str = "gateway"
    #: Seconds after which an operation without an outcome is resolved by a running gateway
    #: (a crashed instance's); None: derived from the carriers' call policy.
    recover_after: float | None = None


@attrs.frozen
class TlsConfig:
    """The certificate chain and private key ``gateway serve`` answers HTTPS with (PEM files
    named in config.toml; the key file is a secret and stays out of the config)."""

    cert: Path
    key: Path


@attrs.frozen(repr=False)
class Keys:
    #: Shared secrets (v1) and senders' public keys (v1a); any of them may sign a hook.
    hooks: tuple[HookKey, ...]
    kek: bytes
    previous_keks: tuple[bytes, ...]
    subject_hmac: bytes
    checkpoint_signing: str

    def __repr__(self) -> str:
        return "Keys(<secret>)"
