"""Posti through the Pakettikauppa / Posti Nextshipping "Prinetti" create-shipment API.

What this mirrors, and from where:

- Pakettikauppa API documentation (github.com/Pakettikauppa/api-documentation, README "Prinetti
  API") and Posti's Nextshipping copy of it (github.com/PostiDigital/nextshipping-api-
  documentation): ``POST /prinetti/create-shipment`` with an ``eChannel`` XML document
  (``Content-Type: text/xml``): ``ROUTING`` (Routing.Account, Routing.Id, Routing.Key,
  Routing.Time), ``Shipment.Sender`` / ``Shipment.Recipient`` (Name1, Addr1, Postcode, City,
  Country, Phone, Email), ``Shipment.Consignment`` (Consignment.Reference,
  Consignment.Product, Consignment.AdditionalService, Consignment.Parcel). Product codes from
  the shipping-method list: 2103 Postipaketti, 2104 Kotipaketti. A pickup point is chosen with
  additional service 2106 and ``<AdditionalService.Specifier name="pickup_point_id">``. The
  answer is ``<Response>`` with response.status (0 OK; 100 unknown error, 160 label error,
  230 invalid XML, 240 system failure), response.message, response.reference (@uuid) and one
  response.trackingcode per parcel. The label comes from ``POST /prinetti/get-shipping-label``
  (``<PrintLabel responseFormat="File">`` with TrackingCode or Reference), answered with a
  base64 ``response.file``.
- Authentication as Pakettikauppa's own client library does it (github.com/Pakettikauppa/
  api-library, Client.php): Routing.Version 2 and Routing.Key =
  HMAC-SHA256(secret, api_key + Routing.Id) in hex. (The older documents show
  md5(account + id + secret); Posti's OAuth token variant puts a Routing.Token instead.)
- The OAuth variant (api.posti.fi "Authentication API", OAuth 2.0 client credentials): with
  credentials ``client_id`` / ``client_secret`` the adapter fetches a bearer token from
  ``token_url`` (default ``<base_url>/oauth/token``; Posti's production host is
  oauth2.posti.com, QA oauth2.barium.posti.com) through carriers/_oauth.py and sends it as
  Routing.Token in place of Routing.Key; Routing.Account is the client id. Without them the
  HMAC Routing.Key above is used, unchanged.

- Cancel (Pakettikauppa README "Cancel shipment"): ``POST /shipment/cancel`` with form
  parameters api_key, shipment_id (the booking's response.reference@uuid), timestamp and hash
  = HMAC-SHA256(secret, the parameter values sorted by name and joined with ``&``), answered
  ``{"success": true}`` or ``{"success": false}``. Only what the carrier itself issued goes
  out. Only shipments not yet sent can be cancelled.
- Return label: create-shipment with product 2108 "Palautus" (the shipping-method list); the
  customer is ``Shipment.Sender`` and the store ``Shipment.Recipient``.

Assumptions not settled by those sources, and mirrored by the sandbox: refusals come back as
HTTP 4xx carrying the same ``<Response>`` form, an unknown or expired Routing.Token as HTTP 401
before anything is handled (so one resend with a fresh token cannot book twice); with OAuth,
a cancel carries the token as ``Authorization: Bearer`` instead of the api_key and hash; a
PrintLabel by Reference also answers the
shipment's response.trackingcode and response.reference@uuid, which is how a booking is found
again after a crash; cancelling a shipment already cancelled answers success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlencode

from carriers._core import (
    AUTHENTICATION_REFUSED,
    CANCEL,
    RETURN,
    AddonSpec,
    Reply,
    ServiceSpec,
    code,
    exchange,
    fields_named,
    refused,
    sub,
    xml_bytes,
    xml_text,
)
from carriers._oauth import ClientCredentials, TokenProvider
from carriers.posti.echannel import (
    ARRIVAL_NOTICE_SERVICE,
    COD_SERVICE,
    COD_SPECIFIERS,
    ID_CHECK_SERVICE,
    KNOWN_ELEMENTS,
    PERSONAL_DELIVERY_SERVICE,
    SYSTEM_FAILURE,
    hmac_envelope,
    oauth_routing,
    return_document,
    shipment_document,
)
from gateway.errors import CarrierOutcomeUnknown, CarrierRejected, CarrierUnavailable
from gateway.models import (
    Cancellation,
    ReturnShipment,
    Shipment,
    ShipmentResult,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    import aiohttp

_COD = AddonSpec(name="cash_on_delivery", code=COD_SERVICE, params=COD_SPECIFIERS)
_ID_CHECK = AddonSpec(name="id_check", code=ID_CHECK_SERVICE, required=frozenset({"name"}))


class Posti:
    """Posti parcels booked through Pakettikauppa / Nextshipping."""

    name: ClassVar[str] = "posti"
    services: ClassVar[Mapping[str, ServiceSpec]] = {
        "pickup_point": ServiceSpec(
            required=frozenset({"name", "postal_code", "town", "country", "phone"}),
            needs_pickup_point=True,
            addons=(
                AddonSpec(name="arrival_notice", code=ARRIVAL_NOTICE_SERVICE,
                          any_of=frozenset({"phone", "email"})),
                AddonSpec(name="personal_delivery", code=PERSONAL_DELIVERY_SERVICE,
                          required=frozenset({"name"})),
                _ID_CHECK, _COD,
            ),
        ),
        "home_delivery": ServiceSpec(
            required=frozenset({"name", "street", "postal_code", "town", "country", "phone"}),
            addons=(_ID_CHECK, _COD),
        ),
        # Palautus: the customer drops the parcel at a Posti point; the label names them.
        "return": ServiceSpec(required=frozenset({"name", "postal_code", "town", "country"})),
    }
    credential_names: ClassVar[tuple[str, ...]] = ("api_key", "secret")
    #: The credentials config may name instead: exactly one of these sets (HMAC, or OAuth).
    credential_sets: ClassVar[tuple[tuple[str, ...], ...]] = (
        credential_names, ("client_id", "client_secret"),
    )
    #: Settings beyond base_url that ``[carriers.posti]`` may hold (URLs, handed in as
    #: keywords), each with the credentials it belongs with.
    options: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "token_url": ("client_id", "client_secret"),
    }
    operations: ClassVar[frozenset[str]] = frozenset({CANCEL, RETURN})

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Mapping[str, str],
        timeout: float,
        clock: Callable[[], float] = time.time,
        token_url: str | None = None,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._clock = clock
        #: None: HMAC Routing.Key; else OAuth tokens as Routing.Token.
        self._tokens: TokenProvider | None = None
        if "client_id" in credentials and "client_secret" in credentials:
            self._api_key = credentials["client_id"]
            self._secret = b""
            self._tokens = TokenProvider(
                session=session,
                token_url=token_url or self._base_url + "/oauth/token",
                credentials=ClientCredentials(credentials["client_id"],
                                              credentials["client_secret"]),
                carrier=self.name,
                timeout=timeout,
                clock=clock,
            )
        else:
            self._api_key = credentials["api_key"]
            self._secret = credentials["secret"].encode()

    def __repr__(self) -> str:
        return f"Posti({self._base_url}, {'oauth' if self._tokens else 'hmac'})"

    async def create_shipment(self, shipment: Shipment) -> ShipmentResult:
        return await self._book(self._shipment_document(shipment))

    async def create_return(self, shipment: ReturnShipment) -> ShipmentResult:
        return await self._book(self._return_document(shipment))

    async def cancel_shipment(self, cancellation: Cancellation) -> None:
        if cancellation.carrier_reference is None:
            found = await self.find_shipment(cancellation.reference)
            uuid = found.carrier_reference if found is not None else None
        else:
            uuid = cancellation.carrier_reference
        if uuid is None:
            raise refused(self.name, 404, [], what="the cancellation",
                          after="it holds no shipment under our reference")
        reply = await self._cancel(uuid)
        answer = reply.json()
        if reply.status >= 300 or not isinstance(answer, dict) or answer.get("success") is not True:  # noqa: PLR2004
            raise refused(self.name, reply.status, [], what="the cancellation",
                          after="the shipment stays booked")

    async def _cancel(self, uuid: str) -> Reply:
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json"}
        if self._tokens is None:
            params = {"api_key": self._api_key, "shipment_id": uuid,
                      "timestamp": str(int(self._clock()))}
            message = "&".join(params[k] for k in sorted(params))
            params["hash"] = hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()
            return await exchange(
                self._session, "POST", self._base_url + "/shipment/cancel", carrier=self.name,
                timeout=self._timeout, may_book=False, data=urlencode(params).encode(),
                headers=headers,
            )  # fmt: skip

        async def send(token: str) -> Reply:
            params = {"shipment_id": uuid, "timestamp": str(int(self._clock()))}
            return await exchange(
                self._session, "POST", self._base_url + "/shipment/cancel", carrier=self.name,
                timeout=self._timeout, may_book=False, data=urlencode(params).encode(),
                headers={**headers, "Authorization": f"Bearer {token}"},
            )  # fmt: skip

        return await self._with_token(send)

    async def _with_token(self, send: Callable[[str], Awaitable[Reply]]) -> Reply:
        """``send`` with the current token; once more with a new one if the carrier refuses
        the token. Only an authentication refusal is resent: the carrier handled nothing of
        the request, so the second one cannot book or cancel twice."""
        assert self._tokens is not None
        token = await self._tokens.token()
        reply = await send(token)
        if reply.status != AUTHENTICATION_REFUSED:
            return reply
        self._tokens.invalidate(token)
        return await send(await self._tokens.token())

    async def _book(self, document: ET.Element) -> ShipmentResult:
        reply = await self._post("/prinetti/create-shipment", document, may_book=True)
        answer = self._answer(reply)
        tracking = [e.text.strip() for e in answer.iter("response.trackingcode") if e.text]
        if not tracking:
            raise CarrierOutcomeUnknown(f"{self.name}: booking answer carried no tracking code")
        uuid = answer.find("response.reference")
        label = await self._label_after_booking(tracking)
        return ShipmentResult(
            tracking_number=tracking[0],
            label=label,
            label_format="pdf",
            carrier_reference=uuid.get("uuid") if uuid is not None else None,
        )

    async def find_shipment(self, reference: str) -> ShipmentResult | None:
        root = self._envelope()
        sub(sub(root, "PrintLabel", responseFormat="File"), "Reference", reference)
        reply = await self._post("/prinetti/get-shipping-label", root, may_book=False)
        answer = reply.xml()
        if answer is None or xml_text(answer, "response.status") != "0":
            if reply.status == 404:  # noqa: PLR2004 - not found is an answer, not a failure
                return None
            raise CarrierUnavailable(f"{self.name}: look-up failed (HTTP {reply.status})")
        tracking = xml_text(answer, "response.trackingcode")
        if tracking is None:
            return None
        uuid = answer.find("response.reference")
        return ShipmentResult(
            tracking_number=tracking,
            label=base64.b64decode(xml_text(answer, "response.file") or ""),
            label_format="pdf",
            carrier_reference=uuid.get("uuid") if uuid is not None else None,
        )

    # -- request ---------------------------------------------------------------------------

    def shipment_xml(self, shipment: Shipment) -> bytes:
        """The eChannel document for ``shipment``: receiver elements only for given fields.
        With OAuth its ROUTING holds no Routing.Token yet: that is added as it is sent."""
        return xml_bytes(self._shipment_document(shipment))

    def return_xml(self, shipment: ReturnShipment) -> bytes:
        """The eChannel document of a return (product 2108): the customer's given fields as
        Shipment.Sender, the store as Shipment.Recipient."""
        return xml_bytes(self._return_document(shipment))

    def _shipment_document(self, shipment: Shipment) -> ET.Element:
        return shipment_document(self._envelope(), shipment, self.services[shipment.service])

    def _return_document(self, shipment: ReturnShipment) -> ET.Element:
        return return_document(self._envelope(), shipment)

    def _envelope(self) -> ET.Element:
        if self._tokens is not None:
            root = ET.Element("eChannel")
            self._route(sub(root, "ROUTING"), token=None)
            return root
        return hmac_envelope(self._api_key, self._secret, self._clock())

    def _route(self, routing: ET.Element, *, token: str | None) -> None:
        """Fill the OAuth ROUTING with a fresh Id and Time and ``token``."""
        oauth_routing(routing, self._api_key, self._clock(), token=token)

    # -- answers ---------------------------------------------------------------------------

    async def _post(self, path: str, document: ET.Element, *, may_book: bool) -> Reply:
        async def send(token: str | None) -> Reply:
            if token is not None:
                routing = document.find("ROUTING")
                assert routing is not None
                self._route(routing, token=token)
            return await exchange(
                self._session,
                "POST",
                self._base_url + path,
                carrier=self.name,
                timeout=self._timeout,
                may_book=may_book,
                data=xml_bytes(document),
                headers={"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml"},
            )

        if self._tokens is None:
            return await send(None)
        return await self._with_token(send)

    def _answer(self, reply: Reply) -> ET.Element:
        """The <Response> of a booking; a refusal raises with codes and element names only."""
        answer = reply.xml()
        status = xml_text(answer, "response.status")
        if answer is not None and status == "0" and reply.status < 300:  # noqa: PLR2004
            return answer
        if status in SYSTEM_FAILURE:
            raise CarrierUnavailable(f"{self.name}: system failure (status {code(status)})")
        message = xml_text(answer, "response.message") or ""
        raise refused(
            self.name,
            reply.status,
            [status] if status else [],
            fields_named(message, KNOWN_ELEMENTS),
        )

    async def _label_after_booking(self, tracking: list[str]) -> bytes:
        """Fetch the label of a shipment that is already booked: failing now is no refusal."""
        root = self._envelope()
        request = sub(root, "PrintLabel", responseFormat="File")
        for number in tracking:
            sub(request, "TrackingCode", number)
        try:
            reply = await self._post("/prinetti/get-shipping-label", root, may_book=False)
        except (CarrierUnavailable, CarrierRejected):
            # CarrierRejected: the token request was refused; the booking stands regardless.
            raise CarrierOutcomeUnknown(
                f"{self.name}: booked as {tracking[0]} but the label could not be fetched"
            ) from None
        label = xml_text(reply.xml(), "response.file")
        if label is None:
            raise CarrierOutcomeUnknown(
                f"{self.name}: booked as {tracking[0]} but no label came back"
            )
        return base64.b64decode(label)
