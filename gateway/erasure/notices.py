"""Recipients told of an erasure (GDPR Art. 19).

When a customer's key is deleted, every carrier the record shows their data reached (an
outcome booked, refused by the carrier, or unknown) is told, through the channel config.toml
names for it (``gateway.erasure.channels``). Authorities are not told: one that receives data
in a particular inquiry is not a recipient (Art. 4(9)).

What a notice says: the shipments by the identifiers the carrier already holds, and nothing
else: our shipment reference (the disclosure id, sent as the booking's reference), the
carrier's tracking number and booking id, and the day it was booked. No name, address or
contact detail is repeated, and not the order id (carriers never got it).

The tracking numbers are sealed under the customer's key, so they are read in the same step
as the erasure, just before the key is deleted (``capture``), and kept, sealed under a key
derived from the record's key-encryption key, in ``erasure-notices/pending/`` beside the
record until the notice is sent; then that file is deleted. After ``capture`` the erasure is
recorded, then one ``erasure.notice.intent`` per recipient (``queue``), and ``dispatch``
sends them, recording each attempt as an ``erasure.notice.outcome``: sent (by e-mail), written
(an ``.eml`` in ``erasure-notices/outbox/`` for a person to send), needs_address (the
recipient has no address: the ``.eml`` has no ``To:``; retried once one is configured), or
failed (retried by the next ``gateway erasure run`` or periodic run). ``mark`` records that a
person sent a written notice, or that the recipient acknowledged it. Entries name the
recipient, the channel and the shipments' disclosure ids, never a value. A capture whose
erasure never committed (the customer still has a key) is dropped, not sent.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import orjson
import structlog

from gateway.actor import Actor
from gateway.erasure.channels import (
    NoticeFailed,
    RecipientNotice,
    Smtp,
    message,
    send,
    write_eml,
)
from gateway.errors import Conflict, NotFound, RecordCorrupt
from gateway.record import Draft, Kind, Record
from gateway.record.entry import Entry, decode, iso_time
from gateway.record.entry_data import NoticeIntentData, NoticeOutcomeData, OutcomeData
from gateway.record.queries import MAX_LIMIT, Search
from gateway.record.sealing import erasure_notice_context, outcome_context, seal, unseal
from gateway.review.reports import LEFT

log = structlog.get_logger("gateway.erasure_notices")
#: Results after which nothing more is sent; ``written`` waits for a person, ``failed`` for
#: a retry.
DONE: Final = ("sent", "acknowledged")
#: ``needs_address``: the recipient has no address configured; the notice is written (without
#: a ``To:``) for a person to address, and sent by the next run once an address is configured.
Result = Literal["sent", "written", "failed", "needs_address", "acknowledged"]
NEEDS_ADDRESS: Final = "needs_address"


@attrs.frozen(repr=False)
class Notices:
    """Where notices are kept and how each recipient is told. ``keks``: the record's
    key-encryption keys, current first (pending captures are sealed under a key derived from
    them)."""

    directory: Path
    keks: tuple[bytes, ...]
    controller: str
    reply_to: str
    recipients: Mapping[str, RecipientNotice] = attrs.field(factory=dict)
    smtp: Smtp | None = None

    def __repr__(self) -> str:
        return f"Notices({self.directory})"

    def channel(self, recipient: str) -> RecipientNotice:
        """A recipient not configured is told by a file a person sends."""
        return self.recipients.get(recipient, RecipientNotice())


@attrs.frozen
class Planned:
    notice: str
    subject: str
    recipient: str
    channel: str
    shipments: tuple[str, ...]


@attrs.frozen
class NoticeState:
    """One notice as the record tells it: its latest result (``pending`` before any)."""

    notice: str
    subject: str
    recipient: str
    channel: str
    result: str
    attempts: int
    time: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _capture_keys(keks: Iterable[bytes]) -> list[bytes]:
    return [hmac.new(k, b"erasure-notice-capture", hashlib.sha256).digest() for k in keks]


def _pending(notices: Notices) -> Path:
    return notices.directory / "pending"


def outbox(notices: Notices) -> Path:
    return notices.directory / "outbox"


async def capture(record: Record, subject: str, notices: Notices | None) -> list[Planned]:
    """Before the key of ``subject`` is deleted: the carriers its data reached and the
    identifiers each holds, kept sealed in a pending file per carrier. Shipments an earlier
    notice already named are left out."""
    if notices is None:
        return []
    key = await record.subject_key(subject, create=False)
    entries = [(decode(r.body), r.sealed) for r in await record.subject_entries(subject)]
    told = {s for e, _ in entries if isinstance(e.data, NoticeIntentData)
            for s in e.data.shipments}
    booked: dict[str | None, str] = {e.disclosure: e.time for e, _ in entries
                                     if e.kind == Kind.INTENT}
    per_recipient: dict[str, list[dict[str, Any]]] = {}
    for entry, sealed in entries:
        if (not isinstance(entry.data, OutcomeData) or entry.data.result not in LEFT
                or entry.disclosure is None or entry.disclosure in told):
            continue
        ids: dict[str, Any] = {}
        if sealed is not None and key is not None:
            ids = unseal(key, outcome_context(entry.disclosure), sealed) or {}
        per_recipient.setdefault(entry.recipient or "", []).append({
            "reference": entry.disclosure,
            "tracking_number": ids.get("tracking_number"),
            "carrier_reference": ids.get("carrier_reference"),
            "booked": booked.get(entry.disclosure, entry.time)[:10]})
    planned = []
    for recipient, shipments in sorted(per_recipient.items()):
        notice = "en_" + uuid.uuid4().hex[:16]
        plan = Planned(notice=notice, subject=subject, recipient=recipient,
                       channel=notices.channel(recipient).channel,
                       shipments=tuple(s["reference"] for s in shipments))
        sealed_ids = seal(_capture_keys(notices.keks)[0], erasure_notice_context(notice),
                          {"shipments": shipments})
        _write_pending(notices, plan, sealed_ids)
        planned.append(plan)
    return planned


def _write_pending(notices: Notices, plan: Planned, sealed: bytes) -> None:
    directory = _pending(notices)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {**attrs.asdict(plan), "sealed": sealed.hex()}
    tmp = directory / f"{plan.notice}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(doc))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(directory / f"{plan.notice}.json")


async def queue(record: Record, planned: Sequence[Planned], *, erasure: int | None) -> None:
    """Record the notices planned for an erasure recorded at position ``erasure``."""
    for plan in planned:
        await _intent(record, plan, erasure)


async def _intent(record: Record, plan: Planned, erasure: int | None) -> None:
    await record.append(Draft(
        kind=Kind.ERASURE_NOTICE_INTENT, disclosure=plan.notice, subject=plan.subject,
        recipient=plan.recipient,
        data={"channel": plan.channel, "shipments": list(plan.shipments), "erasure": erasure,
              "basis": "GDPR Art. 19"}))


def _text(notices: Notices, notice: str, shipments: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for s in shipments:
        ids = [f"our reference {s['reference']}"]
        if s.get("tracking_number"):
            ids.append(f"your tracking number {s['tracking_number']}")
        if s.get("carrier_reference"):
            ids.append(f"your booking id {s['carrier_reference']}")
        lines.append(f"- {', '.join(ids)}; booked {s['booked']}" if s.get("booked")
                     else f"- {', '.join(ids)}")
    return (
        f"{notices.controller} informs you, under Article 19 of the General Data Protection "
        "Regulation, that the personal data of the customer concerned by the shipments below "
        "has been erased at our end (Article 17).\n\n"
        "Please erase the personal data of that customer which we disclosed to you for these "
        "shipments, unless a law requires you to keep it, and confirm to "
        f"{notices.reply_to}.\n\nShipments:\n" + "\n".join(lines) + "\n\n"
        "This notice names the shipments only by identifiers you already hold; it repeats no "
        f"name, address or contact detail.\n\nNotice {notice}\n")


def _contents(notices: Notices, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The captured identifiers; if no configured key opens them (the key-encryption key was
    retired), the shipments by our reference alone."""
    sealed = bytes.fromhex(doc["sealed"])
    for key in _capture_keys(notices.keks):
        try:
            opened = unseal(key, erasure_notice_context(doc["notice"]), sealed)
        except RecordCorrupt:
            break
        if opened is not None:
            return list(opened["shipments"])
    return [{"reference": r} for r in doc["shipments"]]


