"""What a review read may ask, by one rule for the API, the pages and the CLI: which query
parameters each read takes, how long and plain their values must be, how a period and a
customer id are read. Anything else answers a 400 problem naming the parameter, never its value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Final

from gateway.errors import BadParameter
from gateway.record import Kind
from gateway.record.entry import iso_time
from gateway.text import clean

#: The longest text a parameter may hold (a customer id, an order id, a recipient); authority
#: intake takes ids of the same length.
TEXT_MAX: Final = 200
#: The parameters each review read takes; any other, or one given twice, answers 400.
SEARCH_PARAMS: Final = ("customer", "order", "recipient", "kind", "from", "to", "cursor",
                        "limit", "sort")
ACCESS_PARAMS: Final = ("customer", "view", "lang")
TRANSPARENCY_PARAMS: Final = ("from", "to", "period", "view", "format")
#: The transparency report's views and the API's formats.
TRANSPARENCY_VIEWS: Final = ("internal", "published")
FORMATS: Final = ("json", "csv")
_HALF: Final = re.compile(r"([0-9]{4})H([12])")
SORTS: Final = ("newest", "oldest")
VIEWS: Final = ("customer", "full")
#: Every kind of entry the record holds: a search for another kind is a mistake, not a search
#: that finds nothing.
KINDS: Final = frozenset(v for k, v in vars(Kind).items() if k.isupper() and isinstance(v, str))
#: An unknown parameter is named in the answer only if it looks like a parameter's name, so a
#: customer id typed where a name belongs is not echoed.
_NAME: Final = re.compile(r"[a-z_]{1,24}")


def parameters(params: Mapping[str, str], allowed: Iterable[str]) -> dict[str, str]:
    """The given parameters, stripped, after the rules every review read shares: each one known
    and given once, each value at most ``TEXT_MAX`` characters of plain text (no control or
    format character, see ``gateway.text``)."""
    allowed = tuple(allowed)
    for name, times in Counter(name for name, _ in params.items()).items():
        if name not in allowed:
            shown = name if _NAME.fullmatch(name) else "(name not shown)"
            raise BadParameter(f"unknown parameter {shown}; this read takes "
                               f"{', '.join(allowed)}", parameter=shown)
        if times > 1:
            raise BadParameter(f"{name} is given {times} times; give it once", parameter=name)
    out = {}
    for name, value in params.items():
        stripped = value.strip()
        if len(stripped) > TEXT_MAX:
            raise BadParameter(f"{name} is longer than {TEXT_MAX} characters", parameter=name)
        if not clean(stripped):
            raise BadParameter(f"{name} holds a control or format character", parameter=name)
        out[name] = stripped
    return out


def one_of(params: Mapping[str, str], name: str, choices: Iterable[str], *,
           default: str | None = None, described: str | None = None) -> str | None:
    """A parameter that takes one of ``choices`` (``default`` when absent or empty)."""
    value = params.get(name) or default
    choices = tuple(choices)
    if value is not None and value not in choices:
        raise BadParameter(f"{name} must be {described or ' or '.join(choices)}",
                           parameter=name)
    return value


def whole_number(params: Mapping[str, str], name: str, default: int | None, low: int,
                 high: int) -> int | None:
    value = params.get(name, "")
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadParameter(f"{name} must be a whole number from {low} to {high}",
                           parameter=name)
    return int(value)


def customer_id(value: str | None) -> str:
    """The customer id a read names, by the same rule everywhere (search and access report;
    API, page and CLI): required here, at most ``TEXT_MAX`` characters of plain text."""
    given = parameters({"customer": value or ""}, ("customer",))["customer"]
    if not given:
        raise BadParameter("customer (the store's customer id) is required",
                           parameter="customer")
    return given


def period(params: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(since, until) from the ``from`` and ``to`` parameters, by one rule for the search and
    the transparency report: each bound as ``parse_period`` reads it, and a period that does
    not end after it begins is refused."""
    since = parse_period(params.get("from"), end=False, name="from")
    until = parse_period(params.get("to"), end=True, name="to")
    if since and until and since >= until:
        raise BadParameter("from must come before to", parameter="to")
    return since, until


def parse_period(text: str | None, *, end: bool, name: str) -> str | None:
    """A period bound in the record's time format. ``YYYY``, ``YYYY-MM`` and ``YYYY-MM-DD``
    name whole years, months and days (an end bound includes the whole of it); a full ISO
    timestamp is taken as it is (an end bound is exclusive)."""
    if not text:
        return None
    try:
        if len(text) == 4 and text.isdigit():  # noqa: PLR2004
            year = int(text)
            return f"{year + end:04d}-01-01T00:00:00.000Z"
        if len(text) == 7:  # noqa: PLR2004
            first = date.fromisoformat(text + "-01")
            if end:
                first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return f"{first.isoformat()}T00:00:00.000Z"
        if len(text) == 10:  # noqa: PLR2004
            day = date.fromisoformat(text)
            if end:
                day = date.fromordinal(day.toordinal() + 1)
            return f"{day.isoformat()}T00:00:00.000Z"
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return iso_time(moment.astimezone(UTC))
    except (ValueError, OverflowError):
        raise BadParameter(f"{name} must be YYYY, YYYY-MM, YYYY-MM-DD or an ISO timestamp",
                           parameter=name) from None


def report_period(params: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """(since, until, label) of the transparency report: ``period`` names a half-year
    (``2026H1`` is January to June, ``2026H2`` July to December, in UTC), or ``from`` and
    ``to`` any period (``period``; not both)."""
    half = params.get("period")
    if not half:
        return (*period(params), None)
    if params.get("from") or params.get("to"):
        raise BadParameter("give period, or from and to, not both", parameter="period")
    found = _HALF.fullmatch(half)
    if found is None or int(found[1]) < 1:
        raise BadParameter("period must be a half-year: YYYYH1 or YYYYH2", parameter="period")
    year, second = int(found[1]), found[2] == "2"
    since = f"{year:04d}-{7 if second else 1:02d}-01T00:00:00.000Z"
    until = (f"{year + 1:04d}-01-01T00:00:00.000Z" if second
             else f"{year:04d}-07-01T00:00:00.000Z")
    return since, until, half
