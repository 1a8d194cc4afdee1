"""The one small interface every carrier adapter implements, and what adapters share.

Shared here: the HTTP exchange that turns aiohttp failures into the CarrierError family (the
only place aiohttp exceptions are caught), XML helpers, and the helpers that build error
messages out of codes and field names only. Carrier error bodies may echo the receiver's
data, so no carrier-supplied free text ever reaches an exception message.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import attrs
import orjson

from gateway.errors import (
    CarrierOutcomeUnknown,
    CarrierRejected,
    CarrierUnavailable,
    CarrierUnreachable,
    OperationUnsupported,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gateway.models import (
        Cancellation,
        Parcel,
        Receiver,
        ReturnShipment,
        Shipment,
        ShipmentResult,
    )

#: Operations beyond booking a delivery that an adapter may offer (``operations``).
CANCEL = "cancel"
RETURN = "return"
#: HTTP 401: the carrier refused the request's credentials before handling any of it.
AUTHENTICATION_REFUSED = 401


@attrs.frozen
class AddonSpec:
    """One additional service a carrier service offers, as the carrier documents it.

    ``name`` is the gateway's name for it (the order's ``data.addons`` and the policy's
    ``addons.NAME`` table), ``code`` the carrier's own code for it. ``required`` are receiver
    fields the carrier needs for it and ``any_of`` fields of which it needs one (an arrival
    notice goes by SMS or e-mail); config validation checks every add-on rule lets them out.
    ``params`` are the order's parameters it takes (cash on delivery: the amount...), all
    required; no other parameter leaves.
    """

    name: str
    code: str
    required: frozenset[str] = frozenset()
    any_of: frozenset[str] = frozenset()
    params: tuple[str, ...] = ()


@attrs.frozen
class ServiceSpec:
    """What one carrier service needs from the receiver record.

    ``required`` are the receiver fields the carrier refuses a booking without; config validation
    checks every policy rule allows them, so a policy can never be unable to book by design.
    ``any_of`` names fields of which the carrier needs at least one (Matkahuolto's arrival
    notice goes by SMS or e-mail); empty means no such condition. ``addons`` are the additional
    services the carrier offers with the service; a policy may list no other. ``items`` are
    the line-item fields (models.ITEM_FIELDS) the carrier needs on a shipment leaving the EU
    customs territory; empty: the service takes no line item.
    """

    required: frozenset[str]
    needs_pickup_point: bool = False
    any_of: frozenset[str] = frozenset()
    addons: tuple[AddonSpec, ...] = ()
    items: frozenset[str] = frozenset()

    def addon(self, name: str) -> AddonSpec | None:
        return next((a for a in self.addons if a.name == name), None)


class Carrier(Protocol):
    """A carrier adapter. Built with keyword-only collaborators:

    ``Adapter(*, session: aiohttp.ClientSession, base_url: str,
    credentials: Mapping[str, str], timeout: float)``
    """

    # Read-only members: the adapters hold them as class variables, the resilience wrapper
    # passes its adapter's through.
    @property
    def name(self) -> str: ...
    @property
    def services(self) -> Mapping[str, ServiceSpec]: ...
    @property
    def operations(self) -> frozenset[str]:
        """Which of CANCEL and RETURN the carrier's API offers; the others raise
        OperationUnsupported without sending anything."""
        ...

    async def create_shipment(self, shipment: Shipment) -> ShipmentResult:
        """Book the shipment; raise a CarrierError subclass on failure."""
        ...

    async def find_shipment(self, reference: str) -> ShipmentResult | None:
        """The booking made under our reference, or None; for resolving intents after a crash.

        ``label`` is empty when the carrier cannot hand the label out again by reference.
        Raises CarrierUnavailable when the carrier cannot be asked (a look-up never books).
        Finds return bookings too: they are made under their own reference the same way.
        """
        ...

    async def cancel_shipment(self, cancellation: Cancellation) -> None:
        """Cancel a booking; cancelling one already cancelled succeeds (idempotent at the
        carrier). CarrierRejected when the carrier refuses (unknown, already on its way)."""
        ...

    async def create_return(self, shipment: ReturnShipment) -> ShipmentResult:
        """Book a return label: the customer sends, the store receives."""
        ...


class CarrierFactory(Protocol):
    """An adapter class: its class attributes, and its constructor.

    The attributes are plain (not ClassVar) members here: a class object can only match a
    protocol through non-ClassVar members (mypy: "ClassVar protocol member ... can never be
    matched by a class object"). On the adapter classes they are ClassVars.

    Optional, read with getattr by config (only Posti has them today): ``credential_sets``,
    the alternative credential names config may give instead of ``credential_names`` (the
    first set); ``options``, further ``[carriers.NAME]`` settings (URLs) handed to the
    constructor as keywords, each with the credential names it belongs with.
    """

    name: str
    services: Mapping[str, ServiceSpec]
    credential_names: tuple[str, ...]
    operations: frozenset[str]

    def __call__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Mapping[str, str],
        timeout: float,
    ) -> Carrier: ...


# -- HTTP ------------------------------------------------------------------------------------


@attrs.frozen(repr=False)
class Reply:
    """A carrier's answer below 500. The body may hold personal data: repr shows none of it."""

    status: int
    body: bytes
    content_type: str

    def __repr__(self) -> str:
        return f"Reply(status={self.status}, bytes={len(self.body)})"

    def json(self) -> Any:  # noqa: ANN401 - carrier JSON is untyped until the adapter reads it
        """The body as JSON, or None when it is not JSON."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def xml(self) -> ET.Element | None:
        return parse_xml(self.body)


#: Failures before the request left: nothing can have been booked.
_NOT_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    carrier: str,
    timeout: float,  # noqa: ASYNC109 - the carrier's configured budget, handed to aiohttp
    may_book: bool,
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
    params: Mapping[str, str] | None = None,
) -> Reply:
    """Send one request and translate every transport failure into the CarrierError tree.

    Not connected -> CarrierUnreachable, a CarrierUnavailable (nothing was sent). Sent but no
    answer (timeout, reset, disconnect) -> CarrierOutcomeUnknown when the request ``may_book``,
    else CarrierUnavailable (a look-up or a token request books nothing). An answer of 500 or
    more -> CarrierUnavailable.
    """
    try:
        async with session.request(
            method,
            url,
            data=data,
            headers=headers,
            params=params,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            body = await response.read()
            status, content_type = response.status, response.content_type
    except _NOT_CONNECTED as exc:
        raise CarrierUnreachable(
            f"{carrier}: could not connect ({type(exc).__name__}); nothing was sent"
        ) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        kind = type(exc).__name__
        if may_book:
            raise CarrierOutcomeUnknown(
                f"{carrier}: no answer after the request was sent ({kind}); "
                "the shipment may have been booked"
            ) from None
        raise CarrierUnavailable(f"{carrier}: no answer ({kind}); nothing was booked") from None
    if status >= 500:  # noqa: PLR2004 - HTTP server errors
        raise CarrierUnavailable(f"{carrier}: answered HTTP {status}; nothing was booked")
    return Reply(status=status, body=body, content_type=content_type)


# -- XML -------------------------------------------------------------------------------------


def parse_xml(body: bytes) -> ET.Element | None:
    """Parse a carrier's XML; None when it is not XML. Documents with a DTD are refused."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    try:
        # DTDs are refused above, and expat does not fetch external entities.
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError:
        return None


def sub(parent: ET.Element, tag: str, text: object = None, **attrib: str) -> ET.Element:
    """Append a child element; ``text`` None leaves it empty."""
    child = ET.SubElement(parent, tag, attrib)
    if text is not None:
        child.text = str(text)
    return child


#: The declaration ``ET.tostring(..., encoding="utf-8", xml_declaration=True)`` writes.
_XML_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"


def xml_bytes(root: ET.Element) -> bytes:
    """The document in UTF-8 with its declaration, byte for byte what ``ET.tostring`` with
    ``encoding="utf-8"`` gives; serialised as text and encoded once, which spares ElementTree's
    encoder a call for every piece it writes."""
    text = ET.tostring(root, encoding="unicode")
    return _XML_DECLARATION + text.encode("utf-8", "xmlcharrefreplace")


def xml_text(root: ET.Element | None, path: str) -> str | None:
    if root is None:
        return None
    found = root.find(path)
    return found.text.strip() if found is not None and found.text else None


# -- Error messages: codes and field names, never values -----------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9_.:/\-\[\]]{1,64}")


def code(value: object) -> str:
    """A carrier error code fit for a message: an identifier-like token, else ``?``."""
    text = str(value).strip()
    return text if _TOKEN.fullmatch(text) else "?"


def fields_named(text: str, known: Iterable[str]) -> tuple[str, ...]:
    """The ``known`` field names that occur in ``text``; nothing else of ``text`` survives."""
    return tuple(
        sorted(name for name in set(known) if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text))
    )


