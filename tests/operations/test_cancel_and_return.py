"""Cancelling a booking and booking a return label, below HTTP."""

from __future__ import annotations

import pytest

from gateway.errors import CarrierRejected, Conflict, NotFound, OperationUnsupported
from gateway.models import Cancellation, ReturnShipment
from gateway.record import Kind
from tests.fakes.carrier import CANCELLING, CREATE, RETURNING, FakeCarrier
from tests.operations.conftest import (
    CUSTOMER,
    SENDER,
    Gateway,
    cancel_event,
    order_event,
    return_event,
)


class TestCancel:
    async def test_a_booked_shipment_is_cancelled_with_the_carriers_own_ids(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        booked = await gateway.hook(order_event("O-1"))
        disclosure = booked.body["disclosure_id"]
        answer = await gateway.hook(cancel_event("O-1", disclosure))
        assert (answer.status, answer.body["result"]) == (200, "cancelled")
        assert posti.cancelled == [disclosure]
        (cancellation,) = (r for r in posti.received if isinstance(r, Cancellation))
        assert cancellation.reference == disclosure
        assert cancellation.tracking_number == booked.body["tracking_number"]
        entries = gateway.entries()
        assert [e["kind"] for e in entries] == [Kind.INTENT, Kind.OUTCOME, Kind.CANCEL_INTENT,
                                                Kind.CANCEL_OUTCOME]
        assert {e["disclosure"] for e in entries} == {disclosure}
        assert entries[2]["fields"] == []  # no personal field goes to the carrier
        assert entries[2]["data"]["booking"] == entries[1]["seq"]

    async def test_a_second_cancellation_is_answered_from_the_record(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        disclosure = (await gateway.hook(order_event("O-2"))).body["disclosure_id"]
        first = await gateway.hook(cancel_event("O-2", disclosure))
        second = await gateway.hook(cancel_event("O-2", disclosure))  # a new hook id
        assert (second.status, second.body["result"]) == (200, "cancelled")
        assert second.body["record"] == first.body["record"]
        assert posti.made(CANCELLING) == [disclosure]

    async def test_a_refused_cancellation_is_recorded(self, gateway: Gateway,
                                                      posti: FakeCarrier) -> None:
        disclosure = (await gateway.hook(order_event("O-3"))).body["disclosure_id"]
        posti.then(CANCELLING, CarrierRejected("posti refused: already on its way"))
        answer = await gateway.hook(cancel_event("O-3", disclosure))
        assert (answer.status, answer.body["result"]) == (502, "rejected")
        assert gateway.entries()[-1]["data"]["result"] == "rejected"

    async def test_nothing_is_sent_for_a_booking_that_was_not_booked(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        posti.then(CREATE, CarrierRejected("posti refused: code 1203"))
        disclosure = (await gateway.hook(order_event("O-4"))).body["disclosure_id"]
        with pytest.raises(Conflict, match="was not booked"):
            await gateway.hook(cancel_event("O-4", disclosure))
        with pytest.raises(NotFound):
            await gateway.hook(cancel_event("O-other", disclosure))
        assert posti.made(CANCELLING) == []

    async def test_a_carrier_that_cannot_cancel_gets_nothing(self, gateway: Gateway) -> None:
        gateway.carriers["posti"] = limited = FakeCarrier.like("posti",
                                                               operations=frozenset())
        disclosure = (await gateway.hook(order_event("O-5"))).body["disclosure_id"]
        with pytest.raises(OperationUnsupported):
            await gateway.hook(cancel_event("O-5", disclosure))
        assert limited.made(CANCELLING) == []


class TestReturn:
    async def test_a_return_label_names_the_customer_as_sender_by_the_return_rule(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        answer = await gateway.hook(return_event("O-6"))
        assert (answer.status, answer.body["result"]) == (201, "booked")
        assert answer.body["service"] == "return"
        (shipment,) = posti.received
        assert isinstance(shipment, ReturnShipment)
        assert shipment.receiver == SENDER
        assert set(shipment.sender.fields()) == {"name", "postal_code", "town", "country"}
        assert posti.made(RETURNING) == [answer.body["disclosure_id"]]
        intent = gateway.entries()[0]
        assert (intent["kind"], intent["data"]["operation"]) == (Kind.INTENT, "return")
        assert CUSTOMER["phone"] not in repr(gateway.entries())

    async def test_a_carrier_without_returns_refuses_before_anything_is_recorded(
            self, gateway: Gateway) -> None:
        gateway.carriers["posti"] = limited = FakeCarrier.like("posti",
                                                               operations=frozenset())
        with pytest.raises(OperationUnsupported):
            await gateway.hook(return_event("O-7"))
        assert gateway.entries() == []
        assert limited.calls == []
