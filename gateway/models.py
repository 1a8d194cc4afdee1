"""Frozen values the gateway works with. Parsing and serialisation live outside the models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

#: Receiver fields a policy may name. Marketing consent is customer data too, but no rule can
#: ever let it out, so it is not a disclosable field.
DISCLOSABLE_FIELDS: tuple[str, ...] = (
    "name",
    "street",
    "postal_code",
    "town",
    "country",
    "phone",
    "email",
    "door_code",
)

Notice = Literal["sms", "email"]

#: Fields of a commercial-invoice line item a policy may name (``allow_items``): the contents
#: of the order, the ``orders`` data category. They leave only with a shipment that crosses the
#: EU customs border, and only those the rule allows.
ITEM_FIELDS: tuple[str, ...] = (
    "description",
    "quantity",
    "unit_value",
    "currency",
    "hs_code",
    "origin_country",
    "weight_kg",
)

#: The EU customs territory by ISO 3166-1 code: the 27 member states, and Monaco (in it through
#: France). A shipment between two of these needs no customs declaration. Parts of members
#: outside the customs territory or the VAT area that have no code of their own (the Canary
#: Islands, Ceuta, Melilla, Heligoland, Büsingen, Livigno, Campione d'Italia, Mount Athos)
#: cannot be told apart by country code and count as their state. Åland (AX) and the French
#: outermost regions (GF, GP, MQ, RE, YT, MF) are in the customs union but outside the VAT
#: area: goods going there are declared, so they are left out here. Norway, Switzerland, the
#: United Kingdom (since 2021), Iceland and the rest of the world are outside.
EU_CUSTOMS_TERRITORY: frozenset[str] = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "MC",
})


@attrs.frozen
class Address:
    street: str | None
    postal_code: str
    town: str
    country: str


@attrs.frozen(repr=False)
class Customer:
    """The store's customer record as the order pipeline sends it. Never logged; repr is opaque."""

    id: str
    first_name: str
    last_name: str
    address: Address
    phone: str | None
    email: str | None
    marketing_consent: bool

    def __repr__(self) -> str:
        return "Customer(<personal data>)"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def field(self, name: str) -> str | None:
        """The value of one disclosable field, or None when the record does not hold it."""
        match name:
            case "name":
                return self.name or None
            case "street":
                return self.address.street
            case "postal_code":
                return self.address.postal_code
            case "town":
                return self.address.town
            case "country":
                return self.address.country
            case "phone":
                return self.phone
            case "email":
                return self.email
        msg = f"unknown customer field {name!r}"
        raise KeyError(msg)


@attrs.frozen(repr=False)
class LineItem:
    """One line of the order's contents, as a commercial invoice lists it. What a customer
    bought is personal data in context: repr shows no value. ``unit_value`` is in ``currency``;
    ``weight_kg`` is the net weight of the whole line."""

    description: str | None = None
    quantity: int | None = None
    unit_value: float | None = None
    currency: str | None = None
    hs_code: str | None = None
    origin_country: str | None = None
    weight_kg: float | None = None

    def __repr__(self) -> str:
        return f"LineItem(fields={list(self.fields())!r})"

    def fields(self) -> dict[str, Any]:
        """The line's given fields and their values, in the canonical field order."""
        values = attrs.asdict(self)
        return {name: values[name] for name in ITEM_FIELDS if values[name] is not None}


@attrs.frozen(repr=False)
class Addon:
    """An additional service the order asks for (``data.addons``), by the gateway's name for
    it, with the parameters the carrier's service takes (cash on delivery: amount, account...).
    The parameters describe the order's payment, not the customer: repr shows their names."""

    name: str
    params: Mapping[str, str] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        return f"Addon({self.name!r}, params={sorted(self.params)!r})"


@attrs.frozen
class Parcel:
    weight_kg: float
    length_cm: float | None = None
    width_cm: float | None = None
    height_cm: float | None = None


