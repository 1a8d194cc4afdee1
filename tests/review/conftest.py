"""Helpers for the review tests: raw HTTP calls as a given caller, and a gateway that has
already made disclosures through the posti sandbox."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson
from multidict import CIMultiDictProxy

from tests.conftest import Harness, order_event


async def call(gateway: Harness, method: str, path: str, *,
               headers: Mapping[str, str] | None = None, **kwargs: Any,  # noqa: ANN401
               ) -> tuple[int, bytes, CIMultiDictProxy[str]]:
    """One request, redirects not followed."""
    async with gateway.http.request(method, gateway.url + path, headers=dict(headers or {}),
                                    allow_redirects=False, **kwargs) as resp:
        return resp.status, await resp.read(), resp.headers


async def get_json(gateway: Harness, path: str, headers: Mapping[str, str],
                   ) -> dict[str, Any]:
    status, body, _ = await call(gateway, "GET", path, headers=headers)
    assert status == 200, body
    doc: dict[str, Any] = orjson.loads(body)
    return doc


def cookie_of(bearer: Mapping[str, str]) -> dict[str, str]:
    """The same session as a web session cookie."""
    return {"Cookie": f"gateway_session={bearer['Authorization'].removeprefix('Bearer ')}"}


def entries(gateway: Harness) -> list[dict[str, Any]]:
    db = sqlite3.connect(gateway.config.record.path)
    return [orjson.loads(b) for (b,) in db.execute("SELECT body FROM entries ORDER BY seq")]


async def ship(gateway: Harness, *, order_id: str, service: str = "home_delivery",
               customer: str | None = None, **delivery: Any) -> dict[str, Any]:  # noqa: ANN401
    """One order through the gateway to the posti sandbox; its answer."""
    event = order_event("posti", service, order_id=order_id, **delivery)
    if customer is not None:
        event["data"]["customer"]["id"] = customer
    status, answer, _ = await gateway.post(event)
    assert status == 201, answer
    return answer
