"""Erasure requests: the customer's data key is deleted, so every value sealed under it reads as
erased, while the record's entries, tree and checkpoints stay as they were and still verify.

A legal hold (e.g. proof of delivery kept under consumer-protection law) defers the erasure: it
is recorded at once and carried out by ``run_due`` when the hold ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import attrs

from gateway.record import Draft, Kind, Record
from gateway.record.sealing import subject_ref
from gateway.record.sqlite import KeyErasure

CUSTOMER_REQUEST = "customer request (GDPR Art. 17)"


@attrs.frozen
class ErasureRules:
    """Values of disclosures younger than ``hold_days`` are kept that long, on ``hold_basis``."""

    hold_days: int = 0
    hold_basis: str = ""


@attrs.frozen
class Erasure:
    subject: str
    status: Literal["erased", "deferred"]
    seq: int
    due: str | None = None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def request_erasure(
    record: Record,
    *,
    customer_id: str,
    hmac_key: bytes,
    rules: ErasureRules,
    now: datetime,
    reason: str = CUSTOMER_REQUEST,
) -> Erasure:
    """Erase a customer's values now, or record the request and defer it under a legal hold."""
    subject = subject_ref(hmac_key, customer_id)
    last = await record.store.last_disclosure(subject)
    if rules.hold_days and last is not None:
        due = _parse(last) + timedelta(days=rules.hold_days)
        if due > now:
            await record.store.defer_erasure(subject, _iso(now), _iso(due), rules.hold_basis)
            entry = await record.append(Draft(
                kind=Kind.ERASURE_DEFERRED, subject=subject,
                data={"reason": reason, "due": _iso(due), "basis": rules.hold_basis},
            ))
            return Erasure(subject=subject, status="deferred", seq=entry.seq, due=_iso(due))
    return await _erase(record, subject, reason)


async def run_due(record: Record, *, now: datetime) -> list[Erasure]:
    """Carry out every deferred erasure whose hold has ended."""
    return [
        await _erase(record, subject, "deferred request, legal hold ended")
        for subject in await record.store.due_erasures(_iso(now))
    ]


async def _erase(record: Record, subject: str, reason: str) -> Erasure:
    entry = await record.append(
        Draft(kind=Kind.ERASURE, subject=subject, data={"reason": reason}),
        KeyErasure(subject),
    )
    return Erasure(subject=subject, status="erased", seq=entry.seq)
