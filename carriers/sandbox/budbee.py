"""Sandbox for Budbee's ``/multiple/orders`` (see carriers/budbee.py for sources).

Checks Basic auth (401) and the vendor media type (415), refuses an order missing what the
delivery kind needs with HTTP 400 and {errors[{code, field, message}]}, books with a package
id and a label URL on this server, finds orders by cart id, and removes an order on
``DELETE /multiple/orders/{id}`` (404 for an order it does not hold). It books no returns.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from carriers.budbee import BOX_PRODUCT, MEDIA_TYPE
from carriers.sandbox._core import (
    BOOKINGS,
    CANCELLED,
    CONTROL,
    RECEIVED,
    Booking,
    Received,
    basic_auth,
    book,
    booking_by,
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

BASE_PATH = ""
#: delivery key path -> our receiver field.
FIELDS: Mapping[str, str] = {
    "name": "name",
    "telephoneNumber": "phone",
    "email": "email",
    "doorCode": "door_code",
    "address.street": "street",
    "address.postalCode": "postal_code",
    "address.city": "town",
    "address.country": "country",
}
_COMMON = ("name", "telephoneNumber", "address.postalCode", "address.city", "address.country")

_DEFAULT = SANDBOX_CREDENTIALS["budbee"]
CREDENTIALS = web.AppKey("budbee_credentials", tuple[str, str, str])
_PACKAGES = web.AppKey("budbee_packages", dict[str, Booking])


def create_app(
    *,
    api_key: str = _DEFAULT["api_key"],
    api_secret: str = _DEFAULT["api_secret"],
    collection_id: str = _DEFAULT["collection_id"],
) -> web.Application:
    """The Budbee sandbox; it accepts the adapter's api_key, api_secret and collection_id."""
    app = sandbox_app()
    app[CREDENTIALS] = (api_key, api_secret, collection_id)
    app[_PACKAGES] = {}
    app.router.add_post("/multiple/orders", _create)
    app.router.add_get("/multiple/orders", _find)
    app.router.add_delete("/multiple/orders/{id}", _remove)
    app.router.add_get("/labels/{package}.pdf", _label)
    return app


def receiver_part(received: Received) -> dict[str, str]:
    """The delivery keys that arrived, as dotted paths."""
    delivery = (received.body or {}).get("delivery", {})
    flat = {key: str(value) for key, value in delivery.items() if key != "address"}
    flat.update({f"address.{k}": str(v) for k, v in delivery.get("address", {}).items()})
    return flat


def rest_text(received: Received) -> str:
    """Everything that arrived except the delivery object."""
    body = json.loads(received.raw)
    del body["delivery"]
    return f"{received.path}?{received.query}\n{received.headers}\n{json.dumps(body)}"


async def _create(request: web.Request) -> web.Response:
    refusal = _refuse_caller(request, body=True)
    if refusal is not None:
        return refusal
    order = received_body(request)
    if not isinstance(order, dict):
        return _errors(400, [("INVALID_JSON", "", "body is not JSON")])
    delivery = order.get("delivery") or {}
    box = BOX_PRODUCT in (order.get("productCodes") or [])
    needs = [*_COMMON, *(() if box else ("address.street",))]
    echo = f"for {delivery.get('name')!r}"  # real answers echo input
    problems = [("MISSING_FIELD", f"delivery.{path}", f"{path} is required {echo}")
                for path in needs if not _at(delivery, path)]  # fmt: skip
    if box and not _at(order, "boxDelivery.selectedBox"):
        problems.append(("MISSING_FIELD", "boxDelivery.selectedBox", "a box must be selected"))
    if not same(str(order.get("collectionId", "")), request.app[CREDENTIALS][2]):
        problems.append(("INVALID_COLLECTION", "collectionId", "unknown collection"))
    if not _at(order, "cart.cartId"):
        problems.append(("MISSING_FIELD", "cart.cartId", "cart id is required"))
    if problems:
        return _errors(400, problems)
    booking = book(request, reference=str(order["cart"]["cartId"]),
                   tracking_number="BB" + digits(14))  # fmt: skip
    request.app[_PACKAGES][booking.tracking_number] = booking
    return web.json_response(_order(request, booking), status=201, content_type=MEDIA_TYPE)


async def _find(request: web.Request) -> web.Response:
    refusal = _refuse_caller(request, body=False)
    if refusal is not None:
        return refusal
    booking = request.app[BOOKINGS].get(request.query.get("cartId", ""))
    if booking is None:
        return _errors(404, [("NOT_FOUND", "cartId", "no order for the cart")])
    return web.json_response(_order(request, booking), content_type=MEDIA_TYPE)


async def _remove(request: web.Request) -> web.Response:
    refusal = _refuse_caller(request, body=False)
    if refusal is not None:
        return refusal
    booking = booking_by(request, carrier_id=request.match_info["id"])
    if booking is None:
        return _errors(404, [("NOT_FOUND", "id", "no such order")])
    request.app[CANCELLED].add(booking.reference)
    return web.Response(status=204)


async def _label(request: web.Request) -> web.Response:
    refusal = _refuse_caller(request, body=False)
    if refusal is not None:
        return refusal
    booking = request.app[_PACKAGES].get(request.match_info["package"])
    if booking is None:
        return _errors(404, [("NOT_FOUND", "packageId", "no such parcel")])
    return web.Response(body=booking.label, content_type="application/pdf")


def _order(request: web.Request, booking: Booking) -> dict[str, Any]:
    origin = str(request.url.origin())
    return {
        "id": booking.carrier_id,
        "cart": {"cartId": booking.reference},
        "parcels": [{
            "shipmentId": booking.reference, "packageId": booking.tracking_number,
            "label": f"{origin}/labels/{booking.tracking_number}.pdf",
            "trackingUrl": f"{origin}/tracking/{booking.tracking_number}",
        }],
    }  # fmt: skip


def _refuse_caller(request: web.Request, *, body: bool) -> web.Response | None:
    api_key, api_secret, _collection = request.app[CREDENTIALS]
    auth = basic_auth(request)
    if auth is None or not (same(auth[0], api_key) and same(auth[1], api_secret)):
        return _errors(401, [("UNAUTHORIZED", "", "invalid credentials")])
    if body and request.content_type != MEDIA_TYPE:
        return _errors(415, [("UNSUPPORTED_MEDIA_TYPE", "", f"use {MEDIA_TYPE}")])
    return None


def _errors(status: int, problems: list[tuple[str, str, str]]) -> web.Response:
    return web.json_response(
        {"errors": [{"code": c, "field": f, "message": m} for c, f, m in problems]},
        status=status,
    )


def _at(data: Any, path: str) -> Any:  # noqa: ANN401 - JSON
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data
