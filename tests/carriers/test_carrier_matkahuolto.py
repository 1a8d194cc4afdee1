"""Matkahuolto's mhshipmentxml wire format."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pytest

from carriers.matkahuolto import Matkahuolto
from carriers.sandbox import RECEIVED, run_sandbox
from gateway.errors import CarrierRejected
from gateway.models import Parcel, Party, Receiver, Shipment

if TYPE_CHECKING:
    import aiohttp

CREDENTIALS = {"user_id": "9430023", "password": "sandbox-secret"}
SENDER = Party(
    name="Verkkokauppa Oy", street="Teollisuuskatu 1", postal_code="00510", town="Helsinki",
    country="FI", phone="+358900000001", email="logistics@shop.invalid",
    business_id="1234567-8",
)  # fmt: skip
NEARBY = Receiver(name="Testi Henkilö", postal_code="33100", town="Tampere",
                  phone="+358401111111")  # fmt: skip
HOME = Receiver(name="Testi Henkilö", street="Kotikatu 1", postal_code="33100",
                town="Tampere", phone="+358401111111")  # fmt: skip
SandboxPost = Callable[..., Awaitable[tuple[int, bytes]]]


def shipment(service: str, receiver: Receiver, pickup_point_id: str | None = None) -> Shipment:
    return Shipment(
        reference="d_mh_1", carrier="matkahuolto", service=service, sender=SENDER,
        receiver=receiver, pickup_point_id=pickup_point_id,
        parcels=(Parcel(weight_kg=1.5), Parcel(weight_kg=0.25)),
    )  # fmt: skip


def adapter(session: aiohttp.ClientSession, url: str = "http://unused") -> Matkahuolto:
    return Matkahuolto(session=session, base_url=url, credentials=CREDENTIALS, timeout=5)


def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path)
    return found.text if found is not None else None


async def sent(session: aiohttp.ClientSession, shipped: Shipment) -> ET.Element:
    """The Shipment element the sandbox received for a successful booking of ``shipped``."""
    async with run_sandbox("matkahuolto", credentials=CREDENTIALS) as (url, app):
        await adapter(session, url).create_shipment(shipped)
        element: ET.Element | None = app[RECEIVED][-1].body.find("Shipment")
        assert element is not None
        return element


class TestMatkahuolto:
    async def test_pickup_point_is_lahella_paketti_to_the_destination_place(
        self, session: aiohttp.ClientSession
    ) -> None:
        """Lähellä-paketti is ProductCode 80 with DestinationPlaceCode and no ReceiverAddress."""
        element = await sent(session, shipment("pickup_point", NEARBY, "5410"))

        assert text(element, "ProductCode") == "80"
        assert text(element, "DestinationPlaceCode") == "5410"
        assert element.find("ReceiverAddress") is None

    async def test_home_delivery_is_kotijakelu_with_the_street(
        self, session: aiohttp.ClientSession
    ) -> None:
        """Kotijakelu is ProductCode 34 with ReceiverAddress and no DestinationPlaceCode."""
        element = await sent(session, shipment("home_delivery", HOME))

        assert text(element, "ProductCode") == "34"
        assert text(element, "ReceiverAddress") == "Kotikatu 1"
        assert element.find("DestinationPlaceCode") is None

    async def test_sends_our_reference_sender_account_and_parcel_totals(
        self, session: aiohttp.ClientSession
    ) -> None:
        """SenderReference is our id, SenderId the account, Weight and Packages the totals."""
        element = await sent(session, shipment("home_delivery", HOME))

        assert text(element, "SenderReference") == "d_mh_1"
        assert text(element, "SenderId") == "9430023"
        assert (text(element, "Weight"), text(element, "Packages")) == ("1.75", "2")
        assert element.find("ReceiverContactName") is None

    async def test_arrival_notice_needs_phone_or_email(
        self, session: aiohttp.ClientSession
    ) -> None:
        """A Lähellä-paketti with neither phone nor e-mail is refused, naming both elements."""
        silent = Receiver(name="Testi Henkilö", postal_code="33100", town="Tampere")
        async with run_sandbox("matkahuolto", credentials=CREDENTIALS) as (url, _app):
            with pytest.raises(CarrierRejected) as caught:
                await adapter(session, url).create_shipment(
                    shipment("pickup_point", silent, "5410")
                )

        assert "ReceiverContactNumber" in str(caught.value)
        assert "ReceiverEmail" in str(caught.value)
        assert "Testi" not in str(caught.value)

    async def test_found_booking_has_no_label_to_give(self, session: aiohttp.ClientSession) -> None:
        """Matkahuolto cannot re-issue a label: a found booking carries an empty one."""
        async with run_sandbox("matkahuolto", credentials=CREDENTIALS) as (url, _app):
            booked = await adapter(session, url).create_shipment(shipment("home_delivery", HOME))
            found = await adapter(session, url).find_shipment("d_mh_1")

        assert found is not None
        assert (found.tracking_number, found.label) == (booked.tracking_number, b"")


class TestMatkahuoltoSandbox:
    async def test_refuses_missing_data_with_error_nbr_1003(
        self, session: aiohttp.ClientSession, make_sandbox_post: SandboxPost
    ) -> None:
        """Missing ReceiverAddress on Kotijakelu: an MHShipmentReply with ErrorNbr 1003."""
        document = adapter(session).shipment_xml(shipment("home_delivery", NEARBY))

        status, answer = await make_sandbox_post(
            "matkahuolto", "/mhshipmentxml", document, "text/xml"
        )

        root = ET.fromstring(answer)  # noqa: S314 - the sandbox's own answer
        assert status == 200
        assert root.tag == "MHShipmentReply"
        assert text(root, "ErrorNbr") == "1003"
        assert "ReceiverAddress" in (text(root, "ErrorMsg") or "")
