"""Cancel a booking and book a return label, end to end: a signed event on /v1/hooks/orders ->
the record -> the carrier's sandbox over HTTP -> the record -> the answer, for every carrier."""

from __future__ import annotations

import base64
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from carriers.sandbox import BOOKINGS, CANCELLED
from carriers.sandbox import dhl_express as dhl_sandbox
from carriers.sandbox import posti as posti_sandbox
from carriers.sandbox import postnord as postnord_sandbox
from tests.conftest import (
    CANARY_CUSTOMER,
    CANARY_FIELDS,
    Harness,
    order_event,
    run_gateway,
)
from tests.review.conftest import get_json

#: A delivery each carrier books: (service, delivery extras).
DELIVERY = {
    "posti": ("home_delivery", {}),
    "matkahuolto": ("home_delivery", {}),
    "postnord": ("service_point", {"pickup_point_id": "SP-77"}),
    "dhl_express": ("express", {}),
    "budbee": ("home", {}),
}
CARRIERS = list(DELIVERY)
#: Which carriers' APIs cancel and book returns (the others answer 501, sending nothing).
CANCELS = {"posti", "postnord", "budbee"}
RETURNS = {"posti", "postnord", "dhl_express"}
#: The customer fields each carrier's return label gets, written out by hand (not derived
#: from the policy, so a policy change shows up here).
RETURN_FIELDS = {
    "posti": {"name", "postal_code", "town", "country"},
    "postnord": {"name", "postal_code", "town", "country"},
    "dhl_express": {"name", "street", "postal_code", "town", "country", "phone"},
}
RETURN_SANDBOXES = {"posti": posti_sandbox, "postnord": postnord_sandbox,
                    "dhl_express": dhl_sandbox}
CANARY_VALUES = {**CANARY_FIELDS, "postal_code": CANARY_CUSTOMER["postal_code"],
                 "country": CANARY_CUSTOMER["country"]}
DISTINCTIVE = [*CANARY_FIELDS.values(), CANARY_CUSTOMER["id"]]


def entries(harness: Harness) -> list[dict[str, Any]]:
    """The entries after the policy version the gateway recorded as it started."""
    db = sqlite3.connect(harness.config.record.path)
    try:
        return [orjson.loads(b) for (b,) in db.execute("SELECT body FROM entries WHERE seq > 0 "
                                                       "ORDER BY seq")]
    finally:
        db.close()


def cancel_event(order_id: str, disclosure_id: str) -> dict[str, Any]:
    return {"type": "order.cancelled", "timestamp": "2026-11-22T11:00:00Z",
            "data": {"order_id": order_id, "disclosure_id": disclosure_id}}


def return_event(carrier: str, *, order_id: str = "O-RET-1", **customer: Any,  # noqa: ANN401
                 ) -> dict[str, Any]:
    event = order_event(carrier, "return", order_id=order_id)
    data = event["data"]
    data["customer"].update(customer)
    del data["delivery"]
    return {"type": "order.return_requested", "timestamp": "2026-11-29T09:00:00Z",
            "data": {**data, "return": {"carrier": carrier}}}


async def book(gateway: Harness, carrier: str) -> dict[str, Any]:
    service, extra = DELIVERY[carrier]
    status, answer, _ = await gateway.post(order_event(carrier, service, **extra))
    assert status == 201, answer
    return answer


