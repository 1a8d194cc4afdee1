"""Reviewing the record: search, single entries with their inclusion proof, the latest
checkpoint, and the reports. Used by the API below, the pages and the CLI alike.

Every read is itself appended to the record (kind ``review.read``) before its answer is given:
who (the staff username), how (api, web, cli), what (the query, the position viewed or the
report produced) and, in the entry's ``subject`` column, the customer reference it concerned, so
a customer's reads can be searched like their disclosures. If the record cannot take that entry,
the read is refused. Customer ids are turned into the record's HMAC reference and never written.

Personal values are unsealed only for the roles in ``gateway.staff.SEES_VALUES`` (reviewer,
admin); for the others they read as ``withheld``, and for an erased customer as ``erased``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

import attrs
import orjson
from aiohttp import web

from gateway import reports
from gateway.access import api
from gateway.config import Config
from gateway.errors import BadRequest, Forbidden, NotFound
from gateway.proof import Prover, check_inclusion, checkpoint_status
from gateway.record import Draft, Kind, Record
from gateway.record.entry import decode, iso_time
from gateway.record.queries import MAX_LIMIT, Search
from gateway.record.rows import Row
from gateway.record.sealing import subject_ref, unseal
from gateway.staff import MEMBER, Member, Role

Via = Literal["api", "web", "cli"]
ERASED: Final = "erased"
WITHHELD: Final = "withheld"
#: Who may search and open entries (values only for SEES_VALUES), produce access reports, see
#: transparency counts, and see the checkpoint status.
SEARCHERS: Final = (Role.REVIEWER, Role.INTAKE_OFFICER, Role.APPROVER, Role.ADMIN)
REPORTERS: Final = (Role.REVIEWER, Role.ADMIN)
TRANSPARENCY: Final = (Role.REVIEWER, Role.APPROVER, Role.ADMIN)
CHECKPOINT: Final = (Role.REVIEWER, Role.INTAKE_OFFICER, Role.APPROVER, Role.ADMIN)
_TEXT_MAX = 200



def parse_period(text: str | None, *, end: bool, name: str) -> str | None:
    """A period bound in the record's time format. ``YYYY``, ``YYYY-MM`` and ``YYYY-MM-DD``
    name whole years, months and days (an end bound includes the whole of it); a full ISO
    timestamp is taken as it is (an end bound is exclusive)."""
    if not text:
        return None
    try:
        if len(text) == 4 and text.isdigit():  # noqa: PLR2004
            year = int(text)
            return f"{year + end:04d}-01-01T00:00:00.000Z"
        if len(text) == 7:  # noqa: PLR2004
            first = date.fromisoformat(text + "-01")
            if end:
                first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return f"{first.isoformat()}T00:00:00.000Z"
        if len(text) == 10:  # noqa: PLR2004
            day = date.fromisoformat(text)
            if end:
                day = date.fromordinal(day.toordinal() + 1)
            return f"{day.isoformat()}T00:00:00.000Z"
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be YYYY, YYYY-MM, YYYY-MM-DD or an ISO timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_time(moment.astimezone(UTC))


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    if len(value) > _TEXT_MAX:
        raise BadRequest(f"{name} is longer than {_TEXT_MAX} characters")
    return value or None


def _int(params: Mapping[str, str], name: str, default: int | None, low: int,
         high: int) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(value)


class Reviewer:
    """The review side of one record; keyword-only collaborators."""

    def __init__(self, *, record: Record, config: Config,
                 clock: Callable[[], float] = time.time, os_user: str | None = None) -> None:
        self.record = record
        self.os_user = os_user
        self.hmac_key = config.keys.subject_hmac
        self.controller = config.sender
        self.verifiers = config.verifiers()
        self.prover = Prover()
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def search_of(self, params: Mapping[str, str]) -> Search:
        """A search from query parameters (customer id, order, recipient, kind, from, to,
        cursor, limit, sort=newest|oldest)."""
        sort = params.get("sort", "newest")
        if sort not in ("newest", "oldest"):
            raise BadRequest("sort must be newest or oldest")
        customer = _text(params, "customer")
        since = parse_period(_text(params, "from"), end=False, name="from")
        until = parse_period(_text(params, "to"), end=True, name="to")
        if since and until and since >= until:
            raise BadRequest("from must come before to")
        limit = _int(params, "limit", 50, 1, MAX_LIMIT)
        assert limit is not None
        return Search(
            subject=subject_ref(self.hmac_key, customer) if customer else None,
            order=_text(params, "order"), recipient=_text(params, "recipient"),
            kind=_text(params, "kind"), since=since, until=until,
            cursor=_int(params, "cursor", None, 0, 2**62), limit=limit,
            newest_first=sort == "newest")

    async def record_read(self, member: Member, via: Via, *, what: str,
                          subject: str | None = None, **details: Any) -> int:  # noqa: ANN401
        """Append the review.read entry for one read; returns its position."""
        entry = await self.record.append(Draft(
            kind=Kind.REVIEW, subject=subject,
            data={"by": member.username, "roles": sorted(r.value for r in member.roles),
                  "via": via, "what": what, **details,
                  **({"os_user": self.os_user} if self.os_user else {})}))
        return entry.seq

    async def search(self, member: Member, query: Search, *, via: Via) -> dict[str, Any]:
        rows = await self.record.store.search(attrs.evolve(query, limit=query.limit + 1))
        more = len(rows) > query.limit
        rows = rows[:query.limit]
        shown = await self.show(member, rows)
        subject = query.subject
        if subject is None and query.order is not None:
            subject = await self.record.store.subject_of_order(query.order)
        asked = {k: v for k, v in attrs.asdict(query).items()
                 if v is not None and k not in ("subject", "limit", "newest_first")}
        asked.update(customer=query.subject is not None, limit=query.limit,
                     sort="newest" if query.newest_first else "oldest")
        seq = await self.record_read(member, via, what="search", subject=subject, query=asked)
        return {"entries": shown, "next_cursor": rows[-1].seq if more else None,
                "sort": asked["sort"], "limit": query.limit, "read_recorded_at": seq}

    async def entry(self, member: Member, seq: int, *, via: Via) -> dict[str, Any]:
        row = await self.record.store.entry(seq)
        if row is None:
            raise NotFound(f"no entry at position {seq}")
        (shown,) = await self.show(member, [row])
        inclusion = await check_inclusion(self.record, self.verifiers, row, self.prover)
        recorded = await self.record_read(member, via, what="entry", subject=shown["subject"],
                                          seq=seq)
        return {"entry": shown, "inclusion": inclusion.to_json(),
                "read_recorded_at": recorded}

    async def show(self, member: Member, rows: list[Row]) -> list[dict[str, Any]]:
        """Entries as a reviewer sees them; sealed values opened for roles that see values."""
        keys: dict[str, bytes | None] = {}
        out = []
        for row in rows:
            body = decode(row.body)
            entry = {k: body[k] for k in ("seq", "time", "kind", "disclosure", "subject",
                                          "order", "recipient", "service", "fields", "policy",
                                          "data")}
            entry["leaf"] = row.leaf.hex()
            entry["values"] = None
            if body["sealed"] is not None:
                entry["values"] = await self._values(member, body, row, keys)
            out.append(entry)
        return out

    async def _values(self, member: Member, body: Mapping[str, Any], row: Row,
                      keys: dict[str, bytes | None]) -> dict[str, Any] | str:
        if not member.sees_values:
            return WITHHELD
        subject = body["subject"]
        if row.sealed is None or subject is None:
            return ERASED
        if subject not in keys:
            keys[subject] = await self.record.subject_key(subject, create=False)
        key = keys[subject]
        if key is None:
            return ERASED
        opened = unseal(key, f"{body['kind']}:{body['disclosure']}", row.sealed)
        return ERASED if opened is None else opened

    async def checkpoint(self) -> dict[str, Any]:
        return await checkpoint_status(self.record, self.verifiers, prover=self.prover,
                                       now=self.clock())

    async def access_report(self, member: Member, customer: str, *, via: Via,
                            view: str | None = None) -> dict[str, Any]:
        """A customer's access report. Admins (the DPO) get the full view by default and may
        ask for the customer's; reviewers get the customer's view only."""
        if not customer or len(customer) > _TEXT_MAX:
            raise BadRequest("customer (the store's customer id) is required")
        full = Role.ADMIN in member.roles
        view = view or ("full" if full else "customer")
        if view not in ("customer", "full"):
            raise BadRequest("view must be customer or full")
        if view == "full" and not full:
            raise Forbidden("only an admin (the data protection officer) sees the full view")
        subject = subject_ref(self.hmac_key, customer)
        entries = [decode(r.body) for r in await self.record.store.subject_rows(subject)]
        erased = await self.record.subject_key(subject, create=False) is None and any(
            e["kind"] in (Kind.INTENT, Kind.OUTCOME) for e in entries)
        now = self.now()
        report = reports.access_report(
            entries, customer=customer,
            view="full" if view == "full" else "customer", today=now.date(),
            produced_at=iso_time(now), erased=erased)
        report["read_recorded_at"] = await self.record_read(
            member, via, what="access_report", subject=subject, view=view)
        return report

    async def transparency_report(self, member: Member, params: Mapping[str, str], *,
                                  via: Via) -> dict[str, Any]:
        since = parse_period(_text(params, "from"), end=False, name="from")
        until = parse_period(_text(params, "to"), end=True, name="to")
        rows = await self.record.store.disclosure_counts_by(since, until)
        report = reports.transparency_report(rows, since=since, until=until,
                                             produced_at=iso_time(self.now()))
        report["read_recorded_at"] = await self.record_read(
            member, via, what="transparency_report", period={"from": since, "to": until})
        return report


REVIEWER: Final = web.AppKey("reviewer", Reviewer)
routes = web.RouteTableDef()


@routes.get("/v1/review/entries")
@api(*SEARCHERS)
async def _search(request: web.Request) -> web.Response:
    reviewer = request.app[REVIEWER]
    query = reviewer.search_of(request.query)
    return _json(await reviewer.search(request[MEMBER], query, via="api"))


@routes.get(r"/v1/review/entries/{seq:\d{1,18}}")
@api(*SEARCHERS)
async def _entry(request: web.Request) -> web.Response:
    seq = int(request.match_info["seq"])
    return _json(await request.app[REVIEWER].entry(request[MEMBER], seq, via="api"))


@routes.get("/v1/review/checkpoint")
@api(*CHECKPOINT)
async def _checkpoint(request: web.Request) -> web.Response:
    return _json(await request.app[REVIEWER].checkpoint())


@routes.get("/v1/reports/access")
@api(*REPORTERS)
async def _access(request: web.Request) -> web.Response:
    return _json(await request.app[REVIEWER].access_report(
        request[MEMBER], request.query.get("customer", "").strip(), via="api",
        view=request.query.get("view")))


@routes.get("/v1/reports/transparency")
@api(*TRANSPARENCY)
async def _transparency(request: web.Request) -> web.Response:
    return _json(await request.app[REVIEWER].transparency_report(
        request[MEMBER], request.query, via="api"))


def _json(doc: Mapping[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(doc), content_type="application/json",
                        headers={"Cache-Control": "no-store"})
