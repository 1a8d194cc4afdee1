"""Erasure requests: the customer's data key is deleted, so every value sealed under it reads as
erased, while the record's entries, tree and checkpoints stay as they were and still verify.

A legal hold defers the erasure: the configured period after the customer's last disclosure
(e.g. proof of delivery kept under consumer-protection law), or a hold placed on one customer
(e.g. an accounting or legal matter). The request is recorded at once and carried out by
``run_due`` when the hold ends. Retention erases, in the same way, customers with no disclosure
for ``retention_days``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import attrs
import structlog

from gateway.errors import GatewayError
from gateway.record import Draft, Kind, Record
from gateway.record.entry import iso_time
from gateway.record.rows import KeyErasure
from gateway.record.sealing import subject_ref

log = structlog.get_logger("gateway.erasure")
CUSTOMER_REQUEST = "customer request (GDPR Art. 17)"


@attrs.frozen
class ErasureRules:
    """Values of disclosures younger than ``hold_days`` are kept that long, on ``hold_basis``."""

    hold_days: int = 0
    hold_basis: str = ""
    retention_days: int = 0
    run_every_hours: float = 0
    #: Days a produced authority package's local copy is kept (0: until its request is
    #: closed, which deletes it); the record keeps the package's hash either way.
    package_retention_days: int = 0


@attrs.frozen
class Erasure:
    subject: str
    status: Literal["erased", "deferred", "held"]
    seq: int
    due: str | None = None



def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


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
    return await _erase_or_defer(record, subject, rules, now, reason)


async def _hold(record: Record, subject: str, rules: ErasureRules,
                now: datetime) -> tuple[str, str] | None:
    """(until, basis) of the longest hold running on ``subject`` at ``now``, if any."""
    holds = []
    last = await record.store.last_disclosure(subject)
    if rules.hold_days and last is not None:
        due = _parse(last) + timedelta(days=rules.hold_days)
        if due > now:
            holds.append((iso_time(due), rules.hold_basis))
    placed = await record.store.hold_until(subject, iso_time(now))
    if placed is not None:
        holds.append(placed)
    return max(holds) if holds else None


async def _erase_or_defer(record: Record, subject: str, rules: ErasureRules, now: datetime,
                          reason: str) -> Erasure:
    hold = await _hold(record, subject, rules, now)
    if hold is None:
        return await _erase(record, subject, reason)
    due, basis = hold
    await record.store.defer_erasure(subject, iso_time(now), due, basis)
    entry = await record.append(Draft(
        kind=Kind.ERASURE_DEFERRED, subject=subject,
        data={"reason": reason, "due": due, "basis": basis},
    ))
    return Erasure(subject=subject, status="deferred", seq=entry.seq, due=due)


async def run_due(record: Record, *, now: datetime, rules: ErasureRules | None = None,
                  ) -> list[Erasure]:
    """Carry out every deferred erasure whose hold has ended (deferring again any that a newer
    hold still covers)."""
    rules = rules or ErasureRules()
    return [
        await _erase_or_defer(record, subject, rules, now, "deferred request, legal hold ended")
        for subject in await record.store.due_erasures(iso_time(now))
    ]


async def apply_retention(record: Record, *, rules: ErasureRules, now: datetime) -> list[Erasure]:
    """Erase customers with no disclosure for ``rules.retention_days``, unless a hold runs."""
    if not rules.retention_days:
        return []
    before = iso_time(now - timedelta(days=rules.retention_days))
    done = []
    for subject in await record.store.stale_subjects(before):
        hold = await _hold(record, subject, rules, now)
        if hold is not None:
            done.append(Erasure(subject=subject, status="held", seq=-1, due=hold[0]))
            continue
        done.append(await _erase(
            record, subject, f"retention period of {rules.retention_days} days ended"))
    return done


def expire_packages(directory: Path, *, days: int, now: datetime) -> list[str]:
    """Delete authority package copies produced more than ``days`` ago (0: none); the request
    ids whose package was deleted. The record keeps each package's hash, and handing the
    package over is the authority's copy."""
    if not days or not directory.is_dir():
        return []
    before = (now - timedelta(days=days)).timestamp()
    gone = []
    for path in sorted(directory.glob("*.json")):
        try:
            if path.stat().st_mtime < before:
                path.unlink()
                gone.append(path.stem)
        except FileNotFoundError:
            continue
    if gone:
        log.info("retention.packages_deleted", count=len(gone))
    return gone


async def place_hold(record: Record, *, customer_id: str, hmac_key: bytes, until: datetime,
                     basis: str, now: datetime) -> int:
    """Put a legal hold on one customer's values until ``until``; recorded. Returns its position."""
    subject = subject_ref(hmac_key, customer_id)
    await record.store.add_hold(subject, iso_time(until), basis, iso_time(now))
    entry = await record.append(Draft(kind=Kind.LEGAL_HOLD, subject=subject,
                                      data={"until": iso_time(until), "basis": basis}))
    return entry.seq


async def _erase(record: Record, subject: str, reason: str) -> Erasure:
    entry = await record.append(
        Draft(kind=Kind.ERASURE, subject=subject, data={"reason": reason}),
        KeyErasure(subject),
    )
    return Erasure(subject=subject, status="erased", seq=entry.seq)


async def run_periodically(record: Record, rules: ErasureRules,
                           packages: Path | None = None) -> None:
    """The optional periodic task: due erasures and retention (customer values and, in
    ``packages``, authority package copies), every ``run_every_hours``."""
    while True:
        await asyncio.sleep(rules.run_every_hours * 3600)
        now = datetime.now(UTC)
        if packages is not None:
            expire_packages(packages, days=rules.package_retention_days, now=now)
        try:
            done = await run_due(record, now=now, rules=rules)
            done += await apply_retention(record, rules=rules, now=now)
        except GatewayError as exc:
            log.warning("erasure.periodic_failed", problem=exc.type_slug)
            continue
        log.info("erasure.periodic", erased=sum(e.status == "erased" for e in done),
                 held=sum(e.status != "erased" for e in done))
