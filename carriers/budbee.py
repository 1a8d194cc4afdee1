"""Budbee through its Open API ``POST /multiple/orders`` (JSON, vendor media type).

What this mirrors, and from where:

- Budbee's API as its own PHP client (budbee/budbee-php: OrderApi ``/multiple/orders``,
  BoxesApi, PostalcodesApi with ``application/vnd.budbee.*+json`` media types) and a Magento
  integration (Wexo\\Budbee ``Model/Api.php``, citing developer.budbee.com "Create Box
  Delivery Order") use it: HTTP Basic auth with API key and secret; ``Content-Type`` and
  ``Accept: application/vnd.budbee.multiple.orders-v2+json``; body collectionId,
  cart{cartId}, delivery{name, telephoneNumber, email, address{street, postalCode, city,
  country}, doorCode, outsideDoor}, parcels[{shipmentId, packageId}], and for a Budbee Box
  productCodes ["DLVBOX"] with boxDelivery{selectedBox}. The order answer lists its parcels,
  each with a packageId and a label URL.

Assumptions, mirrored by the sandbox: refusals are HTTP 400 with {errors[{code, field,
message}]}; ``GET /multiple/orders?cartId=...`` finds an order by our cart id. The door code
goes out only when the customer gave one.

Cancel: OrderApi.removeOrder, ``DELETE /multiple/orders/{id}`` with Budbee's order id (the
booking answer's ``id``) and the v1 media type; only that id leaves. Removing an order
already removed is answered as done (the sandbox's assumption).

Not offered: neither the PHP client (OrderApi, BoxesApi, IntervalApi, PostalcodesApi) nor
the Magento integration shows a return booking; returns answer 501
``carrier-operation-unsupported`` and send nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import orjson

from carriers._core import CANCEL, ServiceSpec, code, exchange, fields_named, refused, unsupported
from gateway.errors import CarrierOutcomeUnknown, CarrierUnavailable
from gateway.models import Cancellation, Receiver, ReturnShipment, Shipment, ShipmentResult

if TYPE_CHECKING:
    from collections.abc import Mapping

MEDIA_TYPE = "application/vnd.budbee.multiple.orders-v2+json"
MEDIA_TYPE_V1 = "application/vnd.budbee.multiple.orders-v1+json"
BOX_PRODUCT = "DLVBOX"
_KNOWN_KEYS = (
    "name", "telephoneNumber", "email", "street", "postalCode", "city", "country",
    "doorCode", "selectedBox", "collectionId", "cartId", "parcels",
)  # fmt: skip


class Budbee:
    """Budbee home delivery in the evening, or to a Budbee Box."""

    name: ClassVar[str] = "budbee"
    services: ClassVar[Mapping[str, ServiceSpec]] = {
        "home": ServiceSpec(
            required=frozenset({"name", "street", "postal_code", "town", "country", "phone"}),
        ),
        "box": ServiceSpec(
            required=frozenset({"name", "postal_code", "town", "country", "phone"}),
            needs_pickup_point=True,
        ),
    }
    credential_names: ClassVar[tuple[str, ...]] = ("api_key", "api_secret", "collection_id")
    operations: ClassVar[frozenset[str]] = frozenset({CANCEL})

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        credentials: Mapping[str, str],
        timeout: float,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._auth = aiohttp.encode_basic_auth(credentials["api_key"], credentials["api_secret"])
        self._collection = credentials["collection_id"]
        self._timeout = timeout

    async def create_shipment(self, shipment: Shipment) -> ShipmentResult:
        reply = await exchange(
            self._session, "POST", self._base_url + "/multiple/orders", carrier=self.name,
            timeout=self._timeout, may_book=True, data=orjson.dumps(self.order(shipment)),
            headers=self._headers(),
        )  # fmt: skip
        answer = reply.json()
        if reply.status >= 300 or not isinstance(answer, dict):  # noqa: PLR2004
            errors = answer.get("errors", []) if isinstance(answer, dict) else []
            errors = [e for e in errors if isinstance(e, dict)]
            raise refused(
                self.name, reply.status, [str(e.get("code", "")) for e in errors],
                fields_named(" ".join(str(e.get("field", "")) for e in errors), _KNOWN_KEYS),
            )  # fmt: skip
        return await self._result(answer, booked=True)

    async def find_shipment(self, reference: str) -> ShipmentResult | None:
        reply = await exchange(
            self._session, "GET", self._base_url + "/multiple/orders", carrier=self.name,
            timeout=self._timeout, may_book=False, params={"cartId": reference},
            headers=self._headers(),
        )  # fmt: skip
        if reply.status == 404:  # noqa: PLR2004
            return None
        answer = reply.json()
        if reply.status != 200 or not isinstance(answer, dict):  # noqa: PLR2004
            raise CarrierUnavailable(f"{self.name}: look-up failed (HTTP {reply.status})")
        if not answer.get("parcels"):
            return None
        return await self._result(answer, booked=False)

    async def cancel_shipment(self, cancellation: Cancellation) -> None:
        order_id = cancellation.carrier_reference
        if order_id is None:  # a booking found again after a crash: ask for its id
            order_id = await self._order_id(cancellation.reference)
        reply = await exchange(
            self._session, "DELETE", f"{self._base_url}/multiple/orders/{order_id}",
            carrier=self.name, timeout=self._timeout, may_book=False,
            headers={**self._headers(), "Content-Type": MEDIA_TYPE_V1, "Accept": MEDIA_TYPE_V1},
        )  # fmt: skip
        if reply.status >= 300:  # noqa: PLR2004
            answer = reply.json()
            errors = answer.get("errors", []) if isinstance(answer, dict) else []
            raise refused(self.name, reply.status,
                          [str(e.get("code", "")) for e in errors if isinstance(e, dict)],
                          what="the cancellation", after="the order stays booked")

    async def _order_id(self, reference: str) -> str:
        reply = await exchange(
            self._session, "GET", self._base_url + "/multiple/orders", carrier=self.name,
            timeout=self._timeout, may_book=False, params={"cartId": reference},
            headers=self._headers(),
        )  # fmt: skip
        answer = reply.json()
        if reply.status == 200 and isinstance(answer, dict) and answer.get("id"):  # noqa: PLR2004
            return str(answer["id"])
        if reply.status == 404:  # noqa: PLR2004
            raise refused(self.name, 404, ["NOT_FOUND"], what="the cancellation",
                          after="it holds no order under our reference")
        raise CarrierUnavailable(f"{self.name}: look-up failed (HTTP {reply.status})")

    async def create_return(self, shipment: ReturnShipment) -> ShipmentResult:
        raise unsupported(self.name, "return label", "its API documents no return booking")

    def order(self, shipment: Shipment) -> dict[str, Any]:
        """The Budbee order: delivery keys only for given fields, door code only if given."""
        order: dict[str, Any] = {
            "collectionId": self._collection,
            "cart": {"cartId": shipment.reference},
            "delivery": _delivery(shipment.receiver),
            "requireSignature": False,
            "parcels": [{"shipmentId": shipment.reference, "packageId": ""}
                        for _ in shipment.parcels],
        }  # fmt: skip
        if shipment.pickup_point_id is not None:
            order["productCodes"] = [BOX_PRODUCT]
            order["boxDelivery"] = {"selectedBox": shipment.pickup_point_id}
        return order

    async def _result(self, answer: dict[str, Any], *, booked: bool) -> ShipmentResult:
        parcels = [p for p in answer.get("parcels", []) if isinstance(p, dict)]
        number = parcels[0].get("packageId") if parcels else None
        label_url = parcels[0].get("label") if parcels else None
        if not number or not isinstance(label_url, str):
            if booked:
                raise CarrierOutcomeUnknown(f"{self.name}: order answer lacked parcel or label")
            return ShipmentResult(tracking_number=str(number or ""), label=b"",
                                  label_format="pdf")  # fmt: skip
        try:
            label = await self._label(label_url)
        except CarrierUnavailable:
            if not booked:
                raise
            raise CarrierOutcomeUnknown(
                f"{self.name}: booked as {code(number)} but the label could not be fetched"
            ) from None
        return ShipmentResult(tracking_number=str(number), label=label, label_format="pdf",
                              carrier_reference=answer.get("id"))  # fmt: skip

    async def _label(self, url: str) -> bytes:
        """Fetch a label URL; the API credentials go only to the API's own origin."""
        parts, ours = urlsplit(url), urlsplit(self._base_url)
        if parts.scheme not in ("http", "https"):
            raise CarrierUnavailable(f"{self.name}: label URL has scheme {code(parts.scheme)}")
        same_origin = (parts.scheme, parts.netloc) == (ours.scheme, ours.netloc)
        reply = await exchange(
            self._session, "GET", url, carrier=self.name, timeout=self._timeout,
            may_book=False, headers={"Authorization": self._auth} if same_origin else None,
        )  # fmt: skip
        if reply.status != 200 or not reply.body.startswith(b"%PDF"):  # noqa: PLR2004
            raise CarrierUnavailable(f"{self.name}: label fetch failed (HTTP {reply.status})")
        return reply.body

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._auth, "Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE}


def _delivery(receiver: Receiver) -> dict[str, Any]:
    values = receiver.fields()
    delivery: dict[str, Any] = {
        key: values[ours]
        for ours, key in (("name", "name"), ("phone", "telephoneNumber"), ("email", "email"),
                          ("door_code", "doorCode"))
        if ours in values
    }  # fmt: skip
    address = {
        key: values[ours]
        for ours, key in (("street", "street"), ("postal_code", "postalCode"),
                          ("town", "city"), ("country", "country"))
        if ours in values
    }  # fmt: skip
    if address:
        delivery["address"] = address
    return delivery
