"""Cancelling a booking (``order.cancelled``): the record is read for the booking, the carrier
gets only its own ids for it, and the cancellation is recorded like a disclosure, as an intent
durable before anything is sent and an outcome after.

What a cancellation sends the carrier is what the carrier issued (its shipment id, the tracking
number) and our reference: no personal field, so its entries name no fields, and the access
and transparency reports, which count disclosures of personal data, do not count it.

- no booking under the disclosure id: 404, nothing sent;
- not booked (refused, never sent, unknown, or still pending): 409, nothing sent;
- the carrier's API cannot cancel: 501 ``carrier-operation-unsupported``, nothing sent;
- already cancelled: the recorded cancellation is answered again, nothing sent;
- the customer is erased (the carrier's ids, sealed under their key, cannot be read): 409.

The cancellation's entries carry the booking's disclosure id (``shipment.cancel.intent`` /
``shipment.cancel.outcome``), so the record shows a booking's whole life under one id. Answers
hold no personal value and are kept in the clear for the hook's retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import structlog

from carriers import CANCEL, Carrier, unsupported
from gateway.errors import CarrierError, Conflict, NotFound, problem_body
from gateway.models import Cancellation
from gateway.operations.answer import Answer, result_of
from gateway.payload import CancelRequest
from gateway.record import Draft, Kind, Record
from gateway.record.entry import Entry, decode
from gateway.record.entry_data import CancelOutcomeData, OutcomeData
from gateway.record.rows import HookOp
from gateway.record.sealing import outcome_context, unseal

log = structlog.get_logger("gateway.cancels")

@attrs.frozen
class Booking:
    """A booking as the record holds it: its intent and outcome, and any cancellations."""

    intent: Entry
    outcome: Entry
    sealed: bytes | None
    cancelled: Entry | None  # the outcome of a successful cancellation

    @property
    def disclosure(self) -> str:
        return self.outcome.disclosure or ""


@attrs.define
class Canceller:
    record: Record
    carriers: Mapping[str, Carrier]

    async def cancel(self, request: CancelRequest, *, webhook_id: str) -> Answer:
        booking = await self.booking(request.disclosure_id, order=request.order_id)
        out = booking.outcome
        carrier = self.carriers.get(out.recipient or "")
        if carrier is None:
            raise Conflict(f"{out.recipient} is no longer configured; cancel disclosure "
                           f"{booking.disclosure} at the carrier by hand")
        if CANCEL not in carrier.operations:
            raise unsupported(carrier.name, "cancellation", "see the adapter's documentation")
        if booking.cancelled is not None:
            log.info("cancel.already", disclosure=booking.disclosure)
            assert isinstance(booking.cancelled.data, CancelOutcomeData)
            return _answer(booking.cancelled, booking.cancelled.data.intent, 200, "cancelled")
        key = await self.record.subject_key(out.subject or "", create=False)
        if key is None or booking.sealed is None:
            raise Conflict("the customer's data is erased, so the carrier's ids for this "
                           "booking can no longer be read; cancel it at the carrier by hand")
        ids = unseal(key, outcome_context(booking.disclosure), booking.sealed)
        if ids is None:  # sealed under a key erased since; the customer came back
            raise Conflict("the customer's data was erased since this booking, so the "
                           "carrier's ids for it can no longer be read; cancel it at the "
                           "carrier by hand")
        intent = await self.record.append(
            Draft(kind=Kind.CANCEL_INTENT, disclosure=booking.disclosure,
                  subject=out.subject, order=out.order, recipient=out.recipient,
                  service=out.service, data={"webhook_id": webhook_id,
                                             "booking": out.seq}),
            HookOp(webhook_id=webhook_id, disclosure=booking.disclosure,
                   subject=out.subject),
        )
        log.info("cancel.intent", disclosure=booking.disclosure, recipient=out.recipient,
                 seq=intent.seq)
        cancellation = Cancellation(
            reference=booking.disclosure, service=out.service or "",
            tracking_number=ids["tracking_number"],
            carrier_reference=ids.get("carrier_reference"))
        return await self.outcome(out, intent.seq, webhook_id, await _send(carrier,
                                                                           cancellation))

    async def booking(self, disclosure: str, *, order: str | None = None) -> Booking:
        """The booking recorded under ``disclosure``; NotFound or Conflict when there is none
        to cancel."""
        rows = await self.record.disclosure_entries(disclosure)
        docs = [(row, decode(row.body)) for row in rows]
        intent = next((d for _, d in docs if d.kind == Kind.INTENT), None)
        found = next(((r, d) for r, d in docs if d.kind == Kind.OUTCOME), None)
        if intent is None or (order is not None and intent.order != order):
            raise NotFound(f"no shipment of order {order} has the disclosure id {disclosure}"
                           if order else f"no shipment has the disclosure id {disclosure}")
        if found is None:
            raise Conflict(f"disclosure {disclosure} has no recorded outcome yet")
        row, outcome = found
        result = outcome.data.result if isinstance(outcome.data, OutcomeData) else None
        if result != "booked":
            raise Conflict(f"disclosure {disclosure} was not booked (its outcome is {result}); "
                           "there is nothing to cancel")
        cancelled = next((d for _, d in reversed(docs)
                          if isinstance(d.data, CancelOutcomeData)
                          and d.data.result == "cancelled"), None)
        return Booking(intent=intent, outcome=outcome, sealed=row.sealed, cancelled=cancelled)

    async def outcome(self, booked: Entry, intent: int, webhook_id: str,
                      error: CarrierError | None, *, recovered: bool = False) -> Answer:
        """Record the cancellation's outcome and close its hook with the answer."""
        result = "cancelled" if error is None else result_of(error)
        data: dict[str, Any] = {"result": result, "intent": intent}
        if error is not None:
            data["error"] = error.type_slug
        if recovered:
            data["recovered"] = True
        answer = _answer(booked, intent, 200 if error is None else error.status, result, error)
        entry = await self.record.append(
            Draft(kind=Kind.CANCEL_OUTCOME, disclosure=booked.disclosure,
                  subject=booked.subject, order=booked.order,
                  recipient=booked.recipient, service=booked.service, data=data),
            HookOp(webhook_id=webhook_id, disclosure=booked.disclosure or "",
                   status=answer.status, answer=answer.in_clear(), if_open=recovered),
        )
        log.info("cancel.outcome", disclosure=booked.disclosure, result=result,
                 seq=entry.seq)
        return answer


async def _send(carrier: Carrier, cancellation: Cancellation) -> CarrierError | None:
    try:
        await carrier.cancel_shipment(cancellation)
    except CarrierError as exc:
        return exc
    return None


def _answer(entry: Entry, intent: int, status: int, result: str,
            error: CarrierError | None = None) -> Answer:
    """The hook's answer about the booking ``entry`` (any of its entries), whose cancellation
    intent is at ``intent``."""
    body: dict[str, Any] = {
        "disclosure_id": entry.disclosure, "order_id": entry.order,
        "carrier": entry.recipient, "service": entry.service, "result": result,
        "record": {"intent": intent},
    }
    if error is not None:
        body = problem_body(error, **body)
    return Answer(status=status, body=body)

