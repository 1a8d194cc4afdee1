"""Parsing the pipeline's order event."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from gateway.errors import BadRequest
from gateway.payload import parse_order_event

EVENT: dict[str, Any] = {
    "type": "order.ready_to_ship",
    "timestamp": "2026-11-22T10:00:00Z",
    "data": {
        "order_id": "J-1001",
        "customer": {
            "id": "C-77", "first_name": "Canary", "last_name": "Kanarialintu",
            "street": "Kanarikuja 7", "postal_code": "99999", "town": "Kanariala",
            "country": "fi", "phone": "+358409999999", "email": "canary@example.invalid",
            "marketing_consent": True,
        },
        "delivery": {"carrier": "posti", "service": "pickup_point", "pickup_point_id": "P1",
                     "notice": "sms"},
        "parcels": [{"weight_kg": 1.5, "length_cm": 30}],
    },
}
CANARIES = ("Canary", "Kanarialintu", "Kanarikuja", "99999", "Kanariala", "+358409999999",
            "canary@example.invalid")


def with_change(path: list[str], value: object) -> bytes:
    event = copy.deepcopy(EVENT)
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return orjson.dumps(event)


class TestParseOrderEvent:
    def test_parses_a_complete_event(self) -> None:
        """Every field lands where the model expects it; the country is upper-cased."""
        order = parse_order_event(orjson.dumps(EVENT))
        assert order.id == "J-1001"
        assert order.customer.address.country == "FI"
        assert order.customer.marketing_consent is True
        assert order.delivery.notice == "sms"
        assert order.parcels[0].weight_kg == 1.5

    @pytest.mark.parametrize(
        ("path", "value", "message"),
        [
            (["type"], "order.cancelled", "type"),
            (["data", "order_id"], ..., "order_id is required"),
            (["data", "customer", "postal_code"], 33100, "postal_code must be a string"),
            (["data", "customer", "country"], "Finland", "country"),
            (["data", "customer", "marketing_consent"], "yes", "marketing_consent"),
            (["data", "delivery", "notice"], "pigeon", "notice"),
            (["data", "parcels"], [], "parcels"),
            (["data", "parcels"], [{"weight_kg": -1}], "weight_kg"),
            (["data", "customer", "town"], "a" * 500, "town"),
            (["data", "customer", "town"], "bad\x00text", "town"),
        ],
    )
    def test_refuses_malformed_fields_by_path(self, path: list[str], value: object,
                                              message: str) -> None:
        """A malformed field is refused with a message naming its path."""
        with pytest.raises(BadRequest, match=message):
            parse_order_event(with_change(path, value))

    @pytest.mark.parametrize("body", [b"", b"{", b"[]", b'"x"', b"\xff\xfe", b"null"])
    def test_refuses_bodies_that_are_not_an_event_object(self, body: bytes) -> None:
        """Anything but a JSON object is a bad request, never a crash."""
        with pytest.raises(BadRequest):
            parse_order_event(body)

    def test_messages_carry_no_personal_value(self) -> None:
        """Refusals name paths only: no canary value appears in the message."""
        for path in (["data", "customer", "country"], ["data", "delivery", "notice"]):
            with pytest.raises(BadRequest) as info:
                parse_order_event(with_change(path, "Kanariala-" * 30))
            assert not any(c in str(info.value) for c in CANARIES)

    def test_order_repr_carries_no_personal_value(self) -> None:
        """The order's repr, as it might appear in a traceback, shows no customer data."""
        text = repr(parse_order_event(orjson.dumps(EVENT)))
        assert not any(c in text for c in CANARIES)
