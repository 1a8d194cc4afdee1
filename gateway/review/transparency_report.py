"""The transparency report: disclosures counted per recipient, authority, legal basis, month
and data category, and the authority requests received in a period (a half-year, ``2026H2``,
or any ``from``/``to``) with what became of them. Pure: counts and request documents in,
documents out.

Two views. ``internal`` gives exact counts, for staff. ``published`` is what the shop may put
on its web site: only the request figures and carrier totals, no staff name and no request's
reference; counts below ``[reports] publish_threshold`` read "fewer than N" and no figure
lets one be worked out (see gateway.review.transparency_publish). A dated statement of what
the shop has never received (``[reports] statement``, ``statement_date``) is printed as the
operator wrote it.

What is read of a request document, with the default where a field is absent (documents of
older requests, or fields not recorded yet): ``kind`` production, preservation or emergency
(anything else counts as production); ``outcome`` full, partial, none, rejected or objected
(a string, or a mapping with ``result`` or ``outcome``, "no data" read as none; absent:
rejected when rejected, open while undecided or being produced, none for a preservation order
complied with (nothing is produced for it), and once produced full if any named customer's data
was produced, else none); ``authority_type`` ("not recorded"); ``answered_at`` (else the time
of its first package entry or of its rejection); ``notification``/``notified`` (customers
told: a mapping with ``status`` "notified", a mapping per customer, or a list; absent: none).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

import attrs

from gateway.policy import vocabulary
from gateway.record import Kind
from gateway.record.queries import CountRow
from gateway.review.reports import LEFT, NOTHING_HELD, request_outcome
from gateway.review.settings import ReportSettings

_DEFAULT_SETTINGS: Final = ReportSettings()
View = Literal["internal", "published"]
KINDS: Final = ("production", "preservation", "emergency")
OUTCOMES: Final = ("full", "partial", "none", "rejected", "objected", "open")
#: Outcomes after which data was produced.
PRODUCED: Final = ("full", "partial")
#: The request figures, in the order the report, the page and the CSV give them.
MEASURES: Final = ("received", *OUTCOMES, "customers_specified", "customers_produced",
                   "customers_notified", "emergency", "preservation")
NOT_RECORDED: Final = "not recorded"


@attrs.frozen
class RequestFacts:
    """What one authority request adds to the counts."""

    authority: str
    authority_type: str
    legal_basis: str
    kind: str
    outcome: str
    specified: int
    produced: int
    notified: int
    days: float | None


def request_facts(doc: Mapping[str, Any], *, held: int,
                  answered_at: str | None) -> RequestFacts:
    """A request document's part of the report; ``held``: its package entries that produced
    a customer's data; ``answered_at`` when it was answered."""
    kind = doc.get("kind") if doc.get("kind") in KINDS else "production"
    outcome = doc.get("outcome")
    if isinstance(outcome, Mapping):
        outcome = outcome.get("result") or outcome.get("outcome")
    if outcome == "no data":  # the outcome gateway.authority.steps.produced stores
        outcome = "none"
    if outcome not in OUTCOMES:
        derived = request_outcome(doc)
        outcome = ("open" if derived == "open" else "rejected" if derived == "rejected"
                   else "full" if held else "none")
    answered = doc.get("answered_at") or answered_at
    days = None
    if outcome != "open" and isinstance(answered, str):
        start = datetime.fromisoformat(doc["received_at"])
        days = max(0.0, (datetime.fromisoformat(answered) - start).total_seconds() / 86400)
    specified = len(doc.get("subjects", ())) + len(doc.get("unresolved_orders", ()))
    return RequestFacts(
        authority=str(doc["authority"]),
        authority_type=str(doc.get("authority_type") or NOT_RECORDED),
        legal_basis=str(doc["legal_basis"]), kind=str(kind), outcome=str(outcome),
        specified=specified, produced=held if outcome in PRODUCED else 0,
        notified=_notified(doc), days=days)


