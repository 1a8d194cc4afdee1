"""Parse the order pipeline's hook payload into an Order. A filter between the wire and the model.

Error messages name the offending field path, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from gateway.errors import BadRequest
from gateway.models import (
    RETURN_SERVICE,
    Addon,
    Address,
    Customer,
    Delivery,
    LineItem,
    Order,
    Parcel,
    ReturnOrder,
)

#: The event type the pipeline sends when an order is ready to hand to a carrier.
ORDER_EVENT = "order.ready_to_ship"
#: The order was cancelled: cancel the shipment booked for it (``data.disclosure_id``).
CANCEL_EVENT = "order.cancelled"
#: The customer returns the parcel: book a return label (``data.return.carrier``).
RETURN_EVENT = "order.return_requested"
EVENTS = (ORDER_EVENT, CANCEL_EVENT, RETURN_EVENT)
_MAX_TEXT = 200
_MAX_PARCELS = 50
_MAX_ADDONS = 10
_MAX_ITEMS = 100
#: An add-on's name and its parameters' names: lower-case identifiers.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


@attrs.frozen
class CancelRequest:
    """``order.cancelled``: cancel the booking the gateway answered with ``disclosure_id``."""

    order_id: str
    disclosure_id: str


def parse_event(body: bytes) -> Order | CancelRequest:
    """Any of the pipeline's events: an order to ship, a return to book (a ReturnOrder), or a
    cancellation."""
    event = _event(body)
    kind = event.get("type")
    if kind == CANCEL_EVENT:
        data = _object(event.get("data"), "$.data")
        return CancelRequest(order_id=_text(data, "order_id", "$.data"),  # type: ignore[arg-type]
                             disclosure_id=_text(data, "disclosure_id", "$.data"))  # type: ignore[arg-type]
    if kind == RETURN_EVENT:
        return _return(_object(event.get("data"), "$.data"))
    return parse_order_event(body, event)


def _event(body: bytes) -> Mapping[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON") from None
    event = _object(doc, "$")
    if event.get("type") not in EVENTS:
        raise BadRequest(f"$.type must be one of {', '.join(EVENTS)}")
    return event


def _return(data: Mapping[str, Any]) -> ReturnOrder:
    returning = _object(data.get("return"), "$.data.return")
    carrier = _text(returning, "carrier", "$.data.return")
    order = _order(data, {"carrier": carrier, "service": RETURN_SERVICE})
    return ReturnOrder(id=order.id, customer=order.customer, delivery=order.delivery,
                       parcels=order.parcels, items=order.items)


def parse_order_event(body: bytes, event: Mapping[str, Any] | None = None) -> Order:
    event = _event(body) if event is None else event
    if event.get("type") != ORDER_EVENT:
        raise BadRequest(f"$.type must be {ORDER_EVENT!r}")
    data = _object(event.get("data"), "$.data")
    return _order(data, _object(data.get("delivery"), "$.data.delivery"))


def _order(data: Mapping[str, Any], delivery: Mapping[str, Any]) -> Order:
    customer = _object(data.get("customer"), "$.data.customer")
    parcels = data.get("parcels")
    if not isinstance(parcels, list) or not 1 <= len(parcels) <= _MAX_PARCELS:
        raise BadRequest(f"$.data.parcels must be a list of 1 to {_MAX_PARCELS} parcels")
    notice = _text(delivery, "notice", "$.data.delivery", required=False)
    if notice not in (None, "sms", "email"):
        raise BadRequest("$.data.delivery.notice must be 'sms' or 'email'")
    consent = customer.get("marketing_consent", False)
    if not isinstance(consent, bool):
        raise BadRequest("$.data.customer.marketing_consent must be a boolean")
    c = "$.data.customer"
    return Order(
        id=_text(data, "order_id", "$.data"),  # type: ignore[arg-type]
        customer=Customer(
            id=_text(customer, "id", c),  # type: ignore[arg-type]
            first_name=_text(customer, "first_name", c),  # type: ignore[arg-type]
            last_name=_text(customer, "last_name", c),  # type: ignore[arg-type]
            address=Address(
                street=_text(customer, "street", c, required=False),
                postal_code=_text(customer, "postal_code", c),  # type: ignore[arg-type]
                town=_text(customer, "town", c),  # type: ignore[arg-type]
                country=_country(customer, c),
            ),
            phone=_text(customer, "phone", c, required=False),
            email=_text(customer, "email", c, required=False),
            marketing_consent=consent,
        ),
        delivery=Delivery(
            carrier=_text(delivery, "carrier", "$.data.delivery"),  # type: ignore[arg-type]
            service=_text(delivery, "service", "$.data.delivery"),  # type: ignore[arg-type]
            pickup_point_id=_text(delivery, "pickup_point_id", "$.data.delivery", required=False),
            notice=notice,  # type: ignore[arg-type]
            door_code=_text(delivery, "door_code", "$.data.delivery", required=False),
            addons=_addons(data.get("addons")),
        ),
        parcels=tuple(_parcel(p, f"$.data.parcels[{i}]") for i, p in enumerate(parcels)),
        items=_items(data.get("items")),
    )


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{path} must be a JSON object")
    return value


def _text(obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{path}.{key} is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{path}.{key} must be a string")
    value = value.strip()
    if not value and required:
        raise BadRequest(f"{path}.{key} is required")
    if len(value) > _MAX_TEXT or not value.isprintable():
        raise BadRequest(f"{path}.{key} must be printable text of at most {_MAX_TEXT} characters")
    return value or None


def _country(customer: Mapping[str, Any], path: str) -> str:
    value = _text(customer, "country", path, required=False) or "FI"
    if len(value) != 2 or not value.isalpha() or not value.isascii():  # noqa: PLR2004
        raise BadRequest(f"{path}.country must be an ISO 3166-1 alpha-2 code")
    return value.upper()


def _parcel(value: object, path: str) -> Parcel:
    obj = _object(value, path)
    dims = {}
    for key in ("weight_kg", "length_cm", "width_cm", "height_cm"):
        raw = obj.get(key)
        if raw is None and key != "weight_kg":
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw < 10_000:  # noqa: PLR2004
            raise BadRequest(f"{path}.{key} must be a positive number")
        dims[key] = float(raw)
    return Parcel(**dims)


def _addons(value: object) -> tuple[Addon, ...]:
    """``data.addons``: each a name (``"id_check"``) or an object naming it with its
    parameters (``{"name": "cash_on_delivery", "amount": "49.90", ...}``)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > _MAX_ADDONS:
        raise BadRequest(f"$.data.addons must be a list of at most {_MAX_ADDONS} add-ons")
    out: list[Addon] = []
    for index, entry in enumerate(value):
        path = f"$.data.addons[{index}]"
        raw = {"name": entry} if isinstance(entry, str) else _object(entry, path)
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise BadRequest(f"{path}.name must be an add-on name (lower-case letters, digits, _)")
        if any(a.name == name for a in out):
            raise BadRequest(f"{path}: add-on {name!r} is named twice")
        params: dict[str, str] = {}
        for key, param in raw.items():
            if key == "name":
                continue
            if not _NAME.fullmatch(key):
                raise BadRequest(f"{path}: parameter names are lower-case identifiers")
            if isinstance(param, bool) or not isinstance(param, str | int | float):
                raise BadRequest(f"{path}.{key} must be a string or a number")
            params[key] = _text({key: str(param)}, key, path) or ""
        out.append(Addon(name=name, params=params))
    return tuple(out)


