"""The gateway's words in a standard vocabulary: the fideslang taxonomy (the privacy
taxonomy of Ethyca's fides, github.com/ethyca/fideslang, its default taxonomy).

Each disclosable field maps to the closest published data category, each purpose to a data
use; the customers are the data subject ``customer``. The privacy policy's own words (name,
address, phone, email, orders) stay beside them in every report. Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.models import ITEM_FIELDS
from gateway.policy.rules import ITEM_PREFIX

#: Field -> fideslang data category.
FIELD_CATEGORIES: Mapping[str, str] = {
    "name": "user.name",
    "street": "user.contact.address.street",
    "postal_code": "user.contact.address.postal_code",
    "town": "user.contact.address.city",
    "country": "user.contact.address.country",
    "phone": "user.contact.phone_number",
    "email": "user.contact.email",
    # A door code opens the customer's building: no closer published term than the address.
    "door_code": "user.contact.address",
    # Never disclosed; listed so the store's dataset names it.
    "marketing_consent": "user.privacy_preferences",
    # The order's contents (commercial-invoice line items): what the customer bought.
    **{ITEM_PREFIX + f: "user.behavior.purchase_history" for f in ITEM_FIELDS},
}
#: Field -> the privacy policy's data category (the words authority requests use too).
FIELD_WORDS: Mapping[str, str] = {
    "name": "name", "street": "address", "postal_code": "address", "town": "address",
    "country": "address", "door_code": "address", "phone": "phone", "email": "email",
    "marketing_consent": "marketing_consent",
    **{ITEM_PREFIX + f: "orders" for f in ITEM_FIELDS},
}
#: The privacy policy's category words -> fideslang data category, for whole categories.
WORD_CATEGORIES: Mapping[str, str] = {
    "name": "user.name",
    "address": "user.contact.address",
    "phone": "user.contact.phone_number",
    "email": "user.contact.email",
    "orders": "user.behavior.purchase_history",
    "deliveries": "user.behavior.purchase_history",
    "marketing_consent": "user.privacy_preferences",
}
#: Data uses: booking a delivery is operating the service the customer asked for; an
#: authority's request is a disclosure to a third party the law obliges.
DELIVERY_USE = "essential.service.operations"
AUTHORITY_USE = "third_party_sharing.legal_obligation"
DATA_SUBJECT = "customer"


def categories(fields: Iterable[str]) -> list[str]:
    """The fideslang data categories of ``fields``, each once, in order."""
    return list(dict.fromkeys(FIELD_CATEGORIES[f] for f in fields if f in FIELD_CATEGORIES))


def words(fields: Iterable[str]) -> list[str]:
    """The privacy policy's categories of ``fields``, each once, in order."""
    return list(dict.fromkeys(FIELD_WORDS[f] for f in fields if f in FIELD_WORDS))
