"""The order pipeline's hook events as typed wire structures: the one source of both the
parser (``gateway.payload`` decodes into them) and the OpenAPI schemas (``schemas()``), so the
served document cannot say anything the parser does not check.

Why msgspec and not cattrs on attrs classes: msgspec decodes and validates in one pass in C
(bench/payload_parse.py, a home-delivery order on a busy 2-core machine: 4 µs into the structs
against 67 µs for orjson and cattrs; 27 µs to the models against 62 µs, and 57 µs for the
hand-written parser before it), its ValidationError names the JSON path
(``$.data.customer.phone``), and ``msgspec.json.schema_components`` writes JSON Schema 2020-12
(OpenAPI 3.1's dialect) from the same types; cattrs has no schema generator, so the
document would stay a second, hand-kept description. The structs stay on the wire: the rest
of the gateway sees only the frozen attrs models (``gateway.models``).

What a schema cannot say is checked after decoding, in ``gateway.payload``, and named in the
schema's descriptions: text is printable once trimmed, an add-on is named once, the line items
share one currency.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

#: The event type the pipeline sends when an order is ready to hand to a carrier.
ORDER_EVENT = "order.ready_to_ship"
#: The order was cancelled: cancel the shipment booked for it (``data.disclosure_id``).
CANCEL_EVENT = "order.cancelled"
#: The customer returns the parcel: book a return label (``data.return.carrier``).
RETURN_EVENT = "order.return_requested"
EVENTS = (ORDER_EVENT, CANCEL_EVENT, RETURN_EVENT)

MAX_TEXT = 200
MAX_PARCELS = 50
MAX_ADDONS = 10
MAX_ITEMS = 100
#: An add-on's name and its parameters' names: lower-case identifiers.
NAME = "^[a-z][a-z0-9_]{0,39}$"
#: Codes: empty means not given; surrounding whitespace is trimmed.
COUNTRY = r"^\s*([A-Za-z]{2})?\s*$"
CURRENCY = r"^\s*([A-Z]{3})?\s*$"
ORIGIN = r"^\s*([A-Z]{2})?\s*$"
#: A tariff code of 6 to 10 digits; spaces and dots between them are dropped.
HS_CODE = r"^\s*([ .]*([0-9][ .]*){6,10})?\s*$"

_PRINTABLE = "Printable text; surrounding whitespace is trimmed."
Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT,
                           description=f"{_PRINTABLE} Required: not blank.")]
OptionalText = Annotated[str, Meta(max_length=MAX_TEXT,
                                   description=f"{_PRINTABLE} Empty means not given.")]
Dimension = Annotated[float, Meta(gt=0, lt=10_000)]
Amount = Annotated[float, Meta(ge=0, lt=1_000_000)]
Quantity = Annotated[int, Meta(gt=0, lt=100_000, description="Written as 2, not 2.0")]
AddonName = Annotated[str, Meta(pattern=NAME)]
#: Standard Webhooks' event time; the gateway does not read it (the signed webhook-timestamp
#: header is what counts).
Timestamp = Annotated[Any, Meta(description="When the event happened (ISO 8601); not read")]
ParamValue = Annotated[str, Meta(max_length=MAX_TEXT)] | int | float


class Customer(Struct, kw_only=True, rename={"id_": "id"}):
    """The store's customer record. ``country`` defaults to FI."""

    id_: Text
    first_name: Text
    last_name: Text
    street: OptionalText | None = None
    postal_code: Text
    town: Text
    country: Annotated[str, Meta(pattern=COUNTRY,
                                 description="ISO 3166-1 alpha-2; empty means FI")] | None = None
    phone: OptionalText | None = None
    email: OptionalText | None = None
    marketing_consent: bool = False


class Delivery(Struct, kw_only=True):
    carrier: Text
    service: Text
    pickup_point_id: OptionalText | None = None
    notice: Literal["sms", "email", ""] | None = None
    door_code: OptionalText | None = None


class Parcel(Struct, kw_only=True):
    weight_kg: Dimension
    length_cm: Dimension | None = None
    width_cm: Dimension | None = None
    height_cm: Dimension | None = None


#: An add-on by name (``"id_check"``), or an object naming it with the parameters its service
#: takes (``{"name": "cash_on_delivery", "amount": "49.90", ...}``); each named once.
Addon = Annotated[
    AddonName | Annotated[
        dict[AddonName, ParamValue],
        Meta(extra_json_schema={
            "required": ["name"], "properties": {"name": {"type": "string", "pattern": NAME}},
            "description": "name: the add-on; every other member is a parameter (a string or "
                           "a number, read as printable text)"})],
    Meta(description="An add-on's name, or an object naming it with its parameters; each "
                     "add-on is named once")]


class LineItem(Struct, kw_only=True):
    """One line of the order's contents (a commercial invoice's line). Every field is optional
    here; the policy decides which a shipment needs. All lines share one currency."""

    description: OptionalText | None = None
    quantity: Quantity | None = None
    unit_value: Amount | None = None
    currency: Annotated[str, Meta(pattern=CURRENCY, description="ISO 4217")] | None = None
    hs_code: Annotated[str, Meta(pattern=HS_CODE, description="Tariff code")] | None = None
    origin_country: Annotated[str, Meta(pattern=ORIGIN,
                                        description="ISO 3166-1 alpha-2")] | None = None
    weight_kg: Amount | None = None


class _Contents(Struct, kw_only=True):
    order_id: Text
    customer: Customer
    parcels: Annotated[list[Parcel], Meta(min_length=1, max_length=MAX_PARCELS)]
    addons: Annotated[list[Addon], Meta(max_length=MAX_ADDONS)] | None = None
    items: Annotated[list[LineItem], Meta(max_length=MAX_ITEMS)] | None = None


class OrderData(_Contents, kw_only=True):
    delivery: Delivery


class ReturnCarrier(Struct, kw_only=True):
    carrier: Text


class ReturnData(_Contents, kw_only=True, rename={"return_": "return"}):
    """A return: the order's customer and parcels, and the carrier to send them back with."""

    return_: ReturnCarrier


class CancelData(Struct, kw_only=True):
    order_id: Text
    disclosure_id: Text


class OrderEvent(Struct, kw_only=True, tag_field="type", tag=ORDER_EVENT):
    """An order ready to ship: book the delivery."""

    data: OrderData
    timestamp: Timestamp = None


class ReturnEvent(Struct, kw_only=True, tag_field="type", tag=RETURN_EVENT):
    """The customer returns the parcels: book a return label."""

    data: ReturnData
    timestamp: Timestamp = None


class CancelEvent(Struct, kw_only=True, tag_field="type", tag=CANCEL_EVENT):
    """The order was cancelled: cancel the booking the gateway answered with."""

    data: CancelData
    timestamp: Timestamp = None


#: Every event the hook takes, told apart by ``type``.
HookEvent = OrderEvent | ReturnEvent | CancelEvent
HOOK_EVENTS: tuple[type[Struct], ...] = (OrderEvent, ReturnEvent, CancelEvent)
DECODER = msgspec.json.Decoder(HookEvent)
ORDER_DECODER = msgspec.json.Decoder(OrderEvent)


def schemas(*types: Any, ref: str = "#/components/schemas/{name}") -> dict[str, Any]:  # noqa: ANN401 - any msgspec type
    """The JSON Schema (2020-12, OpenAPI 3.1) components of ``types`` and every struct they
    use, named by struct."""
    _, components = msgspec.json.schema_components(types, ref_template=ref)
    return components