@attrs.frozen(repr=False)
class Delivery:
    carrier: str
    service: str
    pickup_point_id: str | None = None
    notice: Notice | None = None
    door_code: str | None = None
    #: The additional services asked for, each refused unless the rule lists it.
    addons: tuple[Addon, ...] = ()

    def __repr__(self) -> str:
        return f"Delivery(carrier={self.carrier!r}, service={self.service!r})"


@attrs.frozen(repr=False)
class Order:
    id: str
    customer: Customer
    delivery: Delivery
    parcels: tuple[Parcel, ...]
    #: The order's contents; only a customs declaration takes any of them out.
    items: tuple[LineItem, ...] = ()

    def __repr__(self) -> str:
        return f"Order(id={self.id!r}, delivery={self.delivery!r})"


@attrs.frozen(repr=False)
class ReturnOrder(Order):
    """An ``order.return_requested`` event read as an order: the customer as the store holds
    them, the delivery naming the carrier and the ``return`` service, the parcels going back."""


@attrs.frozen(repr=False)
class Receiver:
    """The minimised receiver: only the fields the policy let out; every other field is None."""

    name: str | None = None
    street: str | None = None
    postal_code: str | None = None
    town: str | None = None
    country: str | None = None
    phone: str | None = None
    email: str | None = None
    door_code: str | None = None

    def __repr__(self) -> str:
        return f"Receiver(fields={list(self.fields())!r})"

    def fields(self) -> dict[str, str]:
        """The disclosed fields and their values, in the canonical field order."""
        values = attrs.asdict(self)
        return {name: values[name] for name in DISCLOSABLE_FIELDS if values[name] is not None}


@attrs.frozen
class Party:
    """The sender: the store itself. Company data, not personal data."""

    name: str
    street: str
    postal_code: str
    town: str
    country: str
    phone: str
    email: str
    business_id: str


@attrs.frozen(repr=False)
class Shipment:
    """What a carrier adapter gets: the minimised receiver and the non-personal delivery facts.

    ``reference`` is the disclosure id; carriers store it so a booking can be looked up after a
    crash without booking twice.
    """

    reference: str
    carrier: str
    service: str
    sender: Party
    receiver: Receiver
    parcels: tuple[Parcel, ...]
    pickup_point_id: str | None = None
    notice: Notice | None = None
    #: Additional services the policy let through, for the adapter to send in its own shape.
    addons: tuple[Addon, ...] = ()
    #: Commercial-invoice line items, minimised; only for a shipment leaving the EU customs
    #: territory, else empty.
    items: tuple[LineItem, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Shipment(reference={self.reference!r}, carrier={self.carrier!r}, "
            f"service={self.service!r}, receiver={self.receiver!r})"
        )


@attrs.frozen(repr=False)
class ShipmentResult:
    tracking_number: str
    label: bytes
    label_format: Literal["pdf", "zpl"]
    carrier_reference: str | None = None

    def __repr__(self) -> str:
        return f"ShipmentResult(label_format={self.label_format!r}, label_bytes={len(self.label)})"


#: The service name of a return label in the policy and in the record.
RETURN_SERVICE = "return"


@attrs.frozen(repr=False)
class ReturnShipment:
    """A return label: the customer sends the parcel back, so the customer is the sender,
    minimised by the carrier's ``return`` rule (only the fields it let out), and the store is
    the receiver. ``reference`` is the return's own disclosure id."""

    reference: str
    carrier: str
    sender: Receiver
    receiver: Party
    parcels: tuple[Parcel, ...]

    def __repr__(self) -> str:
        return (f"ReturnShipment(reference={self.reference!r}, carrier={self.carrier!r}, "
                f"sender={self.sender!r})")


@attrs.frozen(repr=False)
class Cancellation:
    """What a carrier needs to cancel one of its bookings: its own ids and our reference (the
    booking's disclosure id), no personal data. The tracking number is kept sealed in the
    record, so repr leaves it out."""

    reference: str
    service: str
    tracking_number: str
    carrier_reference: str | None = None

    def __repr__(self) -> str:
        return f"Cancellation(reference={self.reference!r}, service={self.service!r})"
