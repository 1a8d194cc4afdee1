"""The order hook below HTTP: a hook id is served once; its retries get the first answer."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import CarrierRejected, CarrierUnavailable, Conflict, Unauthorized
from gateway.operations.signature import HookSecret, sign_headers
from tests.fakes.carrier import CREATE, FakeCarrier, Hang, Lost
from tests.operations.conftest import Gateway, order_event


async def test_a_replayed_hook_is_answered_from_the_first_answer(
        gateway: Gateway, posti: FakeCarrier) -> None:
    first = await gateway.hook(order_event("O-1"), msg_id="msg_1")
    again = await gateway.hook(order_event("O-1"), msg_id="msg_1")
    assert first.status == again.status == 201
    assert again.body == first.body
    assert len(posti.made(CREATE)) == 1
    assert len(gateway.entries()) == 2  # one intent, one outcome


async def test_the_first_answer_outlives_a_restart(gateway: Gateway,
                                                   posti: FakeCarrier) -> None:
    first = await gateway.hook(order_event("O-2"), msg_id="msg_2")
    assert await gateway.restart() == []
    again = await gateway.hook(order_event("O-2"), msg_id="msg_2")
    assert again.body == first.body
    assert len(posti.made(CREATE)) == 1


@pytest.mark.parametrize("step", [CarrierRejected("posti refused: code 1203"), Lost()],
                         ids=["rejected", "unknown"])
async def test_a_failure_that_may_have_booked_or_was_refused_is_not_retried(
        gateway: Gateway, posti: FakeCarrier, step: CarrierRejected | Lost) -> None:
    posti.then(CREATE, step)
    first = await gateway.hook(order_event("O-3"), msg_id="msg_3")
    again = await gateway.hook(order_event("O-3"), msg_id="msg_3")
    assert first.status in (502, 504)
    assert again.body == first.body
    assert len(posti.made(CREATE)) == 1


async def test_a_hook_that_sent_nothing_books_on_its_retry(gateway: Gateway,
                                                           posti: FakeCarrier) -> None:
    posti.then(CREATE, CarrierUnavailable("posti answered 503"))
    first = await gateway.hook(order_event("O-4"), msg_id="msg_4")
    again = await gateway.hook(order_event("O-4"), msg_id="msg_4")
    assert (first.status, again.status) == (503, 201)
    assert len(posti.made(CREATE)) == 2
    assert len(posti.bookings) == 1


async def test_a_retry_while_the_first_is_in_flight_waits_for_its_answer(
        gateway: Gateway, posti: FakeCarrier) -> None:
    posti.then(CREATE, Hang())
    first = asyncio.create_task(gateway.hook(order_event("O-5"), msg_id="msg_5"))
    await posti.hanging.wait()
    retry = asyncio.create_task(gateway.hook(order_event("O-5"), msg_id="msg_5"))
    await asyncio.sleep(0.05)
    assert not retry.done()
    posti.release.set()
    answer, again = await asyncio.gather(first, retry)
    assert answer.status == again.status == 201
    assert again.body == answer.body
    assert len(posti.made(CREATE)) == 1


async def test_a_hook_left_open_by_a_crash_is_refused_until_recovery(
        gateway: Gateway, posti: FakeCarrier) -> None:
    posti.then(CREATE, Hang())
    first = asyncio.create_task(gateway.hook(order_event("O-6"), msg_id="msg_6"))
    await posti.hanging.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    with pytest.raises(Conflict, match="no recorded outcome yet"):
        await gateway.hook(order_event("O-6"), msg_id="msg_6")
    assert len(posti.made(CREATE)) == 1


async def test_an_unsigned_hook_reaches_nothing(gateway: Gateway, posti: FakeCarrier) -> None:
    body = b'{"type": "order.ready_to_ship"}'
    headers = sign_headers(HookSecret(b"x" * 32), "msg_7", body)
    with pytest.raises(Unauthorized):
        await gateway.hooks.handle(headers, body)
    assert gateway.entries() == []
    assert posti.calls == []
