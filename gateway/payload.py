"""Parse the order pipeline's hook payload into an Order. A filter between the wire and the model.

The body is decoded straight into the typed wire structures of ``gateway.events`` (msgspec; why
msgspec is said there), which also generate the OpenAPI schemas; this module then checks what a
schema cannot say and converts the structs to the frozen models, in one place (``_order``).

Error messages name the offending field path, never its value: msgspec's own messages (some of
which quote the value) are translated here into messages built from the path and the rule.
"""

from __future__ import annotations

import re
from typing import TypeVar

import attrs
import msgspec

from gateway.errors import BadRequest
from gateway.events import (
    CANCEL_EVENT,
    COUNTRY,
    CURRENCY,
    DECODER,
    EVENTS,
    HS_CODE,
    MAX_TEXT,
    NAME,
    ORDER_DECODER,
    ORDER_EVENT,
    ORIGIN,
    RETURN_EVENT,
    CancelEvent,
    OrderData,
    ParamValue,
    ReturnData,
    ReturnEvent,
)
from gateway.events import Customer as WireCustomer
from gateway.events import Delivery as WireDelivery
from gateway.events import LineItem as WireLineItem
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
from gateway.wire import explain

_T = TypeVar("_T")

__all__ = ["CANCEL_EVENT", "EVENTS", "ORDER_EVENT", "RETURN_EVENT", "CancelRequest",
           "parse_event", "parse_order_event"]


@attrs.frozen
class CancelRequest:
    """``order.cancelled``: cancel the booking the gateway answered with ``disclosure_id``."""

    order_id: str
    disclosure_id: str


def parse_event(body: bytes) -> Order | CancelRequest:
    """Any of the pipeline's events: an order to ship, a return to book (a ReturnOrder), or a
    cancellation."""
    event = _decode(DECODER, body)
    if isinstance(event, CancelEvent):
        return CancelRequest(order_id=_text(event.data.order_id, "$.data.order_id"),
                             disclosure_id=_text(event.data.disclosure_id,
                                                 "$.data.disclosure_id"))
    if isinstance(event, ReturnEvent):
        return _return(event.data)
    return _order(event.data, _delivery(event.data.delivery))


def parse_order_event(body: bytes) -> Order:
    """Only an ``order.ready_to_ship`` event (``gateway policy explain``, the baseline bench)."""
    event = _decode(ORDER_DECODER, body)
    return _order(event.data, _delivery(event.data.delivery))


