"""Matkahuolto through its shipment XML interface (mhshipmentxml).

What this mirrors, and from where:

- Matkahuolto's shipment-document interface as summarised in public integrations
  (spree_matkahuolto ``lib/spree_matkahuolto/api/shipping_label.rb``, the OpenCart
  "Matkahuolto-Osoitekortti" library, and a Go adapter's ``matkahuolto.go`` with notes on
  version 2.24): ``POST https://extservices.matkahuolto.fi/mpaketti/mhshipmentxml`` (test host
  ``extservicestest``), ``Content-Type: text/xml``, root ``MHShipmentRequest`` with
  ``UserId`` / ``Password`` / ``Version`` and one flat ``Shipment`` element: ShipmentType (N),
  MessageType (N = new), Weight, Volume, Packages, SenderId, Sender*, SenderReference,
  ReceiverName1, ReceiverAddress, ReceiverPostal, ReceiverCity, ReceiverContactNumber,
  ReceiverEmail, DestinationPlaceCode (the pickup point), ProductCode. Mandatory: shipment and
  message type, weight, package count, sender account, receiver name, postal code and city,
  product code; the receiver's mobile number or e-mail is required for the arrival notice.
- Product codes: 80 Lähellä-paketti (pickup point), 34 Kotijakelu (home delivery).
- The answer is ``MHShipmentReply`` with Shipment/ShipmentNumber and SenderReference, the
  label as base64 ``ShipmentPdf`` (+ PdfName), or ``ErrorNbr`` / ``ErrorMsg`` (top level or
  under Shipment; 1001 login, 1003 mandatory data, 1005 system, 1013 destination, ...).

Assumptions, mirrored by the sandbox: errors come back as HTTP 200 with ErrorNbr (non-2xx is
also read as a refusal); a booking is found again through the tracking interface
(``GET /public/tracking?ids=<our SenderReference>``, Basic auth, ``MHTrackingEvents``), which
carries SenderReference on each event. Matkahuolto cannot hand a label out again, so
find_shipment returns an empty label.

Not offered: none of those sources shows a cancellation or a return booking in the shipment
XML interface (its MessageType N books a new shipment; nothing removes one, and no return
product is documented for it). Cancel and return therefore answer 501
``carrier-operation-unsupported`` without sending anything: cancel an unused Matkahuolto
shipment and book its returns in Matkahuolto's own portal, where an unused shipment is not
charged.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, ClassVar

import aiohttp

from carriers._core import (
    Reply,
    ServiceSpec,
    code,
    exchange,
    fields_named,
    given,
    refused,
    sub,
    total_weight,
    unsupported,
    volume_m3,
    xml_bytes,
    xml_text,
)
from gateway.errors import CarrierOutcomeUnknown, CarrierUnavailable
from gateway.models import Cancellation, ReturnShipment, Shipment, ShipmentResult

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Our receiver field -> MHShipmentRequest element.
RECEIVER: Mapping[str, str] = {
    "name": "ReceiverName1",
    "street": "ReceiverAddress",
    "postal_code": "ReceiverPostal",
    "town": "ReceiverCity",
    "country": "ReceiverCountry",
    "phone": "ReceiverContactNumber",
    "email": "ReceiverEmail",
}
PRODUCTS: Mapping[str, str] = {"pickup_point": "80", "home_delivery": "34"}
#: ErrorNbr values that mean Matkahuolto failed on its side (1005: system error).
SYSTEM_FAILURE = frozenset({"1005"})
_KNOWN_ELEMENTS = (
    *RECEIVER.values(), "DestinationPlaceCode", "ProductCode", "SenderId", "SenderReference",
    "SenderName1", "SenderPostal", "SenderCity", "Weight", "Packages", "ShipmentType",
    "MessageType", "UserId", "Password",
)  # fmt: skip


class Matkahuolto:
    """Matkahuolto parcels: Lähellä-paketti to a pickup point, Kotijakelu to the door."""

    name: ClassVar[str] = "matkahuolto"
    services: ClassVar[Mapping[str, ServiceSpec]] = {
        "pickup_point": ServiceSpec(
            required=frozenset({"name", "postal_code", "town"}),
            needs_pickup_point=True,
            any_of=frozenset({"phone", "email"}),
        ),
        "home_delivery": ServiceSpec(
            required=frozenset({"name", "street", "postal_code", "town", "phone"}),
        ),
    }
    credential_names: ClassVar[tuple[str, ...]] = ("user_id", "password")
    operations: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Mapping[str, str],
        timeout: float,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._user_id = credentials["user_id"]
        self._password = credentials["password"]
        self._timeout = timeout

    async def create_shipment(self, shipment: Shipment) -> ShipmentResult:
        reply = await exchange(
            self._session,
            "POST",
            self._base_url + "/mhshipmentxml",
            carrier=self.name,
            timeout=self._timeout,
            may_book=True,
            data=self.shipment_xml(shipment),
            headers={"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml"},
        )
        answer = self._answer(reply)
        number = xml_text(answer, "Shipment/ShipmentNumber")
        label = xml_text(answer, "ShipmentPdf")
        if number is None or label is None:
            raise CarrierOutcomeUnknown(
                f"{self.name}: booking answer lacked ShipmentNumber or ShipmentPdf"
            )
        return ShipmentResult(
            tracking_number=number, label=base64.b64decode(label), label_format="pdf"
        )

    async def find_shipment(self, reference: str) -> ShipmentResult | None:
        reply = await exchange(
            self._session, "GET", self._base_url + "/public/tracking", carrier=self.name,
            timeout=self._timeout, may_book=False, params={"ids": reference},
            headers={"Authorization": aiohttp.encode_basic_auth(self._user_id, self._password),
                     "Accept": "text/xml"},
        )  # fmt: skip
        events = reply.xml()
        if reply.status != 200 or events is None:  # noqa: PLR2004
            raise CarrierUnavailable(f"{self.name}: look-up failed (HTTP {reply.status})")
        for event in events.iter("Event"):
            if xml_text(event, "SenderReference") == reference:
                number = xml_text(event, "ShipmentNumber")
                if number:
                    return ShipmentResult(tracking_number=number, label=b"", label_format="pdf")
        return None

    async def cancel_shipment(self, cancellation: Cancellation) -> None:
        raise unsupported(self.name, "cancellation", "mhshipmentxml only books")

    async def create_return(self, shipment: ReturnShipment) -> ShipmentResult:
        raise unsupported(self.name, "return label", "mhshipmentxml documents no return product")

    def shipment_xml(self, shipment: Shipment) -> bytes:
        """The MHShipmentRequest for ``shipment``: receiver elements only for given fields."""
        root = ET.Element("MHShipmentRequest")
        sub(root, "UserId", self._user_id)
        sub(root, "Password", self._password)
        sub(root, "Version", "2.0")
        body = sub(root, "Shipment")
        sub(body, "ShipmentType", "N")
        sub(body, "MessageType", "N")
        sub(body, "Weight", total_weight(shipment.parcels))
        volumes = [volume_m3(p) for p in shipment.parcels]
        if all(v is not None for v in volumes):
            sub(body, "Volume", round(sum(v for v in volumes if v is not None), 4))
        sub(body, "Packages", len(shipment.parcels))
        party = shipment.sender
        for tag, value in (
            ("SenderId", self._user_id), ("SenderName1", party.name),
            ("SenderAddress", party.street), ("SenderPostal", party.postal_code),
            ("SenderCity", party.town), ("SenderCountry", party.country),
            ("SenderContactNumber", party.phone), ("SenderEmail", party.email),
            ("SenderReference", shipment.reference),
        ):  # fmt: skip
            sub(body, tag, value)
        for tag, value in given(shipment.receiver, RECEIVER).items():
            sub(body, tag, value)
        if shipment.pickup_point_id is not None:
            sub(body, "DestinationPlaceCode", shipment.pickup_point_id)
        sub(body, "ProductCode", PRODUCTS.get(shipment.service, shipment.service))
        return xml_bytes(root)

    def _answer(self, reply: Reply) -> ET.Element:
        """The MHShipmentReply of a booking; an error raises with ErrorNbr and element names."""
        answer = reply.xml()
        error = xml_text(answer, "ErrorNbr") or xml_text(answer, "Shipment/ErrorNbr")
        if answer is not None and error in (None, "0") and reply.status < 300:  # noqa: PLR2004
            return answer
        if error in SYSTEM_FAILURE:
            raise CarrierUnavailable(f"{self.name}: system error (ErrorNbr {code(error)})")
        message = (
            (xml_text(answer, "ErrorMsg") or "")
            + " "
            + (xml_text(answer, "Shipment/ErrorMsg") or "")
        )
        raise refused(self.name, reply.status, [error] if error else [],
                      fields_named(message, _KNOWN_ELEMENTS))  # fmt: skip
