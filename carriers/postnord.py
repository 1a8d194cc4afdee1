"""PostNord through the Shipment API v3 "EDI labels" booking (JSON).

What this mirrors, and from where:

- PostNord developer portal, general information (developer.postnord.com/docs/general-
  information): every API takes the key as the ``apikey`` query parameter; sandbox host
  atapi2.postnord.com, production api2.postnord.com.
- Public integrations of ``POST /rest/shipment/v3/edi/labels/pdf`` (a Magento module, a
  WooCommerce plugin, karrio's PostNord connector and its service-point tests, a Go
  adapter): an EDI instruction ``{messageDate, messageFunction: "Instruction", messageId,
  application{applicationId, name, version}, updateIndicator: "Original", shipment: [...]}``;
  each shipment has shipmentIdentification, dateAndTimes.loadingDate,
  service{basicServiceCode, additionalServiceCode[]}, numberOfPackages, totalGrossWeight
  (KGM), references[{referenceNo, referenceType}], parties{consignor (issuerCode Z12,
  partyIdentification partyIdType 160 = customer number), consignee{party{nameIdentification
  {name}, address{streets[], postalCode, city, countryCode}, contact{smsNo, emailAddress,
  phoneNo}}}, deliveryParty{partyIdentification{partyId, partyIdType "156"}} for a chosen
  service point} and goodsItem[{packageTypeCode, items[{itemIdentification, grossWeight}]}].
  Basic service 19 is MyPack Collect (to a service point); additional service A7 marks the
  chosen point. The answer: bookingResponse{bookingId, idInformation[{ids[{idType, value}]}]}
  and labelPrintout[{printout{labelFormat, encoding: base64, data}}]. Refusals are HTTP 400
  with compositeFault{faults[{faultCode, explanationText, paramValues[{param, value}]}]}.
- Look-up by our reference: track-and-trace ``GET /rest/shipment/v5/trackandtrace/
  findByReference.json`` (apikey, customerNumber, referenceValue), answered with
  TrackingInformationResponse{shipments[{shipmentId, items[{itemId}]}]}. It carries no label.
- Cancel: the same EDI instruction with ``updateIndicator: "Deletion"`` (EDI's Original /
  Update / Deletion), sent to ``POST /rest/shipment/v3/edi``; it names the booking by its
  item id and our reference and carries no consignee at all. Deleting what is already
  deleted is answered as done.
- Return label: basic service 24 (Return Drop Off, "MyPack Return") through the same
  ``/edi/labels/pdf`` booking; the customer is the consignor's party (the store's customer
  number stays as the paying party's identification) and the store the consignee.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from carriers._core import (
    CANCEL,
    RETURN,
    Reply,
    ServiceSpec,
    exchange,
    fields_named,
    refused,
    total_weight,
)
from gateway.errors import CarrierOutcomeUnknown, CarrierUnavailable
from gateway.models import (
    Cancellation,
    Party,
    Receiver,
    ReturnShipment,
    Shipment,
    ShipmentResult,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import aiohttp

BASIC_SERVICES: Mapping[str, str] = {"service_point": "19", "return": "24"}
CHOSEN_SERVICE_POINT = "A7"
APPLICATION_ID = 1438
#: JSON keys PostNord's faults may name; nothing else of a fault reaches a message.
_KNOWN_KEYS = (
    "name", "streets", "postalCode", "city", "countryCode", "smsNo", "emailAddress",
    "phoneNo", "partyId", "partyIdType", "basicServiceCode", "consignee", "consignor",
    "deliveryParty", "grossWeight", "totalGrossWeight", "referenceNo", "apikey",
)  # fmt: skip


class PostNord:
    """PostNord MyPack Collect to a service point."""

    name: ClassVar[str] = "postnord"
    services: ClassVar[Mapping[str, ServiceSpec]] = {
        "service_point": ServiceSpec(
            required=frozenset({"name", "postal_code", "town", "country", "phone"}),
            needs_pickup_point=True,
        ),
        # Return Drop Off: the customer hands the parcel in at a service point.
        "return": ServiceSpec(required=frozenset({"name", "postal_code", "town", "country"})),
    }
    credential_names: ClassVar[tuple[str, ...]] = ("api_key", "customer_number")
    operations: ClassVar[frozenset[str]] = frozenset({CANCEL, RETURN})

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Mapping[str, str],
        timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = credentials["api_key"]
        self._customer = credentials["customer_number"]
        self._timeout = timeout
        self._clock = clock

    async def create_shipment(self, shipment: Shipment) -> ShipmentResult:
        return await self._book(self.instruction(shipment))

    async def create_return(self, shipment: ReturnShipment) -> ShipmentResult:
        return await self._book(self.return_instruction(shipment))

    async def cancel_shipment(self, cancellation: Cancellation) -> None:
        reply = await self._send("/rest/shipment/v3/edi", self.deletion(cancellation),
                                 may_book=False)
        answer = reply.json()
        if reply.status >= 300 or not isinstance(answer, dict):  # noqa: PLR2004
            codes, fields = _faults(answer)
            raise refused(self.name, reply.status, codes, fields, what="the cancellation",
                          after="the shipment stays booked")

    def deletion(self, cancellation: Cancellation) -> dict[str, Any]:
        """The EDI deletion of a booking: its ids and our reference, no party but ours."""
        now = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds")
        return {
            "messageDate": now, "messageFunction": "Instruction",
            "messageId": str(uuid.uuid4()), "updateIndicator": "Deletion",
            "application": {"applicationId": APPLICATION_ID, "name": "PostNord",
                            "version": "1.0"},
            "shipment": [{
                "shipmentIdentification": {
                    "shipmentId": cancellation.carrier_reference or "0"},
                "service": {"basicServiceCode": BASIC_SERVICES.get(
                    cancellation.service, cancellation.service)},
                "references": [{"referenceNo": cancellation.reference,
                                "referenceType": "CU"}],
                "parties": {"consignor": {"issuerCode": "Z12", "partyIdentification": {
                    "partyId": self._customer, "partyIdType": "160"}}},
                "goodsItem": [{"items": [{"itemIdentification": {
                    "itemId": cancellation.tracking_number}}]}],
            }],
        }  # fmt: skip

    async def _send(self, path: str, document: dict[str, Any], *, may_book: bool) -> Reply:
        return await exchange(
            self._session, "POST", self._base_url + path,
            carrier=self.name, timeout=self._timeout, may_book=may_book,
            params={"apikey": self._api_key, "paperSize": "A5"},
            data=orjson.dumps(document),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )  # fmt: skip

    async def _book(self, document: dict[str, Any]) -> ShipmentResult:
        reply = await self._send("/rest/shipment/v3/edi/labels/pdf", document, may_book=True)
        answer = reply.json()
        if reply.status >= 300 or not isinstance(answer, dict):  # noqa: PLR2004
            raise refused(self.name, reply.status, *_faults(answer))
        ids = [
            entry.get("value")
            for info in answer.get("bookingResponse", {}).get("idInformation", [])
            for entry in info.get("ids", [])
            if entry.get("idType") == "itemId"
        ]
        printouts = answer.get("labelPrintout") or [{}]
        label = printouts[0].get("printout", {}).get("data")
        if not ids or not label:
            raise CarrierOutcomeUnknown(f"{self.name}: booking answer lacked item id or label")
        return ShipmentResult(
            tracking_number=str(ids[0]),
            label=base64.b64decode(label),
            label_format="pdf",
            carrier_reference=answer["bookingResponse"].get("bookingId"),
        )

    async def find_shipment(self, reference: str) -> ShipmentResult | None:
        reply = await exchange(
            self._session, "GET",
            self._base_url + "/rest/shipment/v5/trackandtrace/findByReference.json",
            carrier=self.name, timeout=self._timeout, may_book=False,
            params={"apikey": self._api_key, "customerNumber": self._customer,
                    "referenceValue": reference, "locale": "en"},
        )  # fmt: skip
        answer = reply.json()
        if reply.status != 200 or not isinstance(answer, dict):  # noqa: PLR2004
            raise CarrierUnavailable(f"{self.name}: look-up failed (HTTP {reply.status})")
        for found in answer.get("TrackingInformationResponse", {}).get("shipments", []):
            items = found.get("items") or []
            if items and items[0].get("itemId"):
                return ShipmentResult(
                    tracking_number=str(items[0]["itemId"]),
                    label=b"",
                    label_format="pdf",
                    carrier_reference=found.get("shipmentId"),
                )
        return None

    def instruction(self, shipment: Shipment) -> dict[str, Any]:
        """The EDI instruction for ``shipment``: consignee keys only for given fields."""
        service: dict[str, Any] = {
            "basicServiceCode": BASIC_SERVICES.get(shipment.service, shipment.service)
        }
        parties: dict[str, Any] = {
            "consignor": _consignor(shipment.sender, self._customer),
            "consignee": {"party": _consignee(shipment.receiver)},
        }
        if shipment.pickup_point_id is not None:
            service["additionalServiceCode"] = [CHOSEN_SERVICE_POINT]
            parties["deliveryParty"] = {"partyIdentification": {
                "partyId": shipment.pickup_point_id, "partyIdType": "156"}}  # fmt: skip
        return self._original(shipment, service, parties)

    def return_instruction(self, shipment: ReturnShipment) -> dict[str, Any]:
        """A return (basic service 24): the customer's given fields as the consignor's party,
        the store as consignee."""
        service = {"basicServiceCode": BASIC_SERVICES["return"]}
        consignor = _consignor(shipment.receiver, self._customer)
        consignor["party"] = _consignee(shipment.sender)
        parties = {"consignor": consignor,
                   "consignee": {"party": _consignor(shipment.receiver, "")["party"]}}
        return self._original(shipment, service, parties)

    def _original(self, shipment: Shipment | ReturnShipment, service: dict[str, Any],
                  parties: dict[str, Any]) -> dict[str, Any]:
        now = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds")
        weight = {"value": total_weight(shipment.parcels), "unit": "KGM"}
        return {
            "messageDate": now, "messageFunction": "Instruction",
            "messageId": str(uuid.uuid4()), "updateIndicator": "Original",
            "application": {"applicationId": APPLICATION_ID, "name": "PostNord",
                            "version": "1.0"},
            "shipment": [{
                "shipmentIdentification": {"shipmentId": "0"},
                "dateAndTimes": {"loadingDate": now},
                "service": service,
                "numberOfPackages": {"value": len(shipment.parcels)},
                "totalGrossWeight": weight,
                "references": [{"referenceNo": shipment.reference, "referenceType": "CU"}],
                "parties": parties,
                "goodsItem": [{
                    "packageTypeCode": "PC",
                    "items": [
                        {"itemIdentification": {"itemId": "0"},
                         "grossWeight": {"value": parcel.weight_kg, "unit": "KGM"}}
                        for parcel in shipment.parcels
                    ],
                }],
            }],
        }  # fmt: skip


def _consignor(sender: Party, customer: str) -> dict[str, Any]:
    return {
        "issuerCode": "Z12",
        "partyIdentification": {"partyId": customer, "partyIdType": "160"},
        "party": {
            "nameIdentification": {"name": sender.name},
            "address": {"streets": [sender.street], "postalCode": sender.postal_code,
                        "city": sender.town, "countryCode": sender.country},
            "contact": {"emailAddress": sender.email, "phoneNo": sender.phone},
        },
    }  # fmt: skip


def _consignee(receiver: Receiver) -> dict[str, Any]:
    """The consignee party with only the keys whose fields were let out."""
    values = receiver.fields()
    party: dict[str, Any] = {}
    if "name" in values:
        party["nameIdentification"] = {"name": values["name"]}
    address: dict[str, Any] = {key: values[ours] for ours, key in (
        ("postal_code", "postalCode"), ("town", "city"), ("country", "countryCode"),
    ) if ours in values}  # fmt: skip
    if "street" in values:
        address["streets"] = [values["street"]]
    if address:
        party["address"] = address
    contact = {key: values[ours] for ours, key in (
        ("phone", "smsNo"), ("email", "emailAddress"),
    ) if ours in values}  # fmt: skip
    if contact:
        party["contact"] = contact
    return party


def _faults(answer: Any) -> tuple[list[str], tuple[str, ...]]:  # noqa: ANN401 - carrier JSON
    """Fault codes and the known keys their params name; explanations and values are dropped."""
    if not isinstance(answer, dict):
        return [], ()
    faults = answer.get("compositeFault", {}).get("faults", [])
    codes = [str(f.get("faultCode", "")) for f in faults if isinstance(f, dict)]
    params = " ".join(
        str(p.get("param", ""))
        for f in faults if isinstance(f, dict)
        for p in f.get("paramValues", []) if isinstance(p, dict)
    )  # fmt: skip
    return [c for c in codes if c], fields_named(params, _KNOWN_KEYS)
