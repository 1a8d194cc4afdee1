"""The authority-request desk: the workflow of ``gateway.authority.workflow`` as staff use it from
the API, the pages and the CLI alike, with the clock, the package directory and the acting staff
member.

Who may do what (each API route and page declares the same roles; the desk checks them again):

- take a request in: intake officer, admin;
- list and open requests: intake officer, approver, admin;
- approve or reject: approver, never the person who took the request in;
- produce the package and download it: intake officer, approver, and only the people on the
  case: who took the request in, who decided it, who produced its package. Anyone else (other
  intake officers and approvers, and the admin, who oversees from the record) is refused;
- close: intake officer, approver, admin;
- extend a deadline or a preservation, record how the customer is told: intake officer,
  approver, admin;
- object, and record how an objection ended: approver;
- resume a production stuck in ``disclosing`` (given back, or finished when part of its
  outcomes were recorded): intake officer, approver, on the case.

A request's view holds no personal value: customers appear by count and record reference.
Downloading the package is a read of personal values, recorded (``review.read``) per customer
before the bytes are handed out, on every channel (the CLI's ``disclose --out`` included).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from gateway.actor import Actor, Channel
from gateway.authority import preservation
from gateway.authority.intake import Intake
from gateway.authority.package import disclose, finish, refusal
from gateway.authority.request import OPEN, Request
from gateway.authority.settings import AuthoritySettings
from gateway.authority.steps import Steps, outcome, text, when
from gateway.authority.workflow import Authority
from gateway.config import Config
from gateway.errors import BadRequest, Conflict, Forbidden, RecordCorrupt
from gateway.record import Kind
from gateway.review.search import Reviewer, Via
from gateway.staff.accounts import Member, Role

INTAKE: Final = (Role.INTAKE_OFFICER, Role.ADMIN)
READERS: Final = (Role.INTAKE_OFFICER, Role.APPROVER, Role.ADMIN)
DECIDERS: Final = (Role.APPROVER,)
HANDLERS: Final = (Role.INTAKE_OFFICER, Role.APPROVER)
CLOSERS: Final = (Role.INTAKE_OFFICER, Role.APPROVER, Role.ADMIN)
#: Extend, and record the customer's notification: the desk's everyday steps.
STEPPERS: Final = CLOSERS

STATES: Final = ("received", "approved", "disclosing", "rejected", "disclosed", "closed",
                 "preserving", "objected")
#: States in which a request still runs against its deadline.
RUNNING: Final = (*OPEN, "disclosing", "objected")
#: Open requests due within this many days are "due soon".
SOON_DAYS: Final = 3
MAX_DAYS: Final = 3660


def package_dir(config: Config) -> Path:
    """Where produced packages are kept (0700): beside the record's database."""
    return config.record.path.parent / "authority-packages"


def parse_states(text: str | None) -> tuple[str, ...]:
    """``received,approved`` -> the states; empty means every state."""
    if not text:
        return STATES
    states = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not states or not set(states) <= set(STATES):
        raise BadRequest(f"state must be one or more of {', '.join(STATES)}")
    return states


def parse_days(text: str | None, name: str) -> int | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not text.isdigit() or int(text) > MAX_DAYS:
        raise BadRequest(f"{name} must be a whole number of days from 0 to {MAX_DAYS}")
    return int(text)


def due(request: Request, now: datetime) -> dict[str, Any]:
    """How an open request stands against its deadline; a decided one is not due. An
    emergency's deadline is a time: due soon until it passes, with the hours left."""
    if request.state not in RUNNING:
        return {"days_left": None, "hours_left": None, "due": None}
    left = (request.intake.deadline - now.date()).days
    if request.intake.due_at:
        hours = (datetime.fromisoformat(request.intake.due_at) - now).total_seconds() / 3600
        return {"days_left": left, "hours_left": round(hours, 1),
                "due": "overdue" if hours < 0 else "due soon"}
    status = "overdue" if left < 0 else "due soon" if left <= SOON_DAYS else "open"
    return {"days_left": left, "hours_left": None, "due": status}


def time_left(view: Mapping[str, Any]) -> str:
    """What is left of a request's deadline as staff read it (``due`` of ``view``): days, or
    for a deadline under two days away (an emergency's hours) hours, and minutes under an
    hour; negative once overdue. Empty when the request is not due."""
    hours = view.get("hours_left")
    if hours is not None and abs(hours) < 48:  # noqa: PLR2004 (two days)
        minutes = round(hours * 60)
        return f"{minutes:+d} min" if abs(minutes) < 60 else f"{round(hours):+d} h"  # noqa: PLR2004
    days = view.get("days_left")
    return "" if days is None else f"{days:+d} d"


def deferral(request: Request) -> str | None:
    """The day the customer's notification is deferred to, while it is deferred: the latest
    notification step's, else the intake's ``defer_until``; None once told or prohibited."""
    told = request.case.get("notification")
    if told is not None:
        return told.get("until") if told.get("status") == "deferred" else None
    return request.intake.defer_until.isoformat() if request.intake.defer_until else None


