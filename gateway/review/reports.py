"""Reports built from the record: a customer's access report (GDPR Art. 15(1)(c): every
recipient, which fields each received, when and why); the transparency report is in
``gateway.review.transparency_report``. Pure: entries (``gateway.record.entry.Entry``) in,
documents out.

An authority disclosure whose notification is deferred (``defer_until`` still ahead) is left
out of the customer's report, and shown, marked, in the full view for the data protection
officer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Literal

from gateway.policy import vocabulary
from gateway.record import Kind
from gateway.record.entry import Entry
from gateway.record.entry_data import CancelOutcomeData, IntentData, OutcomeData

View = Literal["customer", "full"]
#: Carrier outcomes after which the data had reached, or may have reached, the carrier.
LEFT = ("booked", "rejected", "unknown")
PENDING = "pending"
#: Categories an authority package gives besides personal-value fields.
METADATA = ("orders", "deliveries")
#: An authority disclosure's status when the record held nothing of the customer named.
NOTHING_HELD = "not held"
#: Every state of an authority request, and which outcome each counts as: a closed request
#: was disclosed if it has a package, preserved if it was an approved preservation order, else
#: rejected.
REQUEST_STATES = ("received", "approved", "disclosing", "rejected", "disclosed", "closed",
                  "preserving", "objected")


def deferred(data: Mapping[str, Any], today: date) -> bool:
    """Whether the notification of an authority disclosure with these terms (its entry's data,
    or its request) is still deferred on ``today``: the same rule for the access report and for
    who may see its entries. The latest notification step decides when there is one
    (``notification``): told -> shown; deferred -> hidden until its day; prohibited -> hidden
    while the prohibition stands. Else the intake's ``defer_until``."""
    told = data.get("notification")
    if isinstance(told, Mapping):
        status = told.get("status")
        if status == "notified":
            return False
        # prohibited, or an unreadable step: kept hidden rather than told too early
        data = {"defer_until": told.get("until") if status == "deferred" else "unknown"}
    until = data.get("defer_until")
    if not until:
        return False
    try:
        return date.fromisoformat(str(until)[:10]) > today
    except ValueError:
        return True  # an unreadable deferral is kept hidden rather than told too early


def request_of(entry: Entry) -> str | None:
    """The authority request an entry belongs to: an ``authority.*`` entry's, or the one a
    read names (the download of its package); None for any other entry."""
    data = entry.data if isinstance(entry.data, Mapping) else {}
    if entry.kind.startswith("authority."):
        return str(entry.disclosure or data.get("request") or "").split(":")[0] or None
    request = data.get("request")
    return request if isinstance(request, str) and request else None


def _carrier(intent: Entry | None, outcome: Entry | None) -> dict[str, Any] | None:
    first = intent or outcome
    assert first is not None
    result = outcome.data.result if outcome is not None and isinstance(
        outcome.data, OutcomeData) else PENDING
    if result not in (*LEFT, PENDING):
        return None
    last = outcome or intent
    assert last is not None
    purpose = (f"Return of order {first.order} with {first.recipient}"
               if isinstance(first.data, IntentData) and first.data.operation == "return" else
               f"Delivery of order {first.order} by {first.recipient} "
               f"({first.service})")
    return {
        "time": last.time, "recipient": first.recipient, "kind": "carrier",
        "service": first.service, "fields": list(first.fields), "order": first.order,
        "result": result, "disclosure": first.disclosure, "purpose": purpose,
        "cancelled": None, **_categories(first.fields),
        "data_use": vocabulary.DELIVERY_USE,
    }


def _authority_fields(entry: Entry, data: Mapping[str, Any]) -> list[str]:
    """What an authority received of the customer: each value field, and the orders and
    deliveries when the package held them (an entry from before ``disclosed`` was recorded:
    when they were asked and the customer's data was held)."""
    given = data.get("disclosed")
    if given is None:
        held = data.get("status") in ("held", "erased")
        given = [c for c in data.get("categories", []) if held]
    return [*entry.fields, *(c for c in METADATA if c in given)]


