"""Hostile input against a live gateway: whatever arrives, the answer is never 5xx, and nothing is
disclosed unless a valid, signed order arrived."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.webhooks import sign_headers
from tests.conftest import ROOT, Harness, order_event, run_gateway, sandbox_credentials

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


class LiveGateway:
    """A gateway and its sandboxes on their own event loop in a thread, for synchronous
    property tests."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = asyncio.Event()
        self.tmp = tmp
        self.harness: Harness | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.close()

    async def _serve(self) -> None:
        self.stop = asyncio.Event()
        async with run_gateway(self.tmp) as harness:
            self.harness = harness
            self.ready.set()
            await self.stop.wait()

    def __enter__(self) -> LiveGateway:
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        assert self.harness is not None
        request = urllib.request.Request(self.harness.url + "/v1/hooks/orders", data=body,
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def booked(self) -> int:
        assert self.harness is not None
        return sum(len(self.harness.bookings(name)) for name in self.harness.sandboxes)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    import os  # noqa: PLC0415
    import tomllib  # noqa: PLC0415

    raw = tomllib.loads((ROOT / "config.toml").read_text())
    saved = dict(os.environ)
    os.environ.update(sandbox_credentials(raw))
    try:
        with LiveGateway(tmp_path_factory.mktemp("hostile")) as gateway:
            yield gateway
    finally:
        os.environ.clear()
        os.environ.update(saved)


def signed(live: LiveGateway, body: bytes, content_type: str = "application/json"
           ) -> dict[str, str]:
    assert live.harness is not None
    return {**sign_headers(live.harness.secret, f"msg_{uuid.uuid4().hex}", body),
            "content-type": content_type}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12),
                                                                      children, max_size=4),
    max_leaves=20,
)
PATHS = [("data",), ("data", "customer"), ("data", "delivery"), ("data", "parcels"),
         ("data", "order_id"), ("data", "customer", "postal_code"), ("data", "customer", "id"),
         ("data", "delivery", "carrier"), ("data", "delivery", "service"), ("type",),
         ("data", "customer", "marketing_consent"), ("data", "parcels", 0, "weight_kg")]


class TestSignedGarbage:
    @SETTINGS
    @given(body=st.binary(max_size=2000))
    def test_random_bytes_never_answer_5xx_or_disclose(self, live: LiveGateway,
                                                       body: bytes) -> None:
        """Signed random bytes get a 4xx problem and book nothing."""
        before = live.booked()
        status, _ = live.post(body, signed(live, body))
        assert 400 <= status < 500  # noqa: PLR2004
        assert live.booked() == before

    @SETTINGS
    @given(path=st.sampled_from(PATHS), value=JSON)
    def test_mutated_orders_never_answer_5xx(self, live: LiveGateway,
                                             path: tuple[Any, ...], value: Any) -> None:  # noqa: ANN401
        """A valid order with one field replaced by arbitrary JSON answers 201 or a 4xx problem,
        never 5xx; a 4xx books nothing."""
        event = copy.deepcopy(order_event("posti", "home_delivery"))
        target: Any = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        body = json.dumps(event).encode()
        before = live.booked()
        status, answer = live.post(body, signed(live, body))
        assert status == 201 or 400 <= status < 500, answer  # noqa: PLR2004
        if status != 201:  # noqa: PLR2004
            assert live.booked() == before
            assert json.loads(answer)["status"] == status


class TestHostileShapes:
    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            (b"[" * 5000 + b"]" * 5000, "application/json"),
            (b'{"type": "order.ready_to_ship", "data": ' + b'{"a":' * 2000 + b"1" + b"}" * 2001,
             "application/json"),
            (b'{"type": "\xed\xa0\x80"}', "application/json"),
            (orjson.dumps(order_event("posti", "home_delivery")), "application/x-www-form-urlencoded"),
            (orjson.dumps(order_event("posti", "home_delivery")), "application/json; charset=latin-1"),
        ],
        ids=["deep-array", "deep-object", "bad-utf8", "form", "json-latin1"],
    )
    def test_odd_bodies_are_refused_cleanly(self, live: LiveGateway, body: bytes,
                                            content_type: str) -> None:
        """Deeply nested, badly encoded or mistyped bodies get a 4xx and book nothing."""
        before = live.booked()
        status, _ = live.post(body, signed(live, body, content_type))
        assert 400 <= status < 500  # noqa: PLR2004
        assert live.booked() == before

    def test_a_replayed_hook_re_signed_with_a_new_id_is_a_new_hook(self, live: LiveGateway) -> None:
        """Only the pipeline's key can sign; a captured hook replayed after the window fails."""
        body = orjson.dumps(order_event("posti", "home_delivery"))
        assert live.harness is not None
        old = {**sign_headers(live.harness.secret, "msg_old", body,
                              timestamp=int(time.time()) - 600),
               "content-type": "application/json"}
        before = live.booked()
        assert live.post(body, old)[0] == 401  # noqa: PLR2004
        assert live.booked() == before
