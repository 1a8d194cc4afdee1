"""A carrier that answers from a script and records every call: implements
``carriers.Carrier`` as the adapters do, with no HTTP underneath.

Each operation (``create``, ``find``, ``cancel``, ``return``) takes its next step from its own
script, and falls back to behaving like a healthy carrier once the script is used up:

- ``BOOK``: book it (keep it under its reference, so ``find_shipment`` finds it) and answer;
- a ``CarrierError`` instance: raise it, nothing booked (a refusal, an unavailability);
- ``Lost()``: book it, then lose the answer (raise ``CarrierOutcomeUnknown``), as a timeout
  after the request left;
- ``Hang()``: book it (or not, ``Hang(booked=False)``), then answer only once ``release`` is
  set: the caller waits, and a test may cancel it there, as when the gateway's process dies
  during the call.

``calls`` lists (operation, reference) in the order the calls arrived; ``received`` keeps what
each call carried, to check what left the gateway.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Mapping
from typing import Final

import attrs

from carriers import ADAPTERS, CANCEL, RETURN, ServiceSpec
from gateway.errors import CarrierError, CarrierOutcomeUnknown
from gateway.models import Cancellation, ReturnShipment, Shipment, ShipmentResult

CREATE: Final = "create"
FIND: Final = "find"
CANCELLING: Final = "cancel"
RETURNING: Final = "return"

#: Book and answer, as a healthy carrier does.
BOOK: Final = "book"


@attrs.frozen
class Lost:
    """The carrier books, but its answer never arrives."""


@attrs.frozen
class Hang:
    """The carrier answers only once released; it has booked unless ``booked`` is false."""

    booked: bool = True


Step = str | CarrierError | Lost | Hang


@attrs.define
class FakeCarrier:
    name: str
    services: Mapping[str, ServiceSpec]
    operations: frozenset[str] = frozenset({CANCEL, RETURN})
    calls: list[tuple[str, str]] = attrs.field(factory=list)
    received: list[Shipment | ReturnShipment | Cancellation] = attrs.field(factory=list)
    #: Bookings the carrier holds, by our reference.
    bookings: dict[str, ShipmentResult] = attrs.field(factory=dict)
    cancelled: list[str] = attrs.field(factory=list)
    #: Set when a ``Hang`` step is reached: the call is in flight.
    hanging: asyncio.Event = attrs.field(factory=asyncio.Event)
    #: Lets every ``Hang`` step answer.
    release: asyncio.Event = attrs.field(factory=asyncio.Event)
    _script: dict[str, deque[Step]] = attrs.field(factory=dict)
    _numbers: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))

    @classmethod
    def like(cls, name: str, *, operations: frozenset[str] | None = None) -> FakeCarrier:
        """A fake standing in for the adapter ``name``: its services and operations."""
        adapter = ADAPTERS[name]
        return cls(name=name, services=adapter.services,
                   operations=adapter.operations if operations is None else operations)

    def then(self, operation: str, *steps: Step) -> FakeCarrier:
        """Script the next calls of ``operation``."""
        self._script.setdefault(operation, deque()).extend(steps)
        return self

    def made(self, operation: str) -> list[str]:
        """The references of the calls of ``operation`` made so far."""
        return [ref for op, ref in self.calls if op == operation]

    async def create_shipment(self, shipment: Shipment) -> ShipmentResult:
        return await self._book(CREATE, shipment)

    async def create_return(self, shipment: ReturnShipment) -> ShipmentResult:
        return await self._book(RETURNING, shipment)

    async def find_shipment(self, reference: str) -> ShipmentResult | None:
        self.calls.append((FIND, reference))
        step = self._next(FIND)
        if isinstance(step, CarrierError):
            raise step
        found = self.bookings.get(reference)
        # The carrier cannot hand the label out again by reference.
        return None if found is None else attrs.evolve(found, label=b"")

    async def cancel_shipment(self, cancellation: Cancellation) -> None:
        self.calls.append((CANCELLING, cancellation.reference))
        self.received.append(cancellation)
        step = self._next(CANCELLING)
        if isinstance(step, CarrierError):
            raise step
        if not (isinstance(step, Hang) and not step.booked):
            self.cancelled.append(cancellation.reference)
        if isinstance(step, Hang):
            await self._hang()
        if isinstance(step, Lost):
            raise CarrierOutcomeUnknown(f"{self.name} did not answer the cancellation")

    async def _book(self, operation: str, shipment: Shipment | ReturnShipment) -> ShipmentResult:
        self.calls.append((operation, shipment.reference))
        self.received.append(shipment)
        step = self._next(operation)
        if isinstance(step, CarrierError):
            raise step
        result = ShipmentResult(tracking_number=f"FAKE{next(self._numbers):08d}",
                                label=b"%PDF-1.4 fake label", label_format="pdf",
                                carrier_reference=f"ref-{shipment.reference}")
        if not (isinstance(step, Hang) and not step.booked):
            self.bookings[shipment.reference] = result
        if isinstance(step, Hang):
            await self._hang()
        if isinstance(step, Lost):
            raise CarrierOutcomeUnknown(f"{self.name} did not answer in time")
        return result

    def _next(self, operation: str) -> Step:
        steps = self._script.get(operation)
        return steps.popleft() if steps else BOOK

    async def _hang(self) -> None:
        self.hanging.set()
        await self.release.wait()