def _notified(doc: Mapping[str, Any]) -> int:
    told = doc.get("notification", doc.get("notified"))
    if isinstance(told, Mapping):
        if "status" in told:
            return len(doc.get("subjects", ())) if told["status"] == "notified" else 0
        return sum(1 for v in told.values() if (v.get("status") == "notified"
                                                if isinstance(v, Mapping) else bool(v)))
    if isinstance(told, list):
        return len(told)
    return 0


def _figures(facts: Sequence[RequestFacts]) -> dict[str, Any]:
    outcomes = Counter(f.outcome for f in facts)
    answered = [f for f in facts if f.outcome != "open"]
    days = [f.days for f in answered if f.days is not None]
    return {
        "received": len(facts), **{o: outcomes[o] for o in OUTCOMES},
        "customers_specified": sum(f.specified for f in facts),
        "customers_produced": sum(f.produced for f in facts),
        "customers_notified": sum(f.notified for f in facts),
        "emergency": sum(f.kind == "emergency" for f in facts),
        "preservation": sum(f.kind == "preservation" for f in facts),
        "answered": len(answered),
        "produced_share": (round(sum(f.outcome in PRODUCED for f in answered) / len(answered), 4)
                           if answered else None),
        "median_days_to_answer": round(statistics.median(days), 1) if days else None,
    }


def _by(facts: Sequence[RequestFacts], key: str) -> list[dict[str, Any]]:
    grouped: dict[str, list[RequestFacts]] = defaultdict(list)
    for f in facts:
        grouped[getattr(f, key)].append(f)
    return [{"name": name, **_figures(items)} for name, items in sorted(grouped.items())]


def transparency_report(rows: Iterable[CountRow], *, since: str | None, until: str | None,
                        produced_at: str, facts: Sequence[RequestFacts] = (),
                        label: str | None = None,
                        settings: ReportSettings = _DEFAULT_SETTINGS) -> dict[str, Any]:
    """The internal view: exact counts. ``facts``: the requests received in the period."""
    doc = _disclosures(rows, facts)
    return {
        "view": "internal", "period": {"from": since, "to": until, "label": label},
        "produced_at": produced_at, "threshold": settings.publish_threshold,
        "requests": _figures(facts),
        "by_authority": _by(facts, "authority"),
        "by_authority_type": _by(facts, "authority_type"),
        "by_legal_basis": _by(facts, "legal_basis"), "by_kind": _by(facts, "kind"),
        "statement": ({"text": settings.statement,
                       "as_of": settings.statement_date.isoformat()}
                      if settings.statement and settings.statement_date else None),
        **doc,
    }


