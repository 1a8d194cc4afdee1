"""Sandbox for PostNord's Shipment API v3 EDI labels (see carriers/postnord.py for sources).

Checks the ``apikey`` query parameter (403 otherwise), refuses an instruction missing what
basic service 19 needs with HTTP 400 and a compositeFault naming the JSON paths, books with
an item id and a base64 PDF printout (basic service 24, a return, needs the consignor's party
and the consignee instead of a service point), finds bookings by reference on track-and-trace
v5, and takes EDI deletions on ``/rest/shipment/v3/edi`` (a booking it does not hold: HTTP
400, fault SHIPMENT_NOT_FOUND).
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from carriers.sandbox._core import (
    BOOKINGS,
    CANCELLED,
    CONTROL,
    RECEIVED,
    Received,
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
    "BASE_PATH", "CONTROL", "FIELDS", "RECEIVED", "SENDER_FIELDS", "create_app",
    "receiver_part", "rest_text", "return_rest_text", "sender_part",
]  # fmt: skip

BASE_PATH = ""
#: Consignee party key path -> our receiver field.
FIELDS: Mapping[str, str] = {
    "nameIdentification.name": "name",
    "address.streets": "street",
    "address.postalCode": "postal_code",
    "address.city": "town",
    "address.countryCode": "country",
    "contact.smsNo": "phone",
    "contact.emailAddress": "email",
}
#: What basic service 19 (MyPack Collect) needs, as paths into shipment[0].
_NEEDS_19 = (
    "parties.consignor.partyIdentification.partyId",
    "parties.consignee.party.nameIdentification.name",
    "parties.consignee.party.address.postalCode",
    "parties.consignee.party.address.city",
    "parties.consignee.party.address.countryCode",
    "parties.consignee.party.contact.smsNo",
    "parties.deliveryParty.partyIdentification.partyId",
    "totalGrossWeight.value",
)
#: What basic service 24 (Return Drop Off) needs: the customer as the consignor's party.
_NEEDS_24 = (
    "parties.consignor.partyIdentification.partyId",
    "parties.consignor.party.nameIdentification.name",
    "parties.consignor.party.address.postalCode",
    "parties.consignor.party.address.city",
    "parties.consignor.party.address.countryCode",
    "parties.consignee.party.nameIdentification.name",
    "parties.consignee.party.address.postalCode",
    "parties.consignee.party.address.city",
    "totalGrossWeight.value",
)
_NEEDS = {"19": _NEEDS_19, "24": _NEEDS_24}
#: Consignor party key path -> our customer field, for a return.
SENDER_FIELDS = FIELDS

_DEFAULT = SANDBOX_CREDENTIALS["postnord"]
CREDENTIALS = web.AppKey("postnord_credentials", tuple[str, str])


def create_app(
    *, api_key: str = _DEFAULT["api_key"], customer_number: str = _DEFAULT["customer_number"]
) -> web.Application:
    """The PostNord sandbox; it accepts ``api_key`` and ``customer_number`` (the adapter's)."""
    app = sandbox_app()
    app[CREDENTIALS] = (api_key, customer_number)
    app.router.add_post("/rest/shipment/v3/edi/labels/pdf", _labels)
    app.router.add_get("/rest/shipment/v5/trackandtrace/findByReference.json", _find)
    app.router.add_post("/rest/shipment/v3/edi", _edi)
    return app


def sender_part(received: Received) -> dict[str, str]:
    """The consignor party keys that arrived (a return: the customer's), as text."""
    party = _at(received.body, "shipment[0].parties.consignor.party") or {}
    return {path: _flat(value) for path, value in _leaves(party)}


def return_rest_text(received: Received) -> str:
    """Everything of a return booking that arrived except the consignor's party."""
    body = json.loads(received.raw)
    del body["shipment"][0]["parties"]["consignor"]["party"]
    return f"{received.path}?{received.query}\n{received.headers}\n{json.dumps(body)}"


def receiver_part(received: Received) -> dict[str, str]:
    """The consignee keys that arrived (dotted paths under its party), as text."""
    party = _at(received.body, "shipment[0].parties.consignee.party") or {}
    return {path: _flat(value) for path, value in _leaves(party)}


def rest_text(received: Received) -> str:
    """Everything that arrived except the consignee party."""
    body = json.loads(received.raw)
    del body["shipment"][0]["parties"]["consignee"]
    return f"{received.path}?{received.query}\n{received.headers}\n{json.dumps(body)}"


async def _labels(request: web.Request) -> web.Response:
    api_key, _customer = request.app[CREDENTIALS]
    if not same(request.query.get("apikey", ""), api_key):
        return _fault(403, "API_KEY_INVALID", "Invalid apikey", "apikey")
    body = received_body(request)
    shipment = _at(body, "shipment[0]")
    if not isinstance(shipment, dict):
        return _fault(400, "INVALID_REQUEST", "Unreadable instruction", "shipment")
    needs = _NEEDS.get(str(_at(shipment, "service.basicServiceCode")))
    if needs is None:
        return _fault(400, "INVALID_SERVICE", "Service not available in sandbox",
                      "shipment[0].service.basicServiceCode")  # fmt: skip
    missing = [path for path in needs if _at(shipment, path) in (None, "", [])]
    if missing:
        echo = _at(shipment, "parties.consignee.party.nameIdentification.name")
        return _fault(400, "MISSING_MANDATORY_VALUE",
                      f"Mandatory value missing for consignee {echo!r}",
                      *(f"shipment[0].{path}" for path in missing))  # fmt: skip
    reference = str(_at(shipment, "references[0].referenceNo") or "")
    booking = book(request, reference=reference, tracking_number="00370" + digits(13))
    return web.json_response({
        "bookingResponse": {
            "bookingId": booking.carrier_id,
            "idInformation": [{"status": "OK", "ids": [
                {"idType": "itemId", "value": booking.tracking_number}]}],
        },
        "labelPrintout": [{
            "itemIds": [{"itemIds": booking.tracking_number}],
            "printout": {"labelFormat": "PDF", "encoding": "base64",
                         "data": base64.b64encode(booking.label).decode()},
        }],
    }, status=201)  # fmt: skip


async def _find(request: web.Request) -> web.Response:
    api_key, customer = request.app[CREDENTIALS]
    if not same(request.query.get("apikey", ""), api_key):
        return _fault(403, "API_KEY_INVALID", "Invalid apikey", "apikey")
    found = request.app[BOOKINGS].get(request.query.get("referenceValue", ""))
    shipments = []
    if found is not None and same(request.query.get("customerNumber", ""), customer):
        shipments.append({"shipmentId": found.carrier_id,
                          "items": [{"itemId": found.tracking_number}]})  # fmt: skip
    return web.json_response({"TrackingInformationResponse": {"shipments": shipments}})


async def _edi(request: web.Request) -> web.Response:
    """An EDI instruction without labels; the sandbox takes deletions only."""
    api_key, customer = request.app[CREDENTIALS]
    if not same(request.query.get("apikey", ""), api_key):
        return _fault(403, "API_KEY_INVALID", "Invalid apikey", "apikey")
    body = received_body(request)
    shipment = _at(body, "shipment[0]")
    if not isinstance(shipment, dict) or _at(body, "updateIndicator") != "Deletion":
        return _fault(400, "INVALID_REQUEST", "Only deletions are taken here", "updateIndicator")
    needs = ("parties.consignor.partyIdentification.partyId",
             "goodsItem[0].items[0].itemIdentification.itemId")
    missing = [path for path in needs if not _at(shipment, path)]
    if missing:
        return _fault(400, "MISSING_MANDATORY_VALUE", "Mandatory value missing",
                      *(f"shipment[0].{path}" for path in missing))
    item = str(_at(shipment, "goodsItem[0].items[0].itemIdentification.itemId"))
    found = next((b for b in request.app[BOOKINGS].values() if b.tracking_number == item), None)
    if found is None or not same(
            str(_at(shipment, "parties.consignor.partyIdentification.partyId")), customer):
        return _fault(400, "SHIPMENT_NOT_FOUND", "No such shipment",
                      "shipment[0].goodsItem[0].items[0].itemIdentification.itemId")
    request.app[CANCELLED].add(found.reference)
    return web.json_response({"bookingResponse": {
        "bookingId": found.carrier_id,
        "idInformation": [{"status": "DELETED", "ids": [
            {"idType": "itemId", "value": found.tracking_number}]}],
    }}, status=201)  # fmt: skip


def _fault(status: int, fault_code: str, text: str, *params: str) -> web.Response:
    return web.json_response({"compositeFault": {"faults": [{
        "faultCode": fault_code, "explanationText": text,
        "paramValues": [{"param": param, "value": ""} for param in params],
    }]}}, status=status)  # fmt: skip


def _at(data: Any, path: str) -> Any:  # noqa: ANN401 - JSON
    """The value at a dotted path with ``[i]`` indexes, or None."""
    for part in path.split("."):
        name, _, index = part.partition("[")
        data = data.get(name) if isinstance(data, dict) else None
        if index and isinstance(data, list):
            position = int(index.rstrip("]"))
            data = data[position] if position < len(data) else None
    return data


def _leaves(data: Any, prefix: str = "") -> list[tuple[str, Any]]:  # noqa: ANN401 - JSON
    if isinstance(data, dict):
        return [leaf for key, value in data.items() for leaf in _leaves(value, prefix + key + ".")]
    return [(prefix.rstrip("."), data)]


def _flat(value: Any) -> str:  # noqa: ANN401 - JSON
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)
