"""Erasure requests: the customer's data key is deleted, so every value sealed under it reads as
erased, while the record's entries, tree and checkpoints stay as they were and still verify.

A legal hold defers the erasure: the configured period after the customer's last disclosure
(e.g. proof of delivery kept under consumer-protection law), or a hold placed on one customer
(e.g. an accounting or legal matter). The request is recorded at once and carried out by
``run_due`` when the hold ends. Retention erases, in the same way, customers with no disclosure
for ``retention_days``. A customer named in an open authority request is not erased meanwhile
(see ``request_erasure``). Holds and deferred erasures are listed by ``waiting`` and lifted by
``release``; every erasure, deferral, hold and release names who made it and how (``Actor``).
"""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal

import attrs
import orjson
import structlog

from gateway.actor import SCHEDULE, Actor
from gateway.authority.preservation import PRESERVATION_BASIS, order_of
from gateway.authority.request import OPEN
from gateway.erasure import notices as erasure_notices
from gateway.errors import Conflict, GatewayError, NotFound, Unprocessable
from gateway.record import Draft, Kind, Record
from gateway.record.entry import decode, iso_time
from gateway.record.rows import AddHold, CancelErasure, DeferErasure, KeyErasure, ReleaseHolds
from gateway.record.sealing import subject_ref

log = structlog.get_logger("gateway.erasure")
CUSTOMER_REQUEST = "customer request (GDPR Art. 17)"
#: Length of a hold's basis or a release's reason.
MIN_TEXT: Final = 3
MAX_TEXT: Final = 500


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
    #: Where and how recipients are told of each erasure (GDPR Art. 19); None: not told.
    notices: erasure_notices.Notices | None = None


@attrs.frozen
class Erasure:
    """What became of one customer's erasure. ``seq`` is the entry recording it, -1 when
    nothing was recorded (a dry run, a hold still running, or nothing to do)."""

    subject: str
    status: Literal["erased", "deferred", "held", "already erased", "already deferred"]
    seq: int
    due: str | None = None
    basis: str | None = None
    #: Disclosed authority requests, not yet closed, whose package copy holds the values.
    packages: tuple[str, ...] = ()


#: Authority requests, by state, that name a subject: (request id, state) per subject.
Cases = dict[str, list[tuple[str, str]]]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _cases(record: Record) -> Cases:
    """The requests still open or holding a package copy, per subject they name."""
    cases: Cases = {}
    for request_id, state, doc in await record.authority_requests((*OPEN, "disclosed")):
        for subject in orjson.loads(doc).get("subjects", ()):
            cases.setdefault(subject, []).append((request_id, state))
    return cases


def _open_case(cases: Cases, subject: str) -> str | None:
    return next((rid for rid, state in cases.get(subject, ()) if state in OPEN), None)


async def _seen(record: Record, subject: str) -> bool:
    """Whether the record holds anything of ``subject`` but staff reads of it."""
    return any(decode(r.body).kind != Kind.REVIEW
               for r in await record.subject_entries(subject))


async def _customer(record: Record, subject: str) -> bool:
    """Whether ``subject`` still has values (True) or was erased (False); NotFound for a
    customer the record never saw (a mistyped id must not look like success)."""
    if await record.subject_key(subject, create=False) is not None:
        return True
    if await _seen(record, subject):
        return False
    raise NotFound("the record holds nothing for that customer id (check the id); nothing "
                   "was changed or recorded")


async def request_erasure(
    record: Record,
    *,
    customer_id: str,
    hmac_key: bytes,
    rules: ErasureRules,
    now: datetime,
    actor: Actor,
    reason: str = CUSTOMER_REQUEST,
) -> Erasure:
    """Erase a customer's values now, or record the request and defer it under a legal hold.

    Nothing is recorded for a customer already erased or already awaiting a deferred erasure.
    A customer named in an open authority request (received or approved) is refused: the
    request may lawfully need their values (GDPR Art. 17(3)(b), (e)) and has no end date to
    defer to; staff decide it first, then erase."""
    subject = subject_ref(hmac_key, customer_id)
    if not await _customer(record, subject):
        return Erasure(subject=subject, status="already erased", seq=-1)
    pending = {p[0]: p for p in await record.deferred_erasures()}.get(subject)
    if pending is not None:
        return Erasure(subject=subject, status="already deferred", seq=-1, due=pending[2],
                       basis=pending[3])
    cases = await _cases(record)
    if (open_case := _open_case(cases, subject)) is not None:
        raise Conflict(f"the customer is named in open authority request {open_case}: decide "
                       "it (and disclose or reject it) first, then erase; nothing was erased or "
                       "recorded")
    done = await _erase_or_defer(record, subject, rules, now, reason, actor)
    return attrs.evolve(done, packages=tuple(rid for rid, _ in cases.get(subject, ())))


