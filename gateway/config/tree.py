"""config.toml -> a frozen, validated configuration tree: ``Config``, its root, read from the
file; each table is validated by its loader (``_tables``) into the settings it holds.

Secrets never live in config.toml: each is a reference ``{ env = "NAME" }`` or
``{ file = "path" }`` (relative to the config file), read once at load time; carrier
credentials only when the gateway is to reach the carriers (``Config.carrier_credentials``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from gateway.authority.settings import AuthoritySettings
from gateway.config import _tables
from gateway.config._parse import only, string, table, whole
from gateway.config.secret import read_secret
from gateway.config.sections import CarrierConfig, Keys, Network, RecordConfig, TlsConfig
from gateway.erasure.channels import recipients_from, smtp_from
from gateway.erasure.notices import Notices
from gateway.erasure.requests import ErasureRules
from gateway.errors import ConfigError
from gateway.models import Party
from gateway.policy.config import parse_policy
from gateway.policy.rules import Policy
from gateway.record.checkpoint import Signer, Verifier
from gateway.review.settings import ReportSettings, report_settings
from gateway.staff.logins import LoginLimits
from gateway.witness.settings import Witnessing, witnessing_from

__all__ = ["Config", "load_policy"]


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
        raw = read_toml(path)
        try:
            return cls.from_mapping(raw, path=path)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.detail}") from None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, path: Path) -> Config:
        base = path.parent
        only(raw, {"gateway", "record", "sender", "carriers", "policy", "erasure", "logins",
                   "witnesses", "witnessing", "reports", "recipients", "smtp",
                   "authorities"}, "config")
        gw = table(raw, "gateway")
        only(gw, {"origin", "host", "port", "max_body_bytes", "secrets",
                  "previous_checkpoint_keys", "trusted_proxies", "tls_cert", "tls_key"},
             "[gateway]")
        carriers = _tables.carriers(table(raw, "carriers"), base)
        sender = _tables.sender(table(raw, "sender"))
        record = _tables.record(table(raw, "record"), base)
        keys = _tables.keys(table(gw, "secrets", "[gateway.secrets]"), base)
        # Recipients told of an erasure (GDPR Art. 19): files kept beside the record.
        notices = Notices(directory=record.path.parent / "erasure-notices",
                          keks=(keys.kek, *keys.previous_keks), controller=sender.name,
                          reply_to=sender.email,
                          recipients=recipients_from(raw.get("recipients", {})),
                          smtp=smtp_from(raw.get("smtp"), base, read_secret))
        return cls(
            path=path,
            origin=string(gw, "origin", "[gateway]"),
            host=string(gw, "host", "[gateway]") if "host" in gw else "127.0.0.1",
            port=whole(gw, "port", "[gateway]", default=8080, low=0, high=65535),
            max_body_bytes=whole(gw, "max_body_bytes", "[gateway]", default=64 * 1024,
                                 low=1024, high=2**30),
            trusted_proxies=_tables.networks(gw.get("trusted_proxies", [])),
            tls=_tables.tls(gw, base),
            sender=sender,
            record=record,
            carriers=carriers,
            policy=parse_policy(table(raw, "policy"), carriers, origin=sender.country),
            keys=keys,
            erasure=attrs.evolve(_tables.erasure(raw.get("erasure", {})), notices=notices),
            previous_checkpoint_keys=_tables.public_keys(gw.get("previous_checkpoint_keys", []),
                                                         base),
            logins=_tables.logins(raw.get("logins", {})),
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


def read_toml(path: Path) -> dict[str, Any]:
    """A config file's tables; ConfigError naming the file when it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load_policy(path: Path) -> Policy:
    """Only the [policy] of a config file, validated against its [carriers] names; reads no
    secrets (for `gateway policy diff`)."""
    raw = read_toml(path)
    sender = raw.get("sender")
    origin = sender.get("country") if isinstance(sender, Mapping) else None
    return parse_policy(table(raw, "policy"), dict.fromkeys(table(raw, "carriers")),
                        origin=origin if isinstance(origin, str) else "FI")
