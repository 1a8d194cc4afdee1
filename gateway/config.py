"""config.toml -> a frozen, validated configuration tree.

Secrets never live in config.toml: each is a reference ``{ env = "NAME" }`` or
``{ file = "path" }`` (relative to the config file), read once at load time; carrier
credentials only when the gateway is to reach the carriers (``Config.carrier_credentials``).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from carriers import ADAPTERS, Resilience
from gateway.authority.settings import AuthoritySettings
from gateway.erasure.channels import recipients_from, smtp_from
from gateway.erasure.notices import Notices
from gateway.erasure.requests import ErasureRules
from gateway.errors import ConfigError
from gateway.http.proxies import Network
from gateway.models import Party
from gateway.operations.signature import HookKey, hook_key
from gateway.policy.config import parse_policy
from gateway.policy.rules import Policy
from gateway.record.checkpoint import Signer, Verifier
from gateway.review.settings import ReportSettings, report_settings
from gateway.staff.logins import LoginLimits
from gateway.witness.settings import Witnessing, witnessing_from


@attrs.frozen(repr=False)
class Secret:
    """A secret value and where it came from (the source is safe to print, the value is not)."""

    value: str
    source: str

    def __repr__(self) -> str:
        return f"Secret({self.source})"


@attrs.frozen
class SecretRef:
    """Where a secret is to be read (``{ env = "NAME" }`` or ``{ file = "path" }``), read only
    when a command needs it: carrier credentials are read by ``serve`` and ``demo``, so
    commands that reach no carrier run without them."""

    where: str
    env: str | None = None
    file: Path | None = None

    @classmethod
    def parse(cls, ref: object, where: str, base: Path) -> SecretRef:
        if isinstance(ref, str):
            raise ConfigError(
                f"{where}: secrets are not written in config.toml; "
                'use { env = "NAME" } or { file = "path" }'
            )
        if not isinstance(ref, Mapping) or len(ref) != 1 or not ({"env", "file"} & ref.keys()):
            raise ConfigError(f'{where}: expected {{ env = "NAME" }} or {{ file = "path" }}')
        if "env" in ref:
            return cls(where=where, env=str(ref["env"]))
        return cls(where=where, file=base / str(ref["file"]))

    @property
    def label(self) -> str:
        """The variable's name, or ``file PATH``: what the operator is to provide."""
        return self.env if self.env is not None else f"file {self.file}"

    def resolve(self) -> Secret:
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"{self.where}: environment variable {self.env} is not set")
            return Secret(value.strip(), f"env:{self.env}")
        assert self.file is not None
        try:
            return Secret(self.file.read_text(encoding="utf-8").strip(), f"file:{self.file}")
        except OSError as exc:
            raise ConfigError(f"{self.where}: cannot read secret file {self.file} "
                              f"({exc.strerror})") from None


def _secret(ref: object, where: str, base: Path) -> Secret:
    return SecretRef.parse(ref, where, base).resolve()


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


