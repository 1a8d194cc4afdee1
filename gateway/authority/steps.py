"""The steps of an authority request after intake, besides deciding and producing
(``gateway.authority.workflow``, ``gateway.authority.package``): each is an entry in the record,
committed with the request's move (``Authority.moving``) or not at all; the entry carries the
state the request is in after it.

- ``extend``: a later deadline (a day, or a time for an emergency), with the reason; a running
  preservation is extended instead (``gateway.authority.preservation``);
- ``object_to``: the shop objects to a request (received or approved), with the reason; then
  ``resolve``: the objection ended as ``withdrawn`` (the authority withdrew the request),
  ``upheld`` (the request falls: rejected) or ``overruled`` (the request stands: back where it
  was, to be decided or produced);
- ``notify``: telling the customer: ``notified`` (when, how), ``deferred`` until a day (the
  reason given) or ``prohibited`` (by whom, on what basis). The access report follows the
  latest (``gateway.review.reports.deferred``);
- ``resume``: a request stuck in ``disclosing`` (a crash between the claim or intent and the
  outcome): given back to ``approved`` when no outcome was recorded, so it is produced again;
  one with part of its outcomes recorded is finished from its package file instead
  (``gateway.authority.package.finish``).

The outcome of a request (``outcome``): full, partial or no data once produced (with what each
customer got), rejected, or objected (with how the objection ended).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import attrs

from gateway.actor import Actor
from gateway.authority.request import Request
from gateway.authority.workflow import Authority
from gateway.errors import Conflict, Unprocessable
from gateway.record import Draft, Kind
from gateway.record.entry import Entry, decode, iso_time
from gateway.text import staff_text

RESOLUTIONS: Final = ("withdrawn", "upheld", "overruled")
TELLING: Final = ("notified", "deferred", "prohibited")
#: A claim or intent this old with no outcome is taken for a crashed production.
STALE: Final = timedelta(minutes=10)
#: States a deadline still runs in, and may be extended.
EXTENDABLE: Final = ("received", "approved", "objected")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def text(value: object, name: str, *, low: int = 5, high: int = 1000) -> str:
    """A staff-written text of ``low`` to ``high`` characters (the field named, never the
    value)."""
    if not isinstance(value, str) or not low <= len(value.strip()) <= high:
        raise Unprocessable(f"{name} is required ({low} to {high} characters)", field=name)
    return staff_text(value.strip(), name, multiline=True)


def day(value: object, name: str, *, after: date) -> date:
    try:
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            raise ValueError
        given = date.fromisoformat(value)
    except ValueError:
        raise Unprocessable(f"{name} must be a date (YYYY-MM-DD)", field=name) from None
    if given <= after:
        raise Unprocessable(f"{name} must be after {after.isoformat()}", field=name)
    return given


def when(request: Request) -> datetime:
    """The request's deadline as a time: an emergency's hour, else the end of its day."""
    if request.intake.due_at:
        return datetime.fromisoformat(request.intake.due_at)
    return datetime.fromisoformat(f"{request.intake.deadline.isoformat()}T23:59:59+00:00")


def outcome(request: Request) -> dict[str, Any] | None:
    """The request's outcome summary: stored once produced or objected; rejected derived."""
    stored = request.case.get("outcome")
    if stored is not None:
        return dict(stored)
    if request.state in ("rejected", "closed") and request.package_sha256 is None \
            and request.intake.kind != "preservation":
        return {"outcome": "rejected"}
    return None


def produced(categories: Sequence[str], parts: Sequence[Mapping[str, Any]],
             unresolved: int) -> dict[str, Any]:
    """full (every customer named got every category asked), no data (nobody got anything), or
    partial; with each customer's part (record reference, status, categories given)."""
    customers = [{"reference": p["reference"], "status": p["status"],
                  "given": [c for c in categories if isinstance(p["data"].get(c), list)]}
                 for p in parts]
    given = [len(c["given"]) for c in customers]
    kind = ("no data" if not any(given) else
            "full" if all(n == len(categories) for n in given) and not unresolved
            else "partial")
    return {"outcome": kind, "customers": customers, "unresolved_orders": unresolved}