def _items(value: object) -> tuple[LineItem, ...]:
    """``data.items``: the order's contents, one object per line. Every field is optional
    here; the policy decides which are needed, and refuses a shipment without them."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > _MAX_ITEMS:
        raise BadRequest(f"$.data.items must be a list of at most {_MAX_ITEMS} lines")
    items = tuple(_item(_object(v, f"$.data.items[{i}]"), f"$.data.items[{i}]")
                  for i, v in enumerate(value))
    currencies = {i.currency for i in items if i.currency}
    if len(currencies) > 1:
        raise BadRequest("$.data.items must all be in one currency")
    return items


def _item(obj: Mapping[str, Any], path: str) -> LineItem:
    currency = _text(obj, "currency", path, required=False)
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        raise BadRequest(f"{path}.currency must be an ISO 4217 code")
    hs_code = _text(obj, "hs_code", path, required=False)
    if hs_code is not None:
        hs_code = re.sub(r"[ .]", "", hs_code)
        if not re.fullmatch(r"[0-9]{6,10}", hs_code):
            raise BadRequest(f"{path}.hs_code must be a tariff code of 6 to 10 digits")
    origin = _text(obj, "origin_country", path, required=False)
    if origin is not None and not re.fullmatch(r"[A-Z]{2}", origin):
        raise BadRequest(f"{path}.origin_country must be an ISO 3166-1 alpha-2 code")
    quantity = obj.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)
                                 or not 0 < quantity < 100_000):  # noqa: PLR2004
        raise BadRequest(f"{path}.quantity must be a whole number above 0")
    return LineItem(
        description=_text(obj, "description", path, required=False),
        quantity=quantity,
        unit_value=_number(obj, "unit_value", path, low=0.0),
        currency=currency,
        hs_code=hs_code,
        origin_country=origin,
        weight_kg=_number(obj, "weight_kg", path, low=0.0),
    )


def _number(obj: Mapping[str, Any], key: str, path: str, *, low: float) -> float | None:
    raw = obj.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw < 1_000_000:  # noqa: PLR2004
        raise BadRequest(f"{path}.{key} must be a number of at least {low:g}")
    return float(raw)