@attrs.frozen
class Config:
    path: Path
    origin: str
    host: str
    port: int
    max_body_bytes: int
    sender: Party
    record: RecordConfig
    carriers: Mapping[str, CarrierConfig]
    policy: Policy
    keys: Keys
    erasure: ErasureRules
    previous_checkpoint_keys: tuple[Verifier, ...] = ()
    logins: LoginLimits = attrs.field(factory=LoginLimits)
    #: Peers whose forwarded headers (Forwarded, X-Forwarded-For/-Proto) are believed.
    trusted_proxies: tuple[Network, ...] = ()
    #: HTTPS served by the gateway itself; None: plain HTTP (e.g. behind a TLS proxy).
    tls: TlsConfig | None = None
    #: The witnesses checkpoints go to, and the quorum that makes one witnessed.
    witnessing: Witnessing | None = None
    #: The authorities requests may come from, and the rules for their requests.
    authorities: AuthoritySettings = attrs.field(factory=AuthoritySettings)
    #: The reports' language, time zone, retention, recipients' names and publishing rules.
    reports: ReportSettings = attrs.field(factory=ReportSettings)

    @classmethod
    def from_toml(cls, path: Path | str) -> Config:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        try:
            return cls.from_mapping(raw, path=path)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.detail}") from None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, path: Path) -> Config:
        base = path.parent
        _only(raw, {"gateway", "record", "sender", "carriers", "policy", "erasure", "logins",
                    "witnesses", "witnessing", "reports", "recipients", "smtp",
                    "authorities"}, "config")
        gw = _table(raw, "gateway")
        _only(gw, {"origin", "host", "port", "max_body_bytes", "secrets",
                   "previous_checkpoint_keys", "trusted_proxies", "tls_cert", "tls_key"},
              "[gateway]")
        carriers = _carriers(_table(raw, "carriers"), base)
        sender = _sender(_table(raw, "sender"))
        record = _record(_table(raw, "record"), base)
        keys = _keys(_table(gw, "secrets", "[gateway.secrets]"), base)
        # Recipients told of an erasure (GDPR Art. 19): files kept beside the record.
        notices = Notices(directory=record.path.parent / "erasure-notices",
                          keks=(keys.kek, *keys.previous_keks), controller=sender.name,
                          reply_to=sender.email,
                          recipients=recipients_from(raw.get("recipients", {})),
                          smtp=smtp_from(raw.get("smtp"), base, _secret))
        return cls(
            path=path,
            origin=_str(gw, "origin", "[gateway]"),
            host=_str(gw, "host", "[gateway]") if "host" in gw else "127.0.0.1",
            port=_whole(gw, "port", "[gateway]", default=8080, low=0, high=65535),
            max_body_bytes=_whole(gw, "max_body_bytes", "[gateway]", default=64 * 1024,
                                  low=1024, high=2**30),
            trusted_proxies=_networks(gw.get("trusted_proxies", [])),
            tls=_tls(gw, base),
            sender=sender,
            record=record,
            carriers=carriers,
            policy=parse_policy(_table(raw, "policy"), carriers, origin=sender.country),
            keys=keys,
            erasure=attrs.evolve(_erasure(raw.get("erasure", {})), notices=notices),
            previous_checkpoint_keys=_public_keys(gw.get("previous_checkpoint_keys", []), base),
            logins=_logins(raw.get("logins", {})),
            witnessing=witnessing_from(raw, base),
            authorities=AuthoritySettings.from_mapping(raw.get("authorities", {})),
            reports=report_settings(raw),
        )

    def carrier_credentials(self) -> dict[str, dict[str, str]]:
        """Each carrier's credentials, read now; one ConfigError naming every one missing
        (what ``gateway serve`` checks before it starts)."""
        found: dict[str, dict[str, str]] = {name: {} for name in self.carriers}
        missing = []
        for name, cc in self.carriers.items():
            for key, ref in cc.credentials.items():
                try:
                    found[name][key] = ref.resolve().value
                except ConfigError:
                    missing.append(ref.label)
        if missing:
            raise ConfigError(f"missing carrier credentials: {', '.join(missing)}")
        return found

    def verifiers(self) -> list[Verifier]:
        """The checkpoint public keys: the current signing key's, then retired ones."""
        current = Signer.from_key_string(self.keys.checkpoint_signing).verifier()
        return [current, *self.previous_checkpoint_keys]


def load_policy(path: Path) -> Policy:
    """Only the [policy] of a config file, validated against its [carriers] names; reads no
    secrets (for `gateway policy diff`)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    sender = raw.get("sender")
    origin = sender.get("country") if isinstance(sender, Mapping) else None
    return parse_policy(_table(raw, "policy"), dict.fromkeys(_table(raw, "carriers")),
                        origin=origin if isinstance(origin, str) else "FI")


def _table(raw: Mapping[str, Any], key: str, where: str | None = None) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"missing table {where or f'[{key}]'}")
    return value


def _str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value


def _whole(raw: Mapping[str, Any], key: str, where: str, *, default: int, low: int,
           high: int) -> int:
    """An integer setting within ``low``..``high``."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where} {key}: must be an integer {low}-{high}")
    return value


