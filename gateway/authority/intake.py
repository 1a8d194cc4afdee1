"""An authority request as the intake officer takes it in: the wire structure
``AuthorityIntake`` (msgspec; the one source of the parser and of the OpenAPI schema of
``POST /v1/authority/requests``) and the checked ``Intake`` the workflow keeps.

The API hands the body's bytes, the CLI and the intake form a decoded object; both go through
the structure, so a wrong type anywhere is refused naming its JSON path (``$.customers[1]``),
never its value (``gateway.wire``). What a schema cannot say is checked after decoding and
named in the schema's descriptions: text is not blank once trimmed and holds no control or
format character, the authority and the channel are ones configured, dates are real days not
already past, a preservation follows nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal, get_args

import attrs
import msgspec
from msgspec import Meta, Struct

from gateway.authority.settings import KINDS, AuthoritySettings
from gateway.errors import BadRequest, Unprocessable
from gateway.text import clean, staff_text
from gateway.wire import field_problem

__all__ = ["CATEGORIES", "MAX_ID", "MAX_IDS", "AuthorityIntake", "Intake"]

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
MAX_TEXT: Final = 500
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = "send the request as a JSON object"

Category = Literal["name", "address", "phone", "email", "orders", "deliveries",
                   "marketing_consent"]
RequestKind = Literal["production", "preservation", "emergency"]
if get_args(Category) != tuple(CATEGORIES) or get_args(RequestKind) != KINDS:
    raise RuntimeError("the intake's categories and kinds must be CATEGORIES and KINDS")

_PLAIN = "Trimmed; no control or format character."
Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID)]
Ids = Annotated[list[Id], Meta(max_length=MAX_IDS)]
Day = Annotated[str, Meta(pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]


class AuthorityIntake(Struct, kw_only=True):
    """Name the customers by customer id, order id, or both (one at least). Never type
    customer data into the text fields: they stay in the record for good."""

    authority: Annotated[str, Meta(
        min_length=2, max_length=MAX_TEXT,
        description="The id or name of an authority listed in config.toml [authorities]; "
                    f"anything else is 422. {_PLAIN}")]
    officer: Annotated[str, Meta(min_length=2, max_length=MAX_TEXT,
                                 description=f"The requesting officer. {_PLAIN}")]
    rank: Annotated[str, Meta(
        max_length=MAX_TEXT,
        description="The officer's rank; required for the authority types configured so "
                    "(422), else a missing one is a warning")] | None = None
    received_via: Annotated[str, Meta(
        description="How the request arrived: one of the configured channels (e-mail, "
                    "letter, portal, phone)")]
    follows: Annotated[str, Meta(
        pattern=r"^(ar_[0-9a-f]{16})?$",
        description="The preservation request this one follows (ends); not for a "
                    "preservation")] | None = None
    reference: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, description=_PLAIN)]
    legal_basis: Annotated[str, Meta(min_length=5, max_length=MAX_TEXT,
                                     description=f"Statute and section. {_PLAIN}")]
    kind: RequestKind
    categories: Annotated[list[Category], Meta(min_length=1)]
    customers: Annotated[Ids, Meta(description=f"Customer ids. {_PLAIN}")] = []
    orders: Annotated[Ids, Meta(description=f"Order ids. {_PLAIN}")] = []
    deadline: Annotated[Day, Meta(
        description="YYYY-MM-DD, today or later. Empty: the configured default (10 days); "
                    "an emergency's is 8 hours from intake")] | None = None
    defer_until: Annotated[Day, Meta(
        description="Notification deferral end date (YYYY-MM-DD, today or later)")] | None = None


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
    def from_json(cls, doc: bytes | Mapping[str, Any], *, today: date | None = None,
                  now: datetime | None = None,
                  settings: AuthoritySettings | None = None) -> Intake:
        """Validate an intake form, as JSON bytes or a decoded object; messages name fields
        (a wrong type by its JSON path), never values. Texts and ids hold no control or
        format character (``gateway.text``); dates are ``YYYY-MM-DD`` strings, and with
        ``today`` (the desk's clock) neither the deadline nor ``defer_until`` may be before
        it. ``settings`` lists the authorities, channels and deadlines."""
        settings = settings or AuthoritySettings()
        today = today or (now.date() if now is not None else None)
        now = now or datetime.now(UTC)
        body = decode(doc, settings)
        categories = tuple(dict.fromkeys(body.categories))
        customers, orders = _ids(body.customers, "customers"), _ids(body.orders, "orders")
        if not customers and not orders:
            raise Unprocessable("name the customers concerned, by customer id or order id",
                                field="customers")
        known = settings.find(_text(body.authority, "authority", minimum=2) or "")
        if body.received_via not in settings.channels:
            raise Unprocessable(_messages(settings)["$.received_via"], field="received_via")
        officer = _text(body.officer, "officer", minimum=2)
        rank = _text(body.rank, "rank", required=False)
        deadline, due_at = settings.deadline(body.kind, _day(body.deadline, "deadline", today),
                                             now=now)
        follows = body.follows or None
        if follows is not None and body.kind == "preservation":
            raise Unprocessable(_FOLLOWS, field="follows")
        return cls(
            authority=known.name, authority_id=known.id, authority_type=known.type,
            reference=_text(body.reference, "reference") or "",
            legal_basis=_text(body.legal_basis, "legal_basis", minimum=5) or "",
            kind=body.kind, categories=categories, deadline=deadline, customers=customers,
            orders=orders, defer_until=_day(body.defer_until, "defer_until", today),
            officer=officer, rank=rank, received_via=body.received_via, due_at=due_at,
            follows=follows, warnings=settings.rank_warnings(rank, known.type),
        )


_FOLLOWS = ("follows names the preservation request (ar_...) a production or emergency "
            "request follows")


def _text_rule(key: str, minimum: int = 1) -> str:
    return f"{key} is required (text of {minimum} to {MAX_TEXT} characters)"


def _messages(settings: AuthoritySettings) -> dict[str, str]:
    """The rule as staff read it, for an error at one of the body's members itself."""
    return {
        **{f"$.{key}": _text_rule(key, low) for key, low in (
            ("authority", 2), ("officer", 2), ("rank", 1), ("reference", 1),
            ("legal_basis", 5))},
        "$.kind": f"kind must be one of {', '.join(KINDS)}",
        "$.received_via": "received_via (how the request arrived) must be one of "
                          f"{', '.join(settings.channels)}",
        "$.categories": f"categories must name one or more of {', '.join(CATEGORIES)}",
        "$.categories[]": "{path} is unknown; categories must name one or more of "
                          + ", ".join(CATEGORIES),
        **{f"$.{key}[]": f"{{path}} must be an id: text of 1 to {MAX_ID} characters"
           for key in ("customers", "orders")},
        **{f"$.{key}": f"{key} must be a list of up to {MAX_IDS} ids"
           for key in ("customers", "orders")},
        **{f"$.{key}": f"{key} must be a date (YYYY-MM-DD)"
           for key in ("deadline", "defer_until")},
        "$.follows": _FOLLOWS,
    }


def decode(doc: bytes | Mapping[str, Any], settings: AuthoritySettings) -> AuthorityIntake:
    """The body as the wire structure: 400 unless it is a JSON object, 422 naming the member
    (and the path) that does not fit."""
    try:
        if isinstance(doc, bytes):
            return msgspec.json.decode(doc, type=AuthorityIntake)
        return msgspec.convert(doc, AuthorityIntake)
    except msgspec.ValidationError as exc:
        raise field_problem(exc, whole=_WHOLE, messages=_messages(settings)) from None
    except msgspec.DecodeError:
        raise BadRequest(_WHOLE) from None
    except RecursionError:
        raise BadRequest("the request is nested too deeply") from None


def _text(value: str | None, key: str, *, minimum: int = 1, required: bool = True,
          ) -> str | None:
    if not required and not value:
        return None
    if value is None or len(value.strip()) < minimum:
        raise Unprocessable(_text_rule(key, minimum), field=key)
    return staff_text(value.strip(), key)


def _day(value: str | None, key: str, today: date | None) -> date | None:
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        given = date.fromisoformat(value)
    except ValueError:
        raise Unprocessable(f"{key} must be a date (YYYY-MM-DD)", field=key) from None
    if today is not None and given < today:
        raise Unprocessable(f"{key} is in the past (today is {today.isoformat()})", field=key)
    return given


def _ids(value: list[str], key: str) -> tuple[str, ...]:
    """A list of ids; a wrong one is named by its position (``$.customers[2]``, from 0),
    never by its value."""
    for i, v in enumerate(value):
        if not v.strip():
            raise Unprocessable(f"$.{key}[{i}] must be an id: text of 1 to {MAX_ID} "
                                "characters", field=key)
        if not clean(v.strip()):
            try:
                staff_text(v.strip(), f"$.{key}[{i}]")
            except Unprocessable as exc:
                raise Unprocessable(exc.detail, field=key) from None
    return tuple(dict.fromkeys(v.strip() for v in value))
