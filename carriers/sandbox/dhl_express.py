"""Sandbox for DHL Express MyDHL API (see carriers/dhl_express.py for sources).

Checks Basic auth (401) and the Message-Reference header, refuses a request missing what DHL
requires with HTTP 400 and the problem JSON (additionalDetails naming the JSON paths), books
with a 10-digit waybill number and a base64 PDF label document (a return the same way, the
customer as shipperDetails), and answers ``/tracking`` by shipment reference. Like MyDHL it
has no shipment cancellation.

It also checks what a booking carries beyond the parties: ``valueAddedServices`` must name
known service codes, each once (TF Verified Delivery, among a few others); a shipment between
the EU customs territory and outside it must be ``isCustomsDeclarable`` with an
``exportDeclaration`` whose ``lineItems`` each hold number, description, price,
quantity{value, unitOfMeasurement}, manufacturerCountry and weight, with an ``invoice``
{number, date} and a ``declaredValueCurrency``. Anything else is refused with the problem
JSON naming the JSON path, as MyDHL's schema validation does.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

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
from gateway.models import EU_CUSTOMS_TERRITORY

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BASE_PATH", "CONTROL", "FIELDS", "RECEIVED", "SENDER_FIELDS", "create_app",
    "receiver_part", "rest_text", "return_rest_text", "sender_part",
]  # fmt: skip

BASE_PATH = "/mydhlapi"
#: receiverDetails key path -> our receiver field (the name is required in two keys).
FIELDS: Mapping[str, str] = {
    "contactInformation.fullName": "name",
    "contactInformation.companyName": "name",
    "postalAddress.addressLine1": "street",
    "postalAddress.postalCode": "postal_code",
    "postalAddress.cityName": "town",
    "postalAddress.countryCode": "country",
    "contactInformation.phone": "phone",
    "contactInformation.email": "email",
}
_REQUIRED = {
    "/customerDetails/receiverDetails/postalAddress": (
        "postalCode", "cityName", "countryCode", "addressLine1"),
    "/customerDetails/receiverDetails/contactInformation": ("phone", "companyName", "fullName"),
    "/customerDetails/shipperDetails/postalAddress": (
        "postalCode", "cityName", "countryCode", "addressLine1"),
    "/customerDetails/shipperDetails/contactInformation": ("phone", "companyName", "fullName"),
    "": ("plannedShippingDateAndTime", "productCode", "accounts"),
}  # fmt: skip

#: shipperDetails key path -> our customer field, for a return.
SENDER_FIELDS = FIELDS

#: Value added service codes the sandbox accepts (karrio's MyDHL mapping): TF Verified
#: Delivery, SF Direct Signature, II insurance, DD duty and tax paid, AA Saturday delivery.
VALUE_ADDED_SERVICES = frozenset({"TF", "SF", "II", "DD", "AA"})
_LINE_ITEM = ("number", "description", "price", "quantity", "manufacturerCountry", "weight")

_DEFAULT = SANDBOX_CREDENTIALS["dhl_express"]
CREDENTIALS = web.AppKey("dhl_credentials", tuple[str, str, str])


def create_app(
    *,
    api_key: str = _DEFAULT["api_key"],
    api_secret: str = _DEFAULT["api_secret"],
    account_number: str = _DEFAULT["account_number"],
) -> web.Application:
    """The DHL Express sandbox; it accepts the adapter's api_key, api_secret, account_number."""
    app = sandbox_app()
    app[CREDENTIALS] = (api_key, api_secret, account_number)
    app.router.add_post(BASE_PATH + "/shipments", _shipments)
    app.router.add_get(BASE_PATH + "/tracking", _tracking)
    return app


def receiver_part(received: Received) -> dict[str, str]:
    """The receiverDetails keys that arrived, as dotted paths."""
    details = (received.body or {}).get("customerDetails", {}).get("receiverDetails", {})
    return {
        f"{part}.{key}": str(value)
        for part, values in details.items()
        for key, value in (values.items() if isinstance(values, dict) else [("", values)])
    }


def sender_part(received: Received) -> dict[str, str]:
    """The shipperDetails keys that arrived (a return: the customer's), as dotted paths."""
    details = (received.body or {}).get("customerDetails", {}).get("shipperDetails", {})
    return {
        f"{part}.{key}": str(value)
        for part, values in details.items()
        for key, value in (values.items() if isinstance(values, dict) else [("", values)])
    }


def return_rest_text(received: Received) -> str:
    """Everything of a return booking that arrived except shipperDetails."""
    return rest_text(received, without="shipperDetails")


def rest_text(received: Received, *, without: str = "receiverDetails") -> str:
    """Everything that arrived except the ``without`` party of customerDetails."""
    body = json.loads(received.raw)
    del body["customerDetails"][without]
    return f"{received.path}?{received.query}\n{received.headers}\n{json.dumps(body)}"


