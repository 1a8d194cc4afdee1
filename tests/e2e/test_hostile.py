"""Hostile input against a live gateway: whatever arrives, the answer is never 5xx, and nothing is
disclosed unless a valid, signed order arrived."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.operations.signature import sign_headers
from tests.conftest import order_event
from tests.e2e.conftest import LiveGateway

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


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
        assert 400 <= status < 500
        assert live.booked() == before

    @SETTINGS
    @given(path=st.sampled_from(PATHS), value=JSON)
    def test_mutated_orders_never_answer_5xx(self, live: LiveGateway,
                                             path: tuple[Any, ...],
                                                 value: Any) -> None:  # noqa: ANN401
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
        assert status == 201 or 400 <= status < 500, answer
        if status != 201:
            assert live.booked() == before
            assert json.loads(answer)["status"] == status


    @SETTINGS
    @given(kind=st.sampled_from(["order.cancelled", "order.return_requested"]),
           path=st.sampled_from([("data", "order_id"), ("data", "disclosure_id"),
                                 ("data", "return"), ("data", "return", "carrier"),
                                 ("data", "customer"), ("data", "customer", "street"),
                                 ("data", "parcels"), ("data",), ("type",)]),
           value=JSON)
    def test_mutated_cancels_and_returns_never_answer_5xx(
        self, live: LiveGateway, kind: str, path: tuple[Any, ...], value: Any  # noqa: ANN401
    ) -> None:
        """A cancellation or a return request with one field replaced by arbitrary JSON answers
        a success or a 4xx problem, never 5xx; a 4xx books nothing."""
        event = copy.deepcopy(order_event("posti", "return"))
        data = event["data"]
        del data["delivery"]
        if kind == "order.cancelled":
            event = {"type": kind, "data": {"order_id": data["order_id"],
                                            "disclosure_id": "d_" + "0" * 32}}
        else:
            event = {"type": kind, "data": {**data, "return": {"carrier": "posti"}}}
        target: Any = event
        for key in path[:-1]:
            if not isinstance(target, dict) or key not in target:
                return
            target = target[key]
        if not isinstance(target, dict):
            return
        target[path[-1]] = value
        body = json.dumps(event).encode()
        before = live.booked()
        status, answer = live.post(body, signed(live, body))
        assert status in (200, 201) or 400 <= status < 500, answer
        if status >= 400:
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
            (orjson.dumps(order_event("posti", "home_delivery")),
                "application/x-www-form-urlencoded"),
            (orjson.dumps(order_event("posti", "home_delivery")),
                "application/json; charset=latin-1"),
        ],
        ids=["deep-array", "deep-object", "bad-utf8", "form", "json-latin1"],
    )
    def test_odd_bodies_are_refused_cleanly(self, live: LiveGateway, body: bytes,
                                            content_type: str) -> None:
        """Deeply nested, badly encoded or mistyped bodies get a 4xx and book nothing."""
        before = live.booked()
        status, _ = live.post(body, signed(live, body, content_type))
        assert 400 <= status < 500
        assert live.booked() == before

    def test_a_replayed_hook_re_signed_with_a_new_id_is_a_new_hook(self, live: LiveGateway) -> None:
        """Only the pipeline's key can sign; a captured hook replayed after the window fails."""
        body = orjson.dumps(order_event("posti", "home_delivery"))
        assert live.harness is not None
        old = {**sign_headers(live.harness.secret, "msg_old", body,
                              timestamp=int(time.time()) - 600),
               "content-type": "application/json"}
        before = live.booked()
        assert live.post(body, old)[0] == 401
        assert live.booked() == before
