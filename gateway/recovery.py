"""Start-up recovery: every disclosure intent the record holds without an outcome (the process
died between the two) is resolved before the gateway takes hooks. Never a second booking.

For each one the carrier is asked for the booking under our reference (the disclosure id):

- found -> outcome ``booked`` with the carrier's tracking number;
- the carrier does not know it -> ``not_sent`` (503): the pipeline's retry of the hook books;
- the carrier cannot be asked (down, breaker open, no longer configured) -> ``unknown`` (504),
  logged as ``disclosure.unknown`` for a person to check at the carrier; it is never resent.

The hook that opened the disclosure is closed with that answer, so its retry answers it
instead of 409. Outcomes written here carry ``data.recovered = true``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson
import structlog

from gateway.disclosures import Answer, Discloser, Facts
from gateway.errors import CarrierError, CarrierOutcomeUnknown, CarrierUnavailable

if TYPE_CHECKING:
    from gateway.models import ShipmentResult
    from gateway.record import Record
    from gateway.record.sqlite import Row

log = structlog.get_logger("gateway.recovery")


async def recover(*, discloser: Discloser, record: Record) -> list[tuple[str, str]]:
    """Resolve every intent without an outcome; (disclosure id, result) for each."""
    pending = await record.store.pending_intents()
    if not pending:
        return []
    log.warning("recovery.start", pending=len(pending))
    answers = await asyncio.gather(*(_resolve(discloser, record, row) for row in pending))
    return [(str(a.body["disclosure_id"]), str(a.body["result"])) for a in answers]


async def _resolve(discloser: Discloser, record: Record, row: Row) -> Answer:
    doc = orjson.loads(row.body)
    facts = Facts(
        disclosure=doc["disclosure"], subject=doc["subject"], order=doc["order"],
        recipient=doc["recipient"], service=doc["service"], fields=tuple(doc["fields"]),
        policy=doc["policy"], intent=row.seq, webhook_id=doc["data"]["webhook_id"],
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
