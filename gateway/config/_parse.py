"""Reading values out of config.toml's tables: each helper names the table and key in the
ConfigError it raises."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from gateway.errors import ConfigError

#: The longest interval a time setting may name, in seconds.
DAY = 86_400.0


def table(raw: Mapping[str, Any], key: str, where: str | None = None) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"missing table {where or f'[{key}]'}")
    return value


def string(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value


def whole(raw: Mapping[str, Any], key: str, where: str, *, default: int, low: int,
          high: int) -> int:
    """An integer setting within ``low``..``high``."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where} {key}: must be an integer {low}-{high}")
    return value


def seconds(raw: Mapping[str, Any], key: str, where: str, *, default: float,
            high: float) -> float:
    """A number of seconds above 0 and at most ``high``."""
    value = raw.get(key, default)
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not 0 < value <= high):
        raise ConfigError(f"{where} {key}: a number of seconds above 0 (at most {high:g})")
    return float(value)


def only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")


def http_url(value: object, where: str) -> str:
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