async def _hold(record: Record, subject: str, rules: ErasureRules,
                now: datetime) -> tuple[str, str] | None:
    """(until, basis) of the longest hold running on ``subject`` at ``now``, if any."""
    holds = []
    last = await record.last_disclosure(subject)
    if rules.hold_days and last is not None:
        due = _parse(last) + timedelta(days=rules.hold_days)
        if due > now:
            holds.append((iso_time(due), rules.hold_basis))
    placed = await record.legal_hold(subject, iso_time(now))
    if placed is not None:
        holds.append(placed)
    return max(holds) if holds else None


async def _erase_or_defer(record: Record, subject: str, rules: ErasureRules, now: datetime,
                          reason: str, actor: Actor, *, dry_run: bool = False) -> Erasure:
    hold = await _hold(record, subject, rules, now)
    if hold is None:
        if dry_run:
            return Erasure(subject=subject, status="erased", seq=-1)
        return await _erase(record, subject, reason, actor, rules)
    due, basis = hold
    if dry_run:
        return Erasure(subject=subject, status="deferred", seq=-1, due=due, basis=basis)
    entry = await record.append(Draft(
        kind=Kind.ERASURE_DEFERRED, subject=subject,
        data={"reason": reason, "due": due, "basis": basis, **actor.to_json()},
    ), DeferErasure(subject, iso_time(now), due, basis))
    return Erasure(subject=subject, status="deferred", seq=entry.seq, due=due, basis=basis)


async def run_due(record: Record, *, now: datetime, actor: Actor,
                  rules: ErasureRules | None = None, dry_run: bool = False) -> list[Erasure]:
    """Carry out every deferred erasure whose hold has ended (deferring again any that a newer
    hold still covers; one waiting on an open authority request stays pending)."""
    rules = rules or ErasureRules()
    cases = await _cases(record)
    done = []
    for subject in await record.due_erasures(iso_time(now)):
        if (open_case := _open_case(cases, subject)) is not None:
            done.append(Erasure(subject=subject, status="held", seq=-1,
                                basis=f"open authority request {open_case}"))
            continue
        done.append(await _erase_or_defer(record, subject, rules, now,
                                          "deferred request, legal hold ended", actor,
                                          dry_run=dry_run))
    return done


async def apply_retention(record: Record, *, rules: ErasureRules, now: datetime,
                          actor: Actor, dry_run: bool = False) -> list[Erasure]:
    """Erase customers with no disclosure for ``rules.retention_days``, unless a hold runs or
    an open authority request names them."""
    if not rules.retention_days:
        return []
    before = iso_time(now - timedelta(days=rules.retention_days))
    cases = await _cases(record)
    done = []
    for subject in await record.stale_subjects(before):
        hold = await _hold(record, subject, rules, now)
        if hold is not None:
            done.append(Erasure(subject=subject, status="held", seq=-1, due=hold[0],
                                basis=hold[1]))
            continue
        if (open_case := _open_case(cases, subject)) is not None:
            done.append(Erasure(subject=subject, status="held", seq=-1,
                                basis=f"open authority request {open_case}"))
            continue
        reason = f"retention period of {rules.retention_days} days ended"
        done.append(Erasure(subject=subject, status="erased", seq=-1) if dry_run
                    else await _erase(record, subject, reason, actor, rules))
    return done


def expire_packages(directory: Path, *, days: int, now: datetime,
                    dry_run: bool = False) -> list[str]:
    """Delete authority package copies produced more than ``days`` ago (0: none); the request
    ids whose package was deleted (or, in a dry run, would be). The record keeps each
    package's hash, and handing the package over is the authority's copy."""
    if not days or not directory.is_dir():
        return []
    before = (now - timedelta(days=days)).timestamp()
    gone = []
    for path in sorted(directory.glob("*.json")):
        try:
            if path.stat().st_mtime < before:
                if not dry_run:
                    path.unlink()
                gone.append(path.stem)
        except FileNotFoundError:
            continue
    if gone and not dry_run:
        log.info("retention.packages_deleted", count=len(gone))
    return gone


