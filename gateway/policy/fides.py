"""The disclosure policy as fides resources: the manifest format Ethyca's fides loads
(``fides push``), validated in the tests with fideslang's own models.

One system per carrier, with a privacy declaration per service its rule lets data go to (the
data categories it may receive, add-ons and customs line items included, for the data use of
operating the service), one system for public authorities (what an approved request may
select, under a legal obligation), and one dataset: the order as the pipeline hands it to the
gateway, each field with its data category. Pure: a document in, no I/O.
"""

from __future__ import annotations

from typing import Any

from gateway.models import DISCLOSABLE_FIELDS, ITEM_FIELDS
from gateway.policy import vocabulary
from gateway.policy.rules import ITEM_PREFIX, Policy

ORGANIZATION = "default_organization"
DATASET = "disclosure_gateway_orders"
AUTHORITIES = "public_authorities"
#: What an authority request may ask for (the privacy policy's categories; authority.CATEGORIES).
AUTHORITY_WORDS = ("name", "address", "phone", "email", "orders", "deliveries")


def manifest(policy: Policy) -> dict[str, Any]:
    """The systems and dataset of ``policy`` as one fides manifest document."""
    systems = []
    for recipient in sorted({r for r, _ in policy.rules}):
        rules = [rule for (r, _), rule in sorted(policy.rules.items()) if r == recipient]
        systems.append({
            "fides_key": f"carrier_{recipient}",
            "organization_fides_key": ORGANIZATION,
            "name": f"Carrier {recipient}",
            "description": f"Books shipments with {recipient}; receives only what the "
                           "disclosure gateway's policy lets out for each service.",
            "system_type": "Service",
            "privacy_declarations": [{
                "name": f"{recipient}/{rule.service}"
                        + (f" (add-ons: {', '.join(a.name for a in rule.addons)})"
                           if rule.addons else ""),
                "data_categories": vocabulary.categories(rule.may_leave()),
                "data_use": vocabulary.DELIVERY_USE,
                "data_subjects": [vocabulary.DATA_SUBJECT],
                "dataset_references": [DATASET],
            } for rule in rules],
        })
    systems.append({
        "fides_key": AUTHORITIES,
        "organization_fides_key": ORGANIZATION,
        "name": "Public authorities",
        "description": "Disclosures on a recorded request naming its legal basis, approved by "
                       "a second person, minimised to the categories asked for.",
        "system_type": "Service",
        "privacy_declarations": [{
            "name": "authority requests",
            "data_categories": list(dict.fromkeys(vocabulary.WORD_CATEGORIES[w]
                                                  for w in AUTHORITY_WORDS)),
            "data_use": vocabulary.AUTHORITY_USE,
            "data_subjects": [vocabulary.DATA_SUBJECT],
            "dataset_references": [DATASET],
        }],
    })
    return {"system": systems, "dataset": [_dataset()]}


def _dataset() -> dict[str, Any]:
    def field(name: str, key: str) -> dict[str, Any]:
        return {"name": name, "data_categories": [vocabulary.FIELD_CATEGORIES[key]]}

    return {
        "fides_key": DATASET,
        "organization_fides_key": ORGANIZATION,
        "name": "Orders handed to the disclosure gateway",
        "description": "The order pipeline's signed order events: the customer, the delivery "
                       "and the order's contents. Marketing consent never leaves.",
        "collections": [
            {"name": "customer",
             "fields": [field(f, f) for f in DISCLOSABLE_FIELDS if f != "door_code"]
             + [field("marketing_consent", "marketing_consent")]},
            {"name": "delivery", "fields": [field("door_code", "door_code")]},
            {"name": "items", "fields": [field(f, ITEM_PREFIX + f) for f in ITEM_FIELDS]},
        ],
    }
