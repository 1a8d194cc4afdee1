"""The credentials each sandbox accepts by default, by the adapter's credential names.

The demo and the tests point config.toml's credential environment variables at these; every
sandbox's ``create_app`` takes the same names as keywords, defaulting to these values.
``ALTERNATIVE_CREDENTIALS`` are the other credential sets an adapter may be configured with
(Posti's OAuth client), accepted by the sandbox at the same time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

SANDBOX_CREDENTIALS: Mapping[str, Mapping[str, str]] = {
    "posti": {"api_key": "sandbox-client", "secret": "sandbox-secret"},
    "matkahuolto": {"user_id": "9430023", "password": "sandbox-secret"},
    "postnord": {"api_key": "sandbox-client", "customer_number": "1111111111"},
    "dhl_express": {
        "api_key": "sandbox-client",
        "api_secret": "sandbox-secret",
        "account_number": "123456789",
    },
    "budbee": {
        "api_key": "sandbox-client",
        "api_secret": "sandbox-secret",
        "collection_id": "1001",
    },
}

ALTERNATIVE_CREDENTIALS: Mapping[str, Mapping[str, str]] = {
    "posti": {"client_id": "sandbox-oauth-client", "client_secret": "sandbox-oauth-secret"},
}
