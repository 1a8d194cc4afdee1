"""Posti's eChannel XML (the Pakettikauppa / Nextshipping "Prinetti" API): the codes of its
products and additional services, the element names our fields go to, and the documents the
adapter (``carriers.posti.adapter``) sends: a shipment, a return, and their ROUTING envelope,
signed with the HMAC Routing.Key or carrying an OAuth Routing.Token."""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime

from carriers._core import ServiceSpec, given, sub, volume_m3
from gateway.models import Party, Receiver, ReturnShipment, Shipment

#: Our receiver field -> Prinetti recipient element.
RECIPIENT: Mapping[str, str] = {
    "name": "Recipient.Name1",
    "street": "Recipient.Addr1",
    "postal_code": "Recipient.Postcode",
    "town": "Recipient.City",
    "country": "Recipient.Country",
    "phone": "Recipient.Phone",
    "email": "Recipient.Email",
}

#: Our customer field -> Prinetti sender element, for a return (the customer sends).
SENDER: Mapping[str, str] = {
    "name": "Sender.Name1",
    "street": "Sender.Addr1",
    "postal_code": "Sender.Postcode",
    "town": "Sender.City",
    "country": "Sender.Country",
    "phone": "Sender.Phone",
    "email": "Sender.Email",
}

PRODUCTS: Mapping[str, str] = {"pickup_point": "2103", "home_delivery": "2104", "return": "2108"}
PICKUP_POINT_SERVICE = "2106"
#: Additional services (AdditionalService.ServiceCode), from the Pakettikauppa API
#: documentation's "Additional Services" table and its shipping-method list (the product each
#: is offered with):
#: 3101 Postiennakko, cash on delivery, with the specifiers amount, account (IBAN), codbic (BIC)
#: and reference (a Finnish bank reference with its check digit); offered with 2103 and 2104.
#: The table says "amount in eurocents" while the list gives it as a number with step 0.01:
#: the amount is sent as the order gives it, in euros with two decimals (an assumption).
COD_SERVICE = "3101"
#: 3139 Sähköinen saapumisilmoitus, the electronic arrival notice (SMS or e-mail); listed with
#: 2103 Postipaketti only.
ARRIVAL_NOTICE_SERVICE = "3139"
#: Henkilökohtaisesti luovutettava, handed over only to the named receiver: 3163 in the
#: shipping-method list (2103) and in Pakettikauppa's own WooCommerce plugin; the README's table
#: says 3164. 3163 is used.
PERSONAL_DELIVERY_SERVICE = "3163"
#: Delivery with an ID check (the receiver shows an identity document on delivery or pickup).
#: ASSUMPTION: neither Pakettikauppa's nor Posti's Nextshipping documentation lists a code for
#: it; 3166 is a placeholder to be confirmed with Posti before production use. The sandbox
#: mirrors it.
ID_CHECK_SERVICE = "3166"
#: The specifiers (AdditionalService.Specifier name=...) of cash on delivery, in order.
COD_SPECIFIERS = ("amount", "account", "codbic", "reference")
#: Response statuses that mean the carrier failed on its side rather than refused our data.
SYSTEM_FAILURE = frozenset({"240"})
#: The element names a refusal's message may name (kept in the error; values never are).
KNOWN_ELEMENTS = (
    *RECIPIENT.values(),
    "Sender.Name1", "Sender.Addr1", "Sender.Postcode", "Sender.City", "Sender.Country",
    "Sender.Vatcode", "Consignment.Reference", "Consignment.Product", "Parcel.Weight",
    "AdditionalService.ServiceCode", "AdditionalService.Specifier", "pickup_point_id",
    "Routing.Account", "Routing.Key", "Routing.Token", "Routing.Id",
)  # fmt: skip


