"""Posti with OAuth 2.0 client credentials: tokens from the sandbox's /oauth/token over HTTP,
sent as Routing.Token, cached, refreshed before expiry and once after a refusal."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from carriers.posti import Posti
from carriers.sandbox import BOOKINGS, CANCELLED, CONTROL, RECEIVED, Received, run_sandbox
from carriers.sandbox.credentials import ALTERNATIVE_CREDENTIALS
from carriers.sandbox.posti import TOKENS, token_requests
from gateway.errors import CarrierRejected, CarrierUnavailable, CarrierUnreachable
from gateway.models import Cancellation, Parcel, Party, Receiver, ReturnShipment, Shipment

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import aiohttp
    from aiohttp import web

OAUTH = ALTERNATIVE_CREDENTIALS["posti"]
SECRET = OAUTH["client_secret"]
SENDER = Party(
    name="Verkkokauppa Oy", street="Teollisuuskatu 1", postal_code="00510", town="Helsinki",
    country="FI", phone="+358900000001", email="logistics@shop.invalid",
    business_id="1234567-8",
)  # fmt: skip
HOME = Receiver(name="Testi Henkilö", street="Kotikatu 1", postal_code="33100",
                town="Tampere", country="FI", phone="+358401111111")  # fmt: skip


def shipment() -> Shipment:
    return Shipment(
        reference="d_" + uuid.uuid4().hex, carrier="posti", service="home_delivery",
        sender=SENDER, receiver=HOME, parcels=(Parcel(weight_kg=1.5),),
    )  # fmt: skip


def creates(app: web.Application) -> list[Received]:
    return [r for r in app[RECEIVED] if r.path == "/prinetti/create-shipment"]


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[str, web.Application]]:
    async with run_sandbox("posti") as running:
        yield running


def adapter(session: aiohttp.ClientSession, url: str, *, clock: Callable[[], float] = time.time,
            secret: str = SECRET, token_url: str | None = None) -> Posti:
    return Posti(session=session, base_url=url, timeout=5, clock=clock, token_url=token_url,
                 credentials={"client_id": OAUTH["client_id"], "client_secret": secret})


class TestTokens:
    async def test_one_token_serves_fifty_concurrent_bookings(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        """Fifty bookings at once cause one token request; each sends the token as
        Routing.Token under the client id, and no Routing.Key."""
        url, app = sandbox
        posti = adapter(session, url)

        results = await asyncio.gather(*(posti.create_shipment(shipment()) for _ in range(50)))

        assert token_requests(app) == 1
        assert len(app[BOOKINGS]) == len({r.tracking_number for r in results}) == 50
        (token,) = app[TOKENS]
        for received in creates(app):
            routing = received.body.find("ROUTING")
            assert routing.findtext("Routing.Token") == token
            assert routing.findtext("Routing.Account") == OAUTH["client_id"]
            assert routing.find("Routing.Key") is None
            assert routing.findtext("Routing.Id", "").isdigit()
            assert len(routing.findtext("Routing.Time", "")) == 14

    async def test_token_request_uses_basic_auth_and_client_credentials_grant(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        url, app = sandbox
        await adapter(session, url).create_shipment(shipment())

        request = next(r for r in app[RECEIVED] if r.path == "/oauth/token")
        assert request.method == "POST"
        assert request.query == {"grant_type": "client_credentials"}
        assert request.headers["Authorization"].startswith("Basic ")
        assert request.headers["Accept"] == "application/json"

    async def test_refreshed_when_the_lifetime_runs_out(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        """A token of 1 s is replaced before the carrier would find it expired."""
        url, app = sandbox
        app[CONTROL].token_ttl = 1.0
        posti = adapter(session, url)

        await posti.create_shipment(shipment())
        await posti.create_shipment(shipment())
        assert token_requests(app) == 1
        await asyncio.sleep(1.0)
        await posti.create_shipment(shipment())

        assert token_requests(app) == 2
        assert len(app[BOOKINGS]) == len(creates(app)) == 3

    async def test_refreshed_by_the_injected_clock(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        """Expiry is read from the adapter's clock: an hour later, a new token is fetched
        before the request, none is refused."""
        url, app = sandbox
        offset = [0.0]
        posti = adapter(session, url, clock=lambda: time.time() + offset[0])

        await posti.create_shipment(shipment())
        offset[0] = 3540.0  # within the last minute of 3599 s
        await posti.create_shipment(shipment())

        assert token_requests(app) == 2
        assert len(app[BOOKINGS]) == len(creates(app)) == 2

    async def test_revoked_token_is_replaced_once_and_the_booking_made_once(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        """The carrier refuses a revoked token with 401 before handling anything: a new
        token is fetched, the document resent once, and the shipment booked exactly once."""
        url, app = sandbox
        posti = adapter(session, url)
        await posti.create_shipment(shipment())
        app[CONTROL].revoke_tokens()
        sent = shipment()

        result = await posti.create_shipment(sent)

        assert token_requests(app) == 2
        assert list(app[BOOKINGS].keys()).count(sent.reference) == 1
        assert app[BOOKINGS][sent.reference].tracking_number == result.tracking_number
        assert len(app[BOOKINGS]) == 2
        tries = [r for r in creates(app)
                 if r.body.findtext(".//Consignment.Reference") == sent.reference]
        assert len(tries) == 2

    async def test_fifty_bookings_refused_at_once_fetch_one_new_token(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        url, app = sandbox
        posti = adapter(session, url)
        await posti.create_shipment(shipment())
        app[CONTROL].revoke_tokens()

        await asyncio.gather(*(posti.create_shipment(shipment()) for _ in range(50)))

        assert token_requests(app) == 2
        assert len(app[BOOKINGS]) == 51

    async def test_a_token_refused_again_is_not_resent_twice(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        """One resend only: a carrier refusing every token gets two requests, and the
        refusal says nothing was booked."""
        url, app = sandbox
        app[CONTROL].refuse_tokens = True

        with pytest.raises(CarrierRejected, match="nothing was booked"):
            await adapter(session, url).create_shipment(shipment())

        assert token_requests(app) == 2
        assert len(creates(app)) == 2
        assert not app[BOOKINGS]

    async def test_wrong_client_secret_is_refused_and_not_retried(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        """401 from the token endpoint: a refusal of the credentials, one request, nothing
        sent to create-shipment; the secret is in no message or repr."""
        url, app = sandbox
        wrong = "wrong-secret-Q9Z"
        posti = adapter(session, url, secret=wrong)

        with pytest.raises(CarrierRejected, match="nothing was booked") as caught:
            await posti.create_shipment(shipment())

        assert token_requests(app) == 1
        assert not creates(app)
        assert not app[BOOKINGS]
        for text in (str(caught.value), repr(caught.value), repr(posti),
                     repr(posti._tokens)):  # noqa: SLF001
            assert wrong not in text

    async def test_token_endpoint_down_is_unavailable(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        url, app = sandbox
        app[CONTROL].fail_status, app[CONTROL].times = 503, 1

        with pytest.raises(CarrierUnavailable, match="nothing was booked"):
            await adapter(session, url).create_shipment(shipment())
        assert not creates(app)

    async def test_token_endpoint_unreachable(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application],
        closed_port: int,
    ) -> None:
        url, app = sandbox
        posti = adapter(session, url, token_url=f"http://127.0.0.1:{closed_port}/oauth/token")

        with pytest.raises(CarrierUnreachable):
            await posti.create_shipment(shipment())
        assert not creates(app)

    async def test_token_is_in_no_exception_or_repr(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        url, app = sandbox
        posti = adapter(session, url)
        await posti.create_shipment(shipment())
        (token,) = app[TOKENS]
        app[CONTROL].refuse_tokens = True

        with pytest.raises(CarrierRejected) as caught:
            await posti.create_shipment(shipment())

        tokens = posti._tokens  # noqa: SLF001
        assert tokens is not None
        for text in (str(caught.value), repr(posti), repr(tokens),
                     repr(tokens._current)):  # noqa: SLF001
            assert token not in text
            assert SECRET not in text


class TestOtherCalls:
    async def test_find_label_cancel_and_return_refresh_a_revoked_token(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        """Look-up, cancel and return booking carry the token too, and each survives one
        revocation with one new token."""
        url, app = sandbox
        posti = adapter(session, url)
        sent = shipment()
        booked = await posti.create_shipment(sent)
        assert booked.label.startswith(b"%PDF")

        app[CONTROL].revoke_tokens()
        found = await posti.find_shipment(sent.reference)
        assert found is not None
        assert found.tracking_number == booked.tracking_number
        assert token_requests(app) == 2

        app[CONTROL].revoke_tokens()
        await posti.cancel_shipment(Cancellation(
            reference=sent.reference, service="home_delivery",
            tracking_number=booked.tracking_number,
            carrier_reference=booked.carrier_reference))  # fmt: skip
        assert sent.reference in app[CANCELLED]
        assert token_requests(app) == 3
        cancel = [r for r in app[RECEIVED] if r.path == "/shipment/cancel"][-1]
        assert cancel.headers["Authorization"].startswith("Bearer ")
        assert "hash" not in cancel.raw.decode()

        app[CONTROL].revoke_tokens()
        returned = ReturnShipment(
            reference="d_" + uuid.uuid4().hex, carrier="posti",
            sender=Receiver(name="Testi Henkilö", postal_code="33100", town="Tampere",
                            country="FI"),
            receiver=SENDER, parcels=(Parcel(weight_kg=1.0),),
        )  # fmt: skip
        result = await posti.create_return(returned)
        assert result.label.startswith(b"%PDF")
        assert list(app[BOOKINGS].keys()).count(returned.reference) == 1
        assert token_requests(app) == 4

    async def test_hmac_credentials_stay_on_routing_key(
        self, session: aiohttp.ClientSession, sandbox: tuple[str, web.Application]
    ) -> None:
        """Without client_id/client_secret nothing asks for a token."""
        url, app = sandbox
        posti = Posti(session=session, base_url=url, timeout=5,
                      credentials={"api_key": "sandbox-client", "secret": "sandbox-secret"})

        await posti.create_shipment(shipment())

        assert token_requests(app) == 0
        routing = creates(app)[0].body.find("ROUTING")
        assert routing.find("Routing.Token") is None
        assert routing.findtext("Routing.Key")
