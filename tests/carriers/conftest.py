"""Shared fixtures: a real client session, canary receiver data, and one case per carrier service.

Canary values are distinctive strings that cannot occur by chance, so "this value never went
there" is a plain substring assertion. Any test taking a ``case`` argument runs once per
carrier service in CASES.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import aiohttp
import attrs
import pytest

from carriers import ADAPTERS
from carriers._core import Carrier
from carriers.sandbox import budbee as budbee_sandbox
from carriers.sandbox import dhl_express as dhl_sandbox
from carriers.sandbox import matkahuolto as mh_sandbox
from carriers.sandbox import posti as posti_sandbox
from carriers.sandbox import postnord as postnord_sandbox
from carriers.sandbox import run_sandbox
from carriers.sandbox.credentials import SANDBOX_CREDENTIALS
from gateway.models import Parcel, Party, Receiver, Shipment

if TYPE_CHECKING:
    from types import ModuleType

CANARY: Mapping[str, str] = {
    "name": "Canary Virtanen-Q7",
    "street": "Kanarialintu 13 B 7",
    "postal_code": "00970",
    "town": "Canaryville",
    "country": "FI",
    "phone": "+358401234567",
    "email": "canary.q7@example.invalid",
    "door_code": "B7319K",
}
#: Canary fields long and odd enough to search for anywhere (a postal code or country code can
#: occur by chance inside timestamps, keys or tracking numbers).
DISTINCTIVE = ("name", "street", "town", "phone", "email", "door_code")

SENDER = Party(
    name="Verkkokauppa Oy", street="Teollisuuskatu 1", postal_code="00510", town="Helsinki",
    country="FI", phone="+358900000001", email="logistics@shop.invalid",
    business_id="1234567-8",
)  # fmt: skip

CREDENTIALS = SANDBOX_CREDENTIALS


@attrs.frozen
class Case:
    """One carrier service as the contract tests exercise it."""

    carrier: str
    service: str
    sandbox: ModuleType
    fields: tuple[str, ...]
    #: A field the carrier requires for this service (dropped to see the refusal).
    drop: str
    #: The carrier's name for the dropped field, as its refusal names it.
    drop_named: str
    pickup_point_id: str | None = None
    variant: str = ""

    @property
    def credentials(self) -> Mapping[str, str]:
        return CREDENTIALS[self.carrier]

    def __str__(self) -> str:
        return "-".join(filter(None, (self.carrier, self.service, self.variant)))


CASES = (
    Case("posti", "pickup_point", posti_sandbox,
         ("name", "postal_code", "town", "country", "phone"), "phone", "Recipient.Phone",
         pickup_point_id="905253201"),
    Case("posti", "home_delivery", posti_sandbox,
         ("name", "street", "postal_code", "town", "country", "phone", "email"), "street",
         "Recipient.Addr1"),
    Case("matkahuolto", "pickup_point", mh_sandbox,
         ("name", "postal_code", "town", "phone"), "name", "ReceiverName1",
         pickup_point_id="5410"),
    Case("matkahuolto", "pickup_point", mh_sandbox,
         ("name", "postal_code", "town", "email"), "email", "ReceiverEmail",
         pickup_point_id="5410", variant="email-notice"),
    Case("matkahuolto", "home_delivery", mh_sandbox,
         ("name", "street", "postal_code", "town", "phone"), "street", "ReceiverAddress"),
    Case("postnord", "service_point", postnord_sandbox,
         ("name", "postal_code", "town", "country", "phone"), "phone", "smsNo",
         pickup_point_id="588462"),
    Case("dhl_express", "express", dhl_sandbox,
         ("name", "street", "postal_code", "town", "country", "phone", "email"), "phone",
         "phone"),
    Case("budbee", "home", budbee_sandbox,
         ("name", "street", "postal_code", "town", "country", "phone", "door_code"), "street",
         "street"),
    Case("budbee", "home", budbee_sandbox,
         ("name", "street", "postal_code", "town", "country", "phone"), "phone",
         "telephoneNumber", variant="no-door-code"),
    Case("budbee", "box", budbee_sandbox,
         ("name", "postal_code", "town", "country", "phone"), "name", "name",
         pickup_point_id="BOX0042"),
)  # fmt: skip


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=str)


def shipment_for(case: Case, fields: tuple[str, ...] | None = None) -> Shipment:
    """A shipment for ``case`` whose receiver holds the canary values of ``fields`` only."""
    return Shipment(
        reference="d_" + uuid.uuid4().hex,
        carrier=case.carrier,
        service=case.service,
        sender=SENDER,
        receiver=Receiver(**{name: CANARY[name] for name in (fields or case.fields)}),
        parcels=(Parcel(weight_kg=1.2, length_cm=30, width_cm=20, height_cm=10),),
        pickup_point_id=case.pickup_point_id,
    )


def leaked(text: str) -> list[str]:
    """The canary fields whose values occur in ``text``."""
    return [name for name in DISTINCTIVE if CANARY[name] in text]


@pytest.fixture
def make_shipment() -> Callable[..., Shipment]:
    return shipment_for


@pytest.fixture
def leaks() -> Callable[[str], list[str]]:
    return leaked


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


AdapterMaker = Callable[..., Carrier]


@pytest.fixture
def make_sandbox_post(
    session: aiohttp.ClientSession,
) -> Callable[..., Awaitable[tuple[int, bytes]]]:
    """POST raw bytes to a fresh sandbox of the named carrier; the status and body it answers."""

    async def post(
        carrier: str, path: str, body: bytes, content_type: str, **headers: str
    ) -> tuple[int, bytes]:
        async with (
            run_sandbox(carrier, credentials=CREDENTIALS[carrier]) as (url, _app),
            session.post(
                url + path, data=body, headers={"Content-Type": content_type, **headers}
            ) as response,
        ):
            return response.status, await response.read()

    return post


@pytest.fixture
def make_adapter(session: aiohttp.ClientSession) -> AdapterMaker:
    """Build the named carrier's adapter against ``base_url`` with the sandbox credentials."""

    def make(carrier: str, base_url: str, *, timeout: float = 5.0) -> Carrier:
        return ADAPTERS[carrier](
            session=session,
            base_url=base_url,
            credentials=CREDENTIALS[carrier],
            timeout=timeout,
        )

    return make