async def _shipments(request: web.Request) -> web.Response:
    problem = _refuse_caller(request)
    if problem is not None:
        return problem
    body = received_body(request)
    if not isinstance(body, dict):
        return _problem(400, "Bad request", ["request body is not JSON"])
    details = []
    for where, keys in _REQUIRED.items():
        found = _at(body, where)
        missing = [k for k in keys if not (isinstance(found, dict) and found.get(k))]
        if missing:
            names = ", ".join(f'"{k}"' for k in missing)
            details.append(f"object has missing required properties ([{names}]) at {where or '/'}")
    details += _services(body) + _customs(body)
    accounts = [a for a in body.get("accounts") or [] if isinstance(a, dict)]
    if not accounts or not all(same(str(a.get("number", "")), request.app[CREDENTIALS][2])
                               for a in accounts):
        details.append("invalid shipper account at /accounts/0/number")
    if details:
        echo = _at(body, "/customerDetails/receiverDetails/contactInformation") or {}
        details.append(f"receiver {echo.get('fullName')!r}")  # real answers echo input
        return _problem(400, "Validation error", details)
    reference = next((r.get("value", "") for r in body.get("customerReferences", [])), "")
    booking = book(request, reference=reference, tracking_number=digits(10))
    return web.json_response({
        "url": f"{BASE_PATH}/shipments/{booking.tracking_number}",
        "shipmentTrackingNumber": booking.tracking_number,
        "packages": [{"referenceNumber": 1, "trackingNumber": "JD01" + digits(18)}],
        "documents": [{"imageFormat": "PDF", "typeCode": "label",
                       "content": base64.b64encode(booking.label).decode()}],
    }, status=201)  # fmt: skip


async def _tracking(request: web.Request) -> web.Response:
    problem = _refuse_caller(request)
    if problem is not None:
        return problem
    found = request.app[BOOKINGS].get(request.query.get("shipmentReference", ""))
    if found is None or not same(request.query.get("shipperAccountNumber", ""),
                                 request.app[CREDENTIALS][2]):  # fmt: skip
        return _problem(404, "Not Found", ["no shipment found for the reference"])
    return web.json_response({"shipments": [
        {"shipmentTrackingNumber": found.tracking_number, "status": "Success"}]})  # fmt: skip


def _services(body: dict[str, Any]) -> list[str]:
    services = body.get("valueAddedServices", [])
    if not isinstance(services, list):
        return ["valueAddedServices must be an array at /valueAddedServices"]
    codes = [s.get("serviceCode") if isinstance(s, dict) else None for s in services]
    return [f"invalid value added service at /valueAddedServices/{i}/serviceCode"
            for i, code in enumerate(codes)
            if code not in VALUE_ADDED_SERVICES or codes.index(code) != i]


def _customs(body: dict[str, Any]) -> list[str]:
    """What a dutiable shipment lacks: crossing the EU customs border, the line items and
    invoice of the export declaration."""
    content = body.get("content")
    if not isinstance(content, dict):
        content = {}
    countries = {_at(body, f"/customerDetails/{p}/postalAddress/countryCode")
                 for p in ("shipperDetails", "receiverDetails")}
    inside = {c in EU_CUSTOMS_TERRITORY for c in countries}
    declared = content.get("isCustomsDeclarable") is True
    if len(countries) == 2 and inside == {True, False} and not declared:  # noqa: PLR2004
        return ["dutiable goods need isCustomsDeclarable true at /content/isCustomsDeclarable"]
    if not declared:
        return []
    problems = []
    if not content.get("declaredValueCurrency"):
        problems.append('object has missing required properties (["declaredValueCurrency"]) '
                        "at /content")
    declaration = content.get("exportDeclaration")
    where = "/content/exportDeclaration"
    if not isinstance(declaration, dict):
        return [*problems, f"object has missing required properties at {where}"]
    invoice = declaration.get("invoice")
    if not (isinstance(invoice, dict) and invoice.get("number") and invoice.get("date")):
        problems.append(f'object has missing required properties (["invoice"]) at {where}')
    lines = declaration.get("lineItems")
    if not isinstance(lines, list) or not lines:
        return [*problems, f'object has missing required properties (["lineItems"]) at {where}']
    for index, line in enumerate(lines):
        at = f"{where}/lineItems/{index}"
        missing = [k for k in _LINE_ITEM if not (isinstance(line, dict) and line.get(k))]
        if missing:
            names = ", ".join(f'"{k}"' for k in missing)
            problems.append(f"object has missing required properties ([{names}]) at {at}")
            continue
        quantity = line["quantity"]
        if not (isinstance(quantity, dict) and isinstance(quantity.get("value"), int)
                and quantity.get("unitOfMeasurement")):
            problems.append(f"invalid quantity at {at}/quantity")
        problems.extend(
            f"invalid commodity code at {at}/commodityCodes"
            for code in line.get("commodityCodes", [])
            if not (isinstance(code, dict) and code.get("typeCode") in ("outbound", "inbound")
                    and str(code.get("value", "")).isdigit()))
    return problems


def _refuse_caller(request: web.Request) -> web.Response | None:
    api_key, api_secret, _account = request.app[CREDENTIALS]
    auth = basic_auth(request)
    if auth is None or not (same(auth[0], api_key) and same(auth[1], api_secret)):
        return _problem(401, "Unauthorized", ["invalid credentials"])
    if not request.headers.get("Message-Reference"):
        return _problem(400, "Bad request", ["missing header Message-Reference"])
    return None


def _problem(status: int, title: str, details: list[str]) -> web.Response:
    return web.json_response({
        "instance": "/expressapi/shipments", "title": title, "status": str(status),
        "detail": details[0] if len(details) == 1 else "Multiple problems found",
        "additionalDetails": details,
    }, status=status)  # fmt: skip


def _at(body: Any, pointer: str) -> Any:  # noqa: ANN401 - JSON
    for part in filter(None, pointer.split("/")):
        body = body.get(part) if isinstance(body, dict) else None
    return body
