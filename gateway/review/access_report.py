"""The customer's access report made whole (GDPR Art. 15(1) (a) to (g)) and put in words of
their language: ``complete`` takes the report ``gateway.review.reports.access_report`` builds from
the record (which recipients received what, when) and adds the purposes, the categories, each
recipient's legal name and contact, the retention of each category with its legal basis, the
customer's rights, the Data Protection Ombudsman, the source of the data, and any erasure
request or legal hold still waiting. Pure: values in, document out.

Every key the record's report has stays as it was (times in UTC, English ``purpose``); the
words sit beside them (``time_local``, ``when``, ``recipient_name``, ``fields_words``...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from gateway.authority.preservation import PRESERVATION_BASIS
from gateway.erasure.requests import ErasureRules, Waiting
from gateway.models import Party
from gateway.policy import vocabulary
from gateway.review.report_text import OMBUDSMAN, Text
from gateway.review.settings import CATEGORIES, ReportSettings, Retention

#: Record fields per category, in the order the report lists them.
_CATEGORY_FIELDS: Final = {c: [f for f, w in vocabulary.FIELD_WORDS.items() if w == c]
                           for c in CATEGORIES}
_RIGHTS: Final = ("rectification", "erasure", "restriction", "objection")


def complete(report: dict[str, Any], *, text: Text, settings: ReportSettings,
             controller: Party, rules: ErasureRules, waiting: Sequence[Waiting],
             known: bool) -> dict[str, Any]:
    """``report`` with all of Art. 15(1) in ``text``'s language. ``known`` is whether the
    record holds anything of the customer but staff reads of them."""
    for disclosure in report["disclosures"]:
        _disclosure(disclosure, text, settings)
    for recipient in report["recipients"]:
        bases = dict.fromkeys(str(d.get("legal_basis")) for d in report["disclosures"]
                              if d["kind"] == recipient["kind"] == "authority"
                              and d["recipient"] == recipient["recipient"])
        _recipient(recipient, text, settings, bases)
    fields = dict.fromkeys(f for d in report["disclosures"] for f in d["fields"])
    report.update(
        language=text.language, time_zone=settings.time_zone,
        produced_at_local=text.iso(report["produced_at"]),
        produced_when=text.time(report["produced_at"]),
        record_holds_nothing=not known,
        controller=_controller(controller),
        purposes=[text(f"text.purpose_{p}") for p in ("delivery", "authority", "record")],
        never_disclosed=text("text.purpose_never"),
        data_categories=_categories(fields, text),
        retention=_retention(text, settings.retention, rules),
        retention_record=text("text.retention_record"),
        rights=[text(f"text.right_{r}") for r in _RIGHTS],
        rights_contact=text("text.rights_how", controller=controller.name,
                            email=controller.email, phone=controller.phone),
        complaint=_complaint(text),
        source=text("text.source_text", controller=controller.name),
        pending=_pending_shown(waiting, text, customer=report["view"] != "full"),
    )
    return report


def _pending_shown(waiting: Sequence[Waiting], text: Text, *,
                   customer: bool) -> list[dict[str, Any]]:
    """What waits on the customer's values. In the customer's view a preservation order's
    hold is left out and an erasure deferred by one names only a legal obligation; the
    admin's full view shows both as they are."""
    shown = []
    for w in waiting:
        confidential = w.basis.startswith(PRESERVATION_BASIS)
        if customer and confidential and w.kind == "hold":
            continue
        basis = text("text.basis_withheld") if customer and confidential else w.basis
        shown.append(_pending(w, text, basis))
    return shown


def _controller(party: Party) -> dict[str, str]:
    return {"name": party.name, "business_id": party.business_id,
            "address": f"{party.street}, {party.postal_code} {party.town}",
            "email": party.email, "phone": party.phone}


def _contact(name: str, settings: ReportSettings) -> dict[str, str | None]:
    known = settings.recipients.get(name)
    if known is None:
        return {"legal_name": name, "business_id": None, "address": None,
                "privacy_contact": None}
    return {"legal_name": known.legal_name, "business_id": known.business_id,
            "address": known.address, "privacy_contact": known.privacy_contact}


