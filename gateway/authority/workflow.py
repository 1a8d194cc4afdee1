"""Authority requests: intake -> approval by a second person, or reasoned rejection -> one
disclosure minimised to what was asked -> closed. Every step is an entry in the record.

An authority request is one more recipient with its own allow-list: the categories it asked
for, turned into a policy Rule (``Request.rule``) and applied with the same default-deny
selection. The request itself is ``gateway.authority.request``; its intake form
``gateway.authority.intake``.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import attrs
import orjson

from gateway.actor import Actor
from gateway.authority.intake import Intake
from gateway.authority.request import OPEN, Request, new_request_id
from gateway.errors import Conflict, Forbidden, NotFound, Unprocessable
from gateway.record import Draft, Kind, Record
from gateway.record.entry import document, iso_time
from gateway.record.rows import PutRequest, SideOp
from gateway.record.sealing import authority_subject_context, seal, subject_ref, unseal
from gateway.text import staff_text

__all__ = ["Authority"]


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
        # Every step's data as signed, whatever type its kind reads back as: the check must
        # not depend on which kinds are typed.
        steps = (document(row.body).get("data")
                 for row in await self.record.disclosure_entries(request_id))
        return any(isinstance(data, dict) and actor.same_login_other_name(data)
                   for data in steps)

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



def _staff(actor: Actor) -> str:
    """The staff account of an authority step: always a person."""
    if actor.username is None:
        raise Forbidden("an authority request is handled by a staff member")
    return actor.username
