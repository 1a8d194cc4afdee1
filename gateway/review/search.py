"""Reviewing the record: search, single entries with their inclusion proof, the latest
checkpoint, and the reports. Used by the API (``gateway.http.review_api``), the pages and the
CLI alike.

Every read is itself appended to the record (kind ``review.read``) before its answer is given:
who (the staff username), how (api, web, cli), what (the query, the position viewed or the
report produced) and, in the entry's ``subject`` column, the customer reference it concerned, so
a customer's reads can be searched like their disclosures. If the record cannot take that entry,
the read is refused. Customer ids are turned into the record's HMAC reference and never written.

Personal values are unsealed only for the roles in ``gateway.staff.accounts.SEES_VALUES`` (reviewer,
admin); for the others they read as ``withheld``, and for an erased customer as ``erased``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

import attrs
import msgspec
import orjson

from gateway.config import Config
from gateway.erasure import notices as erasure_notices
from gateway.erasure.requests import waiting
from gateway.errors import Forbidden, NotFound
from gateway.record import Draft, Kind, Record
from gateway.record.entry import Entry, decode, document, iso_time
from gateway.record.proof import Prover, check_inclusion, checkpoint_status
from gateway.record.queries import MAX_LIMIT, Search
from gateway.record.rows import Row
from gateway.record.sealing import entry_context, subject_ref, unseal
from gateway.review import access_report, reports
from gateway.review.params import (
    FORMATS,
    KINDS,
    SEARCH_PARAMS,
    SORTS,
    TRANSPARENCY_PARAMS,
    TRANSPARENCY_VIEWS,
    VIEWS,
    customer_id,
    one_of,
    parameters,
    period,
    report_period,
    whole_number,
)
from gateway.review.report_text import Text
from gateway.review.settings import LANGUAGES
from gateway.review.transparency_publish import publish
from gateway.review.transparency_report import request_facts, transparency_report
from gateway.staff.accounts import Member, Role
from gateway.transparency.receipt import disclosure_receipts

Via = Literal["api", "web", "cli"]
ERASED: Final = "erased"
WITHHELD: Final = "withheld"
#: Who may search and open entries (values only for SEES_VALUES), produce access reports, see
#: transparency counts, and see the checkpoint status.
SEARCHERS: Final = (Role.REVIEWER, Role.INTAKE_OFFICER, Role.APPROVER, Role.ADMIN)
REPORTERS: Final = (Role.REVIEWER, Role.ADMIN)
TRANSPARENCY: Final = (Role.REVIEWER, Role.APPROVER, Role.ADMIN)
CHECKPOINT: Final = (Role.REVIEWER, Role.INTAKE_OFFICER, Role.APPROVER, Role.ADMIN)


class Reviewer:
    """The review side of one record; keyword-only collaborators."""

    def __init__(self, *, record: Record, config: Config,
                 clock: Callable[[], float] = time.time, os_user: str | None = None) -> None:
        self.record = record
        self.os_user = os_user
        self.hmac_key = config.keys.subject_hmac
        self.controller = config.sender
        self.report_settings = config.reports
        self.erasure_rules = config.erasure
        self.verifiers = config.verifiers()
        self.prover = Prover()
        self.witness_policy = config.witnessing.policy if config.witnessing else None
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def search_of(self, params: Mapping[str, str], *, also: Iterable[str] = ()) -> Search:
        """A search from query parameters (customer id, order, recipient, kind, from, to,
        cursor, limit, sort=newest|oldest; ``also`` names parameters a page adds). Unknown or
        repeated parameters and unknown values are refused (``gateway.review.params``)."""
        given = parameters(params, (*SEARCH_PARAMS, *also))
        sort = one_of(given, "sort", SORTS, default="newest")
        customer = given.get("customer")
        since, until = period(given)
        limit = whole_number(given, "limit", 50, 1, MAX_LIMIT)
        assert limit is not None
        return Search(
            subject=subject_ref(self.hmac_key, customer) if customer else None,
            order=given.get("order") or None, recipient=given.get("recipient") or None,
            kind=one_of(given, "kind", sorted(KINDS), described="a kind of entry the record "
                        "holds (disclosure.intent, authority.disclosure, review.read, ...)"),
            since=since, until=until,
            cursor=whole_number(given, "cursor", None, 0, 2**62), limit=limit,
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
        rows = await self.record.search(attrs.evolve(query, limit=query.limit + 1))
        more = len(rows) > query.limit
        rows = rows[:query.limit]
        hidden = await self.withheld(member, rows)
        shown = await self.show(member, [r for r in rows if r.seq not in hidden])
        subject = query.subject
        if subject is None and query.order is not None:
            subject = await self.record.subject_of_order(query.order)
        asked = {k: v for k, v in attrs.asdict(query).items()
                 if v is not None and k not in ("subject", "limit", "newest_first")}
        asked.update(customer=query.subject is not None, limit=query.limit,
                     sort="newest" if query.newest_first else "oldest")
        seq = await self.record_read(member, via, what="search", subject=subject, query=asked)
        return {"entries": shown, "next_cursor": rows[-1].seq if more else None,
                "sort": asked["sort"], "limit": query.limit, "read_recorded_at": seq}

    async def entry(self, member: Member, seq: int, *, via: Via) -> dict[str, Any]:
        row = await self.record.entry(seq)
        if row is None or await self.withheld(member, [row]):
            # A deferred authority entry reads as absent: its position tells nothing more.
            raise NotFound(f"no entry at position {seq}")
        (shown,) = await self.show(member, [row])
        inclusion = await check_inclusion(self.record, self.verifiers, row, self.prover)
        recorded = await self.record_read(member, via, what="entry", subject=shown["subject"],
                                          seq=seq)
        return {"entry": shown, "inclusion": inclusion.to_json(),
                "read_recorded_at": recorded}

    async def withheld(self, member: Member, rows: list[Row]) -> set[int]:
        """Positions among ``rows`` that belong to an authority request whose notification is
        deferred (``defer_until`` still ahead): its steps, its disclosures and the reads of its
        package. While the deferral runs only an admin sees them, as in the access report."""
        if Role.ADMIN in member.roles:
            return set()
        today = self.now().date()
        deferred: dict[str, bool] = {}
        hidden = set()
        for row in rows:
            entry = decode(row.body)
            request = reports.request_of(entry)
            if request is None:
                continue
            if request not in deferred:
                stored = await self.record.authority_request(request)
                terms = orjson.loads(stored[1]) if stored is not None else (
                    entry.data if isinstance(entry.data, Mapping) else {})
                deferred[request] = reports.deferred(terms, today)
            if deferred[request]:
                hidden.add(row.seq)
        return hidden

    async def show(self, member: Member, rows: list[Row]) -> list[dict[str, Any]]:
        """Entries as a reviewer sees them; sealed values opened for roles that see values."""
        keys: dict[str, bytes | None] = {}
        out = []
        for row in rows:
            body = document(row.body)  # shown as signed, every key of its data
            entry = {k: body[k] for k in ("seq", "time", "kind", "disclosure", "subject",
                                          "order", "recipient", "service", "fields", "policy",
                                          "data")}
            entry["leaf"] = row.leaf.hex()
            entry["values"] = None
            if body["sealed"] is not None:
                entry["values"] = await self._values(member, decode(row.body), row, keys)
            out.append(entry)
        return out

    async def _values(self, member: Member, entry: Entry, row: Row,
                      keys: dict[str, bytes | None]) -> dict[str, Any] | str:
        if not member.sees_values:
            return WITHHELD
        subject = entry.subject
        if row.sealed is None or subject is None:
            return ERASED
        if subject not in keys:
            keys[subject] = await self.record.subject_key(subject, create=False)
        key = keys[subject]
        if key is None:
            return ERASED
        opened = unseal(key, entry_context(entry.kind, entry.disclosure), row.sealed)
        return ERASED if opened is None else opened

    async def checkpoint(self) -> dict[str, Any]:
        return await checkpoint_status(self.record, self.verifiers, prover=self.prover,
                                       now=self.clock())

    def text(self, language: str) -> Text:
        """The access report's words in ``language``, times in the store's zone."""
        return Text(language=language, zone=self.report_settings.zone())

    async def access_report(self, member: Member, customer: str, *, via: Via,
                            view: str | None = None, lang: str | None = None,
                            ) -> dict[str, Any]:
        """A customer's access report (GDPR Art. 15(1)) in ``lang`` (fi, sv, en; the store's
        default from config.toml). Admins (the DPO) get the full view by default and may ask
        for the customer's; reviewers get the customer's view only. A customer id the record
        holds nothing of gives a report saying so (``record_holds_nothing``)."""
        customer = customer_id(customer)
        full = Role.ADMIN in member.roles
        view = one_of({"view": view or ""}, "view", VIEWS,
                      default="full" if full else "customer")
        language = one_of({"lang": lang or ""}, "lang", LANGUAGES,
                          default=self.report_settings.language)
        assert language is not None
        if view == "full" and not full:
            raise Forbidden("only an admin (the data protection officer) sees the full view")
        subject = subject_ref(self.hmac_key, customer)
        rows = await self.record.subject_entries(subject)
        entries = [await self._told(decode(r.body)) for r in rows]
        erased = await self.record.subject_key(subject, create=False) is None and any(
            e.kind in (Kind.INTENT, Kind.OUTCOME) for e in entries)
        now = self.now()
        report = reports.access_report(
            entries, customer=customer,
            view="full" if view == "full" else "customer", today=now.date(),
            produced_at=iso_time(now), erased=erased,
            receipts=await disclosure_receipts(self.record, rows, prover=self.prover,
                                               policy=self.witness_policy))
        access_report.complete(
            report, text=self.text(language),
            settings=self.report_settings, controller=self.controller,
            rules=self.erasure_rules,
            waiting=await waiting(self.record, now=now, subject=subject),
            known=any(e.kind != Kind.REVIEW for e in entries))
        # GDPR Art. 19, second sentence: the recipients told of the customer's erasure.
        report["erasure_notices"] = erasure_notices.told(entries)
        report["read_recorded_at"] = await self.record_read(
            member, via, what="access_report", subject=subject, view=view, lang=language)
        return report

    async def _told(self, entry: Entry) -> Entry:
        """An authority disclosure with its request's latest notification step, which the
        report follows (``reports.deferred``)."""
        if entry.kind != Kind.AUTHORITY_DISCLOSURE or not isinstance(entry.data, Mapping):
            return entry
        stored = await self.record.authority_request(reports.request_of(entry) or "")
        told = orjson.loads(stored[1]).get("notification") if stored is not None else None
        return entry if told is None else msgspec.structs.replace(
            entry, data={**entry.data, "notification": told})

    async def transparency_report(self, member: Member, params: Mapping[str, str], *,
                                  via: Via) -> dict[str, Any]:
        """The internal view (exact counts), or for an admin the published view; periods by
        ``gateway.review.params.report_period``."""
        given = parameters(params, TRANSPARENCY_PARAMS)
        since, until, label = report_period(given)
        view = one_of(given, "view", TRANSPARENCY_VIEWS, default="internal")
        one_of(given, "format", FORMATS, default="json")
        if view == "published" and Role.ADMIN not in member.roles:
            raise Forbidden("only an admin (the data protection officer) publishes the "
                            "transparency report")
        rows = await self.record.disclosure_counts_in(since, until)
        docs = [d for d in (orjson.loads(doc) for _, _, doc in
                            await self.record.authority_requests(reports.REQUEST_STATES))
                if (since or "") <= d["received_at"] < (until or "\U0010ffff")]
        held: Counter[str] = Counter()
        if docs:  # a request's package may be produced after the period: count all of it
            for row in await self.record.disclosure_counts_in(None, None):
                if row.kind == Kind.AUTHORITY_DISCLOSURE and row.request and (
                        row.result == "held"):
                    held[row.request] += row.count
        facts = [request_facts(d, held=held[d["id"]], answered_at=await self._answered_at(d))
                 for d in docs]
        report = transparency_report(rows, since=since, until=until, label=label,
                                     produced_at=iso_time(self.now()), facts=facts,
                                     settings=self.report_settings)
        if view == "published":
            report = publish(report, self.report_settings.publish_threshold)
        report["read_recorded_at"] = await self.record_read(
            member, via, what="transparency_report", period={"from": since, "to": until},
            view=view)
        return report

    async def _answered_at(self, doc: Mapping[str, Any]) -> str | None:
        """When a decided request was answered: its first package entry, its rejection (or the
        objection that ended it), or a preservation order's approval."""
        if doc["state"] not in ("rejected", "disclosed", "closed", "preserving"):
            return None
        answers = (Kind.AUTHORITY_APPROVED,) if doc.get("preservation") else (
            Kind.AUTHORITY_REJECTED, Kind.AUTHORITY_OBJECTION_RESOLVED)
        for disclosure, kind in ((f"{doc['id']}:0", Kind.AUTHORITY_DISCLOSURE),
                                 *((doc["id"], k) for k in answers)):
            for row in await self.record.disclosure_entries(disclosure):
                entry = decode(row.body)
                if entry.kind == kind:
                    return entry.time
        return None