def _authority(entry: Entry, today: date) -> dict[str, Any]:
    data = entry.data if isinstance(entry.data, Mapping) else {}
    shown = {
        "time": entry.time, "recipient": entry.recipient, "kind": "authority",
        "service": entry.service, "fields": _authority_fields(entry, data), "order": None,
        "result": data.get("status"), "disclosure": entry.disclosure,
        "legal_basis": data.get("legal_basis"), "reference": data.get("reference"),
        "purpose": f"Request by {entry.recipient} ({data.get('reference')}) under "
                   f"{data.get('legal_basis')}",
        **_categories(entry.fields), "data_use": vocabulary.AUTHORITY_USE,
    }
    if deferred(data, today):
        shown.update(deferred=True, defer_until=data.get("defer_until"))
    return shown


def access_report(entries: Iterable[Entry], *, customer: str, view: View,
                  today: date, produced_at: str, erased: bool,
                  receipts: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The access report for one customer from the decoded entries naming them; each
    disclosure carries its ``receipt`` (c2sp.org/tlog-proof) from ``receipts`` by id."""
    intents: dict[str | None, Entry] = {}
    outcomes: dict[str | None, Entry] = {}
    cancelled: dict[str | None, str] = {}
    disclosures: list[dict[str, Any]] = []
    for entry in entries:
        if entry.kind == Kind.INTENT:
            intents[entry.disclosure] = entry
        elif entry.kind == Kind.OUTCOME:
            outcomes[entry.disclosure] = entry
        elif isinstance(entry.data, CancelOutcomeData) and entry.data.result == "cancelled":
            cancelled.setdefault(entry.disclosure, entry.time)
        elif entry.kind == Kind.AUTHORITY_DISCLOSURE:
            shown = _authority(entry, today)
            if shown.get("deferred") and view == "customer":
                continue
            disclosures.append(shown)
    for disclosure in dict.fromkeys([*intents, *outcomes]):
        carried = _carrier(intents.get(disclosure), outcomes.get(disclosure))
        if carried is not None:
            # The data left when it was booked; a later cancellation is noted, not subtracted.
            carried["cancelled"] = cancelled.get(disclosure)
            disclosures.append(carried)
    disclosures.sort(key=lambda d: (d["time"], d["disclosure"]))
    for d in disclosures:
        d["receipt"] = (receipts or {}).get(d["disclosure"])
    return {
        "customer": customer, "view": view, "produced_at": produced_at,
        "values_erased": erased,
        "recipients": _per_recipient(disclosures),
        "disclosures": disclosures,
        "note": "Fields are the categories of personal data each recipient received (for "
                "an authority, also the customer's orders and deliveries when it received "
                "them). Marketing consent is never disclosed.",
    }


def _per_recipient(disclosures: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for d in disclosures:
        grouped[(d["kind"], d["recipient"])].append(d)
    out = []
    for (kind, recipient), items in sorted(grouped.items()):
        fields = dict.fromkeys(f for d in items for f in d["fields"])
        out.append({
            "recipient": recipient, "kind": kind, "fields": list(fields), **_categories(fields),
            "disclosures": len(items), "first": items[0]["time"], "last": items[-1]["time"],
            "purposes": list(dict.fromkeys(
                "delivery of orders" if kind == "carrier" else f"authority request under "
                f"{d.get('legal_basis')}" for d in items)),
            "deferred": any(d.get("deferred") for d in items),
        })
    return out


def request_outcome(doc: Mapping[str, Any]) -> str:
    """answered (its package was produced), preserved (an approved preservation order, its
    holds running or ended), rejected, or open (not decided, objected to or not produced yet).
    A closed request was answered if it has a package, preserved if it held values, else
    rejected."""
    state = doc["state"]
    if state in ("disclosed", "closed") and doc.get("package_sha256"):
        return "answered"
    if state in ("preserving", "closed") and doc.get("preservation"):
        return "preserved"
    return "rejected" if state in ("rejected", "closed") else "open"


def _categories(fields: Iterable[str]) -> dict[str, list[str]]:
    """The privacy policy's data categories of ``fields`` (``orders`` for line items), and the
    same in the fideslang taxonomy."""
    names = list(fields)
    return {"categories": vocabulary.words(names), "fideslang": vocabulary.categories(names)}

