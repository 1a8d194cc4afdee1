"""An authority request as the intake officer takes it in: the data categories a request may
ask for, and ``Intake``, the checked form (messages name fields, never values)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import attrs

from gateway.authority.settings import KINDS, AuthoritySettings
from gateway.errors import Unprocessable
from gateway.text import clean, staff_text

__all__ = ["CATEGORIES", "MAX_ID", "MAX_IDS", "Intake"]

#: Data categories of the privacy policy, and the record fields each one covers.
CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "name": ("name",),
    "address": ("street", "postal_code", "town", "country"),
    "phone": ("phone",),
    "email": ("email",),
    "orders": (),
    "deliveries": (),
    "marketing_consent": (),
}
#: How many customer or order ids one request may name, and how long each may be.
MAX_IDS, MAX_ID = 100, 200
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REQUEST_ID = re.compile(r"ar_[0-9a-f]{16}")


@attrs.frozen
class Intake:
    """What the intake officer records. Customer ids and order ids name the subjects; the
    authority is one listed in config.toml (its name, id and type kept); ``kind`` is one of
    ``KINDS``; an emergency's deadline is a time (``due_at``), others' a day."""

    authority: str
    reference: str
    legal_basis: str
    kind: str
    categories: tuple[str, ...]
    deadline: date
    customers: tuple[str, ...] = ()
    orders: tuple[str, ...] = ()
    defer_until: date | None = None
    authority_id: str | None = None
    authority_type: str | None = None
    officer: str | None = None
    rank: str | None = None
    received_via: str | None = None
    due_at: str | None = None
    #: The preservation request this production request follows (which it ends).
    follows: str | None = None
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], *, today: date | None = None,
                  now: datetime | None = None,
                  settings: AuthoritySettings | None = None) -> Intake:
        """Validate an intake form; messages name fields, never values. Texts and ids hold no
        control or format character (``gateway.text``); dates are ``YYYY-MM-DD`` strings, and
        with ``today`` (the desk's clock) neither the deadline nor ``defer_until`` may be
        before it. ``settings`` lists the authorities, channels and deadlines."""
        settings = settings or AuthoritySettings()
        today = today or (now.date() if now is not None else None)
        now = now or datetime.now(UTC)

        def text(key: str, *, minimum: int = 1, required: bool = True) -> str | None:
            value = doc.get(key)
            if not required and value in (None, ""):
                return None
            if not isinstance(value, str) or len(value.strip()) < minimum or len(value) > 500:  # noqa: PLR2004
                raise Unprocessable(f"{key} is required (text of {minimum} to 500 characters)",
                                    field=key)
            return staff_text(value.strip(), key)

        def day(key: str, *, required: bool) -> date | None:
            value = doc.get(key)
            if value in (None, "") and not required:
                return None
            try:
                if not isinstance(value, str) or not _DATE.fullmatch(value):
                    raise ValueError
                given = date.fromisoformat(value)
            except ValueError:
                raise Unprocessable(f"{key} must be a date (YYYY-MM-DD)", field=key) from None
            if today is not None and given < today:
                raise Unprocessable(f"{key} is in the past (today is {today.isoformat()})",
                                    field=key)
            return given

        categories = _ids(doc, "categories")
        unknown = next((i for i, c in enumerate(doc.get("categories") or [])
                        if c.strip() not in CATEGORIES), None)
        if not categories or unknown is not None:
            where = "categories" if unknown is None else f"categories[{unknown}] is unknown;"
            raise Unprocessable(f"{where} categories must name one or more of "
                                f"{', '.join(CATEGORIES)}", field="categories")
        customers, orders = _ids(doc, "customers"), _ids(doc, "orders")
        if not customers and not orders:
            raise Unprocessable("name the customers concerned, by customer id or order id",
                                field="customers")
        known = settings.find(text("authority", minimum=2) or "")
        kind = doc.get("kind")
        if kind not in KINDS:
            raise Unprocessable(f"kind must be one of {', '.join(KINDS)}", field="kind")
        via = doc.get("received_via")
        if via not in settings.channels:
            raise Unprocessable(f"received_via (how the request arrived) must be one of "
                                f"{', '.join(settings.channels)}", field="received_via")
        officer, rank = text("officer", minimum=2), text("rank", required=False)
        deadline, due_at = settings.deadline(kind, day("deadline", required=False), now=now)
        follows = doc.get("follows") or None
        if follows is not None and (not isinstance(follows, str) or kind == "preservation"
                                    or not _REQUEST_ID.fullmatch(follows)):
            raise Unprocessable("follows names the preservation request (ar_...) a production "
                                "or emergency request follows", field="follows")
        return cls(
            authority=known.name, authority_id=known.id, authority_type=known.type,
            reference=text("reference") or "",
            legal_basis=text("legal_basis", minimum=5) or "", kind=kind,
            categories=categories, deadline=deadline, customers=customers, orders=orders,
            defer_until=day("defer_until", required=False), officer=officer, rank=rank,
            received_via=via, due_at=due_at, follows=follows,
            warnings=settings.rank_warnings(rank, known.type),
        )


def _ids(doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
        """A list of ids; a wrong one is named by its position (``customers[2]``, from
        0), never by its value."""
        value = doc.get(key, [])
        if not isinstance(value, list) or len(value) > MAX_IDS:
            raise Unprocessable(f"{key} must be a list of up to {MAX_IDS} ids", field=key)
        for i, v in enumerate(value):
            if not isinstance(v, str) or not 0 < len(v.strip()) <= MAX_ID:
                raise Unprocessable(f"{key}[{i}] must be an id: text of 1 to {MAX_ID} "
                                    "characters", field=key)
            if not clean(v.strip()):
                try:
                    staff_text(v.strip(), f"{key}[{i}]")
                except Unprocessable as exc:
                    raise Unprocessable(exc.detail, field=key) from None
        return tuple(dict.fromkeys(v.strip() for v in value))
