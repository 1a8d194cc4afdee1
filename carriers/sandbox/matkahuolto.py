"""Sandbox for Matkahuolto's mhshipmentxml (see carriers/matkahuolto.py for sources).

Checks UserId / Password (ErrorNbr 1001), refuses missing mandatory data with ErrorNbr 1003
and the element names (1013 for a Lähellä-paketti without DestinationPlaceCode), answers a
booking with ShipmentNumber and a base64 ShipmentPdf, and resolves our SenderReference on the
tracking interface.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from aiohttp import web

from carriers.matkahuolto import RECEIVER
from carriers.sandbox._core import (
    BOOKINGS,
    CONTROL,
    RECEIVED,
    Received,
    basic_auth,
    book,
    digits,
    received_body,
    same,
    sandbox_app,
)
from carriers.sandbox.credentials import SANDBOX_CREDENTIALS

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BASE_PATH", "CONTROL", "FIELDS", "RECEIVED", "create_app", "receiver_part", "rest_text",
]  # fmt: skip

BASE_PATH = "/mpaketti"
#: MHShipmentRequest receiver element -> our receiver field.
FIELDS: Mapping[str, str] = {theirs: ours for ours, theirs in RECEIVER.items()}

_MANDATORY = (
    "ShipmentType", "MessageType", "Weight", "Packages", "SenderId", "ReceiverName1",
    "ReceiverPostal", "ReceiverCity", "ProductCode",
)  # fmt: skip
_PRODUCT_NEEDS: Mapping[str, tuple[str, ...]] = {
    "34": ("ReceiverAddress", "ReceiverContactNumber"),
}
_NOTICE = ("ReceiverContactNumber", "ReceiverEmail")

_DEFAULT = SANDBOX_CREDENTIALS["matkahuolto"]
CREDENTIALS = web.AppKey("matkahuolto_credentials", tuple[str, str])


def create_app(
    *, user_id: str = _DEFAULT["user_id"], password: str = _DEFAULT["password"]
) -> web.Application:
    """The Matkahuolto sandbox; it accepts ``user_id`` / ``password`` (the adapter's)."""
    app = sandbox_app()
    app[CREDENTIALS] = (user_id, password)
    app.router.add_post(BASE_PATH + "/mhshipmentxml", _shipment)
    app.router.add_get(BASE_PATH + "/public/tracking", _tracking)
    return app


def receiver_part(received: Received) -> dict[str, str]:
    """The Receiver* elements that arrived, by Matkahuolto name."""
    shipment = received.body.find("Shipment")
    return {
        child.tag: child.text or ""
        for child in (shipment if shipment is not None else [])
        if child.tag.startswith("Receiver")
    }


def rest_text(received: Received) -> str:
    """Everything that arrived except the Receiver* elements."""
    root = ET.fromstring(received.raw)  # noqa: S314 - our own client's XML
    shipment = root.find("Shipment")
    for child in list(shipment if shipment is not None else []):
        if child.tag.startswith("Receiver") and shipment is not None:
            shipment.remove(child)
    return f"{received.path}\n{received.headers}\n{ET.tostring(root, encoding='unicode')}"


async def _shipment(request: web.Request) -> web.Response:
    root = received_body(request)
    if root is None or root.tag != "MHShipmentRequest" or root.find("Shipment") is None:
        return _error("1004", "Request is not a valid MHShipmentRequest")
    user_id, password = request.app[CREDENTIALS]
    if not (same(_text(root, "UserId"), user_id) and same(_text(root, "Password"), password)):
        return _error("1001", "Login failed")
    shipment = root.find("Shipment")
    assert shipment is not None  # checked above
    product = _text(shipment, "ProductCode")
    echo = f" (receiver {_text(shipment, 'ReceiverName1')!r})"  # real replies echo data
    needs = (*_MANDATORY, *_PRODUCT_NEEDS.get(product, ()))
    missing = [tag for tag in needs if not _text(shipment, tag)]
    if product == "80" and not any(_text(shipment, t) for t in _NOTICE):
        missing.append(" or ".join(_NOTICE))
    if missing:
        return _error("1003", "Mandatory data missing: " + ", ".join(missing) + echo)
    if product == "80" and not _text(shipment, "DestinationPlaceCode"):
        return _error("1013", "Destination missing: DestinationPlaceCode" + echo)
    reference = _text(shipment, "SenderReference")
    booking = book(request, reference=reference, tracking_number="MA" + digits(19))
    answer = ET.Element("MHShipmentReply")
    ET.SubElement(answer, "Version").text = "2.0"
    replied = ET.SubElement(answer, "Shipment")
    ET.SubElement(replied, "ShipmentNumber").text = booking.tracking_number
    ET.SubElement(replied, "SenderReference").text = reference
    ET.SubElement(answer, "ShipmentPdf").text = base64.b64encode(booking.label).decode()
    ET.SubElement(answer, "PdfName").text = f"{booking.tracking_number}.pdf"
    return _xml(answer)


async def _tracking(request: web.Request) -> web.Response:
    user_id, password = request.app[CREDENTIALS]
    auth = basic_auth(request)
    if auth is None or not (same(auth[0], user_id) and same(auth[1], password)):
        return web.Response(status=401, text="Unauthorized")
    answer = ET.Element("MHTrackingEvents")
    bookings = request.app[BOOKINGS]
    for wanted in request.query.get("ids", "").split(","):
        booking = bookings.get(wanted) or next(
            (b for b in bookings.values() if b.tracking_number == wanted), None
        )
        if booking is None:
            continue
        event = ET.SubElement(answer, "Event")
        ET.SubElement(event, "ShipmentNumber").text = booking.tracking_number
        ET.SubElement(event, "SenderReference").text = booking.reference
        ET.SubElement(event, "EventCode").text = "02"
    return _xml(answer)


def _text(root: ET.Element, tag: str) -> str:
    found = root.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _error(number: str, message: str) -> web.Response:
    answer = ET.Element("MHShipmentReply")
    ET.SubElement(answer, "Version").text = "2.0"
    ET.SubElement(answer, "ErrorNbr").text = number
    ET.SubElement(answer, "ErrorMsg").text = message
    return _xml(answer)


def _xml(root: ET.Element) -> web.Response:
    return web.Response(
        body=ET.tostring(root, encoding="utf-8", xml_declaration=True),
        content_type="text/xml",
        charset="utf-8",
    )