def _decode(decoder: msgspec.json.Decoder[_T], body: bytes) -> _T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise BadRequest(_message(str(exc))) from None
    except msgspec.DecodeError:
        raise BadRequest("the body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None


# -- msgspec's messages, translated to ones that never quote a value (``gateway.wire``) ------

#: By the pattern as msgspec quotes it (its repr).
_PATTERNS = {repr(pattern): rule for pattern, rule in (
    (NAME, "a lower-case name (letters, digits, _)"),
    (COUNTRY, "an ISO 3166-1 alpha-2 code"),
    (ORIGIN, "an ISO 3166-1 alpha-2 code"),
    (CURRENCY, "an ISO 4217 code"),
    (HS_CODE, "a tariff code of 6 to 10 digits"),
)}


def _message(text: str) -> str:
    """A value-free message for one of msgspec's validation errors: the path, and the rule
    from our own types; the event's ``type`` is named with the events it may be."""
    path, message = explain(text, _PATTERNS)
    if path == "$.type":
        return f"$.type must be one of {', '.join(EVENTS)}"
    return message


# -- rules the schema cannot state, and the conversion to the models ------------------------

def _text(value: str, path: str) -> str:
    """Required text: trimmed, not blank, printable."""
    trimmed = _optional(value, path)
    if trimmed is None:
        raise BadRequest(f"{path} is required")
    return trimmed


def _optional(value: str | None, path: str) -> str | None:
    """Optional text: trimmed; empty is not given."""
    if value is None:
        return None
    trimmed = value.strip()
    if not trimmed.isprintable():
        raise BadRequest(f"{path} must be printable text of at most {MAX_TEXT} characters")
    return trimmed or None


def _code(value: str | None) -> str | None:
    """A code its pattern checked: trimmed; empty is not given."""
    return (value or "").strip() or None


def _delivery(wire: WireDelivery) -> Delivery:
    p = "$.data.delivery"
    return Delivery(carrier=_text(wire.carrier, f"{p}.carrier"),
                    service=_text(wire.service, f"{p}.service"),
                    pickup_point_id=_optional(wire.pickup_point_id, f"{p}.pickup_point_id"),
                    notice=wire.notice or None,
                    door_code=_optional(wire.door_code, f"{p}.door_code"))


def _return(data: ReturnData) -> ReturnOrder:
    carrier = _text(data.return_.carrier, "$.data.return.carrier")
    order = _order(data, Delivery(carrier=carrier, service=RETURN_SERVICE))
    return ReturnOrder(id=order.id, customer=order.customer, delivery=order.delivery,
                       parcels=order.parcels, items=order.items)


def _order(data: OrderData | ReturnData, delivery: Delivery) -> Order:
    """The one place the wire structs become the models."""
    return Order(
        id=_text(data.order_id, "$.data.order_id"),
        customer=_customer(data.customer),
        delivery=attrs.evolve(delivery, addons=_addons(data.addons or [])),
        parcels=tuple(Parcel(weight_kg=p.weight_kg, length_cm=p.length_cm, width_cm=p.width_cm,
                             height_cm=p.height_cm) for p in data.parcels),
        items=_items(data.items or []),
    )


def _customer(wire: WireCustomer) -> Customer:
    c = "$.data.customer"
    return Customer(
        id=_text(wire.id_, f"{c}.id"),
        first_name=_text(wire.first_name, f"{c}.first_name"),
        last_name=_text(wire.last_name, f"{c}.last_name"),
        address=Address(street=_optional(wire.street, f"{c}.street"),
                        postal_code=_text(wire.postal_code, f"{c}.postal_code"),
                        town=_text(wire.town, f"{c}.town"),
                        country=(_code(wire.country) or "FI").upper()),
        phone=_optional(wire.phone, f"{c}.phone"),
        email=_optional(wire.email, f"{c}.email"),
        marketing_consent=wire.marketing_consent,
    )


def _addons(wire: list[str | dict[str, ParamValue]]) -> tuple[Addon, ...]:
    out: list[Addon] = []
    for index, entry in enumerate(wire):
        path = f"$.data.addons[{index}]"
        raw = {"name": entry} if isinstance(entry, str) else entry
        name = raw.get("name")
        if not isinstance(name, str) or not re.fullmatch(NAME, name):
            raise BadRequest(f"{path}.name must be an add-on name (lower-case letters, digits, _)")
        if any(a.name == name for a in out):
            raise BadRequest(f"{path}: add-on {name!r} is named twice")
        params = {key: _text(str(value), f"{path}.{key}")
                  for key, value in raw.items() if key != "name"}
        out.append(Addon(name=name, params=params))
    return tuple(out)


def _items(wire: list[WireLineItem]) -> tuple[LineItem, ...]:
    items = tuple(_item(line, f"$.data.items[{i}]") for i, line in enumerate(wire))
    if len({i.currency for i in items if i.currency}) > 1:
        raise BadRequest("$.data.items must all be in one currency")
    return items


def _item(wire: WireLineItem, path: str) -> LineItem:
    return LineItem(
        description=_optional(wire.description, f"{path}.description"),
        quantity=wire.quantity,
        unit_value=wire.unit_value,
        currency=_code(wire.currency),
        hs_code=re.sub(r"[ .]", "", _code(wire.hs_code) or "") or None,
        origin_country=_code(wire.origin_country),
        weight_kg=wire.weight_kg,
    )
