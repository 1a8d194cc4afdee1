"""One loader per table of config.toml: each validates its table and returns the frozen
settings ``Config`` holds, raising a ConfigError that names the table and key."""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from carriers import ADAPTERS, Resilience
from gateway.config._parse import DAY, http_url, only, seconds, string, whole
from gateway.config.secret import Secret, SecretRef, read_secret
from gateway.config.sections import CarrierConfig, Keys, Network, RecordConfig, TlsConfig
from gateway.erasure.requests import ErasureRules
from gateway.errors import ConfigError
from gateway.models import Party
from gateway.operations.signature import hook_key
from gateway.record.checkpoint import Verifier
from gateway.staff.logins import LoginLimits


def networks(values: object) -> tuple[Network, ...]:
    """``trusted_proxies``: IP addresses or CIDR ranges."""
    where = "[gateway] trusted_proxies"
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f'{where}: expected a list of addresses or ranges, e.g. ["10.0.0.0/8"]')
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=True))
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not an IP address or CIDR range") from None
    return tuple(out)


def tls(raw: Mapping[str, Any], base: Path) -> TlsConfig | None:
    """``tls_cert`` and ``tls_key``: both or neither, each a readable PEM file."""
    given = [key for key in ("tls_cert", "tls_key") if key in raw]
    if not given:
        return None
    if len(given) == 1:
        raise ConfigError("[gateway]: tls_cert and tls_key go together; name both files")
    paths = {}
    for key in given:
        path = base / string(raw, key, "[gateway]")
        if not path.is_file():
            raise ConfigError(f"[gateway] {key}: cannot read {path}")
        paths[key] = path
    return TlsConfig(cert=paths["tls_cert"], key=paths["tls_key"])


def sender(raw: Mapping[str, Any]) -> Party:
    keys = [field.name for field in attrs.fields(Party)]
    only(raw, set(keys), "[sender]")
    return Party(**{key: string(raw, key, "[sender]") for key in keys})


def record(raw: Mapping[str, Any], base: Path) -> RecordConfig:
    allowed = {"store", "path", "batch_max", "queue_max", "checkpoint_every", "checkpoint_interval",
               "url", "schema", "recover_after"}
    only(raw, allowed, "[record]")
    store = raw.get("store", "sqlite")
    if store not in ("sqlite", "postgres"):
        raise ConfigError(f"[record]: unknown store {store!r} (known: sqlite, postgres)")
    url = postgres_url(raw["url"], base) if store == "postgres" and "url" in raw else None
    if store == "postgres" and url is None:
        raise ConfigError('[record]: store = "postgres" needs url')
    return RecordConfig(
        store=store,
        url=url,
        schema=string(raw, "schema", "[record]") if "schema" in raw else "gateway",
        path=base / (string(raw, "path", "[record]") if store == "sqlite" or "path" in raw
                     else "var/record-postgres"),
        batch_max=whole(raw, "batch_max", "[record]", default=512, low=1, high=100_000),
        queue_max=whole(raw, "queue_max", "[record]", default=8192, low=1, high=10_000_000),
        checkpoint_every=whole(raw, "checkpoint_every", "[record]", default=1000, low=1,
                                high=100_000_000),
        checkpoint_interval=seconds(raw, "checkpoint_interval", "[record]", default=10.0,
                                     high=DAY),
        recover_after=(seconds(raw, "recover_after", "[record]", default=0, high=DAY)
                       if "recover_after" in raw else None),
    )


def postgres_url(ref: object, base: Path) -> Secret:
    """A connection URL written in config.toml must hold no password (give it in PGPASSWORD or
    ~/.pgpass, or name the whole URL as a secret: ``{ env = "NAME" }`` or ``{ file = "path" }``)."""
    if not isinstance(ref, str):
        return read_secret(ref, "[record] url", base)
    try:
        parts = urllib.parse.urlsplit(ref)
        password = parts.password
    except ValueError:
        raise ConfigError("[record] url: not a URL") from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError("[record] url: expected postgresql://...")
    if password is not None or "password=" in parts.query:
        raise ConfigError('[record] url: no password in config.toml; use PGPASSWORD or '
                          '~/.pgpass, or url = { env = "NAME" }')
    return Secret(ref, "config")