class Steps:
    """Extend, object, resolve, notify and resume over one ``Authority``."""

    def __init__(self, *, authority: Authority) -> None:
        self.authority = authority

    async def _step(self, request: Request, expected: str, kind: str, *, actor: Actor,
                    now: datetime, data: Mapping[str, Any],
                    **changes: Any) -> Request:  # noqa: ANN401
        """Move ``request`` from ``expected`` by ``changes``, recorded by one entry of
        ``kind`` committed with the move."""
        moved, put = await self.authority.moving(request, expected, **changes)
        await self.authority.record.append(Draft(
            kind=kind, disclosure=request.id, recipient=request.intake.authority,
            data={"request": request.id, **data, **actor.to_json(), "at": iso_time(now),
                  "state": moved.state}), put)
        return moved

    async def extend(self, request: Request, *, deadline: object, reason: object,
                     actor: Actor, now: datetime) -> Request:
        """A later deadline: ``YYYY-MM-DD``, or for an emergency also a time
        (``YYYY-MM-DDTHH:MM`` UTC or with an offset)."""
        reason = text(reason, "reason")
        if request.state not in EXTENDABLE:
            raise Conflict(f"request {request.id} is {request.state}; its deadline no longer "
                           "runs")
        before = when(request)
        due_at = None
        if isinstance(deadline, str) and "T" in deadline and request.intake.kind == "emergency":
            try:
                at = datetime.fromisoformat(deadline)
            except ValueError:
                raise Unprocessable("deadline must be a date or, for an emergency, a time "
                                    "(YYYY-MM-DDTHH:MM)", field="deadline") from None
            at = at if at.tzinfo else at.replace(tzinfo=before.tzinfo)
            if at <= before:
                raise Unprocessable("deadline must be later than the current one",
                                    field="deadline")
            due_at, new_day = iso_time(at), at.date()
        else:
            new_day = day(deadline, "deadline", after=request.intake.deadline)
        intake = request.intake
        extensions = [*request.case.get("extensions", ()), {
            "from": intake.due_at or intake.deadline.isoformat(),
            "to": due_at or new_day.isoformat(), "reason": reason, "by": actor.username,
            "at": iso_time(now)}]
        return await self._step(
            request, request.state, Kind.AUTHORITY_EXTENDED, actor=actor, now=now,
            data={"from": extensions[-1]["from"], "to": extensions[-1]["to"],
                  "reason": reason},
            intake=attrs.evolve(intake, deadline=new_day, due_at=due_at),
            case={**request.case, "extensions": extensions})

    async def object_to(self, request: Request, *, reason: object, actor: Actor,
                     now: datetime) -> Request:
        reason = text(reason, "reason")
        if request.state not in ("received", "approved"):
            raise Conflict(f"request {request.id} is {request.state}; an objection is made "
                           "before the package is produced or the request decided")
        objection = {"reason": reason, "by": actor.username, "at": iso_time(now),
                     "from": request.state, "resolution": None}
        return await self._step(
            request, request.state, Kind.AUTHORITY_OBJECTED, actor=actor, now=now,
            data={"reason": reason}, state="objected",
            case={**request.case, "objection": objection,
                  "outcome": {"outcome": "objected", "resolution": None}})

    async def resolve(self, request: Request, *, resolution: object, note: object,
                      actor: Actor, now: datetime) -> Request:
        if resolution not in RESOLUTIONS:
            raise Unprocessable(f"resolution must be one of {', '.join(RESOLUTIONS)}",
                                field="resolution")
        note = text(note, "note")
        objection = dict(request.case.get("objection") or {})
        if request.state != "objected" or not objection:
            raise Conflict(f"request {request.id} is {request.state}, not objected")
        objection.update(resolution=resolution, note=note, resolved_by=actor.username,
                         resolved_at=iso_time(now))
        case: dict[str, Any] = {**request.case, "objection": objection}
        if resolution == "overruled":  # the request stands: back to where it was
            state = objection["from"]
            case.pop("outcome", None)
        else:
            state = "rejected"
            case["outcome"] = {"outcome": "objected", "resolution": resolution}
        return await self._step(
            request, "objected", Kind.AUTHORITY_OBJECTION_RESOLVED, actor=actor, now=now,
            data={"resolution": resolution, "note": note}, state=state, case=case)

    async def notify(self, request: Request, doc: Mapping[str, Any], *, channels: Sequence[str],
                     actor: Actor, now: datetime) -> Request:
        status = doc.get("status")
        if status not in TELLING:
            raise Unprocessable(f"status must be one of {', '.join(TELLING)}", field="status")
        told: dict[str, Any] = {"status": status}
        if status == "notified":
            if doc.get("means") not in channels:
                raise Unprocessable(f"means (how the customer was told) must be one of "
                                    f"{', '.join(channels)}", field="means")
            on = doc.get("on") or now.date().isoformat()
            told.update(means=doc["means"],
                        on=day(on, "on", after=date.min).isoformat())
            if date.fromisoformat(told["on"]) > now.date():
                raise Unprocessable("on (the day the customer was told) is in the future",
                                    field="on")
        elif status == "deferred":
            told.update(until=day(doc.get("until"), "until", after=now.date()).isoformat(),
                        reason=text(doc.get("reason"), "reason"))
        else:
            told.update(prohibited_by=text(doc.get("prohibited_by"), "prohibited_by", low=2,
                                           high=500),
                        basis=text(doc.get("basis"), "basis", high=500))
        told.update(recorded_by=actor.username, recorded_at=iso_time(now))
        return await self._step(
            request, request.state, Kind.AUTHORITY_NOTIFICATION, actor=actor, now=now,
            data={k: v for k, v in told.items() if k not in ("recorded_by", "recorded_at")},
            case={**request.case, "notification": told})

    async def recorded(self, request: Request) -> list[Entry]:
        """The bodies of the request's intent and outcome entries, in record order."""
        record = self.authority.record
        return [decode(r.body) for i in range(max(len(request.subjects), 1))
                for r in await record.disclosure_entries(f"{request.id}:{i}")]

    async def resume(self, request: Request, *, actor: Actor, now: datetime) -> Request:
        """Give a crashed production's claim back (no outcome recorded): ``approved`` again."""
        bodies = await self.stuck(request, now=now)
        if any(b.kind == Kind.AUTHORITY_DISCLOSURE for b in bodies):
            raise Conflict(f"request {request.id} has outcomes for part of its customers; the "
                           "package's hash is in the record: ask an admin to check it")
        return await self._step(
            request, "disclosing", Kind.AUTHORITY_RELEASED, actor=actor, now=now,
            data={"intents": len(bodies), "claimed_by": request.disclosed_by},
            state="approved", disclosed_by=None)

    async def stuck(self, request: Request, *, now: datetime) -> list[Entry]:
        """The recorded intents and outcomes of a production stuck in ``disclosing`` (claimed
        ``STALE`` ago or more); refused while it may still be running."""
        if request.state != "disclosing":
            raise Conflict(f"request {request.id} is {request.state}; only a request stuck in "
                           "disclosing is resumed")
        bodies = await self.recorded(request)
        # The claim is committed with the first intent, which says when (else its time); an
        # outcome recorded since says the production was still running then.
        claimed = max((str(b.data.get("claimed_at") or b.time) if isinstance(b.data, dict)
                       else b.time for b in bodies),
                      default="")
        if claimed > iso_time(now - STALE):
            raise Conflict(f"the package of {request.id} is being produced (claimed at "
                           f"{claimed}); resume it if it is still stuck "
                           f"{int(STALE.total_seconds() // 60)} minutes after that")
        return bodies