def _disclosures(rows: Iterable[CountRow], facts: Sequence[RequestFacts]) -> dict[str, Any]:
    """Disclosures counted per recipient, authority, legal basis, month and category."""
    recipients: Counter[tuple[str, str]] = Counter()
    months: dict[str, Counter[str]] = defaultdict(Counter)
    results: Counter[str] = Counter()
    per_authority: dict[str, Counter[str]] = defaultdict(Counter)
    per_basis: dict[str, Counter[str]] = defaultdict(Counter)
    per_category: Counter[tuple[str, str]] = Counter()
    for row in rows:
        if row.kind != Kind.OUTCOME or row.result in LEFT:
            kind = "carrier" if row.kind == Kind.OUTCOME else "authority"
            for word in vocabulary.words(row.fields):
                per_category[(word, kind)] += row.count
        if row.kind == Kind.OUTCOME:
            if row.result not in LEFT:
                continue
            recipients[("carrier", row.recipient)] += row.count
            months[row.month]["carrier"] += row.count
            results[row.result] += row.count
            continue
        basis = row.legal_basis or "(not recorded)"
        # A customer the record held nothing of was answered so; nothing was disclosed.
        column = "nothing_held" if row.result == NOTHING_HELD else "disclosures"
        per_authority[row.recipient][column] += row.count
        per_basis[basis][column] += row.count
        if column == "disclosures":
            recipients[("authority", row.recipient)] += row.count
            months[row.month]["authority"] += row.count
    outcomes: Counter[str] = Counter()
    for f in facts:
        outcome = ("open" if f.outcome == "open" else "rejected"
                   if f.outcome in ("rejected", "objected") else "answered")
        outcomes[outcome] += 1
        for counts in (per_authority[f.authority], per_basis[f.legal_basis]):
            counts["requests"] += 1
            counts[outcome] += 1

    def counted(counts: Counter[str]) -> dict[str, int]:
        return {k: counts[k] for k in ("requests", "answered", "rejected", "open",
                                       "disclosures", "nothing_held")}

    return {
        "totals": {"carrier_disclosures": sum(results.values()),
                   "authority_disclosures": sum(c["disclosures"]
                                                for c in per_authority.values()),
                   "authority_nothing_held": sum(c["nothing_held"]
                                                 for c in per_authority.values()),
                   "authority_requests": sum(outcomes.values()),
                   "authority_requests_answered": outcomes["answered"],
                   "authority_requests_rejected": outcomes["rejected"],
                   "authority_requests_open": outcomes["open"]},
        "carrier_results": dict(sorted(results.items())),
        "per_recipient": [{"recipient": r, "kind": k, "disclosures": n}
                          for (k, r), n in sorted(recipients.items(),
                                                  key=lambda kv: (-kv[1], kv[0]))],
        "per_authority": [{"authority": a, **counted(c)}
                          for a, c in sorted(per_authority.items())],
        "per_legal_basis": [{"legal_basis": b, **counted(c)}
                            for b, c in sorted(per_basis.items())],
        "per_month": [{"month": m, "carrier": c["carrier"], "authority": c["authority"]}
                      for m, c in sorted(months.items())],
        "per_category": [{"category": w, "fideslang": vocabulary.WORD_CATEGORIES.get(w),
                          "carrier": per_category[(w, "carrier")],
                          "authority": per_category[(w, "authority")]}
                         for w in dict.fromkeys(w for w, _ in sorted(per_category))],
        "note": "A disclosure to a carrier is counted once the request reached it (booked, "
                "refused by the carrier, or outcome unknown). Authority requests are those "
                "received in the period: answered (a package was produced), rejected, or "
                "still open. An authority request can cover several customers; each "
                "customer's part of a package is one disclosure, unless the record held "
                "nothing of that customer (counted as nothing held).",
    }


def shown(value: object) -> str:
    """A figure as the page and the CSV write it."""
    if isinstance(value, Mapping):
        return f"fewer than {value['fewer_than']}" if "fewer_than" in value else "withheld"
    if value is None:
        return ""
    return str(value)


def _cell(text: str) -> str:
    """A name as a CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(doc: Mapping[str, Any]) -> str:
    """The same figures as CSV: section, name, measure, value (one figure a row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "name", "measure", "value"))
    period = doc["period"]
    for key in ("from", "to", "label"):
        writer.writerow(("period", "", key, period.get(key) or ""))
    writer.writerow(("report", "", "view", doc["view"]))
    writer.writerow(("report", "", "produced_at", doc["produced_at"]))
    figures = (*MEASURES, "produced_share", "median_days_to_answer")
    for measure in figures:
        writer.writerow(("requests", "all", measure, shown(doc["requests"].get(measure))))
    for section in ("by_authority", "by_authority_type", "by_legal_basis", "by_kind"):
        for row in doc[section]:
            for measure in figures:
                if measure in row:  # a published row gives only the requests received
                    writer.writerow((section.removeprefix("by_"), _cell(row["name"]),
                                     measure, shown(row[measure])))
    carriers = doc.get("carrier_disclosures", doc.get("totals", {}).get("carrier_disclosures"))
    writer.writerow(("carriers", "all", "disclosures", shown(carriers)))
    if doc.get("statement"):
        writer.writerow(("statement", doc["statement"]["as_of"], "text",
                         _cell(doc["statement"]["text"])))
    return out.getvalue()
