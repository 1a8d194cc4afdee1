"""Preservation orders: an approved preservation request keeps the named customers' values from
erasure and retention, by a legal hold (``gateway.erasure.requests``) per customer whose values the
record holds, for ``preservation_days`` from intake; the period is extended once by
``preservation_extension_days`` (a recorded step with its reason). It ends by itself when the
period is over (``expire``, recorded by the gateway: ``gateway serve`` runs it every
``preservation_check_minutes``, and listing requests runs it too), or when a production
request naming it (``follows``) is taken in: the holds end and the request closes in the
production's intake transaction, recorded by its intake entry; the production request's own
open case keeps the values from then on, and each request names the other. The erasure desk
does not lift its holds (``gateway.erasure.requests.release``).

Each step is one entry committed with its state changes (``gateway.record.rows``): approving
places the holds, extending places the longer ones, ending ends them, each in the same
transaction as the request's move and the entry recording it, or not at all. The entries name
the held customers by record reference, the holds' end and basis (``holds``, ``until``,
``basis``), so ``gateway log audit`` rebuilds the holds from them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog

from gateway.actor import SCHEDULE, Actor
from gateway.authority.intake import Intake
from gateway.authority.request import Request, new_request_id
from gateway.authority.settings import AuthoritySettings
from gateway.authority.workflow import Authority
from gateway.errors import Conflict, GatewayError, RecordError, Unprocessable
from gateway.record import Draft, Kind
from gateway.record.entry import iso_time
from gateway.record.rows import AddHold, EndHolds, SideOp

log = structlog.get_logger("gateway.authority")

#: How a preservation order's holds begin their basis. The customer's access report withholds
#: such a hold (and names a deferral on it only as a legal obligation): telling the customer
#: would tip off an investigation the authority has not allowed them to learn of.
PRESERVATION_BASIS: Final = "preservation order "


def basis(request: Request) -> str:
    """The basis of the request's holds: one preservation order's, so they end together."""
    return f"{PRESERVATION_BASIS}{request.id} ({request.intake.authority})"


def order_of(hold_basis: str) -> str | None:
    """The preservation request a hold's basis names (None: a hold of another kind)."""
    if not hold_basis.startswith(PRESERVATION_BASIS):
        return None
    return hold_basis.removeprefix(PRESERVATION_BASIS).split(" ", 1)[0] or None


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def approve(authority: Authority, request_id: str, *, settings: AuthoritySettings,
                  actor: Actor, now: datetime) -> Request:
    """Approve a preservation request (a second person, as any decision) and hold the named
    customers' values for the preservation period (counted from intake): one entry."""
    request = await authority.deciding(request_id, actor=actor)
    if request.intake.kind != "preservation":
        raise Conflict(f"request {request_id} is not a preservation order")
    until = max(_at(request.received_at) + timedelta(days=settings.preservation_days),
                now + timedelta(days=1))
    held, ops = await _holds(authority, request, until=until, now=now)
    preservation = {"since": iso_time(now), "until": iso_time(until),
                    "customers_held": len(held), "extended": None, "ended": None}
    return await authority.decide(
        request, actor=actor, now=now, state="preserving",
        case={**request.case, "preservation": preservation},
        data={"until": iso_time(until), "customers_held": len(held), "holds": held,
              "basis": basis(request)}, ops=ops)


async def extend(authority: Authority, request: Request, *, settings: AuthoritySettings,
                 reason: str, actor: Actor, now: datetime) -> Request:
    """Extend a running preservation once, by the configured days; recorded with the reason,
    the longer holds placed with it."""
    preservation = dict(request.case.get("preservation") or {})
    if request.state != "preserving" or not preservation:
        raise Conflict(f"request {request.id} is {request.state}; only a running "
                       "preservation is extended")
    if preservation.get("extended"):
        raise Conflict(f"the preservation of {request.id} was extended already (once, by "
                       f"{settings.preservation_extension_days} days)")
    until = _at(preservation["until"]) + timedelta(days=settings.preservation_extension_days)
    held, ops = await _holds(authority, request, until=until, now=now)
    preservation.update(until=iso_time(until), extended={
        "at": iso_time(now), "by": actor.username, "reason": reason,
        "days": settings.preservation_extension_days})
    moved, put = await authority.moving(
        request, "preserving", case={**request.case, "preservation": preservation})
    await _record(authority, request, Kind.AUTHORITY_PRESERVED, actor=actor, now=now, data={
        "until": iso_time(until), "extended": True, "reason": reason, "holds": held,
        "basis": basis(request), "state": "preserving"}, ops=[put, *ops])
    return moved