class TestCancel:
    @pytest.mark.parametrize("carrier", CARRIERS)
    async def test_a_booked_shipment_is_cancelled_once(self, gateway: Harness,
                                                       carrier: str) -> None:
        """The carrier cancels the booking (its sandbox shows it cancelled, and got no personal
        value for it); the record holds the cancellation's intent and outcome under the
        booking's disclosure id, naming no field; a retry of the hook gets the first answer and
        sends nothing. A carrier whose API cannot cancel answers 501 and gets nothing."""
        booked = await book(gateway, carrier)
        disclosure = booked["disclosure_id"]
        before = len(gateway.received(carrier))
        msg_id = f"msg_{uuid.uuid4().hex}"
        event = cancel_event(booked["order_id"], disclosure)
        status, answer, _ = await gateway.post(event, msg_id=msg_id)
        if carrier not in CANCELS:
            assert status == 501, answer
            assert answer["type"].endswith("/carrier-operation-unsupported")
            assert len(gateway.received(carrier)) == before
            assert [e["kind"] for e in entries(gateway)] == ["disclosure.intent",
                                                             "disclosure.outcome"]
            return
        assert status == 200, answer
        assert (answer["result"], answer["disclosure_id"]) == ("cancelled", disclosure)
        assert disclosure in gateway.sandboxes[carrier][CANCELLED]
        sent = gateway.received(carrier)[before:]
        assert sent
        assert not [v for r in sent for v in DISTINCTIVE if v in r.text()]
        *_, intent, outcome = entries(gateway)
        assert (intent["kind"], outcome["kind"]) == ("shipment.cancel.intent",
                                                     "shipment.cancel.outcome")
        assert intent["disclosure"] == outcome["disclosure"] == disclosure
        assert intent["fields"] == outcome["fields"] == []
        assert outcome["data"] == {"result": "cancelled", "intent": intent["seq"]}
        assert answer["record"] == {"intent": intent["seq"]}
        count = len(entries(gateway))

        again = await gateway.post(event, msg_id=msg_id)

        assert again[:2] == (status, answer)
        assert len(gateway.received(carrier)) == before + len(sent)
        assert len(entries(gateway)) == count

    async def test_a_second_cancellation_is_answered_from_the_record(
        self, gateway: Harness
    ) -> None:
        """A new cancel event for a booking already cancelled answers 200 cancelled from the
        record: the carrier is not asked again and nothing is appended."""
        booked = await book(gateway, "posti")
        event = cancel_event(booked["order_id"], booked["disclosure_id"])
        assert (await gateway.post(event))[0] == 200
        sent, count = len(gateway.received("posti")), len(entries(gateway))
        status, answer, _ = await gateway.post(event)
        assert (status, answer["result"]) == (200, "cancelled")
        assert (len(gateway.received("posti")), len(entries(gateway))) == (sent, count)

    async def test_an_unknown_disclosure_id_is_404_and_sends_nothing(
        self, gateway: Harness
    ) -> None:
        """Cancelling a disclosure id the record does not hold answers a 404 problem; no
        carrier is called and nothing is recorded."""
        status, answer, headers = await gateway.post(cancel_event("O-NONE", "d_" + "0" * 32))
        assert status == 404
        assert headers["content-type"] == "application/problem+json"
        assert answer["type"].endswith("/not-found")
        assert gateway.received() == []
        assert entries(gateway) == []

    async def test_another_orders_disclosure_id_is_404(self, gateway: Harness) -> None:
        """The event's order must be the booking's: another order's id finds nothing."""
        booked = await book(gateway, "posti")
        sent = len(gateway.received("posti"))
        status, _, _ = await gateway.post(cancel_event("O-OTHER", booked["disclosure_id"]))
        assert status == 404
        assert len(gateway.received("posti")) == sent

    async def test_a_booking_the_carrier_does_not_hold_is_refused(
        self, gateway: Harness
    ) -> None:
        """When the carrier no longer holds the booking its refusal is recorded as the
        cancellation's outcome (rejected) and answered as a problem."""
        booked = await book(gateway, "budbee")
        gateway.sandboxes["budbee"][BOOKINGS].clear()
        status, answer, _ = await gateway.post(
            cancel_event(booked["order_id"], booked["disclosure_id"]))
        assert status == 502, answer
        assert answer["result"] == "rejected"
        assert entries(gateway)[-1]["data"]["result"] == "rejected"

    async def test_reports_count_the_delivery_once(self, gateway: Harness) -> None:
        """A cancellation discloses no personal field: the transparency report still counts
        one disclosure to the carrier, and the customer's access report lists the booking's
        fields once, noting when it was cancelled."""
        booked = await book(gateway, "posti")
        assert (await gateway.post(cancel_event(booked["order_id"],
                                                booked["disclosure_id"])))[0] == 200
        headers = await gateway.as_staff("admin")
        report = await get_json(gateway, "/v1/reports/transparency", headers)
        assert report["totals"]["carrier_disclosures"] == 1
        access = await get_json(
            gateway, f"/v1/reports/access?customer={CANARY_CUSTOMER['id']}", headers)
        assert [d["fields"] for d in access["disclosures"]] == [booked["fields"]]
        assert access["disclosures"][0]["cancelled"] is not None
        assert access["disclosures"][0]["purpose"].startswith("Delivery of order")