async def _deliver(notices: Notices, doc: Mapping[str, Any]) -> str:
    """Send or write one notice; returns ``sent``, ``written``, or ``needs_address`` (written
    without a ``To:``); NoticeFailed if none."""
    setting = notices.channel(doc["recipient"])
    sender = notices.smtp.sender if notices.smtp is not None else notices.reply_to
    mail = message(sender=sender, to=setting.privacy_email,
                   subject=f"Erasure of personal data (GDPR Art. 19) - {notices.controller}",
                   body=_text(notices, doc["notice"], _contents(notices, doc)),
                   domain=sender.rpartition("@")[2] or "localhost")
    if setting.channel == "email" and notices.smtp is not None:
        await send(notices.smtp, mail)
        return "sent"
    write_eml(outbox(notices), doc["notice"], mail)
    return "written" if setting.privacy_email is not None else NEEDS_ADDRESS


async def dispatch(record: Record, notices: Notices | None, *, now: datetime,
                   actor: Actor) -> list[NoticeState]:
    """Send every notice waiting in ``pending/``: new ones and those that failed before.
    Each attempt is an outcome entry; a notice sent or written leaves ``pending/``."""
    if notices is None or not _pending(notices).is_dir():
        return []
    done = []
    for path in sorted(_pending(notices).glob("en_*.json")):
        doc = orjson.loads(path.read_bytes())
        rows = [decode(r.body) for r in await record.disclosure_entries(doc["notice"])]
        if not any(r.kind == Kind.ERASURE_NOTICE_INTENT for r in rows):
            if await record.subject_key(doc["subject"], create=False) is not None:
                path.unlink(missing_ok=True)  # its erasure never committed: nothing to tell
                continue
            await _intent(record, Planned(**{k: doc[k] for k in (
                "notice", "subject", "recipient", "channel")},
                shipments=tuple(doc["shipments"])), None)
        results = [r.data.result for r in rows if isinstance(r.data, NoticeOutcomeData)]
        if any(r in (*DONE, "written") for r in results):
            path.unlink(missing_ok=True)
            continue
        if (results and results[-1] == NEEDS_ADDRESS
                and notices.channel(doc["recipient"]).privacy_email is None):
            continue  # recorded once; tried again when an address is configured
        attempt = sum(r in ("failed", NEEDS_ADDRESS) for r in results) + 1
        error = None
        try:
            result = await _deliver(notices, doc)
        except NoticeFailed as exc:
            result, error = "failed", exc.detail
        data = {"result": result, "channel": doc["channel"], "attempt": attempt,
                "at": iso_time(now), **actor.to_json(), **({"error": error} if error else {})}
        entry = await record.append(Draft(
            kind=Kind.ERASURE_NOTICE_OUTCOME, disclosure=doc["notice"], subject=doc["subject"],
            recipient=doc["recipient"], data=data))
        if result not in ("failed", NEEDS_ADDRESS):
            path.unlink(missing_ok=True)
        log.info("erasure.notice", notice=doc["notice"], recipient=doc["recipient"],
                 channel=doc["channel"], result=result, seq=entry.seq)
        done.append(NoticeState(notice=doc["notice"], subject=doc["subject"],
                                recipient=doc["recipient"], channel=doc["channel"],
                                result=result, attempts=attempt, time=iso_time(now),
                                error=error))
    return done


