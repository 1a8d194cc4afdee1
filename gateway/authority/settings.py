"""The authorities the shop answers and its rules for their requests, from config.toml's
``[authorities]``: each authority by id, name and type (police, customs, tax...), so a request
names one of them and the counts do not split "Poliisi" from "Helsingin poliisilaitos"; the
channels a request may arrive by; deadlines by kind; and, per authority type, whether the
requesting officer's rank is required (the Finnish Police Act 4:3 lets a commanding-rank
officer request data).

```toml
[authorities]
channels = ["e-mail", "letter", "portal", "phone"]
deadline_days = 10              # production: when the request gives no deadline
emergency_hours = 8
preservation_days = 60
preservation_extension_days = 30
preservation_check_minutes = 60 # how often `gateway serve` ends preservations past their period
rank = { police = "refuse", customs = "warn" }   # no rank given: refuse, or take in and warn

[[authorities.known]]
id = "poliisi-sisa-suomi"
name = "Sisä-Suomen poliisilaitos"
type = "police"
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

import attrs

from gateway.errors import ConfigError, Unprocessable
from gateway.record.entry import iso_time

#: What a request asks: data handed over, data kept (no handover yet), or data at once.
KINDS: Final = ("production", "preservation", "emergency")
#: What a missing rank does, per authority type.
RANK_RULES: Final = ("refuse", "warn")
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@attrs.frozen
class Known:
    """One authority the shop answers."""

    id: str
    name: str
    type: str


@attrs.frozen
class AuthoritySettings:
    known: tuple[Known, ...] = ()
    channels: tuple[str, ...] = ("e-mail", "letter", "portal", "phone")
    deadline_days: int = 10
    emergency_hours: int = 8
    preservation_days: int = 60
    preservation_extension_days: int = 30
    #: How often a running gateway ends the preservations whose period is over.
    preservation_check_minutes: float = 60
    #: Authority type -> "refuse" or "warn" when the officer's rank is not given.
    rank: Mapping[str, str] = attrs.field(factory=dict)

    def find(self, text: str) -> Known:
        """The listed authority ``text`` names, by id or by name (case aside); anything else
        is refused, naming where the list is kept."""
        wanted = text.strip().casefold()
        for known in self.known:
            if wanted in (known.id, known.name.casefold()):
                return known
        listed = ", ".join(k.id for k in self.known[:20]) or "none is configured"
        raise Unprocessable(f"authority must be one listed in config.toml [authorities] (by id "
                            f"or name): {listed}", field="authority")

    def rank_warnings(self, rank: str | None, kind: str) -> tuple[str, ...]:
        """A missing rank where the authority's type needs one: refused (422 on ``rank``), or
        taken in with this warning."""
        rule = self.rank.get(kind)
        if rank is not None or rule is None:
            return ()
        missing = (f"the requesting officer's rank is not given; a {kind} request needs one "
                   "(e.g. Police Act 872/2011 4:3: a commanding-rank officer)")
        if rule == "refuse":
            raise Unprocessable(missing, field="rank")
        return (missing,)

    def deadline(self, kind: str, given: date | None, *, now: datetime,
                 ) -> tuple[date, str | None]:
        """(day, time or None): an emergency's is ``emergency_hours`` from intake; without a
        deadline given, a production's or preservation's is ``deadline_days`` away."""
        if kind == "emergency":
            if given is not None:
                raise Unprocessable(f"an emergency request is answered within "
                                    f"{self.emergency_hours} hours of intake; leave the "
                                    "deadline empty", field="deadline")
            due = now + timedelta(hours=self.emergency_hours)
            return due.date(), iso_time(due)
        return given or now.date() + timedelta(days=self.deadline_days), None

    @classmethod
    def from_mapping(cls, raw: object) -> AuthoritySettings:
        if not isinstance(raw, Mapping):
            raise ConfigError("[authorities] must be a table")
        allowed = {"known", "channels", "deadline_days", "emergency_hours",
                   "preservation_days", "preservation_extension_days",
                   "preservation_check_minutes", "rank"}
        if extra := sorted(set(raw) - allowed):
            raise ConfigError(f"[authorities]: unknown keys {', '.join(extra)}")
        known = tuple(_known(k, i) for i, k in enumerate(raw.get("known", [])))
        for attr in ("id", "name"):
            values = [getattr(k, attr).casefold() for k in known]
            if len(set(values)) != len(values):
                raise ConfigError(f"[authorities]: two authorities share an {attr}")
        channels = raw.get("channels", list(cls().channels))
        if not isinstance(channels, list) or not channels or not all(
                isinstance(c, str) and c.strip() for c in channels):
            raise ConfigError("[authorities]: channels must be a list of names")
        rank = raw.get("rank", {})
        if not isinstance(rank, Mapping) or not all(v in RANK_RULES for v in rank.values()):
            raise ConfigError(f"[authorities]: rank maps authority types to one of "
                              f"{', '.join(RANK_RULES)}")
        return cls(known=known, channels=tuple(c.strip() for c in channels),
                   deadline_days=_days(raw, "deadline_days", 10, 1, 365),
                   emergency_hours=_days(raw, "emergency_hours", 8, 1, 72),
                   preservation_days=_days(raw, "preservation_days", 60, 1, 365),
                   preservation_extension_days=_days(raw, "preservation_extension_days", 30,
                                                     1, 365),
                   preservation_check_minutes=_minutes(raw, "preservation_check_minutes", 60),
                   rank=dict(rank))


def _known(raw: Any, i: int) -> Known:  # noqa: ANN401 - TOML
    where = f"[[authorities.known]] #{i + 1}"
    if not isinstance(raw, Mapping) or set(raw) != {"id", "name", "type"}:
        raise ConfigError(f"{where}: give id, name and type")
    if not isinstance(raw["id"], str) or not _ID.fullmatch(raw["id"]):
        raise ConfigError(f"{where}: id is lower-case letters, digits, '.', '_' or '-'")
    for key in ("name", "type"):
        if not isinstance(raw[key], str) or not 2 <= len(raw[key].strip()) <= 200:  # noqa: PLR2004
            raise ConfigError(f"{where}: {key} is 2 to 200 characters")
    return Known(id=raw["id"], name=raw["name"].strip(), type=raw["type"].strip())


def _days(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"[authorities]: {key} must be a whole number from {low} to {high}")
    return value


def _minutes(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1440:  # noqa: PLR2004
        raise ConfigError(f"[authorities]: {key} must be a number of minutes above 0, at "
                          "most 1440")
    return float(value)