def _seconds(raw: Mapping[str, Any], key: str, where: str, *, default: float,
             high: float) -> float:
    """A number of seconds above 0 and at most ``high``."""
    value = raw.get(key, default)
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not 0 < value <= high):
        raise ConfigError(f"{where} {key}: a number of seconds above 0 (at most {high:g})")
    return float(value)


def _networks(values: object) -> tuple[Network, ...]:
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


def _tls(raw: Mapping[str, Any], base: Path) -> TlsConfig | None:
    """``tls_cert`` and ``tls_key``: both or neither, each a readable PEM file."""
    given = [key for key in ("tls_cert", "tls_key") if key in raw]
    if not given:
        return None
    if len(given) == 1:
        raise ConfigError("[gateway]: tls_cert and tls_key go together; name both files")
    paths = {}
    for key in given:
        path = base / _str(raw, key, "[gateway]")
        if not path.is_file():
            raise ConfigError(f"[gateway] {key}: cannot read {path}")
        paths[key] = path
    return TlsConfig(cert=paths["tls_cert"], key=paths["tls_key"])


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _sender(raw: Mapping[str, Any]) -> Party:
    keys = [field.name for field in attrs.fields(Party)]
    _only(raw, set(keys), "[sender]")
    return Party(**{key: _str(raw, key, "[sender]") for key in keys})


def _record(raw: Mapping[str, Any], base: Path) -> RecordConfig:
    allowed = {"store", "path", "batch_max", "queue_max", "checkpoint_every", "checkpoint_interval",
               "url", "schema", "recover_after"}
    _only(raw, allowed, "[record]")
    store = raw.get("store", "sqlite")
    if store not in ("sqlite", "postgres"):
        raise ConfigError(f"[record]: unknown store {store!r} (known: sqlite, postgres)")
    url = _postgres_url(raw["url"], base) if store == "postgres" and "url" in raw else None
    if store == "postgres" and url is None:
        raise ConfigError('[record]: store = "postgres" needs url')
    return RecordConfig(
        store=store,
        url=url,
        schema=_str(raw, "schema", "[record]") if "schema" in raw else "gateway",
        path=base / (_str(raw, "path", "[record]") if store == "sqlite" or "path" in raw
                     else "var/record-postgres"),
        batch_max=_whole(raw, "batch_max", "[record]", default=512, low=1, high=100_000),
        queue_max=_whole(raw, "queue_max", "[record]", default=8192, low=1, high=10_000_000),
        checkpoint_every=_whole(raw, "checkpoint_every", "[record]", default=1000, low=1,
                                high=100_000_000),
        checkpoint_interval=_seconds(raw, "checkpoint_interval", "[record]", default=10.0,
                                     high=DAY),
        recover_after=(_seconds(raw, "recover_after", "[record]", default=0, high=DAY)
                       if "recover_after" in raw else None),
    )


#: The longest interval a time setting may name, in seconds.
DAY = 86_400.0


def _postgres_url(ref: object, base: Path) -> Secret:
    """A connection URL written in config.toml must hold no password (give it in PGPASSWORD or
    ~/.pgpass, or name the whole URL as a secret: ``{ env = "NAME" }`` or ``{ file = "path" }``)."""
    if not isinstance(ref, str):
        return _secret(ref, "[record] url", base)
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