def _disclosure(d: dict[str, Any], text: Text, settings: ReportSettings) -> None:
    contact = _contact(d["recipient"], settings)
    if d["kind"] == "carrier":
        service = text(f"service.{d['service']}")
        key = "text.purpose_return" if d["service"] == "return" else "text.purpose_carrier"
        purpose = text(key, order=d["order"], service=service)
        result = text(f"result.{d['result']}")
        if d.get("cancelled"):
            result += "; " + text("result.cancelled", when=text.time(d["cancelled"]))
    else:
        service = d["service"]
        purpose = text("text.purpose_authority_one", reference=d.get("reference") or "",
                       basis=d.get("legal_basis") or "")
        status = str(d.get("result") or "none").replace(" ", "_")
        result = text(f"result.{status}")
    d.update(
        time_local=text.iso(d["time"]), when=text.time(d["time"]),
        recipient_name=contact["legal_name"], recipient_contact=contact,
        kind_words=text(f"kind.{d['kind']}"), service_words=service,
        fields_words=text.fields(d["fields"]), purpose_words=purpose,
        result_words=result,
        categories_words=[text(f"category.{c}") for c in d.get("categories", [])],
    )
    if d.get("deferred"):
        d["deferred_words"] = text("text.deferred", until=text.date(d.get("defer_until")))


def _recipient(r: dict[str, Any], text: Text, settings: ReportSettings,
               bases: Iterable[str]) -> None:
    contact = _contact(r["recipient"], settings)
    why = ([text("text.why_carrier")] if r["kind"] == "carrier" else
           [text("text.why_authority", basis=b) for b in bases])
    r.update(
        legal_name=contact["legal_name"], contact=contact,
        kind_words=text(f"kind.{r['kind']}"),
        fields_words=text.fields(r["fields"]),
        categories_words=[text(f"category.{c}") for c in r.get("categories", [])],
        purposes_words=why, first_local=text.iso(r["first"]), last_local=text.iso(r["last"]),
        first_when=text.time(r["first"]), last_when=text.time(r["last"]),
    )


def _categories(fields: Iterable[str], text: Text) -> list[dict[str, Any]]:
    """Each category of the fields the record holds of the customer, with its fields (an
    authority's ``orders`` and ``deliveries`` are categories of their own)."""
    given = list(fields)
    out = []
    for category in CATEGORIES:
        held = [f for f in given if vocabulary.FIELD_WORDS.get(f, f) == category]
        if held:
            out.append({"category": category, "words": text(f"category.{category}"),
                        "fields": held, "fields_words": text.fields(held)})
    return out


def _retention(text: Text, rules_by_category: Iterable[Retention],
               rules: ErasureRules) -> list[dict[str, Any]]:
    """How long each category is kept: its configured period and basis, else what the erasure
    settings make of it."""
    configured = {r.category: r for r in rules_by_category}
    general = [text("text.retention_kept")]
    if rules.retention_days:
        general.append(text("text.retention_auto", days=rules.retention_days))
    if rules.hold_days:
        general.append(text("text.retention_hold", days=rules.hold_days,
                            basis=rules.hold_basis))
    out = []
    for category in CATEGORIES:
        rule = configured.get(category)
        if rule is None:
            statement = " ".join(general)
            basis = rules.hold_basis or None
        else:
            basis = rule.basis[text.language]
            statement = text(f"text.retention_{rule.unit}", count=rule.count,
                             start=text(f"start.{rule.start}"), basis=basis)
        out.append({"category": category, "words": text(f"category.{category}"),
                    "fields": _CATEGORY_FIELDS[category], "statement": statement,
                    "legal_basis": basis,
                    "period": None if rule is None else {"count": rule.count,
                                                         "unit": rule.unit,
                                                         "from": rule.start}})
    return out


def _complaint(text: Text) -> dict[str, str]:
    return {"intro": text("text.complaint_intro"), "authority": text("text.ombudsman"),
            "visiting_address": text("text.ombudsman_visit"),
            "postal_address": text("text.ombudsman_post"), **OMBUDSMAN}


def _pending(w: Waiting, text: Text, basis: str) -> dict[str, Any]:
    if w.kind == "hold":
        statement = text("text.pending_hold", until=text.date(w.until), basis=basis)
    else:
        statement = text("text.pending_erasure", since=text.date(w.since),
                         until=text.date(w.until), basis=basis)
    return {"kind": w.kind, "until": w.until, "until_local": text.iso(w.until),
            "since": w.since, "basis": basis, "statement": statement}
