"""Authority requests: intake -> approval by a second person, or reasoned rejection -> one
disclosure minimised to what was asked -> closed. Every step is an entry in the record.

An authority request is one more recipient with its own allow-list: the categories it asked
for, turned into a policy Rule and applied with the same default-deny selection.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import attrs
import orjson

from gateway.actor import Actor
from gateway.authority.settings import KINDS, AuthoritySettings
from gateway.errors import Conflict, Forbidden, NotFound, Unprocessable
from gateway.policy.rules import Rule
from gateway.record import Draft, Kind, Record
from gateway.record.entry import decode, iso_time
from gateway.record.rows import PutRequest, SideOp
from gateway.record.sealing import authority_subject_context, seal, subject_ref, unseal
from gateway.text import clean, staff_text

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
OPEN = ("received", "approved")
#: What the steps after intake keep on a request (``gateway.authority.steps``).
CASE_KEYS = ("outcome", "objection", "notification", "preservation", "extensions",
             "followed_by")
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


@attrs.frozen
class Request:
    id: str
    state: str
    intake: Intake
    subjects: tuple[str, ...]
    unresolved_orders: tuple[str, ...]
    received_by: str
    received_at: str
    decided_by: str | None = None
    reason: str | None = None
    package_sha256: str | None = None
    disclosed_by: str | None = None
    #: What the steps after intake recorded (``gateway.authority.steps``): outcome,
    #: objection, notification, preservation, extensions.
    case: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def rule(self) -> Rule:
        """This request's own allow-list: the fields of the categories it asked for."""
        fields = tuple(f for c in self.intake.categories for f in CATEGORIES[c])
        return Rule(recipient=f"authority:{self.intake.authority}", service=self.id,
                    allow=fields, require=())

    def to_json(self) -> dict[str, Any]:
        i = self.intake
        return {
            "id": self.id, "state": self.state, "authority": i.authority,
            "reference": i.reference, "legal_basis": i.legal_basis, "kind": i.kind,
            "categories": list(i.categories), "deadline": i.deadline.isoformat(),
            "defer_until": i.defer_until.isoformat() if i.defer_until else None,
            "subjects": list(self.subjects), "unresolved_orders": list(self.unresolved_orders),
            "received_by": self.received_by, "received_at": self.received_at,
            "decided_by": self.decided_by, "reason": self.reason,
            "package_sha256": self.package_sha256, "disclosed_by": self.disclosed_by,
            "authority_id": i.authority_id, "authority_type": i.authority_type,
            "officer": i.officer, "rank": i.rank, "received_via": i.received_via,
            "due_at": i.due_at, "follows": i.follows, "warnings": list(i.warnings),
            **{k: self.case.get(k) for k in CASE_KEYS},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Request:
        intake = Intake(
            authority=doc["authority"], reference=doc["reference"],
            legal_basis=doc["legal_basis"], kind=doc["kind"],
            categories=tuple(doc["categories"]), deadline=date.fromisoformat(doc["deadline"]),
            defer_until=date.fromisoformat(doc["defer_until"]) if doc["defer_until"] else None,
            authority_id=doc.get("authority_id"), authority_type=doc.get("authority_type"),
            officer=doc.get("officer"), rank=doc.get("rank"),
            received_via=doc.get("received_via"), due_at=doc.get("due_at"),
            follows=doc.get("follows"), warnings=tuple(doc.get("warnings") or ()),
        )
        return cls(id=doc["id"], state=doc["state"], intake=intake,
                   subjects=tuple(doc["subjects"]),
                   unresolved_orders=tuple(doc["unresolved_orders"]),
                   received_by=doc["received_by"], received_at=doc["received_at"],
                   decided_by=doc["decided_by"], reason=doc["reason"],
                   package_sha256=doc["package_sha256"],
                   disclosed_by=doc.get("disclosed_by"),
                   case={k: doc[k] for k in CASE_KEYS if doc.get(k) is not None})



class Authority:
    """The workflow over the record. ``actor`` is the staff member and the door they used;
    each step's entry carries its fields (``by``, ``channel``, ``os_user``)."""

    def __init__(self, *, record: Record, hmac_key: bytes) -> None:
        self.record = record
        self.hmac_key = hmac_key

    async def get(self, request_id: str) -> Request:
        found = await self.record.authority_request(request_id)
        if found is None:
            raise NotFound(f"no authority request {request_id}")
        return Request.from_json(orjson.loads(found[1]))

    async def list(self, states: Sequence[str] = (*OPEN, "rejected", "disclosed", "closed"),
                   ) -> list[Request]:
        return [Request.from_json(orjson.loads(doc))
                for _, _, doc in await self.record.authority_requests(states)]

    async def intake(self, form: Intake, *, actor: Actor, now: datetime,
                     request_id: str | None = None, ops: Sequence[SideOp] = (),
                     data: Mapping[str, Any] | None = None) -> Request:
        """Take a request in (id ``request_id``, or a new one); ``ops`` are committed with its
        entry, which also carries ``data`` (linking or ending the preservation request it
        follows)."""
        subjects = [subject_ref(self.hmac_key, c) for c in form.customers]
        # Which of the ids asked each subject answers: its place among the customer ids, and
        # the orders that led to it (a package gives an order-named customer those orders only).
        asked: dict[str, dict[str, Any]] = {
            s: {"customer_no": i + 1, "orders": []} for i, s in enumerate(subjects)}
        unresolved = []
        for order in form.orders:
            subject = await self.record.subject_of_order(order)
            if subject is None:
                unresolved.append(order)
                continue
            if subject not in subjects:
                subjects.append(subject)
            asked.setdefault(subject, {"customer_no": None, "orders": []})["orders"].append(order)
        request = Request(id=request_id or new_request_id(), state="received", intake=form,
                          subjects=tuple(subjects), unresolved_orders=tuple(unresolved),
                          received_by=_staff(actor), received_at=iso_time(now))
        ids = {subject_ref(self.hmac_key, c): c for c in form.customers}
        sealed = {}
        for subject in subjects:
            key = await self.record.subject_key(subject, create=False)
            if key is None and await self.record.subject_entries(subject):
                continue  # erased: no new key, so the old entries keep reading as erased
            if key is None:
                # An id the record never saw gets no customer key (a retention run would
                # then count it as a customer to erase): its id is sealed under the
                # request's own key, kept only as long as the request is open.
                sealed[subject] = "r:" + seal(self._request_key(request.id),
                                              authority_subject_context(request.id),
                                              {"customer_id": ids.get(subject)}).hex()
                continue
            sealed[subject] = seal(key, authority_subject_context(request.id),
                                   {"customer_id": ids.get(subject)}).hex()
        doc = {**request.to_json(), "sealed_ids": sealed, "asked": asked}
        await self.record.append(Draft(
            kind=Kind.AUTHORITY_RECEIVED, disclosure=request.id, recipient=form.authority,
            data={**{k: v for k, v in request.to_json().items() if k != "state"},
                  **actor.to_json(), **(data or {})},
        ), PutRequest(request.id, request.state, form.deadline.isoformat(), orjson.dumps(doc)),
            *ops)
        return request

    def _request_key(self, request_id: str) -> bytes:
        """The key a request seals the ids of customers the record never saw with."""
        return hmac.new(self.hmac_key, f"authority-request-key:{request_id}".encode(),
                        hashlib.sha256).digest()

    async def moving(self, request: Request, expected: str,
                     **changes: Any) -> tuple[Request, PutRequest]:  # noqa: ANN401
        """The request moved from state ``expected``, and the side operation that stores it
        with the entry recording the step (refused if another caller moved it first)."""
        moved = attrs.evolve(request, **changes)
        stored = await self.record.authority_request(request.id)
        assert stored is not None
        doc = {**orjson.loads(stored[1]), **moved.to_json()}
        if moved.state == "closed":  # the ids of customers the record never saw go now
            doc["sealed_ids"] = {s: v for s, v in doc.get("sealed_ids", {}).items()
                                 if not v.startswith("r:")}
        return moved, PutRequest(moved.id, moved.state, moved.intake.deadline.isoformat(),
                                 orjson.dumps(doc), expected)

    async def approve(self, request_id: str, *, actor: Actor, now: datetime) -> Request:
        request = await self.deciding(request_id, actor=actor)
        if request.intake.kind == "preservation":
            raise Conflict(f"request {request_id} is a preservation order: it is approved "
                           "with its holds (gateway.authority.preservation.approve)")
        return await self.decide(request, actor=actor, now=now, state="approved")

    async def reject(self, request_id: str, *, actor: Actor, reason: str,
                     now: datetime) -> Request:
        if not reason or not 5 <= len(reason.strip()) <= 1000:  # noqa: PLR2004
            raise Unprocessable("a rejection needs its reason (5 to 1000 characters)",
                                field="reason")
        staff_text(reason, "reason", multiline=True)
        request = await self.deciding(request_id, actor=actor)
        return await self.decide(request, actor=actor, now=now, state="rejected",
                                 reason=reason.strip())

    async def deciding(self, request_id: str, *, actor: Actor) -> Request:
        """The request, if it awaits a decision and ``actor`` is a second person for it."""
        request = await self.get(request_id)
        if request.state != "received":
            raise Conflict(f"request {request_id} is {request.state}, not awaiting a decision")
        if actor.username == request.received_by:
            raise Forbidden("a request is decided by a second person, not the one who took "
                            "it in")
        if await self._acted_under_another_name(request_id, actor):
            raise Forbidden("a request is decided by a second person: this OS login already "
                            "acted on it under another staff name")
        return request

    async def decide(self, request: Request, *, actor: Actor, now: datetime, state: str,
                     reason: str | None = None, case: Mapping[str, Any] | None = None,
                     data: Mapping[str, Any] | None = None, ops: Sequence[SideOp] = (),
                     ) -> Request:
        """Record the decision on a request ``deciding`` returned: its entry, the request
        moved to ``state`` (with ``case``), and ``ops`` (a preservation's holds), in one
        transaction."""
        moved, put = await self.moving(request, "received", state=state,
                                       decided_by=_staff(actor), reason=reason,
                                       case=request.case if case is None else case)
        await self.record.append(Draft(
            kind=Kind.AUTHORITY_REJECTED if state == "rejected" else Kind.AUTHORITY_APPROVED,
            disclosure=request.id, recipient=request.intake.authority,
            data={"request": request.id, **actor.to_json(), "reason": reason,
                  "at": iso_time(now), **(data or {}), "state": state},
        ), put, *ops)
        return moved

    async def _acted_under_another_name(self, request_id: str, actor: Actor) -> bool:
        """Whether the request's recorded steps show ``actor``'s OS login acting on it, on the
        CLI, as another staff member (``--as`` takes no password)."""
        if actor.channel != "cli":
            return False
        return any(isinstance(step.data, dict) and actor.same_login_other_name(step.data)
                   for step in (decode(row.body) for row in
                                await self.record.disclosure_entries(request_id)))

    async def close(self, request_id: str, *, actor: Actor, now: datetime) -> Request:
        request = await self.get(request_id)
        if request.state not in ("disclosed", "rejected"):
            raise Conflict(f"request {request_id} is {request.state}; close it after it is "
                           "disclosed or rejected")
        moved, put = await self.moving(request, request.state, state="closed")
        await self.record.append(Draft(
            kind=Kind.AUTHORITY_CLOSED, disclosure=request_id,
            recipient=request.intake.authority,
            data={"request": request_id, **actor.to_json(), "at": iso_time(now),
                  "state": "closed"},
        ), put)
        return moved

    async def deadlines(self, *, today: date, soon_days: int = 3,
                        ) -> builtins.list[dict[str, Any]]:  # `list` is a method here
        """Open requests by deadline, marked overdue, due soon or open."""
        out = []
        for request in await self.list(OPEN):
            left = (request.intake.deadline - today).days
            status = "overdue" if left < 0 else "due soon" if left <= soon_days else "open"
            out.append({"id": request.id, "authority": request.intake.authority,
                        "reference": request.intake.reference, "state": request.state,
                        "deadline": request.intake.deadline.isoformat(), "days_left": left,
                        "status": status})
        return out

    async def customer_id(self, request: Request, subject: str) -> str | None:
        stored = await self.record.authority_request(request.id)
        assert stored is not None
        sealed = orjson.loads(stored[1]).get("sealed_ids", {}).get(subject)
        if sealed is None:
            return None
        if sealed.startswith("r:"):
            key: bytes | None = self._request_key(request.id)
            sealed = sealed[2:]
        else:
            key = await self.record.subject_key(subject, create=False)
        if key is None:
            return None
        value = unseal(key, authority_subject_context(request.id), bytes.fromhex(sealed))
        return None if value is None else value.get("customer_id")


def new_request_id() -> str:
    return "ar_" + uuid.uuid4().hex[:16]


def _staff(actor: Actor) -> str:
    """The staff account of an authority step: always a person."""
    if actor.username is None:
        raise Forbidden("an authority request is handled by a staff member")
    return actor.username
