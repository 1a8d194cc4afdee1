"""Posti's Prinetti wire format, as the Pakettikauppa documentation describes it."""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from carriers.posti import Posti
from carriers.sandbox import RECEIVED, run_sandbox
from gateway.models import Parcel, Party, Receiver, Shipment

if TYPE_CHECKING:
    from collections.abc import Callable

    import aiohttp

CREDENTIALS = {"api_key": "sandbox-client", "secret": "sandbox-secret"}
SENDER = Party(
    name="Verkkokauppa Oy", street="Teollisuuskatu 1", postal_code="00510", town="Helsinki",
    country="FI", phone="+358900000001", email="logistics@shop.invalid",
    business_id="1234567-8",
)  # fmt: skip


def shipment(service: str, receiver: Receiver, pickup_point_id: str | None = None) -> Shipment:
    return Shipment(
        reference="d_posti_1", carrier="posti", service=service, sender=SENDER,
        receiver=receiver, pickup_point_id=pickup_point_id,
        parcels=(Parcel(weight_kg=1.5), Parcel(weight_kg=0.5, length_cm=20, width_cm=10,
                                                height_cm=10)),
    )  # fmt: skip


LOCKER = Receiver(name="Testi Henkilö", postal_code="33100", town="Tampere", country="FI",
                  phone="+358401111111")  # fmt: skip
HOME = Receiver(name="Testi Henkilö", street="Kotikatu 1", postal_code="33100",
                town="Tampere", country="FI", phone="+358401111111")  # fmt: skip


def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path)
    return found.text if found is not None else None


async def book(session: aiohttp.ClientSession, sent: Shipment) -> tuple[ET.Element, Any]:
    """Book ``sent`` with the sandbox; the create-shipment document it got, and the app."""
    async with run_sandbox("posti", credentials=CREDENTIALS) as (url, app):
        posti = Posti(session=session, base_url=url, credentials=CREDENTIALS, timeout=5)
        await posti.create_shipment(sent)
        create = next(r for r in app[RECEIVED] if r.path == "/prinetti/create-shipment")
        return create.body, app


class TestPosti:
    async def test_signs_the_routing_block_with_hmac_sha256(
        self, session: aiohttp.ClientSession
    ) -> None:
        """Routing.Key is HMAC-SHA256(secret, account + Routing.Id), Routing.Version 2."""
        root, _app = await book(session, shipment("home_delivery", HOME))

        routing_id = text(root, "ROUTING/Routing.Id") or ""
        expected = hmac.new(b"sandbox-secret", b"sandbox-client" + routing_id.encode(),
                            hashlib.sha256).hexdigest()  # fmt: skip
        assert text(root, "ROUTING/Routing.Account") == "sandbox-client"
        assert text(root, "ROUTING/Routing.Version") == "2"
        assert text(root, "ROUTING/Routing.Key") == expected
        assert routing_id.isdigit()

    async def test_pickup_point_is_postipaketti_with_service_2106(
        self, session: aiohttp.ClientSession
    ) -> None:
        """A pickup-point parcel is product 2103 with add-on 2106 naming the point; no street."""
        root, _app = await book(session, shipment("pickup_point", LOCKER, "905253201"))

        service = root.find(".//Consignment.AdditionalService")
        assert text(root, ".//Consignment.Product") == "2103"
        assert service is not None
        assert text(service, "AdditionalService.ServiceCode") == "2106"
        specifier = service.find("AdditionalService.Specifier")
        assert specifier is not None
        assert (specifier.get("name"), specifier.text) == ("pickup_point_id", "905253201")
        assert root.find(".//Recipient.Addr1") is None

    async def test_home_delivery_is_kotipaketti_with_street(
        self, session: aiohttp.ClientSession
    ) -> None:
        """A home delivery is product 2104 with the street in Recipient.Addr1 and no add-on."""
        root, _app = await book(session, shipment("home_delivery", HOME))

        assert text(root, ".//Consignment.Product") == "2104"
        assert text(root, ".//Recipient.Addr1") == "Kotikatu 1"
        assert root.find(".//Consignment.AdditionalService") is None

    async def test_our_reference_and_every_parcel_are_sent(
        self, session: aiohttp.ClientSession
    ) -> None:
        """Consignment.Reference is our disclosure id; each parcel has weight, volume if known."""
        root, _app = await book(session, shipment("home_delivery", HOME))

        parcels = root.findall(".//Consignment.Parcel")
        assert text(root, ".//Consignment.Reference") == "d_posti_1"
        assert [text(p, "Parcel.Weight") for p in parcels] == ["1.5", "0.5"]
        assert [text(p, "Parcel.Volume") for p in parcels] == [None, "0.002"]

    async def test_label_is_fetched_by_tracking_code_after_booking(
        self, session: aiohttp.ClientSession
    ) -> None:
        """After booking, the label is asked for by both parcels' codes, with no receiver data."""
        _root, app = await book(session, shipment("home_delivery", HOME))

        label = app[RECEIVED][-1]
        assert label.path == "/prinetti/get-shipping-label"
        assert len(label.body.findall("PrintLabel/TrackingCode")) == 2
        assert "Testi" not in label.text()


class TestPostiSandbox:
    async def test_refuses_a_missing_element_in_prinetti_form(
        self, session: aiohttp.ClientSession, make_sandbox_post: Callable[..., Any]
    ) -> None:
        """A Kotipaketti without Recipient.Addr1 gets HTTP 400, response.status 230, the name."""
        posti = Posti(session=session, base_url="http://unused", credentials=CREDENTIALS,
                      timeout=5)  # fmt: skip
        document = posti.shipment_xml(shipment("home_delivery", LOCKER))

        status, answer = await make_sandbox_post("posti", "/prinetti/create-shipment", document,
                                                 "text/xml")  # fmt: skip

        root = ET.fromstring(answer)  # noqa: S314 - the sandbox's own answer
        assert status == 400
        assert root.tag == "Response"
        assert text(root, "response.status") == "230"
        assert "Recipient.Addr1" in (text(root, "response.message") or "")