def states(entries: Iterable[Entry]) -> list[NoticeState]:
    """The notices among ``entries`` (intents and their outcomes), oldest first."""
    found: dict[str | None, NoticeState] = {}
    for e in entries:
        if isinstance(e.data, NoticeIntentData):
            found[e.disclosure] = NoticeState(
                notice=e.disclosure or "", subject=e.subject or "", recipient=e.recipient or "",
                channel=e.data.channel, result="pending", attempts=0, time=e.time)
        elif isinstance(e.data, NoticeOutcomeData) and e.disclosure in found:
            before = found[e.disclosure]
            result = e.data.result
            found[e.disclosure] = attrs.evolve(
                before, result=result, time=e.time, error=e.data.error,
                attempts=before.attempts + (result != "acknowledged"))
    return list(found.values())


async def listing(record: Record, *, subject: str | None = None,
                  everything: bool = False) -> list[NoticeState]:
    """Notices not yet sent or acknowledged (failed, written for a person, pending), or with
    ``everything`` all of them; one customer's with ``subject``."""
    entries: list[Entry] = []
    cursor = None
    while True:
        page = await record.search(Search(
            subject=subject, kind=Kind.ERASURE_NOTICE_INTENT, cursor=cursor, limit=MAX_LIMIT,
            newest_first=False))
        for row in page:
            entries += [decode(r.body) for r in await record.disclosure_entries(
                decode(row.body).disclosure or "")]
        if len(page) < MAX_LIMIT:
            break
        cursor = page[-1].seq
    return [s for s in states(entries) if everything or s.result not in DONE]


async def mark(record: Record, notices: Notices | None, notice: str, *,
               result: Literal["sent", "acknowledged"], now: datetime, actor: Actor) -> int:
    """Record that a person sent a written notice, or that its recipient acknowledged the
    erasure; the notice's files are deleted. Returns the entry's position."""
    found = states([decode(r.body) for r in await record.disclosure_entries(notice)])
    if not found:
        raise NotFound(f"no erasure notice {notice}")
    (state,) = found
    if state.result in (result, "acknowledged"):
        raise Conflict(f"notice {notice} is already {state.result}")
    entry = await record.append(Draft(
        kind=Kind.ERASURE_NOTICE_OUTCOME, disclosure=notice, subject=state.subject,
        recipient=state.recipient,
        data={"result": result, "channel": state.channel, "at": iso_time(now),
              **actor.to_json()}))
    if notices is not None:
        (outbox(notices) / f"{notice}.eml").unlink(missing_ok=True)
        (_pending(notices) / f"{notice}.json").unlink(missing_ok=True)
    return entry.seq


def told(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """For the customer (Art. 19, second sentence): each recipient told of their erasure,
    how, when and with what result."""
    return [{"recipient": s.recipient, "channel": s.channel, "result": s.result,
             "time": s.time} for s in states(entries)]
