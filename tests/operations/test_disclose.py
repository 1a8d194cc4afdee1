"""A disclosure's decisions: intent before the carrier, the outcome after, the answer."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.errors import CarrierRejected, CarrierUnavailable, PolicyError
from gateway.record import Kind
from tests.fakes.carrier import CREATE, FakeCarrier, Lost
from tests.operations.conftest import CUSTOMER, Gateway, order_event


class TestBooked:
    async def test_booked_records_intent_then_outcome_and_answers_201(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        answer = await gateway.ship(order_event("O-1"))
        assert answer.status == 201
        assert answer.body["result"] == "booked"
        assert answer.body["tracking_number"] == posti.bookings[answer.body["disclosure_id"]
                                                               ].tracking_number
        assert answer.body["label"]["format"] == "pdf"
        intent, outcome = gateway.entries()
        assert (intent["kind"], outcome["kind"]) == (Kind.INTENT, Kind.OUTCOME)
        assert intent["disclosure"] == outcome["disclosure"] == answer.body["disclosure_id"]
        assert outcome["data"]["result"] == "booked"
        assert outcome["data"]["intent"] == intent["seq"] == answer.body["record"]["intent"]
        assert posti.made(CREATE) == [answer.body["disclosure_id"]]

    async def test_only_the_rules_fields_reach_the_carrier(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        """A pickup point gets no street and no e-mail; marketing consent never leaves."""
        await gateway.ship(order_event("O-2"))
        (shipment,) = posti.received
        sent = shipment.receiver.fields()  # type: ignore[union-attr]
        assert set(sent) == {"name", "postal_code", "town", "country", "phone"}
        assert CUSTOMER["street"] not in repr(gateway.entries())

    async def test_a_refused_order_records_nothing_and_sends_nothing(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        event = order_event("O-3")
        event["data"]["customer"]["phone"] = None  # required for a pickup point
        with pytest.raises(PolicyError):
            await gateway.ship(event)
        assert gateway.entries() == []
        assert posti.calls == []


class TestCarrierFails:
    async def test_a_rejection_is_recorded_and_answered_502(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        posti.then(CREATE, CarrierRejected("posti refused: code 1203"))
        answer = await gateway.ship(order_event("O-4"))
        assert answer.status == 502
        assert answer.body["result"] == "rejected"
        assert answer.body["type"].endswith("/carrier-rejected")
        assert not answer.retryable
        outcome = gateway.entries()[-1]
        assert (outcome["kind"], outcome["data"]["result"]) == (Kind.OUTCOME, "rejected")
        assert posti.bookings == {}
        assert len(posti.made(CREATE)) == 1

    async def test_unavailable_is_not_sent_and_may_be_retried(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        posti.then(CREATE, CarrierUnavailable("posti answered 503"))
        answer = await gateway.ship(order_event("O-5"))
        assert (answer.status, answer.body["result"]) == (503, "not_sent")
        assert answer.retryable
        assert gateway.entries()[-1]["data"]["result"] == "not_sent"

    async def test_no_answer_is_unknown_and_not_retryable(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        posti.then(CREATE, Lost())
        answer = await gateway.ship(order_event("O-6"))
        assert (answer.status, answer.body["result"]) == (504, "unknown")
        assert not answer.retryable
        assert gateway.entries()[-1]["data"] | {"intent": None} == {
            "result": "unknown", "error": "carrier-outcome-unknown", "intent": None}
        assert len(posti.made(CREATE)) == 1


class TestDisclosureIds:
    async def test_ids_are_uuidv7_and_sort_in_the_order_they_were_made(
            self, gateway: Gateway, posti: FakeCarrier) -> None:
        """Each booking's disclosure id is d_ and a version-7 UUID (time first, so the
        record's index of disclosures grows at its end); later orders sort later."""
        made = []
        for n in range(3):
            answer = await gateway.hook(order_event(f"O-ID-{n}"))
            made.append(answer.body["disclosure_id"])
            await asyncio.sleep(0.002)
        for disclosure in made:
            assert disclosure.startswith("d_")
            value = uuid.UUID(hex=disclosure[2:])
            assert (value.version, value.variant) == (7, uuid.RFC_4122)
        assert made == sorted(made)
        assert len(set(made)) == 3
        assert posti.made(CREATE) == made
