"""The words of the customer's access report in Finnish, Swedish and English: one message
catalog per language (``gateway/locales/LANG.toml``), and times in the store's time zone.

A key missing from a catalog raises ``KeyError``; it is never shown as the key. Every catalog
holds the same keys with the same placeholders, which a test checks.
"""

from __future__ import annotations

import functools
import string
import tomllib
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any, Final

import attrs

from gateway.review.settings import LANGUAGES

_DIR: Final = Path(__file__).parent / "locales"
#: The Data Protection Ombudsman's contact details that read the same in every language (the
#: name and addresses are in the catalogs). From tietosuoja.fi/yhteystiedot.
OMBUDSMAN: Final = {"phone": "+358 29 566 6700", "email": "tietosuoja@om.fi",
                    "web": "https://tietosuoja.fi"}


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


@cache
@functools.cache
def messages(language: str) -> Mapping[str, str]:
    """The catalog of ``language`` as flat keys (``field.postal_code``, ``text.title``), read
    once per process."""
    if language not in LANGUAGES:
        raise KeyError(language)
    with (_DIR / f"{language}.toml").open("rb") as file:
        return _flatten(tomllib.load(file))


def placeholders(message: str) -> set[str]:
    """The named fields a message is formatted with."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


@attrs.frozen
class Text:
    """One language's words, and times shown in one time zone."""

    language: str
    zone: tzinfo

    def __call__(self, key: str, **values: Any) -> str:  # noqa: ANN401
        """The message ``key``, formatted with ``values``; KeyError if the catalog lacks it."""
        message = messages(self.language)[key]
        return message.format(**values) if values else message

    def field(self, name: str) -> str:
        return self(f"field.{name}")

    def fields(self, names: Iterable[str]) -> list[str]:
        return [self.field(n) for n in names]

    def local(self, stamp: str | None) -> datetime | None:
        """An ISO time from the record (UTC) in the report's zone, to the second."""
        if not stamp:
            return None
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:  # a date only (a deferral's end): midnight in the zone
            return moment.replace(tzinfo=self.zone)
        return moment.astimezone(self.zone).replace(microsecond=0)

    def iso(self, stamp: str | None) -> str | None:
        """The time in the report's zone as ISO 8601 with its offset, without milliseconds."""
        moment = self.local(stamp)
        return None if moment is None else moment.isoformat()

    def time(self, stamp: str | None) -> str:
        """The time in words of the language (``4.3.2026 klo 14.05.09``)."""
        moment = self.local(stamp)
        if moment is None:
            return ""
        return self("meta.time", year=moment.year, month=moment.month, day=moment.day,
                    hour=moment.hour, minute=moment.minute, second=moment.second)

    def date(self, stamp: str | None) -> str:
        moment = self.local(stamp)
        if moment is None:
            return ""
        return self("meta.date", year=moment.year, month=moment.month, day=moment.day)
