"""Settings of both sides: a witness's own ``witness.toml``, and the gateway's ``[[witnesses]]``
and ``[witnessing]`` in config.toml.

witness.toml (the witness's machine)::

    [witness]
    key = "witness.key"              # from `gateway witness keygen DIR --name NAME`
    state = "witness-state.sqlite"
    host = "0.0.0.0"
    port = 7380

    [[logs]]                         # one per log (several for a rotated key)
    origin = "jerone.fi/disclosure-record"
    public_key = "jerone.fi/disclosure-record+1a2b3c4d+AX..."   # or public_key_file = "..."

config.toml (the gateway)::

    [witnessing]
    quorum = 1                       # k of the witnesses below; or policy = "witness-policy"
    timeout = 10.0                   # seconds per submission

    [[witnesses]]
    name = "auditor"
    url = "https://witness.auditor.example"          # the submission prefix
    public_key = "auditor.example/witness+5e6f7a8b+BA..."   # or public_key_file = "..."
"""

from __future__ import annotations

import tomllib
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from gateway.errors import ConfigError
from gateway.record.checkpoint import Verifier
from gateway.witness.cosignature import Cosigner, CosignerKey
from gateway.witness.policy import WitnessPolicy, WitnessRef

__all__ = ["ServerSettings", "Witnessing", "witnessing_from"]


@attrs.frozen
class ServerSettings:
    """A witness: its key, its state file, where it listens, and the logs it witnesses (their
    checkpoint verifier keys by origin)."""

    cosigner: Cosigner
    state: Path
    host: str
    port: int
    logs: Mapping[str, tuple[Verifier, ...]]

    @classmethod
    def from_toml(cls, path: Path) -> ServerSettings:
        raw = _load(path)
        base = path.parent
        _only(raw, {"witness", "logs"}, str(path))
        table = raw.get("witness")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: missing table [witness]")
        _only(table, {"key", "state", "host", "port"}, "[witness]")
        key_path = base / _text(table, "key", "[witness]")
        try:
            cosigner = Cosigner.from_key_string(key_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"[witness] key: cannot read {key_path} ({exc.strerror})") from None
        logs: dict[str, tuple[Verifier, ...]] = {}
        entries = raw.get("logs", [])
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{path}: name the logs to witness in [[logs]]")
        for entry in entries:
            where = "[[logs]]"
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{where}: expected a table")
            _only(entry, {"origin", "public_key", "public_key_file"}, where)
            origin = _text(entry, "origin", where)
            verifier = Verifier.from_key_string(_public_key(entry, base, where))
            logs[origin] = (*logs.get(origin, ()), verifier)
        port = table.get("port", 7380)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:  # noqa: PLR2004
            raise ConfigError("[witness] port: a TCP port number")
        return cls(cosigner=cosigner, state=base / str(table.get("state", "witness-state.sqlite")),
                   host=str(table.get("host", "127.0.0.1")), port=port, logs=logs)


@attrs.frozen
class Witnessing:
    """The witnesses a gateway submits its checkpoints to (those with a URL), and the policy
    that says when a checkpoint counts as witnessed."""

    policy: WitnessPolicy
    timeout: float = 10.0

    @property
    def submit_to(self) -> tuple[WitnessRef, ...]:
        return tuple(w for w in self.policy.witnesses.values() if w.url)


def witnessing_from(raw: Mapping[str, Any], base: Path) -> Witnessing | None:
    """``[[witnesses]]`` and ``[witnessing]`` of a config mapping; None when neither is
    there."""
    listed, table = raw.get("witnesses", []), raw.get("witnessing", {})
    if not listed and not table:
        return None
    if not isinstance(listed, list) or not isinstance(table, Mapping):
        raise ConfigError("[[witnesses]] is a list of tables and [witnessing] a table")
    _only(table, {"quorum", "policy", "timeout"}, "[witnessing]")
    refs = [_witness(entry, base) for entry in listed]
    timeout = table.get("timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("[witnessing] timeout: a number of seconds above 0")
    if "policy" in table:
        if "quorum" in table:
            raise ConfigError("[witnessing]: give quorum or policy, not both")
        path = base / str(table["policy"])
        try:
            policy = WitnessPolicy.parse(path.read_text(encoding="utf-8"), where=str(path))
        except OSError as exc:
            raise ConfigError(f"[witnessing] policy: cannot read {path} ({exc.strerror})",
                              ) from None
        policy = _with_urls(policy, refs)
    else:
        quorum = table.get("quorum")
        if isinstance(quorum, bool) or not isinstance(quorum, int):
            raise ConfigError("[witnessing] quorum: how many of the [[witnesses]] must cosign")
        policy = WitnessPolicy.k_of_n(refs, quorum)
    return Witnessing(policy=policy, timeout=float(timeout))


def _witness(entry: object, base: Path) -> WitnessRef:
    where = "[[witnesses]]"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a table")
    _only(entry, {"name", "url", "public_key", "public_key_file"}, where)
    return WitnessRef(name=_text(entry, "name", where),
                      key=CosignerKey.from_vkey(_public_key(entry, base, where)),
                      url=_url(_text(entry, "url", where), f"{where} url"))


def _with_urls(policy: WitnessPolicy, refs: Sequence[WitnessRef]) -> WitnessPolicy:
    """The policy's witnesses, with the URL of a [[witnesses]] entry of the same key."""
    urls = {r.key: r for r in refs}
    stray = [r.name for r in refs if r.key not in {w.key for w in policy.witnesses.values()}]
    if stray:
        raise ConfigError(f"[[witnesses]] {', '.join(stray)}: not in the witness policy")
    witnesses = {name: attrs.evolve(w, url=urls[w.key].url) if w.key in urls else w
                 for name, w in policy.witnesses.items()}
    return attrs.evolve(policy, witnesses=witnesses)


def _url(value: str, where: str) -> str:
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        raise ConfigError(f"{where}: not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.password:
        raise ConfigError(f"{where}: an http:// or https:// URL with a host, no password")
    return value.rstrip("/")


def _public_key(entry: Mapping[str, Any], base: Path, where: str) -> str:
    if ("public_key" in entry) == ("public_key_file" in entry):
        raise ConfigError(f"{where}: give public_key or public_key_file")
    if "public_key" in entry:
        return _text(entry, "public_key", where)
    path = base / _text(entry, "public_key_file", where)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path} ({exc.strerror})") from None


def _load(path: Path) -> Mapping[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
