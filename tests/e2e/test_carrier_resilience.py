"""Carrier failures through the real gateway over HTTP into the sandboxes: timeouts, 5xx,
connection resets, stalled answers and refused connections; what is retried, what the breaker
does, what the record says, and that a slow carrier holds up nobody else."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import tomllib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from carriers.sandbox import BOOKINGS, CONTROL, RECEIVED
from tests.conftest import ROOT, Harness, order_event, run_gateway

Tables = dict[str, dict[str, dict[str, Any]]]


def tune(**knobs: Any) -> Callable[[Tables], None]:  # noqa: ANN401
    """A config change: these call-policy knobs on every carrier (no backoff pause by default)."""

    def change(raw: Tables) -> None:
        for table in raw["carriers"].values():
            table.update({"backoff": 0.0, "backoff_max": 0.0, **knobs})

    return change


@pytest.fixture
async def gateway(tmp_path: Path, carrier_env: None) -> AsyncIterator[Harness]:
    async with run_gateway(tmp_path, tune(retries=2, breaker_failures=50)) as harness:
        yield harness


async def metric(harness: Harness, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when absent)."""
    async with harness.http.get(harness.url + "/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match[1] != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if got == labels:
            return float(match[3])
    return 0.0


def outcomes(harness: Harness) -> list[dict[str, Any]]:
    db = sqlite3.connect(harness.config.record.path)
    docs = [orjson.loads(b) for (b,) in db.execute("SELECT body FROM entries ORDER BY seq")]
    return [d["data"] for d in docs if d["kind"] == "disclosure.outcome"]


def paths(harness: Harness, carrier: str) -> list[str]:
    return [r.path for r in harness.received(carrier)]


CREATE, LABEL = "/prinetti/create-shipment", "/prinetti/get-shipping-label"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestRetries:
    async def test_a_refused_connection_is_retried_then_recorded_not_sent(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """Nothing can be booked when the connection is never made: the create is tried
        1 + retries times, then answered 503 and recorded not_sent."""
        port = free_port()

        def down(raw: Tables) -> None:
            tune(retries=2, breaker_failures=50)(raw)
            raw["carriers"]["posti"]["base_url"] = f"http://127.0.0.1:{port}"

        async with run_gateway(tmp_path, down) as gw:
            status, problem, _ = await gw.post(order_event("posti", "home_delivery"))
            assert (status, problem["result"]) == (503, "not_sent")
            assert problem["type"].endswith("/carrier-unreachable")
            assert await metric(gw, "gateway_carrier_retries_total", carrier="posti",
                                operation="create", reason="unreachable") == 2
            assert await metric(gw, "gateway_carrier_calls_total", carrier="posti",
                                operation="create", result="unavailable") == 3
            assert [o["result"] for o in outcomes(gw)] == ["not_sent"]

    async def test_a_5xx_is_looked_up_by_reference_then_retried_and_booked_once(
        self, gateway: Harness
    ) -> None:
        """After a 5xx the gateway asks the carrier for our reference; not found, it books
        again, and the one booking is the answer."""
        control = gateway.sandboxes["posti"][CONTROL]
        control.fail_status, control.times = 503, 1
        status, answer, _ = await gateway.post(order_event("posti", "home_delivery"))
        assert status == 201, answer
        assert paths(gateway, "posti") == [CREATE, LABEL, CREATE, LABEL]
        assert gateway.bookings("posti") == [answer["disclosure_id"]]
        assert await metric(gateway, "gateway_carrier_retries_total", carrier="posti",
                            operation="create", reason="server_error") == 1
        assert [o["result"] for o in outcomes(gateway)] == ["booked"]

    async def test_a_persistent_5xx_is_not_sent_after_the_retries(
        self, gateway: Harness
    ) -> None:
        """A carrier answering 5xx to everything: the create is tried 1 + retries times, and
        each time the look-up cannot be made either, so the retries stop there: 503, not
        sent."""
        gateway.sandboxes["posti"][CONTROL].fail_status = 502
        status, problem, _ = await gateway.post(order_event("posti", "home_delivery"))
        assert (status, problem["result"]) == (503, "not_sent")
        # the look-up after the first 5xx fails too: without an answer by reference, no retry
        assert paths(gateway, "posti") == [CREATE, LABEL]
        assert gateway.bookings("posti") == []
        assert [o["result"] for o in outcomes(gateway)] == ["not_sent"]

    @pytest.mark.parametrize("fault", ["reset_after", "timeout", "slow_body"])
    async def test_a_lost_answer_is_found_by_reference_not_booked_again(
        self, tmp_path: Path, carrier_env: None, fault: str
    ) -> None:
        """The carrier booked but its answer was lost (connection reset, timeout, a body that
        stalls): the gateway finds the booking by our reference and answers with it; nothing
        is sent twice."""
        async with run_gateway(tmp_path, tune(timeout=0.5, breaker_failures=50)) as gw:
            control = gw.sandboxes["posti"][CONTROL]
            control.times = 1
            if fault == "reset_after":
                control.reset = "after"
            elif fault == "timeout":
                control.delay = 5.0
            else:
                control.slow_body = 0.2
            status, answer, _ = await gw.post(order_event("posti", "home_delivery"))
            assert status == 201, answer
            booking = gw.sandboxes["posti"][BOOKINGS][answer["disclosure_id"]]
            assert answer["tracking_number"] == booking.tracking_number
            assert paths(gw, "posti") == [CREATE, LABEL]
            assert await metric(gw, "gateway_carrier_calls_total", carrier="posti",
                                operation="create", result="unknown") == 1
            assert await metric(gw, "gateway_carrier_retries_total", carrier="posti",
                                operation="create", reason="server_error") == 0
            assert [o["result"] for o in outcomes(gw)] == ["booked"]

    async def test_a_reset_before_booking_stays_unknown_and_is_never_resent(
        self, gateway: Harness
    ) -> None:
        """The connection dropped after the request left and the carrier does not know our
        reference: it may still be working on it, so the outcome is recorded unknown (504),
        the create is not sent again, and a retried hook answers the same."""
        control = gateway.sandboxes["posti"][CONTROL]
        control.reset, control.times = "before", 1
        event = order_event("posti", "home_delivery")
        first = await gateway.post(event, msg_id="msg_reset")
        second = await gateway.post(event, msg_id="msg_reset")
        assert first[0] == second[0] == 504
        assert first[1]["result"] == "unknown"
        assert first[1] == second[1]
        assert paths(gateway, "posti") == [CREATE, LABEL]
        assert gateway.bookings("posti") == []
        assert [o["result"] for o in outcomes(gateway)] == ["unknown"]


class TestBreaker:
    async def test_the_breaker_opens_holds_calls_back_and_closes_after_a_probe(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """Consecutive 5xx open posti's breaker: further hooks answer 503 not_sent at once,
        sending nothing; /metrics shows it open. After the cooldown one probe goes through;
        it books and the breaker closes. Other carriers' breakers stay closed."""
        async with run_gateway(tmp_path, tune(retries=0, breaker_failures=3,
                                              breaker_cooldown=0.3)) as gw:
            control = gw.sandboxes["posti"][CONTROL]
            control.fail_status = 503
            for _ in range(2):  # create + look-up each: 4 failures >= 3
                status, problem, _ = await gw.post(order_event("posti", "home_delivery"))
                assert (status, problem["result"]) == (503, "not_sent")
            assert await metric(gw, "gateway_carrier_breaker_open", carrier="posti") == 1
            assert await metric(gw, "gateway_carrier_breaker", carrier="posti",
                                gateway_carrier_breaker="open") == 1
            assert await metric(gw, "gateway_carrier_breaker_open", carrier="budbee") == 0
            seen = len(gw.received("posti"))

            status, problem, _ = await gw.post(order_event("posti", "home_delivery"))

            assert (status, problem["result"]) == (503, "not_sent")
            assert problem["type"].endswith("/carrier-held-back")
            assert len(gw.received("posti")) == seen
            assert (await gw.post(order_event("budbee", "home")))[0] == 201
            control.fail_status = None
            await asyncio.sleep(0.35)  # the cooldown: only a lower bound matters

            status, _, _ = await gw.post(order_event("posti", "home_delivery"))

            assert status == 201
            assert await metric(gw, "gateway_carrier_breaker_open", carrier="posti") == 0
            assert await metric(gw, "gateway_carrier_breaker", carrier="posti",
                                gateway_carrier_breaker="closed") == 1
            results = [o["result"] for o in outcomes(gw)]
            assert results == ["not_sent", "not_sent", "not_sent", "booked", "booked"]


    async def test_readyz_names_breakers_and_fails_only_when_every_carrier_is_held(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """/readyz lists each carrier's breaker; one open breaker leaves the instance ready
        (the other carriers still ship), every breaker open makes it not ready."""
        orders = [order_event("posti", "home_delivery"),
                  order_event("matkahuolto", "home_delivery"),
                  order_event("postnord", "service_point", pickup_point_id="588462"),
                  order_event("dhl_express", "express"), order_event("budbee", "home")]
        async with run_gateway(tmp_path, tune(retries=0, breaker_failures=1,
                                              breaker_cooldown=600)) as gw:
            assert {e["data"]["delivery"]["carrier"] for e in orders} == set(gw.sandboxes)
            for app in gw.sandboxes.values():
                app[CONTROL].fail_status = 503
            assert (await gw.post(orders[0]))[0] == 503

            async with gw.http.get(gw.url + "/readyz") as resp:
                one_open = (resp.status, await resp.json())
            for order in orders[1:]:
                assert (await gw.post(order))[0] == 503
            async with gw.http.get(gw.url + "/readyz") as resp:
                all_open = (resp.status, await resp.json())

        assert one_open[0] == 200
        assert one_open[1]["carrier_breakers"]["posti"] == "open"
        assert one_open[1]["carrier_breakers"]["budbee"] == "closed"
        assert all_open[0] == 503
        assert all_open[1]["checks"]["a_carrier_available"] is False
        assert set(all_open[1]["carrier_breakers"].values()) == {"open"}


class TestIsolation:
    async def test_a_held_carrier_does_not_hold_up_the_others(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """While posti holds every answer, with its two slots (max_concurrent = 2) taken and a
        third hook waiting for one, hooks to every other carrier are answered; posti's three
        finish, booked once each, when it lets go."""
        async with run_gateway(tmp_path, tune(max_concurrent=2, timeout=60.0)) as gw:
            held = asyncio.Event()
            gw.sandboxes["posti"][CONTROL].hold = held
            slow = [asyncio.create_task(gw.post(order_event("posti", "home_delivery")))
                    for _ in range(3)]
            while len(gw.received("posti")) < 2:
                await asyncio.sleep(0.01)
            others = [("matkahuolto", "home_delivery", {}), ("postnord", "service_point",
                      {"pickup_point_id": "1"}), ("dhl_express", "express", {}),
                      ("budbee", "home", {}), ("budbee", "box", {"pickup_point_id": "B1"})]
            for carrier, service, delivery in others:
                status, answer, _ = await gw.post(order_event(carrier, service, **delivery))
                assert status == 201, answer
            assert not any(task.done() for task in slow)
            assert paths(gw, "posti") == [CREATE, CREATE]  # the third waits for a slot
            held.set()
            results = await asyncio.gather(*slow)
            assert [r[0] for r in results] == [201, 201, 201]
            assert len(gw.bookings("posti")) == 3
            assert len(gw.sandboxes["posti"][RECEIVED]) == 6


class TestCredentials:
    @pytest.mark.parametrize(("carrier", "service", "delivery"), [
        ("posti", "home_delivery", {}), ("matkahuolto", "home_delivery", {}),
        ("postnord", "service_point", {"pickup_point_id": "1"}),
        ("dhl_express", "express", {}), ("budbee", "home", {}),
    ])
    async def test_a_wrong_credential_is_refused_once_and_books_nothing(
        self, tmp_path: Path, carrier_env: None, monkeypatch: pytest.MonkeyPatch,
        carrier: str, service: str, delivery: dict[str, str],
    ) -> None:
        """Each carrier's own authentication (Posti's HMAC key, Matkahuolto's password in the
        XML, PostNord's apikey, Basic for DHL Express and Budbee) refuses a wrong secret; the
        gateway records the refusal as rejected (502), does not retry it, and the breaker does
        not count it as the carrier being down."""
        raw = tomllib.loads((ROOT / "config.toml").read_text())
        credentials = raw["carriers"][carrier]["credentials"]
        secret = next(ref["env"] for name, ref in credentials.items()
                      if name in ("secret", "password", "api_key", "api_secret"))
        monkeypatch.setenv(secret, "not-the-right-one")
        async with run_gateway(tmp_path, tune(retries=2, breaker_failures=1)) as gw:
            status, problem, _ = await gw.post(order_event(carrier, service, **delivery))
            assert (status, problem["result"]) == (502, "rejected")
            assert len(gw.received(carrier)) == 1
            assert gw.bookings(carrier) == []
            assert await metric(gw, "gateway_carrier_breaker_open", carrier=carrier) == 0
            assert [o["result"] for o in outcomes(gw)] == ["rejected"]
