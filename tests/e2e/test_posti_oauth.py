"""The gateway configured for Posti's OAuth client credentials: bookings through the signed
order hook get their token from the sandbox's /oauth/token, once, and neither the client
secret nor the token reaches the process log."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from carriers.sandbox import CONTROL, RECEIVED
from carriers.sandbox.credentials import ALTERNATIVE_CREDENTIALS
from carriers.sandbox.posti import TOKENS, token_requests
from tests.conftest import order_event, run_gateway

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

OAUTH = ALTERNATIVE_CREDENTIALS["posti"]


def oauth(raw: dict[str, Any]) -> None:
    raw["carriers"]["posti"]["credentials"] = {
        "client_id": {"env": "POSTI_CLIENT_ID"},
        "client_secret": {"env": "POSTI_CLIENT_SECRET"},
    }


async def test_books_pickup_point_and_home_delivery_with_one_token(
    tmp_path: Path, carrier_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTI_CLIENT_ID", OAUTH["client_id"])
    monkeypatch.setenv("POSTI_CLIENT_SECRET", OAUTH["client_secret"])
    run = run_gateway(tmp_path, change=oauth)
    async with run as gateway:
        posti = gateway.sandboxes["posti"]
        pickup = await gateway.post(
            order_event("posti", "pickup_point", pickup_point_id="PP-1001"))
        home = await gateway.post(order_event("posti", "home_delivery"))
        assert (pickup[0], pickup[1]["result"]) == (201, "booked")
        assert (home[0], home[1]["result"]) == (201, "booked")

        # A revoked token is replaced once, the order booked once.
        posti[CONTROL].revoke_tokens()
        again = await gateway.post(order_event("posti", "home_delivery"))
        assert (again[0], again[1]["result"]) == (201, "booked")

        assert len(gateway.bookings("posti")) == 3
        assert token_requests(posti) == 2
        tokens = list(posti[TOKENS])
        creates = [r for r in posti[RECEIVED] if r.path == "/prinetti/create-shipment"]
        assert len(creates) == 4
        assert all(r.body.find("ROUTING/Routing.Key") is None for r in creates)
        assert all(r.body.findtext("ROUTING/Routing.Token") in tokens for r in creates)

    log = run.log.getvalue()
    assert log  # the harness captured the gateway's log
    basic = base64.b64encode(f"{OAUTH['client_id']}:{OAUTH['client_secret']}".encode()).decode()
    assert "posti" in log
    for secret in (OAUTH["client_secret"], basic, *tokens):
        assert secret not in log