class TestReturn:
    @pytest.mark.parametrize("carrier", CARRIERS)
    async def test_a_return_label_carries_exactly_the_policys_fields(
        self, gateway: Harness, carrier: str
    ) -> None:
        """The customer is the sender: the sandbox's sender part holds exactly the fields the
        carrier's return rule lets out, with the customer's values, and no customer value is
        anywhere else in any request; the record holds the intent and outcome naming those
        fields; the answer carries the label and tracking number. A carrier whose API books no
        returns answers 501 and gets nothing."""
        status, answer, _ = await gateway.post(return_event(carrier))
        if carrier not in RETURNS:
            assert status == 501, answer
            assert answer["type"].endswith("/carrier-operation-unsupported")
            assert gateway.received() == []
            assert entries(gateway) == []
            return
        assert status == 201, answer
        assert answer["tracking_number"]
        assert base64.b64decode(answer["label"]["data"]).startswith(b"%PDF")
        expected = RETURN_FIELDS[carrier]
        assert (answer["service"], set(answer["fields"])) == ("return", expected)
        sandbox = RETURN_SANDBOXES[carrier]
        booking = gateway.sandboxes[carrier][BOOKINGS][answer["disclosure_id"]].request
        got = sandbox.sender_part(booking)
        assert {sandbox.SENDER_FIELDS[key] for key in got} == expected
        assert all(v == CANARY_VALUES[sandbox.SENDER_FIELDS[k]] for k, v in got.items())
        for request in gateway.received(carrier):
            rest = sandbox.return_rest_text(request) if request is booking else request.text()
            assert not [v for v in DISTINCTIVE if v in rest]
            assert "marketing" not in request.text().lower()
        intent, outcome = entries(gateway)
        assert (intent["kind"], outcome["kind"]) == ("disclosure.intent", "disclosure.outcome")
        assert intent["service"] == outcome["service"] == "return"
        assert set(intent["fields"]) == set(outcome["fields"]) == expected
        assert intent["data"]["operation"] == "return"
        assert outcome["data"]["result"] == "booked"

    @pytest.mark.parametrize("carrier", sorted(RETURNS))
    async def test_a_return_lacking_a_required_field_is_refused_before_anything_leaves(
        self, tmp_path: Path, carrier_env: None, carrier: str
    ) -> None:
        """With a return rule that requires the e-mail, a customer without one is refused
        with 422: nothing reaches the carrier and nothing is recorded."""
        def require_email(raw: dict[str, Any]) -> None:
            rule = raw["policy"][carrier]["return"]
            rule["allow"] = [*rule["allow"], "email"]
            rule["require"] = [*rule["require"], "email"]

        async with run_gateway(tmp_path, require_email) as gateway:
            status, answer, _ = await gateway.post(return_event(carrier, email=None))
            assert status == 422, answer
            assert "email" in answer["detail"]
            assert gateway.received() == []
            assert entries(gateway) == []

    async def test_a_return_service_is_not_an_order_service(self, gateway: Harness) -> None:
        """An order.ready_to_ship naming the return service is refused: return labels are
        asked for with their own event."""
        status, _, _ = await gateway.post(order_event("posti", "return"))
        assert status == 422
        assert gateway.received() == []

    async def test_a_return_is_reported_as_a_disclosure(self, gateway: Harness) -> None:
        """A return label is a disclosure: the transparency report counts it beside the
        delivery, and the access report lists it with its fields."""
        booked = await book(gateway, "posti")
        status, returned, _ = await gateway.post(return_event("posti"))
        assert status == 201
        headers = await gateway.as_staff("admin")
        report = await get_json(gateway, "/v1/reports/transparency", headers)
        assert report["totals"]["carrier_disclosures"] == 2
        access = await get_json(
            gateway, f"/v1/reports/access?customer={CANARY_CUSTOMER['id']}", headers)
        assert sorted((d["service"], tuple(d["fields"])) for d in access["disclosures"]) == \
            sorted([("home_delivery", tuple(booked["fields"])),
                    ("return", tuple(returned["fields"]))])
        purposes = {d["service"]: d["purpose"] for d in access["disclosures"]}
        assert purposes["return"].startswith("Return of order")
        assert all(d["cancelled"] is None for d in access["disclosures"])
