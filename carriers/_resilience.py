"""Every carrier call behind a time budget, a concurrency limit, a circuit breaker, and retries
only where a retry cannot book twice.

What may be retried, and why:

- ``CarrierUnreachable`` (the connection was never made): nothing left, so the call is
  simply made again, after an exponential backoff with full jitter.
- An answered failure (HTTP 5xx, a carrier "system error"): the carrier finished with our
  request and says it failed. Before booking again the booking is looked up by our reference
  (the disclosure id); only if the carrier does not know it is the create sent again.
- No answer after the request left (timeout, reset, a stalled body): the carrier may still be
  working on it, so a "not found" proves nothing. The booking is looked up once; if found, the
  call succeeded; if not, the outcome stays unknown and is never retried here.
- A refusal (``CarrierRejected``) is an answer: never retried.

A return label books like a delivery and follows the same rule (looked up by its own
reference before it is sent again). A cancellation cannot book anything and cancelling twice
is harmless at the carrier, so every unavailability of it may be retried, even an answer lost
after the request left.

The breaker counts consecutive unavailability (5xx, unreachable, no answer). After
``breaker_failures`` of them it opens: calls fail at once with ``CarrierHeldBack`` (nothing
sent) until ``breaker_cooldown`` has passed; then one probe goes through (half-open), and its
result closes or reopens the breaker. A refusal counts as the carrier being healthy.

Each carrier has its own semaphore of ``max_concurrent`` calls: a slow carrier holds its own
slots, never another's. A call that cannot get a slot within ``timeout`` is held back.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import attrs

from gateway.errors import (
    CarrierError,
    CarrierHeldBack,
    CarrierOutcomeUnknown,
    CarrierRejected,
    CarrierUnavailable,
    CarrierUnreachable,
    ConfigError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from carriers._core import Carrier, ServiceSpec
    from gateway.models import Cancellation, ReturnShipment, Shipment, ShipmentResult

T = TypeVar("T")


@attrs.frozen
class Resilience:
    """One carrier's call policy, from its ``[carriers.NAME]`` table."""

    timeout: float = 10.0
    max_concurrent: int = 8
    retries: int = 2
    backoff: float = 0.2
    backoff_max: float = 5.0
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0

    KEYS: ClassVar[tuple[str, ...]] = (
        "timeout", "max_concurrent", "retries", "backoff", "backoff_max", "breaker_failures",
        "breaker_cooldown",
    )  # fmt: skip

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> Resilience:
        """The policy named in ``table`` (other keys ignored); ConfigError on a bad value."""
        values: dict[str, Any] = {}
        for field in attrs.fields(cls):
            if field.name not in table:
                continue
            value = table[field.name]
            whole = field.type in (int, "int")
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                whole and not isinstance(value, int)
            ):
                kind = "a whole number" if whole else "a number"
                raise ConfigError(f"{where}: {field.name} must be {kind}")
            values[field.name] = value
        policy = cls(**values)
        policy.check(where)
        return policy

    def check(self, where: str) -> None:
        if self.timeout <= 0 or self.backoff < 0 or self.breaker_cooldown < 0:
            raise ConfigError(f"{where}: timeout must be > 0; backoff, breaker_cooldown >= 0")
        if self.max_concurrent < 1 or self.breaker_failures < 1 or self.retries < 0:
            raise ConfigError(
                f"{where}: max_concurrent and breaker_failures must be >= 1, retries >= 0"
            )
        if self.backoff_max < self.backoff:
            raise ConfigError(f"{where}: backoff_max must be >= backoff")

    @property
    def budget(self) -> float:
        """The most one operation may take, retries, look-ups and backoff included: a wait
        for a slot and up to five requests per attempt (Posti with OAuth: a token, a refused
        create, a new token, the create, the label), plus a look-up. Enforced: past it the
        operation ends (its outcome unknown if a booking may have left), so recovery may take
        any operation older than this as no longer in flight."""
        return self.timeout * (6 * (self.retries + 1) + 2) + self.backoff_max * self.retries

    def pause(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(backoff_max, backoff * 2**attempt))."""
        return rng() * min(self.backoff_max, self.backoff * 2.0**attempt)


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Observer(Protocol):
    """Where calls, retries and breaker changes are reported (the gateway's metrics)."""

    def carrier_call(self, carrier: str, operation: str, result: str, seconds: float) -> None: ...
    def carrier_retry(self, carrier: str, operation: str, reason: str) -> None: ...
    def carrier_breaker(self, carrier: str, state: str) -> None: ...


@attrs.define
class Breaker:
    """Consecutive-failure circuit breaker; the clock is injected."""

    failures_to_open: int
    cooldown: float
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[State], None] = lambda _state: None
    state: State = State.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    _probing: bool = False

    def rejecting(self) -> bool:
        """Open and still cooling down: a call would be held back."""
        return self.state is State.OPEN and self.clock() - self.opened_at < self.cooldown

    def admit(self) -> bool:
        """Whether a call may go out now; after the cooldown, one probe at a time."""
        if self.state is State.CLOSED:
            return True
        if self.rejecting():
            return False
        if self.state is State.OPEN:
            self._set(State.HALF_OPEN)
        if self._probing:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        self._probing = False
        self.failures = 0
        self._set(State.CLOSED)

    def failed(self) -> None:
        self._probing = False
        self.failures += 1
        if self.state is State.HALF_OPEN or self.failures >= self.failures_to_open:
            self.opened_at = self.clock()
            self._set(State.OPEN)

    def abandoned(self) -> None:
        """A call ended without a verdict (cancelled): let the next probe go."""
        self._probing = False

    def _set(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            self.on_change(state)


class Guarded:
    """A carrier adapter behind its resilience policy; itself a Carrier."""

    def __init__(
        self,
        adapter: Carrier,
        *,
        policy: Resilience,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.policy = policy
        self._observer = observer
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._slots = asyncio.Semaphore(policy.max_concurrent)
        self.breaker = Breaker(
            failures_to_open=policy.breaker_failures, cooldown=policy.breaker_cooldown,
            clock=clock, on_change=self._breaker_changed,
        )  # fmt: skip
        if observer is not None:
            observer.carrier_breaker(self.name, State.CLOSED)

    @property
    def services(self) -> Mapping[str, ServiceSpec]:
        return self.adapter.services

    @property
    def operations(self) -> frozenset[str]:
        return self.adapter.operations

    async def create_shipment(self, shipment: Shipment) -> ShipmentResult:
        return await self._within_budget("create", self._book(
            "create", self.adapter.create_shipment, shipment, shipment.reference))

    async def create_return(self, shipment: ReturnShipment) -> ShipmentResult:
        return await self._within_budget("return", self._book(
            "return", self.adapter.create_return, shipment, shipment.reference))

    async def cancel_shipment(self, cancellation: Cancellation) -> None:
        """Cancelling twice is harmless: every unavailability may be retried."""
        await self._within_budget("cancel", self._cancel(cancellation))

    async def find_shipment(self, reference: str) -> ShipmentResult | None:
        """Look-ups book nothing: every unavailability may be retried."""
        return await self._within_budget("find", self._find(reference))

    async def _within_budget(self, operation: str, work: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.policy.budget):
                return await work
        except TimeoutError:
            self._report(operation, "over_budget", self.policy.budget)
            if operation == "find":
                raise CarrierUnavailable(
                    f"{self.name}: the look-up took longer than its budget") from None
            raise CarrierOutcomeUnknown(
                f"{self.name}: the {operation} took longer than its budget of "
                f"{self.policy.budget:.0f} s; check it at the carrier") from None

    async def _cancel(self, cancellation: Cancellation) -> None:
        attempt = 0
        while True:
            try:
                return await self._call("cancel", self.adapter.cancel_shipment, cancellation)
            except CarrierHeldBack:
                raise
            except (CarrierUnavailable, CarrierOutcomeUnknown) as exc:
                if attempt >= self.policy.retries:
                    raise
                reason = "unreachable" if isinstance(exc, CarrierUnreachable) else (
                    "no_answer" if isinstance(exc, CarrierOutcomeUnknown) else "server_error")
            await self._retry("cancel", reason, attempt)
            attempt += 1

    async def _book(self, operation: str, fn: Callable[[Any], Awaitable[ShipmentResult]],
                    request: Any, reference: str) -> ShipmentResult:  # noqa: ANN401
        """Book through ``fn``; before booking again, look the booking up by ``reference``."""
        attempt = 0
        failure: CarrierUnavailable
        while True:
            try:
                return await self._call(operation, fn, request)
            except CarrierHeldBack:
                raise
            except CarrierUnreachable as exc:
                failure, reason = exc, "unreachable"
            except CarrierUnavailable as exc:
                asked, found = await self._look_up(reference)
                if found is not None:
                    return found
                if not asked:
                    raise
                failure, reason = exc, "server_error"
            except CarrierOutcomeUnknown:
                _asked, found = await self._look_up(reference)
                if found is not None:
                    return found
                raise
            if attempt >= self.policy.retries:
                raise failure
            await self._retry(operation, reason, attempt)
            attempt += 1

    async def _find(self, reference: str) -> ShipmentResult | None:
        attempt = 0
        while True:
            try:
                return await self._call("find", self.adapter.find_shipment, reference)
            except CarrierHeldBack:
                raise
            except CarrierUnavailable as exc:
                if attempt >= self.policy.retries:
                    raise
                reason = "unreachable" if isinstance(exc, CarrierUnreachable) else "server_error"
            await self._retry("find", reason, attempt)
            attempt += 1

    async def _look_up(self, reference: str) -> tuple[bool, ShipmentResult | None]:
        """(whether the carrier could be asked, the booking under ``reference`` or None)."""
        try:
            return True, await self._call("find", self.adapter.find_shipment, reference)
        except CarrierError:
            return False, None

    async def _retry(self, operation: str, reason: str, attempt: int) -> None:
        if self._observer is not None:
            self._observer.carrier_retry(self.name, operation, reason)
        await self._sleep(self.policy.pause(attempt, self._rng))

    async def _call(self, operation: str, fn: Callable[[Any], Awaitable[T]], arg: Any) -> T:  # noqa: ANN401
        if self.breaker.rejecting():
            self._report(operation, "held_back", 0.0)
            raise CarrierHeldBack(f"{self.name}: circuit breaker open; nothing was sent")
        try:
            if self._slots.locked():  # every slot taken: wait for one, at most ``timeout``
                async with asyncio.timeout(self.policy.timeout):
                    await self._slots.acquire()
            else:  # a free slot is taken at once, without a timer
                await self._slots.acquire()
        except TimeoutError:
            self._report(operation, "held_back", 0.0)
            raise CarrierHeldBack(
                f"{self.name}: {self.policy.max_concurrent} calls already in flight; "
                "nothing was sent"
            ) from None
        try:
            if not self.breaker.admit():
                self._report(operation, "held_back", 0.0)
                raise CarrierHeldBack(f"{self.name}: circuit breaker open; nothing was sent")
            return await self._timed(operation, fn, arg)
        finally:
            self._slots.release()

    async def _timed(self, operation: str, fn: Callable[[Any], Awaitable[T]], arg: Any) -> T:  # noqa: ANN401
        started = self._clock()
        result = "error"
        try:
            value = await fn(arg)
        except CarrierRejected:
            result = "rejected"
            self.breaker.succeeded()
            raise
        except CarrierOutcomeUnknown:
            result = "unknown"
            self.breaker.failed()
            raise
        except CarrierUnavailable:
            result = "unavailable"
            self.breaker.failed()
            raise
        except BaseException:
            self.breaker.abandoned()
            raise
        else:
            result = "ok"
            self.breaker.succeeded()
            return value
        finally:
            self._report(operation, result, self._clock() - started)

    def _report(self, operation: str, result: str, seconds: float) -> None:
        if self._observer is not None:
            self._observer.carrier_call(self.name, operation, result, seconds)

    def _breaker_changed(self, state: State) -> None:
        if self._observer is not None:
            self._observer.carrier_breaker(self.name, state)
