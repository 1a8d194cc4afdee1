"""The call policy around a carrier adapter: the breaker's states on an injected clock, the
policy's validation, and the concurrency limit against a real sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from carriers._resilience import Breaker, Guarded, Resilience, State
from carriers.sandbox import CONTROL, RECEIVED, run_sandbox
from gateway.errors import (
    CarrierHeldBack,
    CarrierOutcomeUnknown,
    CarrierUnavailable,
    ConfigError,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> Breaker:
    changes: list[State] = []
    return Breaker(failures_to_open=3, cooldown=10.0, clock=clock, on_change=changes.append)


class TestBreaker:
    def test_stays_closed_below_the_threshold(self, breaker: Breaker) -> None:
        """Fewer consecutive failures than the threshold leave it closed."""
        breaker.failed()
        breaker.failed()
        assert breaker.state is State.CLOSED
        assert breaker.admit()

    def test_a_success_resets_the_count(self, breaker: Breaker) -> None:
        """Only consecutive failures count."""
        breaker.failed()
        breaker.failed()
        breaker.succeeded()
        breaker.failed()
        breaker.failed()
        assert breaker.state is State.CLOSED

    def test_opens_after_consecutive_failures_and_refuses_during_the_cooldown(
        self, breaker: Breaker, clock: Clock
    ) -> None:
        """The threshold opens it; until the cooldown has passed every call is refused."""
        for _ in range(3):
            breaker.failed()
        assert breaker.state is State.OPEN
        clock.now += 9.9
        assert breaker.rejecting()
        assert not breaker.admit()

    def test_after_the_cooldown_one_probe_goes_through(
        self, breaker: Breaker, clock: Clock
    ) -> None:
        """Half-open admits exactly one call at a time."""
        for _ in range(3):
            breaker.failed()
        clock.now += 10.0
        assert breaker.admit()
        assert breaker.state is State.HALF_OPEN
        assert not breaker.admit()

    def test_a_successful_probe_closes_it(self, breaker: Breaker, clock: Clock) -> None:
        for _ in range(3):
            breaker.failed()
        clock.now += 10.0
        assert breaker.admit()
        breaker.succeeded()
        assert breaker.state is State.CLOSED
        assert breaker.admit()
        assert breaker.admit()

    def test_a_failed_probe_opens_it_again_for_a_full_cooldown(
        self, breaker: Breaker, clock: Clock
    ) -> None:
        for _ in range(3):
            breaker.failed()
        clock.now += 10.0
        assert breaker.admit()
        breaker.failed()
        assert breaker.state is State.OPEN
        clock.now += 5.0
        assert not breaker.admit()

    def test_an_abandoned_probe_lets_the_next_one_go(
        self, breaker: Breaker, clock: Clock
    ) -> None:
        """A probe cancelled without a verdict does not leave the breaker stuck half-open."""
        for _ in range(3):
            breaker.failed()
        clock.now += 10.0
        assert breaker.admit()
        breaker.abandoned()
        assert breaker.admit()

    def test_reports_each_change_once(self, clock: Clock) -> None:
        changes: list[State] = []
        breaker = Breaker(failures_to_open=1, cooldown=1.0, clock=clock,
                          on_change=changes.append)
        breaker.failed()
        breaker.failed()
        clock.now += 1.0
        breaker.admit()
        breaker.succeeded()
        assert changes == [State.OPEN, State.HALF_OPEN, State.CLOSED]


class TestPolicy:
    def test_defaults_when_nothing_is_set(self) -> None:
        assert Resilience.from_table({"base_url": "x"}, "[carriers.posti]") == Resilience()

    @pytest.mark.parametrize(("key", "value"), [
        ("timeout", 0), ("timeout", "10"), ("max_concurrent", 0), ("max_concurrent", 2.5),
        ("retries", -1), ("retries", True), ("breaker_failures", 0), ("backoff", -0.1),
        ("backoff_max", 0.01),
    ])
    def test_refuses_a_bad_value_naming_the_table(self, key: str, value: Any) -> None:  # noqa: ANN401
        with pytest.raises(ConfigError, match=r"\[carriers\.posti\]"):
            Resilience.from_table({key: value}, "[carriers.posti]")

    def test_full_jitter_stays_under_the_capped_exponential(self) -> None:
        """The pause is uniform below min(backoff_max, backoff * 2**attempt)."""
        policy = Resilience(backoff=0.5, backoff_max=3.0)
        assert [policy.pause(n, lambda: 0.999) for n in range(5)] == pytest.approx(
            [0.4995, 0.999, 1.998, 2.997, 2.997])
        assert policy.pause(3, lambda: 0.0) == 0.0


class TestConcurrencyLimit:
    async def test_a_call_without_a_free_slot_is_held_back_and_sends_nothing(
        self, make_adapter: Callable[..., Any], make_shipment: Callable[..., Any]
    ) -> None:
        """With max_concurrent = 1 and that call held by the carrier, a second call waits its
        timeout for the slot, then fails as held back: the carrier never saw it."""
        from tests.carriers.conftest import CASES  # noqa: PLC0415

        case = next(c for c in CASES if c.carrier == "posti")
        async with run_sandbox("posti") as (url, app):
            held = asyncio.Event()
            app[CONTROL].hold = held
            guarded = Guarded(make_adapter("posti", url, timeout=30.0),
                              policy=Resilience(max_concurrent=1, timeout=0.2))
            first = asyncio.create_task(guarded.create_shipment(make_shipment(case)))
            while not app[RECEIVED]:
                await asyncio.sleep(0.01)

            with pytest.raises(CarrierHeldBack, match="in flight"):
                await guarded.create_shipment(make_shipment(case))

            assert len(app[RECEIVED]) == 1
            held.set()
            assert (await first).tracking_number


class TestBudget:
    def test_the_budget_covers_every_attempt_and_backoff(self) -> None:
        """Slot wait and five requests per attempt, a look-up, and the longest backoffs."""
        policy = Resilience(timeout=10.0, retries=2, backoff_max=5.0)
        assert policy.budget == 10.0 * (6 * 3 + 2) + 5.0 * 2

    async def test_an_operation_past_its_budget_ends_as_unknown(
        self, make_adapter: Callable[..., Any], make_shipment: Callable[..., Any]
    ) -> None:
        """However long the adapter's own timeout, a booking still unanswered at the budget
        ends as an unknown outcome (it may have been booked); a look-up as unavailable."""
        from tests.carriers.conftest import CASES  # noqa: PLC0415

        case = next(c for c in CASES if c.carrier == "posti")
        async with run_sandbox("posti") as (url, app):
            app[CONTROL].hold = asyncio.Event()  # never set: the carrier never answers
            guarded = Guarded(make_adapter("posti", url, timeout=30.0),
                              policy=Resilience(timeout=0.05, retries=0))
            with pytest.raises(CarrierOutcomeUnknown, match="budget"):
                await guarded.create_shipment(make_shipment(case))
            with pytest.raises(CarrierUnavailable, match="budget"):
                await guarded.find_shipment("d_unknown")