def shipment_document(root: ET.Element, shipment: Shipment, spec: ServiceSpec) -> ET.Element:
    """The eChannel document of ``shipment`` under ``root`` (its envelope, ROUTING filled):
    receiver elements only for given fields; ``spec`` is the service's (its add-ons' codes)."""
    body = sub(root, "Shipment")
    _store(sub(body, "Shipment.Sender"), shipment.sender, "Sender")
    _customer(sub(body, "Shipment.Recipient"), shipment.receiver, RECIPIENT)
    consignment = sub(body, "Shipment.Consignment")
    sub(consignment, "Consignment.Reference", shipment.reference)
    sub(consignment, "Consignment.Product", PRODUCTS.get(shipment.service, shipment.service))
    # 2106 goes with a pickup-point product only (the shipping-method list offers it with
    # 2103, not with Kotipaketti 2104): a pickup point named for a home delivery stays.
    if shipment.pickup_point_id is not None and spec.needs_pickup_point:
        service = sub(consignment, "Consignment.AdditionalService")
        sub(service, "AdditionalService.ServiceCode", PICKUP_POINT_SERVICE)
        sub(
            service,
            "AdditionalService.Specifier",
            shipment.pickup_point_id,
            name="pickup_point_id",
        )
    for addon in shipment.addons:
        found = spec.addon(addon.name)
        assert found is not None, "config lets a rule list only the add-ons a service offers"
        service = sub(consignment, "Consignment.AdditionalService")
        sub(service, "AdditionalService.ServiceCode", found.code)
        for name in found.params:
            sub(service, "AdditionalService.Specifier", addon.params[name], name=name)
    _parcels(consignment, shipment)
    return root


def return_document(root: ET.Element, shipment: ReturnShipment) -> ET.Element:
    """The eChannel document of a return (product 2108) under ``root``: the customer's given
    fields as Shipment.Sender, the store as Shipment.Recipient."""
    body = sub(root, "Shipment")
    _customer(sub(body, "Shipment.Sender"), shipment.sender, SENDER)
    _store(sub(body, "Shipment.Recipient"), shipment.receiver, "Recipient")
    consignment = sub(body, "Shipment.Consignment")
    sub(consignment, "Consignment.Reference", shipment.reference)
    sub(consignment, "Consignment.Product", PRODUCTS["return"])
    _parcels(consignment, shipment)
    return root


def hmac_envelope(api_key: str, secret: bytes, now: float) -> ET.Element:
    """An eChannel envelope signed as Pakettikauppa's client library signs it: Routing.Key =
    HMAC-SHA256(secret, api_key + Routing.Id) in hex, Routing.Version 2."""
    routing_id = str(int(now * 1_000_000))
    key = hmac.new(secret, (api_key + routing_id).encode(), hashlib.sha256)
    root = ET.Element("eChannel")
    routing = sub(root, "ROUTING")
    sub(routing, "Routing.Account", api_key)
    sub(routing, "Routing.Id", routing_id)
    sub(routing, "Routing.Version", "2")
    sub(routing, "Routing.Key", key.hexdigest())
    sub(routing, "Routing.Name", "disclosure-gateway")
    sub(routing, "Routing.Time", datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S"))
    return root


def oauth_routing(routing: ET.Element, api_key: str, now: float, *, token: str | None) -> None:
    """Fill the OAuth ROUTING: Account, a fresh Id and Time, and the token (none yet
    while the document is built; each send puts the token it goes out with)."""
    routing.clear()
    sub(routing, "Routing.Account", api_key)
    sub(routing, "Routing.Id", str(int(now * 1_000_000)))
    sub(routing, "Routing.Version", "2")
    if token is not None:
        sub(routing, "Routing.Token", token)
    sub(routing, "Routing.Name", "disclosure-gateway")
    sub(routing, "Routing.Time", datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S"))


def _store(element: ET.Element, party: Party, prefix: str) -> None:
    for tag, value in (
        ("Name1", party.name), ("Addr1", party.street), ("Postcode", party.postal_code),
        ("City", party.town), ("Country", party.country), ("Phone", party.phone),
        ("Email", party.email), ("Vatcode", party.business_id),
    ):  # fmt: skip
        sub(element, f"{prefix}.{tag}", value)


def _customer(element: ET.Element, customer: Receiver, mapping: Mapping[str, str]) -> None:
    for tag, value in given(customer, mapping).items():
        sub(element, tag, value)


def _parcels(consignment: ET.Element, shipment: Shipment | ReturnShipment) -> None:
    for parcel in shipment.parcels:
        element = sub(consignment, "Consignment.Parcel")
        sub(element, "Parcel.Packagetype", "PC")
        sub(element, "Parcel.Weight", parcel.weight_kg, unit="kg")
        volume = volume_m3(parcel)
        if volume is not None:
            sub(element, "Parcel.Volume", volume, unit="m3")
