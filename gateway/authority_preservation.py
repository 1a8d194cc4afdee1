"""Preservation orders: an approved preservation request keeps the named customers' values from
erasure and retention, by a legal hold (``gateway.erasure``) per customer whose values the
record holds, for ``preservation_days`` from intake; the period is extended once by
``preservation_extension_days`` (a recorded step with its reason). It ends by itself when the
period is over (``expire``, recorded by the gateway), or when a production request naming it
(``follows``) is taken in: the holds end, the production request's own open case keeps the
values from then on, and each request names the other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gateway.actor import SCHEDULE, Actor
from gateway.authority import Authority, Request
from gateway.authority_settings import AuthoritySettings
from gateway.erasure import hold_subject
from gateway.errors import Conflict, Unprocessable
from gateway.record import Draft, Kind
from gateway.record.entry import iso_time


def basis(request: Request) -> str:
    """The basis of the request's holds: one preservation order's, so they end together."""
    return f"preservation order {request.id} ({request.intake.authority})"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def start(authority: Authority, request: Request, *, settings: AuthoritySettings,
                actor: Actor, now: datetime) -> Request:
    """Hold the named customers' values for the preservation period (counted from intake)."""
    until = max(_at(request.received_at) + timedelta(days=settings.preservation_days),
                now + timedelta(days=1))
    held = await _hold(authority, request, until=until, actor=actor, now=now)
    preservation = {"since": iso_time(now), "until": iso_time(until), "customers_held": held,
                    "extended": None, "ended": None}
    return await _step(authority, request, preservation, actor=actor, now=now,
                       data={"until": iso_time(until), "customers_held": held})


async def extend(authority: Authority, request: Request, *, settings: AuthoritySettings,
                 reason: str, actor: Actor, now: datetime) -> Request:
    """Extend a running preservation once, by the configured days; recorded with the reason."""
    preservation = dict(request.case.get("preservation") or {})
    if request.state != "preserving" or not preservation:
        raise Conflict(f"request {request.id} is {request.state}; only a running "
                       "preservation is extended")
    if preservation.get("extended"):
        raise Conflict(f"the preservation of {request.id} was extended already (once, by "
                       f"{settings.preservation_extension_days} days)")
    until = _at(preservation["until"]) + timedelta(days=settings.preservation_extension_days)
    await _hold(authority, request, until=until, actor=actor, now=now)
    preservation.update(until=iso_time(until), extended={
        "at": iso_time(now), "by": actor.username, "reason": reason,
        "days": settings.preservation_extension_days})
    return await _step(authority, request, preservation, actor=actor, now=now,
                       data={"until": iso_time(until), "extended": True, "reason": reason})


async def end(authority: Authority, request: Request, *, why: str, actor: Actor,
              now: datetime, production: str | None = None) -> Request:
    """End a preservation (its holds first) and close its request; recorded."""
    if request.state != "preserving":
        raise Conflict(f"request {request.id} is {request.state}, not preserving")
    for subject in request.subjects:
        await authority.record.store.end_holds(subject, basis(request), iso_time(now))
    preservation = {**(request.case.get("preservation") or {}),
                    "ended": {"at": iso_time(now), "why": why, "production": production}}
    case: dict[str, Any] = {**request.case, "preservation": preservation}
    if production is not None:
        case["followed_by"] = production
    moved = await authority._move(request, "preserving", state="closed", case=case)  # noqa: SLF001
    await authority.record.append(Draft(
        kind=Kind.AUTHORITY_PRESERVATION_ENDED, disclosure=request.id,
        recipient=request.intake.authority,
        data={"request": request.id, "why": why, "production": production, **actor.to_json(),
              "at": iso_time(now)}))
    return moved


async def follow(authority: Authority, production: Request, *, actor: Actor,
                 now: datetime) -> None:
    """A production request naming a preservation request: end that preservation, or, if it
    is not running, only link the two."""
    followed = await authority.get(production.intake.follows or "")
    if followed.state == "preserving":
        await end(authority, followed, why="a production request follows", actor=actor,
                  now=now, production=production.id)
    else:
        await authority._move(followed, followed.state,  # noqa: SLF001
                              case={**followed.case, "followed_by": production.id})


async def check_follows(authority: Authority, request_id: str | None) -> None:
    """A ``follows`` names an existing preservation request (else 422 on the field)."""
    if request_id is None:
        return
    found = await authority.record.store.get_request(request_id)
    if found is None or (await authority.get(request_id)).intake.kind != "preservation":
        raise Unprocessable("follows must name a preservation request taken in here",
                            field="follows")


async def expire(authority: Authority, *, now: datetime) -> list[str]:
    """End the preservations whose period is over (the gateway records it); their ids."""
    ended = []
    for request in await authority.list(("preserving",)):
        until = (request.case.get("preservation") or {}).get("until")
        if until is not None and _at(until) <= now:
            await end(authority, request, why="the preservation period ended",
                      actor=SCHEDULE, now=now)
            ended.append(request.id)
    return ended


async def _hold(authority: Authority, request: Request, *, until: datetime, actor: Actor,
                now: datetime) -> int:
    held = 0
    for subject in request.subjects:
        if await authority.record.subject_key(subject, create=False) is None:
            continue  # never seen, or erased: no value to keep
        await hold_subject(authority.record, subject, until=until, basis=basis(request),
                           now=now, actor=actor, request=request.id)
        held += 1
    return held


async def _step(authority: Authority, request: Request, preservation: dict[str, Any], *,
                actor: Actor, now: datetime, data: dict[str, Any]) -> Request:
    moved = await authority._move(  # noqa: SLF001
        request, "preserving", case={**request.case, "preservation": preservation})
    await authority.record.append(Draft(
        kind=Kind.AUTHORITY_PRESERVED, disclosure=request.id, recipient=request.intake.authority,
        data={"request": request.id, **data, **actor.to_json(), "at": iso_time(now)}))
    return moved
