"""Records of processing activities (GDPR Art. 30(1)) for the disclosures the gateway makes,
rendered from config.toml and the record itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.config import Config
from gateway.policy import vocabulary
from gateway.policy.rules import NOTICE_FIELDS, Rule

PURPOSE = "Delivery of the customer's orders: booking shipments with the chosen carrier"
SECURITY = (
    "Only the fields the disclosure policy allows for each carrier and service leave; "
    "every disclosure is written to an append-only, tamper-evident record (RFC 9162 Merkle tree, "
    "signed checkpoints) before anything is sent; personal values in the record are encrypted "
    "with a random key per customer, wrapped by a key-encryption key; customers are named in the "
    "record by an HMAC reference; erasure deletes the customer's key; access is by named staff "
    "accounts with roles, and every review read is recorded."
)


def processing_record(config: Config, counts: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """The Art. 30(1) record. ``counts`` are booked disclosures per (recipient, service)."""
    recipients = []
    for (recipient, service), rule in sorted(config.policy.rules.items()):
        fields = list(rule.allow)
        notice = [f"{NOTICE_FIELDS[c]} (if the customer chose {c} notice)" for c in rule.notice
                  if NOTICE_FIELDS[c] not in rule.allow]
        extra = [f"{f} (with {a.name})" for a in rule.addons
                 for f in _addon_fields(rule, a.name) if f not in rule.allow]
        customs = "(line items, leaving the EU customs territory only)"
        items = [f"orders: {', '.join(rule.allow_items)} {customs}"] if rule.allow_items else []
        recipients.append({
            "recipient": recipient, "service": service, "purpose": PURPOSE,
            "data_categories": fields + notice + extra + items, "required": list(rule.require),
            "addons": [a.name for a in rule.addons],
            "fideslang": {"data_categories": vocabulary.categories(rule.may_leave()),
                          "data_use": vocabulary.DELIVERY_USE,
                          "data_subjects": [vocabulary.DATA_SUBJECT]},
            "rule_digest": rule.digest, "disclosures_recorded": counts.get((recipient, service), 0),
        })
    e = config.erasure
    return {
        "controller": {"name": config.sender.name, "business_id": config.sender.business_id,
                       "contact": {"email": config.sender.email, "phone": config.sender.phone,
                                   "address": f"{config.sender.street}, "
                                              f"{config.sender.postal_code} {config.sender.town}"}},
        "data_subjects": "customers of the online store",
        "purposes": [PURPOSE, "Disclosures to public authorities where required by law"],
        "data_uses": {PURPOSE: vocabulary.DELIVERY_USE,
                      "Disclosures to public authorities where required by law":
                          vocabulary.AUTHORITY_USE},
        "recipients": recipients,
        "authorities": "disclosed only on a recorded, approved request naming its legal basis",
        "never_disclosed": ["marketing consent"],
        "third_country_transfers": "none configured by the gateway; see each carrier's terms",
        "retention": {
            "erasure_on_request": True,
            "legal_hold_days": e.hold_days, "legal_hold_basis": e.hold_basis or None,
            "retention_days": e.retention_days or None,
            "record_metadata": "kept (who received which categories, when); values erased",
        },
        "security_measures": SECURITY,
    }


def _addon_fields(rule: Rule, name: str) -> list[str]:
    wide = rule.with_addons((name,))
    return [*wide.allow, *(NOTICE_FIELDS[c] for c in wide.notice if c not in rule.notice)]


def render_text(doc: Mapping[str, Any]) -> str:
    c = doc["controller"]
    lines = [
        "Record of processing activities (GDPR Art. 30(1)): disclosures",
        "",
        (f"Controller: {c['name']} ({c['business_id']}), {c['contact']['address']}, "
         f"{c['contact']['email']}, {c['contact']['phone']}"),
        f"Data subjects: {doc['data_subjects']}",
        "Purposes: " + "; ".join(f"{p} ({doc['data_uses'][p]})" for p in doc["purposes"]),
        "",
        "Recipients and data categories:",
    ]
    for r in doc["recipients"]:
        lines.append(f"  {r['recipient']}/{r['service']}: {', '.join(r['data_categories'])}"
                     f"  [{r['disclosures_recorded']} recorded; rule {r['rule_digest'][:12]}]")
        if r["addons"]:
            lines.append(f"    additional services: {', '.join(r['addons'])}")
        fides = r["fideslang"]
        lines.append(f"    fideslang: {fides['data_use']}: {', '.join(fides['data_categories'])}")
    ret = doc["retention"]
    basis = f" ({ret['legal_hold_basis']})" if ret["legal_hold_basis"] else ""
    hold = (f"{ret['legal_hold_days']} days after the last disclosure{basis}"
            if ret["legal_hold_days"] else "none configured")
    kept = (f"{ret['retention_days']} days after the customer's last disclosure"
            if ret["retention_days"] else "until erasure is asked")
    lines += [
        f"Authorities: {doc['authorities']}",
        f"Never disclosed: {', '.join(doc['never_disclosed'])}",
        f"Transfers to third countries: {doc['third_country_transfers']}",
        (f"Erasure: on request; legal hold {hold}; customers' values kept {kept}; "
         f"{ret['record_metadata']}"),
        f"Security measures: {doc['security_measures']}",
    ]
    return "\n".join(lines) + "\n"