def refused(
    carrier: str, status: int, codes: Iterable[str], fields: Iterable[str] = (), *,
    what: str = "the shipment", after: str = "nothing was booked",
) -> CarrierRejected:
    """The CarrierRejected for an answered refusal, naming only codes and field names."""
    detail = f"{carrier} refused {what} (HTTP {status}"
    code_list = ", ".join(code(c) for c in codes)
    if code_list:
        detail += f"; code {code_list}"
    field_list = ", ".join(fields)
    if field_list:
        detail += f"; fields {field_list}"
    return CarrierRejected(f"{detail}); {after}")


def unsupported(carrier: str, operation: str, why: str) -> OperationUnsupported:
    """The error for an operation the carrier's API does not offer; nothing was sent."""
    return OperationUnsupported(f"{carrier} offers no {operation} through its API ({why}); "
                                "nothing was sent")


# -- Small shared mappings -----------------------------------------------------------------


def total_weight(parcels: Iterable[Parcel]) -> float:
    return round(sum(p.weight_kg for p in parcels), 3)


def volume_m3(parcel: Parcel) -> float | None:
    sides = (parcel.length_cm, parcel.width_cm, parcel.height_cm)
    if any(side is None for side in sides):
        return None
    length, width, height = (float(side) for side in sides)  # type: ignore[arg-type]
    return round(length * width * height / 1_000_000, 4)


def given(receiver: Receiver, mapping: Mapping[str, str]) -> dict[str, str]:
    """Carrier field -> value for the receiver fields policy let out, per ``mapping``.

    ``mapping`` is ours -> theirs; fields that are None are left out, never padded.
    """
    values = receiver.fields()
    return {theirs: values[ours] for ours, theirs in mapping.items() if ours in values}