async def end(authority: Authority, request: Request, *, why: str, actor: Actor,
              now: datetime) -> Request:
    """End a preservation and close its request, its holds ended with the entry."""
    moved, ops, ended = await _ending(authority, request, why=why, now=now)
    await _record(authority, request, Kind.AUTHORITY_PRESERVATION_ENDED, actor=actor, now=now,
                  data={"why": why, "production": None, "basis": ended["basis"],
                        "state": "closed"}, ops=ops)
    return moved


async def _ending(authority: Authority, request: Request, *, why: str, now: datetime,
                  production: str | None = None,
                  ) -> tuple[Request, list[SideOp], dict[str, Any]]:
    """A running preservation closed: the request moved, its holds ended (the side operations
    to commit with the entry recording it) and what that entry says of the end."""
    if request.state != "preserving":
        raise Conflict(f"request {request.id} is {request.state}, not preserving")
    preservation = {**(request.case.get("preservation") or {}),
                    "ended": {"at": iso_time(now), "why": why, "production": production}}
    case: dict[str, Any] = {**request.case, "preservation": preservation}
    if production is not None:
        case["followed_by"] = production
    moved, put = await authority.moving(request, "preserving", state="closed", case=case)
    ends = [EndHolds(subject, basis(request), iso_time(now)) for subject in request.subjects]
    return moved, [put, *ends], {"request": request.id, "why": why, "basis": basis(request),
                                 "at": iso_time(now), "state": "closed"}


async def take_in(authority: Authority, form: Intake, *, actor: Actor,
                  now: datetime) -> Request:
    """Take a request in; one naming a preservation request (``follows``) links the two in
    the intake's own transaction. A running preservation ends in it too: the intake entry
    records the end (``preservation_ended``: the request, why, the holds' basis, when, the
    state it leaves), its holds end and its request closes with it, or nothing is kept."""
    followed = await _followed(authority, form.follows)
    request_id = new_request_id()
    ops: list[SideOp] = []
    data: dict[str, Any] = {}
    if followed is not None and followed.state == "preserving":
        _, ops, ended = await _ending(authority, followed, why="a production request follows",
                                      now=now, production=request_id)
        data["preservation_ended"] = ended
    elif followed is not None:
        _, put = await authority.moving(followed, followed.state,
                                        case={**followed.case, "followed_by": request_id})
        ops.append(put)
    return await authority.intake(form, actor=actor, now=now, request_id=request_id, ops=ops,
                                  data=data)


async def _followed(authority: Authority, request_id: str | None) -> Request | None:
    """The preservation request a ``follows`` names (else 422 on the field)."""
    if request_id is None:
        return None
    found = await authority.record.authority_request(request_id)
    followed = None if found is None else await authority.get(request_id)
    if followed is None or followed.intake.kind != "preservation":
        raise Unprocessable("follows must name a preservation request taken in here",
                            field="follows")
    return followed


async def expire(authority: Authority, *, now: datetime) -> list[str]:
    """End the preservations whose period is over (the gateway records it); their ids. One
    another caller ended meanwhile (another instance, a production request) is left to it."""
    ended = []
    for request in await authority.list(("preserving",)):
        until = (request.case.get("preservation") or {}).get("until")
        if until is None or _at(until) > now:
            continue
        try:
            await end(authority, request, why="the preservation period ended",
                      actor=SCHEDULE, now=now)
        except RecordError:
            if (await authority.get(request.id)).state == "preserving":
                raise  # the store failed; nobody ended it
            continue
        ended.append(request.id)
    return ended


async def expire_periodically(authority: Authority, *, every: float,
                              clock: Callable[[], float]) -> None:
    """``gateway serve``'s task: every ``every`` seconds, end the preservations whose period
    is over by ``clock`` (each end recorded by the gateway, channel ``schedule``)."""
    while True:
        await asyncio.sleep(every)
        try:
            ended = await expire(authority, now=datetime.fromtimestamp(clock(), UTC))
        except GatewayError as exc:
            log.warning("authority.preservation_expiry_failed", problem=exc.type_slug)
            continue
        if ended:
            log.info("authority.preservations_ended", count=len(ended))


async def _holds(authority: Authority, request: Request, *, until: datetime,
                 now: datetime) -> tuple[list[str], list[SideOp]]:
    """The customers held (record references) and their holds, to commit with the entry."""
    held = [subject for subject in request.subjects
            if await authority.record.subject_key(subject, create=False) is not None]
    # never seen, or erased: no value to keep
    return held, [AddHold(subject, iso_time(until), basis(request), iso_time(now))
                  for subject in held]


async def _record(authority: Authority, request: Request, kind: str, *, actor: Actor,
                  now: datetime, data: dict[str, Any], ops: list[SideOp]) -> None:
    await authority.record.append(Draft(
        kind=kind, disclosure=request.id, recipient=request.intake.authority,
        data={"request": request.id, **data, **actor.to_json(), "at": iso_time(now)}), *ops)