class Desk:
    """Authority requests over one record; keyword-only collaborators, clock injected."""

    def __init__(self, *, authority: Authority, reviewer: Reviewer, packages: Path,
                 settings: AuthoritySettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.authority = authority
        self.reviewer = reviewer
        self.packages = packages
        self.settings = settings or AuthoritySettings()
        self.steps = Steps(authority=authority)
        self.clock = clock

    @classmethod
    def for_config(cls, config: Config, *, reviewer: Reviewer,
                   clock: Callable[[], float] = time.time) -> Desk:
        return cls(authority=Authority(record=reviewer.record, hmac_key=config.keys.subject_hmac),
                   reviewer=reviewer, packages=package_dir(config),
                   settings=config.authorities, clock=clock)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def actor(self, member: Member, channel: Channel) -> Actor:
        """Who acts, and through which door; on the CLI, with the OS login the reviewer runs
        as."""
        return Actor(username=member.username, channel=channel,
                     os_user=self.reviewer.os_user if channel == "cli" else None)

    def view(self, request: Request) -> dict[str, Any]:
        """A request as staff see it: no customer id, no personal value."""
        doc = request.to_json()
        doc["customers"] = len(request.subjects)
        doc.update(due(request, self.now()))
        doc["outcome"] = outcome(request)
        ends = deferral(request)
        doc["deferral_ends"] = ends
        doc["deferral_days_left"] = (None if ends is None else
                                     (date.fromisoformat(ends) - self.now().date()).days)
        return doc

    async def intake(self, member: Member, doc: object, *, channel: Channel) -> dict[str, Any]:
        """Take a request in: ``doc`` is the JSON body's bytes or a decoded object."""
        _allowed(member, INTAKE, "take in authority requests")
        if not isinstance(doc, bytes | Mapping):
            raise BadRequest("send the request as a JSON object")
        form = Intake.from_json(doc, now=self.now(), settings=self.settings)
        return self.view(await preservation.take_in(
            self.authority, form, actor=self.actor(member, channel), now=self.now()))

    async def list(self, member: Member, *, states: Sequence[str] = STATES,
                   due_within: int | None = None,
                   deferrals_ending_within: int | None = None) -> dict[str, Any]:
        """Requests by deadline (emergencies by their hour). With ``due_within``, only open
        requests whose deadline is at most that many days away, overdue ones included; with
        ``deferrals_ending_within``, only requests whose customer notification is deferred to
        a day at most that many days away (or past, the customer not told yet). Preservations
        whose period is over are ended first (recorded by the gateway)."""
        _allowed(member, READERS, "list authority requests")
        await preservation.expire(self.authority, now=self.now())
        found = sorted(await self.authority.list(states), key=lambda r: (when(r), r.id))
        shown = [self.view(r) for r in found]
        if due_within is not None:
            shown = [r for r in shown if r["days_left"] is not None
                     and r["days_left"] <= due_within]
        if deferrals_ending_within is not None:
            shown = [r for r in shown if r["deferral_days_left"] is not None
                     and r["deferral_days_left"] <= deferrals_ending_within]
        return {"today": self.now().date().isoformat(), "soon_days": SOON_DAYS,
                "requests": shown}

    async def show(self, member: Member, request_id: str) -> dict[str, Any]:
        _allowed(member, READERS, "open authority requests")
        return self.view(await self.authority.get(request_id))

    async def approve(self, member: Member, request_id: str, *, channel: Channel,
                      ) -> dict[str, Any]:
        _allowed(member, DECIDERS, "decide authority requests")
        actor = self.actor(member, channel)
        if (await self.authority.get(request_id)).intake.kind == "preservation":
            return self.view(await preservation.approve(
                self.authority, request_id, settings=self.settings, actor=actor,
                now=self.now()))
        return self.view(await self.authority.approve(request_id, actor=actor, now=self.now()))

    async def reject(self, member: Member, request_id: str, reason: object, *,
                     channel: Channel) -> dict[str, Any]:
        _allowed(member, DECIDERS, "decide authority requests")
        return self.view(await self.authority.reject(
            request_id, actor=self.actor(member, channel), now=self.now(),
            reason=reason if isinstance(reason, str) else ""))

    async def extend(self, member: Member, request_id: str, doc: Mapping[str, Any], *,
                     channel: Channel) -> dict[str, Any]:
        """A later deadline with its reason; for a running preservation, its one extension."""
        _allowed(member, STEPPERS, "extend authority requests")
        request, actor = await self.authority.get(request_id), self.actor(member, channel)
        if request.state == "preserving":
            return self.view(await preservation.extend(
                self.authority, request, settings=self.settings,
                reason=text(doc.get("reason"), "reason"), actor=actor, now=self.now()))
        return self.view(await self.steps.extend(
            request, deadline=doc.get("deadline"), reason=doc.get("reason"), actor=actor,
            now=self.now()))

    async def object_to(self, member: Member, request_id: str, reason: object, *,
                     channel: Channel) -> dict[str, Any]:
        _allowed(member, DECIDERS, "object to authority requests")
        return self.view(await self.steps.object_to(
            await self.authority.get(request_id), reason=reason,
            actor=self.actor(member, channel), now=self.now()))

    async def resolve(self, member: Member, request_id: str, doc: Mapping[str, Any], *,
                      channel: Channel) -> dict[str, Any]:
        _allowed(member, DECIDERS, "record how objections ended")
        return self.view(await self.steps.resolve(
            await self.authority.get(request_id), resolution=doc.get("resolution"),
            note=doc.get("note"), actor=self.actor(member, channel), now=self.now()))

    async def notify(self, member: Member, request_id: str, doc: Mapping[str, Any], *,
                     channel: Channel) -> dict[str, Any]:
        _allowed(member, STEPPERS, "record how customers are told")
        return self.view(await self.steps.notify(
            await self.authority.get(request_id), doc, channels=self.settings.channels,
            actor=self.actor(member, channel), now=self.now()))

    async def resume(self, member: Member, request_id: str, *, channel: Channel,
                     ) -> dict[str, Any]:
        """A production stuck in ``disclosing`` after a crash. With part of its outcomes
        recorded, it is finished: the missing outcomes recorded from the package file it
        wrote (checked against their hash), nothing produced again. Else it is given back to
        ``approved``, and a package file it left (never handed out: no hash was recorded) is
        deleted."""
        _allowed(member, HANDLERS, "resume authority packages")
        request = await self.authority.get(request_id)
        _on_case(member, request, "resume")
        actor = self.actor(member, channel)
        recorded = await self.steps.stuck(request, now=self.now())
        if any(b.kind == Kind.AUTHORITY_DISCLOSURE for b in recorded):
            return self.view(await finish(self.authority, request, recorded=recorded,
                                          actor=actor, out_dir=self.packages))
        resumed = await self.steps.resume(request, actor=actor, now=self.now())
        (self.packages / f"{resumed.id}.json").unlink(missing_ok=True)
        return self.view(resumed)

    async def close(self, member: Member, request_id: str, *, channel: Channel) -> dict[str, Any]:
        _allowed(member, CLOSERS, "close authority requests")
        closed = await self.authority.close(request_id, actor=self.actor(member, channel),
                                            now=self.now())
        # The package was handed over: its copy here goes (the record keeps its hash), so no
        # customer's values outlive the case in a file an erasure cannot reach.
        (self.packages / f"{closed.id}.json").unlink(missing_ok=True)
        return self.view(closed)

    async def disclose(self, member: Member, request_id: str, *, channel: Channel,
                       ) -> tuple[dict[str, Any], Path]:
        """Produce the request's one package; a second call is refused, naming its hash."""
        _allowed(member, HANDLERS, "produce authority packages")
        request = await self.authority.get(request_id)
        if request.state != "approved":
            raise refusal(request)
        _on_case(member, request, "produce")
        # Two clicks, instances or workers at once: the store's conditional move to
        # ``disclosing`` lets one through; the others get 409 (with the hash once known).
        done, path = await disclose(self.authority, request_id, actor=self.actor(member, channel),
                                    now=self.now(), out_dir=self.packages)
        package = orjson.loads(path.read_bytes())
        answer = self.view(done)
        answer["package"] = {
            "sha256": done.package_sha256, "bytes": path.stat().st_size,
            "customers": [{k: c.get(k) for k in ("reference", "status", "note")}
                          for c in package["customers"]],
            "unresolved_orders": len(package["unresolved_orders"]),
        }
        return answer, path

    async def package(self, member: Member, request_id: str, *, via: Via) -> bytes:
        """The produced package's bytes, checked against the hash in the record; the read is
        recorded for each customer in it first."""
        _allowed(member, HANDLERS, "read authority packages")
        request = await self.authority.get(request_id)
        _on_case(member, request, "read")
        if request.package_sha256 is None:
            raise Conflict(f"request {request_id} is {request.state}; it has no package")
        if request.state == "closed":
            raise Conflict(f"request {request_id} is closed; its package was deleted then (the "
                           "record keeps its hash)")
        try:
            content = (self.packages / f"{request.id}.json").read_bytes()
        except FileNotFoundError:
            raise Conflict(f"the local copy of {request_id}'s package is gone (deleted after "
                           "its retention period); the record keeps its hash") from None
        except OSError:
            raise RecordCorrupt(f"the package file of {request_id} cannot be read") from None
        if hashlib.sha256(content).hexdigest() != request.package_sha256:
            raise RecordCorrupt(f"the package file of {request_id} does not match the hash "
                                "in the record")
        for subject in request.subjects or (None,):
            await self.reviewer.record_read(member, via, what="authority_package",
                                            subject=subject, request=request.id)
        return content


def on_case(member: Member, request: Request) -> bool:
    """Whether the member took the request in, decided it or produced its package."""
    return member.username in (request.received_by, request.decided_by, request.disclosed_by)


def _on_case(member: Member, request: Request, what: str) -> None:
    if not on_case(member, request):
        raise Forbidden(f"only the people on the case (who took the request in, decided it or "
                        f"produced it) may {what} its package")


def _allowed(member: Member, roles: Sequence[Role], what: str) -> None:
    if not member.holds_any(roles):
        raise Forbidden(f"your roles do not allow you to {what}")