def carriers(raw: Mapping[str, Any], base: Path) -> dict[str, CarrierConfig]:
    out = {}
    for name, table in raw.items():
        where = f"[carriers.{name}]"
        if name not in ADAPTERS:
            raise ConfigError(f"{where}: unknown carrier (known: {', '.join(sorted(ADAPTERS))})")
        adapter = ADAPTERS[name]
        known_options: Mapping[str, tuple[str, ...]] = getattr(adapter, "options", {})
        only(table, {"base_url", "credentials", *Resilience.KEYS, *known_options}, where)
        resilience = Resilience.from_table(table, where)
        creds_raw = table.get("credentials", {})
        sets = getattr(adapter, "credential_sets", (adapter.credential_names,))
        if not any(set(creds_raw) == set(names) for names in sets):
            alternatives = " or ".join(", ".join(sorted(names)) for names in sets)
            raise ConfigError(f"{where}: credentials must name exactly {alternatives}")
        options = {}
        for option, belongs in known_options.items():
            if option not in table:
                continue
            if set(creds_raw) != set(belongs):
                raise ConfigError(
                    f"{where}: {option} applies only with credentials {', '.join(belongs)}"
                )
            options[option] = http_url(table[option], f"{where} {option}")
        out[name] = CarrierConfig(
            options=options,
            name=name,
            base_url=string(table, "base_url", where).rstrip("/"),
            timeout=resilience.timeout,
            resilience=resilience,
            credentials={
                key: SecretRef.parse(ref, f"{where} credentials.{key}", base)
                for key, ref in creds_raw.items()
            },
        )
    return out


def public_keys(paths: object, base: Path) -> tuple[Verifier, ...]:
    """Retired checkpoint public keys (not secret), so old checkpoints still verify."""
    where = "[gateway] previous_checkpoint_keys"
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError(f"{where}: expected a list of file paths")
    out = []
    for name in paths:
        try:
            out.append(Verifier.from_key_string((base / name).read_text(encoding="utf-8").strip()))
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {base / name} ({exc.strerror})") from None
    return tuple(out)


def erasure(raw: Mapping[str, Any]) -> ErasureRules:
    only(raw, {"hold_days", "hold_basis", "retention_days", "run_every_hours",
                "package_retention_days"}, "[erasure]")
    every = raw.get("run_every_hours", 0)
    if not isinstance(every, int | float) or isinstance(every, bool) or every < 0:
        raise ConfigError("[erasure]: run_every_hours must be 0 (off) or a positive number")
    days, retention = raw.get("hold_days", 0), raw.get("retention_days", 0)
    packages = raw.get("package_retention_days", 0)
    for name, value in (("hold_days", days), ("retention_days", retention),
                        ("package_retention_days", packages)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"[erasure]: {name} must be a whole number of days, 0 or more")
    basis = raw.get("hold_basis", "")
    if days and not basis:
        raise ConfigError("[erasure]: hold_basis must name the law that requires the hold")
    return ErasureRules(hold_days=days, hold_basis=str(basis), retention_days=retention,
                        run_every_hours=every, package_retention_days=packages)


def logins(raw: object) -> LoginLimits:
    if not isinstance(raw, Mapping):
        raise ConfigError("[logins] must be a table")
    only(raw, {"workers", "waiting", "per_client"}, "[logins]")
    values = {}
    for name, low in (("workers", 1), ("waiting", 0), ("per_client", 1)):
        if name in raw:
            value = raw[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"[logins]: {name} must be a whole number, {low} or more")
            values[name] = value
    return LoginLimits(**values)


def keys(raw: Mapping[str, Any], base: Path) -> Keys:
    where = "[gateway.secrets]"
    only(raw, {"hooks", "record_kek", "record_kek_previous", "subject_hmac",
                "checkpoint_signing"}, where)
    for key in ("hooks", "record_kek", "subject_hmac", "checkpoint_signing"):
        if key not in raw:
            raise ConfigError(f"{where}: {key} is missing")
    hooks_text = read_secret(raw["hooks"], f"{where} hooks", base).value
    try:
        # Separated by commas or whitespace, so key files can simply be concatenated.
        hooks = tuple(hook_key(s) for s in hooks_text.replace(",", " ").split())
    except ValueError as exc:
        raise ConfigError(f"{where} hooks: {exc}") from None
    if not hooks:
        raise ConfigError(f"{where} hooks: no key given (whsec_ secrets or whpk_ public keys)")
    return Keys(
        hooks=hooks,
        kek=key_bytes(read_secret(raw["record_kek"], f"{where} record_kek", base), where),
        previous_keks=tuple(
            key_bytes(Secret(part.strip(), f"{where} record_kek_previous"), where)
            for part in read_secret(raw["record_kek_previous"], f"{where} record_kek_previous",
                                    base).value.split(",") if part.strip()
        ) if "record_kek_previous" in raw else (),
        subject_hmac=key_bytes(read_secret(raw["subject_hmac"], f"{where} subject_hmac", base),
                               where),
        checkpoint_signing=read_secret(raw["checkpoint_signing"], f"{where} checkpoint_signing",
                                       base).value,
    )


def key_bytes(secret: Secret, where: str) -> bytes:
    try:
        key = bytes.fromhex(secret.value)
    except ValueError:
        raise ConfigError(f"{where}: {secret.source} must hold 64 hex digits") from None
    if len(key) != 32:  # noqa: PLR2004 - AES-256 and HMAC-SHA256 keys
        raise ConfigError(f"{where}: {secret.source} must hold 64 hex digits")
    return key