def _carriers(raw: Mapping[str, Any], base: Path) -> dict[str, CarrierConfig]:
    out = {}
    for name, table in raw.items():
        where = f"[carriers.{name}]"
        if name not in ADAPTERS:
            raise ConfigError(f"{where}: unknown carrier (known: {', '.join(sorted(ADAPTERS))})")
        adapter = ADAPTERS[name]
        known_options: Mapping[str, tuple[str, ...]] = getattr(adapter, "options", {})
        _only(table, {"base_url", "credentials", *Resilience.KEYS, *known_options}, where)
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
            options[option] = _http_url(table[option], f"{where} {option}")
        out[name] = CarrierConfig(
            options=options,
            name=name,
            base_url=_str(table, "base_url", where).rstrip("/"),
            timeout=resilience.timeout,
            resilience=resilience,
            credentials={
                key: SecretRef.parse(ref, f"{where} credentials.{key}", base)
                for key, ref in creds_raw.items()
            },
        )
    return out


def _http_url(value: object, where: str) -> str:
    """An http(s) URL with a host and without user, password or fragment: credentials
    are secrets and never written into config.toml, a URL included."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: must be a non-empty string")
    try:
        parts = urllib.parse.urlsplit(value)
        _port = parts.port  # a port that is not a number raises here
    except ValueError:
        raise ConfigError(f"{where}: not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: expected an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ConfigError(f"{where}: no user, password or fragment in the URL")
    return value


def _public_keys(paths: object, base: Path) -> tuple[Verifier, ...]:
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


def _erasure(raw: Mapping[str, Any]) -> ErasureRules:
    _only(raw, {"hold_days", "hold_basis", "retention_days", "run_every_hours",
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


def _logins(raw: object) -> LoginLimits:
    if not isinstance(raw, Mapping):
        raise ConfigError("[logins] must be a table")
    _only(raw, {"workers", "waiting", "per_client"}, "[logins]")
    values = {}
    for name, low in (("workers", 1), ("waiting", 0), ("per_client", 1)):
        if name in raw:
            value = raw[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"[logins]: {name} must be a whole number, {low} or more")
            values[name] = value
    return LoginLimits(**values)


def _keys(raw: Mapping[str, Any], base: Path) -> Keys:
    where = "[gateway.secrets]"
    _only(raw, {"hooks", "record_kek", "record_kek_previous", "subject_hmac",
                "checkpoint_signing"}, where)
    for key in ("hooks", "record_kek", "subject_hmac", "checkpoint_signing"):
        if key not in raw:
            raise ConfigError(f"{where}: {key} is missing")
    hooks_text = _secret(raw["hooks"], f"{where} hooks", base).value
    try:
        # Separated by commas or whitespace, so key files can simply be concatenated.
        hooks = tuple(hook_key(s) for s in hooks_text.replace(",", " ").split())
    except ValueError as exc:
        raise ConfigError(f"{where} hooks: {exc}") from None
    if not hooks:
        raise ConfigError(f"{where} hooks: no key given (whsec_ secrets or whpk_ public keys)")
    return Keys(
        hooks=hooks,
        kek=_key_bytes(_secret(raw["record_kek"], f"{where} record_kek", base), where),
        previous_keks=tuple(
            _key_bytes(Secret(part.strip(), f"{where} record_kek_previous"), where)
            for part in _secret(raw["record_kek_previous"], f"{where} record_kek_previous",
                                base).value.split(",") if part.strip()
        ) if "record_kek_previous" in raw else (),
        subject_hmac=_key_bytes(_secret(raw["subject_hmac"], f"{where} subject_hmac", base), where),
        checkpoint_signing=_secret(raw["checkpoint_signing"], f"{where} checkpoint_signing",
                                   base).value,
    )


def _key_bytes(secret: Secret, where: str) -> bytes:
    try:
        key = bytes.fromhex(secret.value)
    except ValueError:
        raise ConfigError(f"{where}: {secret.source} must hold 64 hex digits") from None
    if len(key) != 32:  # noqa: PLR2004 - AES-256 and HMAC-SHA256 keys
        raise ConfigError(f"{where}: {secret.source} must hold 64 hex digits")
    return key
