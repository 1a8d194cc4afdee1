"""Start-up recovery: every operation the record holds an intent of but no outcome (the process
died between the two) is resolved before the gateway takes hooks. Never a second booking.

The intent of every operation opens its hook in the same transaction, and its outcome closes
it, so the operations to resolve are those of the open hooks: read through an index that holds
only those, start-up costs the same on a record of millions of entries as on an empty one.

A booking (a delivery, or a return label) is looked up at the carrier under our reference
(the disclosure id):

- found -> outcome ``booked`` with the carrier's tracking number;
- the carrier does not know it -> ``not_sent`` (503): the pipeline's retry of the hook books;
- the carrier cannot be asked (down, breaker open, no longer configured) -> ``unknown`` (504),
  logged as ``disclosure.unknown`` for a person to check at the carrier; it is never resent.

A cancellation is sent again: cancelling twice is harmless at the carrier.

The hook that opened the operation is closed with that answer, so its retry answers it instead
of 409. If the customer was erased meanwhile, the outcome holds metadata only and the hook is
closed with an answer carrying no personal value. Outcomes written here carry
``data.recovered = true``. An open hook whose outcome is already recorded (left so by an
earlier version when the customer was erased) is answered from the record when retried.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from gateway.errors import (
    CarrierError,
    CarrierOutcomeUnknown,
    CarrierUnavailable,
    HookTaken,
)
from gateway.models import Cancellation
from gateway.operations.answer import Answer
from gateway.operations.disclose import Discloser, Facts
from gateway.operations.opened import operation
from gateway.record import Kind
from gateway.record.entry import Entry, decode, iso_time
from gateway.record.entry_data import CancelIntentData, IntentData
from gateway.record.sealing import outcome_context, unseal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from gateway.config import Config
    from gateway.models import ShipmentResult
    from gateway.operations.cancel import Canceller
    from gateway.record import Record
    from gateway.record.rows import HookRow, Row

log = structlog.get_logger("gateway.recovery")

async def recover(*, discloser: Discloser, canceller: Canceller, record: Record,
                  stale_before: str | None = None) -> list[tuple[str, str]]:
    """Resolve every operation left without an outcome; (disclosure id, result) for each.

    At start-up (``stale_before`` None) only a process alone on the record recovers: another
    one's operations may be in flight. With ``stale_before`` (an ISO time), only operations
    whose intent is older are taken, whatever else runs: no call in flight lasts that long, so
    their process died or gave up. Either way a hook another process answered meanwhile is
    left alone (the outcome is written only if the hook is still open)."""
    hooks = await record.open_hooks(alone_only=stale_before is None)
    pending = [p for p in await asyncio.gather(*(_pending(record, h) for h in hooks))
               if p and (stale_before is None or p[1].time < stale_before)]
    if not pending:
        return []
    log.warning("recovery.start", pending=len(pending), stale=stale_before is not None)
    answers = await asyncio.gather(*(_settle(
        _resolve(discloser, record, row, doc) if doc.kind == Kind.INTENT
        else _cancel_again(canceller, record, doc), doc.disclosure or "")
        for row, doc in pending))
    return [(str(a.body["disclosure_id"]), str(a.body["result"])) for a in answers if a]


async def _settle(resolving: Awaitable[Answer], disclosure: str) -> Answer | None:
    try:
        return await resolving
    except HookTaken:
        log.info("recovery.already_answered", disclosure=disclosure)
        return None


def stale_after(config: Config) -> float:
    """Seconds after which an operation without an outcome cannot still be in flight: the
    largest carrier budget (enforced on every operation), plus a minute for the record's own
    waits."""
    return max((c.resilience.budget for c in config.carriers.values()), default=0.0) + 60.0


async def recover_periodically(*, discloser: Discloser, canceller: Canceller, record: Record,
                               after: float, clock: Callable[[], float]) -> None:
    """Resolve stale operations every ``after / 2`` seconds (a crashed instance's, when the
    others keep running); errors are logged and tried again next time."""
    while True:
        await asyncio.sleep(after / 2)
        before = iso_time(datetime.fromtimestamp(clock() - after, UTC))
        try:
            await recover(discloser=discloser, canceller=canceller, record=record,
                          stale_before=before)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.warning("recovery.failed", error=type(exc).__name__)


async def _pending(record: Record, hook: HookRow) -> tuple[Row, Entry] | None:
    """The intent the open ``hook`` waits on, unless its outcome is recorded."""
    found = await operation(record, hook)
    if found is None or found[2] is not None:
        return None
    return found[0], found[1]


async def _resolve(discloser: Discloser, record: Record, row: Row, intent: Entry) -> Answer:
    assert isinstance(intent.data, IntentData)
    facts = Facts(
        disclosure=intent.disclosure or "", subject=intent.subject or "",
        order=intent.order or "", recipient=intent.recipient or "",
        service=intent.service or "", fields=intent.fields, policy=intent.policy or "",
        intent=row.seq, webhook_id=intent.data.webhook_id,
        recovered=True,
    )
    result = await _ask(discloser, facts)
    key = await record.subject_key(facts.subject, create=False)
    answer = await discloser.outcome(facts, key, result)
    event = "disclosure.unknown" if answer.body["result"] == "unknown" else "disclosure.recovered"
    log.warning(event, disclosure=facts.disclosure, recipient=facts.recipient,
                result=answer.body["result"])
    return answer


async def _ask(discloser: Discloser, facts: Facts) -> ShipmentResult | CarrierError:
    carrier = discloser.carriers.get(facts.recipient)
    if carrier is None:
        return CarrierOutcomeUnknown(
            f"{facts.recipient} is no longer configured; check disclosure {facts.disclosure} "
            "at the carrier by hand"
        )
    try:
        found = await carrier.find_shipment(facts.disclosure)
    except CarrierError as exc:
        return CarrierOutcomeUnknown(
            f"{facts.recipient} could not be asked after a restart ({exc.type_slug}); "
            f"check disclosure {facts.disclosure} at the carrier by hand"
        )
    if found is None:
        return CarrierUnavailable(
            f"{facts.recipient} has no booking under {facts.disclosure} after a restart; "
            "nothing was booked"
        )
    return found


async def _cancel_again(canceller: Canceller, record: Record, intent: Entry) -> Answer:
    """Send an interrupted cancellation again (harmless if it had arrived)."""
    assert isinstance(intent.data, CancelIntentData)
    booking, disclosure = intent.data.booking, intent.disclosure or ""
    booked = next(d for d in (decode(r.body) for r in await record.disclosure_entries(
        disclosure)) if d.seq == booking)
    carrier = canceller.carriers.get(booked.recipient or "")
    key = await record.subject_key(booked.subject or "", create=False)
    row = await record.entry(booked.seq)
    error: CarrierError | None
    if carrier is None or key is None or row is None or row.sealed is None:
        error = CarrierOutcomeUnknown(
            f"the cancellation of {disclosure} cannot be sent again after a restart; "
            "check it at the carrier by hand")
    elif (ids := unseal(key, outcome_context(disclosure), row.sealed)) is None:
        error = CarrierOutcomeUnknown(
            f"the cancellation of {disclosure} cannot be sent again: the customer "
            "was erased since the booking; check it at the carrier by hand")
    else:
        try:
            await carrier.cancel_shipment(Cancellation(
                reference=disclosure, service=booked.service or "",
                tracking_number=ids["tracking_number"],
                carrier_reference=ids.get("carrier_reference")))
            error = None
        except CarrierError as exc:
            error = exc
    answer = await canceller.outcome(booked, intent.seq, intent.data.webhook_id,
                                     error, recovered=True)
    log.warning("cancel.recovered", disclosure=disclosure,
                result=answer.body["result"])
    return answer
