"""The credentials each sandbox accepts by default, by the adapter's credential names.

The demo and the tests point config.toml's credential environment variables at these."""

from __future__ import annotations

from collections.abc import Mapping

SANDBOX_CREDENTIALS: Mapping[str, Mapping[str, str]] = {
    "posti": {"api_key": "sandbox-client", "secret": "sandbox-secret"},
    "matkahuolto": {"user_id": "9430023", "password": "sandbox-secret"},
}