def _text(value: str, name: str) -> str:
    value = value.strip()
    if not MIN_TEXT <= len(value) <= MAX_TEXT or any(
            unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise Unprocessable(f"{name} is required: {MIN_TEXT} to {MAX_TEXT} characters, no "
                            "control characters", field=name)
    return value


async def place_hold(record: Record, *, customer_id: str, hmac_key: bytes, until: datetime,
                     basis: str, now: datetime, actor: Actor) -> int:
    """Put a legal hold on one customer's values until ``until`` (in the future), on ``basis``
    (the law or matter); recorded with who placed it. Returns its position."""
    basis = _text(basis, "basis")
    if until <= now:
        raise Unprocessable("until must be a day after today: a hold that has ended holds "
                            "nothing", field="until")
    subject = subject_ref(hmac_key, customer_id)
    if not await _customer(record, subject):
        raise Conflict("the customer's values are already erased; there is nothing to hold")
    entry = await record.append(Draft(kind=Kind.LEGAL_HOLD, subject=subject, data={
        "until": iso_time(until), "basis": basis, **actor.to_json()}),
        AddHold(subject, iso_time(until), basis, iso_time(now)))
    return entry.seq


async def release(record: Record, *, customer_id: str, hmac_key: bytes,
                  what: Literal["hold", "erasure"], reason: str, now: datetime,
                  actor: Actor) -> int:
    """Lift the running legal holds on a customer (``hold``), or cancel their deferred
    erasure (``erasure``); recorded with who and why. Returns the entry's position.

    A hold an authority's preservation order placed is not lifted here (Conflict, naming the
    request; nothing changed or recorded): it ends only through the authority workflow (its
    period ending, the production request that follows it, or the request's own steps).

    A deferred erasure waiting on a lifted hold falls due at once: the next run erases it,
    unless another hold still runs."""
    reason = _text(reason, "reason")
    subject = subject_ref(hmac_key, customer_id)
    stamp = iso_time(now)
    if what == "hold":
        await _not_preserved(record, subject, stamp)
    # Refused (NotFound, nothing recorded) when no hold runs or no erasure is pending.
    entry = await record.append(Draft(kind=Kind.ERASURE_RELEASED, subject=subject, data={
        "released": what, "reason": reason, "at": stamp, **actor.to_json()}),
        ReleaseHolds(subject, stamp, kept=PRESERVATION_BASIS) if what == "hold"
        else CancelErasure(subject))
    return entry.seq


async def _not_preserved(record: Record, subject: str, stamp: str) -> None:
    """Refuse while a preservation order's hold runs on ``subject``."""
    for held, _, hold_basis, _ in await record.legal_holds(stamp):
        if held == subject and (request_id := order_of(hold_basis)) is not None:
            raise Conflict(f"the customer's values are held by the preservation order of "
                           f"authority request {request_id}; it ends only through that "
                           "request (its period ending, or the production request that "
                           "follows it); nothing was changed or recorded")


@attrs.frozen
class Waiting:
    """A legal hold or a deferred erasure, by the customer's record reference."""

    subject: str
    kind: Literal["hold", "erasure"]
    until: str
    basis: str
    since: str


async def waiting(record: Record, *, now: datetime, subject: str | None = None,
                  ) -> list[Waiting]:
    """Running legal holds, then deferred erasures, each soonest first (one customer's with
    ``subject``)."""
    found = [Waiting(subject=s, kind="hold", until=u, basis=b, since=c)
             for s, u, b, c in await record.legal_holds(iso_time(now))]
    found += [Waiting(subject=s, kind="erasure", until=d, basis=b, since=r)
              for s, r, d, b in await record.deferred_erasures()]
    return [w for w in found if subject is None or w.subject == subject]


async def _erase(record: Record, subject: str, reason: str, actor: Actor,
                 rules: ErasureRules) -> Erasure:
    # What the recipients must be told is read before the key goes (Art. 19).
    planned = await erasure_notices.capture(record, subject, rules.notices)
    entry = await record.append(
        Draft(kind=Kind.ERASURE, subject=subject, data={"reason": reason, **actor.to_json()}),
        KeyErasure(subject),
    )
    await erasure_notices.queue(record, planned, erasure=entry.seq)
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
            done = await run_due(record, now=now, rules=rules, actor=SCHEDULE)
            done += await apply_retention(record, rules=rules, now=now, actor=SCHEDULE)
            await erasure_notices.dispatch(record, rules.notices, now=now, actor=SCHEDULE)
        except GatewayError as exc:
            log.warning("erasure.periodic_failed", problem=exc.type_slug)
            continue
        log.info("erasure.periodic", erased=sum(e.status == "erased" for e in done),
                 held=sum(e.status != "erased" for e in done))
