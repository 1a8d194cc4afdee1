"""Recovery of operations a crash left with an intent and no outcome: the carrier is asked by
reference, never booked twice; a cancellation is sent again."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import CarrierUnavailable
from gateway.operations.answer import Answer
from gateway.record import Kind
from tests.fakes.carrier import CANCELLING, CREATE, FIND, FakeCarrier, Hang
from tests.operations.conftest import Gateway, cancel_event, order_event


async def crash_during(gateway: Gateway, posti: FakeCarrier, event: dict[str, object],
                       msg_id: str) -> None:
    """Send the hook and kill its operation while the carrier call is in flight."""
    task: asyncio.Task[Answer] = asyncio.create_task(gateway.hook(event, msg_id=msg_id))
    await posti.hanging.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    posti.hanging.clear()


async def test_a_booking_made_before_the_crash_is_found_and_not_made_again(
        gateway: Gateway, posti: FakeCarrier) -> None:
    posti.then(CREATE, Hang(booked=True))
    await crash_during(gateway, posti, order_event("O-1"), "msg_1")
    assert gateway.kinds() == [Kind.INTENT]  # an intent without an outcome
    (disclosure,) = posti.bookings

    assert await gateway.restart() == [(disclosure, "booked")]
    assert posti.made(FIND) == [disclosure]
    assert posti.made(CREATE) == [disclosure]  # once, before the crash
    outcome = gateway.entries()[-1]
    assert (outcome["kind"], outcome["data"]["result"]) == (Kind.OUTCOME, "booked")
    assert outcome["data"]["recovered"] is True

    # The pipeline's retry of the hook is answered from the recovered outcome.
    again = await gateway.hook(order_event("O-1"), msg_id="msg_1")
    assert (again.status, again.body["tracking_number"]) == (
        201, posti.bookings[disclosure].tracking_number)
    assert posti.made(CREATE) == [disclosure]


async def test_a_booking_the_carrier_never_got_is_not_sent_and_the_retry_books(
        gateway: Gateway, posti: FakeCarrier) -> None:
    posti.then(CREATE, Hang(booked=False))
    await crash_during(gateway, posti, order_event("O-2"), "msg_2")
    ((disclosure, result),) = await gateway.restart()
    assert result == "not_sent"
    assert posti.bookings == {}
    again = await gateway.hook(order_event("O-2"), msg_id="msg_2")
    assert again.status == 201
    assert len(posti.made(CREATE)) == 2
    assert again.body["disclosure_id"] != disclosure  # a new disclosure, booked once


async def test_a_carrier_that_cannot_be_asked_leaves_the_outcome_unknown(
        gateway: Gateway, posti: FakeCarrier) -> None:
    posti.then(CREATE, Hang(booked=True))
    await crash_during(gateway, posti, order_event("O-3"), "msg_3")
    posti.then(FIND, CarrierUnavailable("posti answered 503"))
    ((_, result),) = await gateway.restart()
    assert result == "unknown"
    again = await gateway.hook(order_event("O-3"), msg_id="msg_3")
    assert (again.status, again.body["result"]) == (504, "unknown")
    assert len(posti.made(CREATE)) == 1  # never resent


async def test_an_interrupted_cancellation_is_sent_again(gateway: Gateway,
                                                         posti: FakeCarrier) -> None:
    disclosure = (await gateway.hook(order_event("O-4"))).body["disclosure_id"]
    posti.then(CANCELLING, Hang(booked=True))
    await crash_during(gateway, posti, cancel_event("O-4", disclosure), "msg_4")
    assert gateway.kinds()[-1] == Kind.CANCEL_INTENT

    assert await gateway.restart() == [(disclosure, "cancelled")]
    assert posti.made(CANCELLING) == [disclosure, disclosure]
    outcome = gateway.entries()[-1]
    assert (outcome["kind"], outcome["data"]["result"]) == (Kind.CANCEL_OUTCOME, "cancelled")
    assert outcome["data"]["recovered"] is True


async def test_nothing_to_recover_on_a_settled_record(gateway: Gateway,
                                                      posti: FakeCarrier) -> None:
    await gateway.hook(order_event("O-5"))
    assert await gateway.restart() == []
    assert posti.made(FIND) == []
