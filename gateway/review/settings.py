"""What the customer-facing reports need from config.toml: the store's default language and
time zone (``[reports]``), how long each data category is kept and on what legal basis
(``[reports.retention.CATEGORY]``), and each recipient's legal name and contact details
(``[recipients.NAME]``), and the published transparency report's threshold and dated
statement. Parsed into frozen values; a mistake stops the start.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final, Literal

import attrs

from gateway.errors import ConfigError

#: The languages a report is written in: Finnish, Swedish and English.
LANGUAGES: Final = ("fi", "sv", "en")
#: The data categories a retention rule may name (the privacy policy's words).
CATEGORIES: Final = ("name", "address", "phone", "email", "orders", "deliveries")
#: Where a retention period is counted from.
STARTS: Final = ("end_of_financial_year", "last_delivery", "delivery")
Start = Literal["end_of_financial_year", "last_delivery", "delivery"]
_TEXT_MAX: Final = 300
_THRESHOLD_MAX: Final = 1000
#: The keys of a [recipients.NAME] table: what the reports say of it, and how it is told of
#: an erasure (gateway.erasure.channels).
RECIPIENT_KEYS: Final = frozenset({"legal_name", "address", "privacy_contact", "business_id",
                                   "erasure_notice", "privacy_email"})
_COUNT_MAX: Final = 100_000


@attrs.frozen
class Recipient:
    """A recipient as the customer is told of it: its legal name and where to reach it."""

    legal_name: str
    address: str | None = None
    privacy_contact: str | None = None
    business_id: str | None = None


@attrs.frozen
class Retention:
    """A category kept ``count`` ``unit`` from ``start``, on ``basis`` (per language)."""

    category: str
    count: int
    unit: Literal["years", "days"]
    start: Start
    basis: Mapping[str, str]


@attrs.frozen
class ReportSettings:
    language: str = "en"
    time_zone: str = "Europe/Helsinki"
    retention: tuple[Retention, ...] = ()
    recipients: Mapping[str, Recipient] = attrs.field(factory=dict)
    #: Counts below it read "fewer than N" in the published transparency report.
    publish_threshold: int = 5
    #: The operator's dated statement of what the shop has never received, if any.
    statement: str | None = None
    statement_date: date | None = None

    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


def report_settings(raw: Mapping[str, Any]) -> ReportSettings:
    """``[reports]`` and ``[recipients]`` of a whole config mapping (both optional)."""
    reports = _mapping(raw.get("reports", {}), "[reports]")
    _only(reports, {"language", "time_zone", "retention", "publish_threshold", "statement",
                    "statement_date"}, "[reports]")
    language = reports.get("language", "en")
    if language not in LANGUAGES:
        raise ConfigError(f"[reports] language: one of {', '.join(LANGUAGES)}")
    zone = reports.get("time_zone", "Europe/Helsinki")
    try:
        zoneinfo.ZoneInfo(str(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError("[reports] time_zone: not a known IANA time zone (e.g. "
                          "Europe/Helsinki)") from None
    retention = _mapping(reports.get("retention", {}), "[reports.retention]")
    recipients = _mapping(raw.get("recipients", {}), "[recipients]")
    return ReportSettings(
        language=language, time_zone=str(zone),
        retention=tuple(_retention(category, table) for category, table in retention.items()),
        recipients={name: _recipient(name, table) for name, table in recipients.items()},
        **_publishing(reports))


def _publishing(reports: Mapping[str, Any]) -> dict[str, Any]:
    """publish_threshold (1-1000, default 5), statement and statement_date (together)."""
    threshold = reports.get("publish_threshold", 5)
    if (isinstance(threshold, bool) or not isinstance(threshold, int)
            or not 1 <= threshold <= _THRESHOLD_MAX):
        raise ConfigError(f"[reports] publish_threshold: an integer 1-{_THRESHOLD_MAX}")
    statement, day = reports.get("statement"), reports.get("statement_date")
    if statement is not None and (not isinstance(statement, str) or not statement.strip()):
        raise ConfigError("[reports] statement: the text of the statement")
    if (statement is None) != (day is None):
        raise ConfigError("[reports]: statement and statement_date go together (a statement "
                          "says as of when it holds)")
    if day is not None and (isinstance(day, datetime) or not isinstance(day, date)):
        raise ConfigError("[reports] statement_date: a date, e.g. 2026-06-30")
    return {"publish_threshold": threshold,
            "statement": statement.strip() if statement else None, "statement_date": day}


def _retention(category: str, raw: object) -> Retention:
    where = f"[reports.retention.{category}]"
    if category not in CATEGORIES:
        raise ConfigError(f"{where}: unknown category (known: {', '.join(CATEGORIES)})")
    table = _mapping(raw, where)
    _only(table, {"years", "days", "from", "basis"}, where)
    units = [u for u in ("years", "days") if u in table]
    if len(units) != 1:
        raise ConfigError(f"{where}: give years or days (one of them)")
    unit: Literal["years", "days"] = "years" if units == ["years"] else "days"
    count = table[unit]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= _COUNT_MAX:
        raise ConfigError(f"{where} {unit}: a whole number, 1 or more")
    start = table.get("from", "delivery")
    if start not in STARTS:
        raise ConfigError(f"{where} from: one of {', '.join(STARTS)}")
    return Retention(category=category, count=count, unit=unit, start=start,
                     basis=_basis(table.get("basis"), where))


def _basis(value: object, where: str) -> Mapping[str, str]:
    """The legal basis, one text for all languages or a table with one per language."""
    if isinstance(value, str):
        return dict.fromkeys(LANGUAGES, _text(value, f"{where} basis"))
    if isinstance(value, Mapping):
        if set(value) != set(LANGUAGES):
            raise ConfigError(f"{where} basis: a text, or a table with exactly "
                              f"{', '.join(LANGUAGES)}")
        return {lang: _text(value[lang], f"{where} basis.{lang}") for lang in LANGUAGES}
    raise ConfigError(f"{where} basis: required, naming the law that sets the period")


def _recipient(name: str, raw: object) -> Recipient:
    where = f"[recipients.{name}]"
    table = _mapping(raw, where)
    _only(table, set(RECIPIENT_KEYS), where)
    if "legal_name" not in table:  # a table that only says how it is told of erasures
        table = {**table, "legal_name": name}
    optional = {key: _text(table[key], f"{where} {key}")
                for key in ("address", "privacy_contact", "business_id") if key in table}
    return Recipient(legal_name=_text(table["legal_name"], f"{where} legal_name"), **optional)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _TEXT_MAX:
        raise ConfigError(f"{where}: a non-empty text of at most {_TEXT_MAX} characters")
    return value.strip()


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    return value


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
