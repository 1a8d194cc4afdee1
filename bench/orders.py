"""The order hooks the load generator sends: one shape, a new order and customer every time.

Every hook is a Posti parcel-locker order (``posti/pickup_point``, SMS notice), signed as the
order pipeline signs it (Standard Webhooks). Each order comes from a customer the gateway has not
seen, the first-order case: the gateway creates and wraps a data key for every one of them.
Both the gateway and the baseline proxy get the same bytes; the proxy ignores the signature.
"""

from __future__ import annotations

import time

import orjson

from gateway.operations.signature import HookSecret, sign_headers


def order_event(n: int, run: str) -> dict[str, object]:
    return {
        "type": "order.ready_to_ship",
        "timestamp": "2026-11-22T10:00:00Z",
        "data": {
            "order_id": f"B-{run}-{n}",
            "customer": {
                "id": f"BC-{run}-{n}", "first_name": "Aino", "last_name": "Esimerkki",
                "street": "Hämeenkatu 1 A 2", "postal_code": "33100", "town": "Tampere",
                "country": "FI", "phone": f"+35840{n % 10_000_000:07d}",
                "email": f"aino.{n}@example.invalid", "marketing_consent": n % 2 == 0,
            },
            "delivery": {"carrier": "posti", "service": "pickup_point",
                         "pickup_point_id": "1011", "notice": "sms"},
            "parcels": [{"weight_kg": 1.2, "length_cm": 30, "width_cm": 20, "height_cm": 10}],
        },
    }


class Hooks:
    """Signed hook requests, made one at a time as the load generator needs them."""

    def __init__(self, secret: HookSecret, run: str) -> None:
        self._secret = secret
        self._run = run
        self._n = 0

    def next(self) -> tuple[bytes, dict[str, str]]:
        self._n += 1
        body = orjson.dumps(order_event(self._n, self._run))
        headers = sign_headers(self._secret, f"msg_{self._run}_{self._n}", body,
                               timestamp=int(time.time()))
        headers["content-type"] = "application/json"
        return body, headers
