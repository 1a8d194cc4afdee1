"""Decode and validate the hook's real payloads, µs per hook: msgspec (the gateway's parser:
``gateway.payload`` decoding into ``gateway.events``'s structs and converting to the models),
cattrs structuring orjson's output into attrs classes of the same shape with validators (then
converting likewise), and optionally a baseline: the hand-written parser of an earlier commit.
Ratios against msgspec, not absolute goals.

    git show 458119b:gateway/payload.py > /tmp/hand_payload.py
    PYTHONPATH=. python bench/payload_parse.py --baseline /tmp/hand_payload.py
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import cattrs
import orjson
from attrs import validators as v

from gateway.events import DECODER
from gateway.models import Address, Customer, Delivery, LineItem, Order, Parcel
from gateway.payload import parse_event
from tests.conftest import order_event

_TEXT = [v.instance_of(str), v.min_len(1), v.max_len(200)]
_OPT = v.optional([v.instance_of(str), v.max_len(200)])
_POS = [v.instance_of(float), v.gt(0), v.lt(10_000)]


@attrs.frozen
class _Customer:
    id: str = attrs.field(validator=_TEXT)
    first_name: str = attrs.field(validator=_TEXT)
    last_name: str = attrs.field(validator=_TEXT)
    postal_code: str = attrs.field(validator=_TEXT)
    town: str = attrs.field(validator=_TEXT)
    street: str | None = attrs.field(default=None, validator=_OPT)
    country: str | None = attrs.field(default=None, validator=v.optional(
        v.matches_re(r"\s*([A-Za-z]{2})?\s*")))
    phone: str | None = attrs.field(default=None, validator=_OPT)
    email: str | None = attrs.field(default=None, validator=_OPT)
    marketing_consent: bool = attrs.field(default=False, validator=v.instance_of(bool))


@attrs.frozen
class _Delivery:
    carrier: str = attrs.field(validator=_TEXT)
    service: str = attrs.field(validator=_TEXT)
    pickup_point_id: str | None = attrs.field(default=None, validator=_OPT)
    notice: str | None = attrs.field(default=None,
                                     validator=v.optional(v.in_(("sms", "email", ""))))
    door_code: str | None = attrs.field(default=None, validator=_OPT)


@attrs.frozen
class _Parcel:
    weight_kg: float = attrs.field(validator=_POS)
    length_cm: float | None = attrs.field(default=None, validator=v.optional(_POS))
    width_cm: float | None = attrs.field(default=None, validator=v.optional(_POS))
    height_cm: float | None = attrs.field(default=None, validator=v.optional(_POS))


@attrs.frozen
class _Item:
    description: str | None = attrs.field(default=None, validator=_OPT)
    quantity: int | None = attrs.field(default=None, validator=v.optional(
        [v.instance_of(int), v.gt(0), v.lt(100_000)]))
    unit_value: float | None = attrs.field(default=None, validator=v.optional(
        [v.instance_of(float), v.ge(0), v.lt(1_000_000)]))
    currency: str | None = attrs.field(default=None,
                                       validator=v.optional(v.matches_re(r"([A-Z]{3})?")))
    hs_code: str | None = attrs.field(default=None, validator=_OPT)
    origin_country: str | None = attrs.field(default=None,
                                             validator=v.optional(v.matches_re(r"([A-Z]{2})?")))
    weight_kg: float | None = attrs.field(default=None, validator=v.optional(
        [v.instance_of(float), v.ge(0), v.lt(1_000_000)]))


@attrs.frozen
class _Data:
    order_id: str = attrs.field(validator=_TEXT)
    customer: _Customer
    delivery: _Delivery
    parcels: list[_Parcel] = attrs.field(validator=[v.min_len(1), v.max_len(50)])
    addons: list[str | dict[str, str | int | float]] | None = None
    items: list[_Item] | None = None


@attrs.frozen
class _Event:
    type: str = attrs.field(validator=v.in_(("order.ready_to_ship",)))
    data: _Data
    timestamp: Any = None


def _cattrs_parsers() -> tuple[Callable[[bytes], _Event], Callable[[bytes], Order]]:
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    # cattrs is lenient by default (str(5) -> "5", float("1")): make the scalars strict.
    def strict(kind: type) -> Callable[[Any, type], Any]:
        def hook(value: Any, _: type) -> Any:  # noqa: ANN401
            if type(value) is not kind and not (kind is float and type(value) is int):
                raise TypeError(kind.__name__)
            return float(value) if kind is float else value
        return hook
    for kind in (str, int, float, bool):
        converter.register_structure_hook(kind, strict(kind))
    converter.register_structure_hook(
        str | dict[str, str | int | float],
        lambda value, _: value if isinstance(value, str | dict) else strict(str)(value, str))

    def structure(body: bytes) -> _Event:
        event: _Event = converter.structure(orjson.loads(body), _Event)
        return event

    def parse(body: bytes) -> Order:
        event = structure(body)
        d, c = event.data, event.data.customer
        return Order(
            id=d.order_id.strip(),
            customer=Customer(id=c.id.strip(), first_name=c.first_name.strip(),
                              last_name=c.last_name.strip(),
                              address=Address(street=c.street, postal_code=c.postal_code,
                                              town=c.town, country=(c.country or "FI").upper()),
                              phone=c.phone, email=c.email,
                              marketing_consent=c.marketing_consent),
            delivery=Delivery(carrier=d.delivery.carrier, service=d.delivery.service,
                              pickup_point_id=d.delivery.pickup_point_id,
                              door_code=d.delivery.door_code),
            parcels=tuple(Parcel(weight_kg=p.weight_kg, length_cm=p.length_cm,
                                 width_cm=p.width_cm, height_cm=p.height_cm)
                          for p in d.parcels),
            items=tuple(LineItem(**attrs.asdict(i)) for i in d.items or ()),
        )
    return structure, parse


def _baseline(path: Path) -> Callable[[bytes], object]:
    """``parse_event`` of another version of gateway/payload.py (``git show REV:...``)."""
    spec = importlib.util.spec_from_file_location("baseline_payload", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_event  # type: ignore[no-any-return]


def _payloads() -> dict[str, bytes]:
    home = order_event("posti", "home_delivery")
    dhl = copy.deepcopy(order_event("dhl_express", "express"))
    dhl["data"]["customer"]["country"] = "NO"
    dhl["data"]["addons"] = ["id_check", {"name": "cash_on_delivery", "amount": "49.90",
                                          "account": "FI2112345600000785"}]
    dhl["data"]["items"] = [{"description": "Wool socks", "quantity": 2, "unit_value": 12.5,
                             "currency": "EUR", "hs_code": "6115.95", "origin_country": "FI",
                             "weight_kg": 0.2}] * 5
    return {"home delivery": orjson.dumps(home), "export, add-ons, 5 items": orjson.dumps(dhl)}


def _time(parse: Callable[[bytes], object], body: bytes, rounds: int) -> float:
    """Median of five runs, µs per call."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            parse(body)
        runs.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--baseline", type=Path, help="a payload.py with parse_event to compare")
    args = parser.parse_args()
    structure, parse = _cattrs_parsers()
    # Decode and validate into the wire types, then the whole parse (to the models).
    parsers: dict[str, Callable[[bytes], object]] = {
        "msgspec": DECODER.decode, "cattrs": structure,
        "msgspec+models": parse_event, "cattrs+models": parse}
    if args.baseline:
        parsers["baseline (to the models)"] = _baseline(args.baseline)
    for name, body in _payloads().items():
        times = {kind: _time(parse, body, args.rounds) for kind, parse in parsers.items()}
        print(f"{name} ({len(body)} bytes): " + ", ".join(
            f"{kind} {us:.1f} µs ({us / times['msgspec']:.1f}x)" for kind, us in times.items()))


if __name__ == "__main__":
    main()
