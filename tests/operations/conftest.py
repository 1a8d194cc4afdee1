"""The operations on an order below HTTP: a real SQLite record in a temporary directory, the
shipped policy, and fake carriers (``tests.fakes.carrier``) in place of the carriers' APIs."""

from __future__ import annotations

import os
import sqlite3
import tomllib
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from gateway.models import Order, Party
from gateway.operations.answer import Answer
from gateway.operations.cancel import Canceller
from gateway.operations.disclose import Discloser
from gateway.operations.order_hook import OrderHooks
from gateway.operations.recovery import recover
from gateway.operations.signature import HookSecret, sign_headers
from gateway.payload import parse_event
from gateway.policy.config import parse_policy
from gateway.record import Record
from gateway.record.checkpoint import Signer
from gateway.record.entry import document
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from tests.fakes.carrier import FakeCarrier

ROOT = Path(__file__).resolve().parent.parent.parent
SHIPPED = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
POLICY = parse_policy(SHIPPED["policy"], SHIPPED["carriers"])
SENDER = Party(**SHIPPED["sender"])
ORIGIN = "test.invalid/operations"

CUSTOMER: Mapping[str, Any] = {
    "id": "C-OPS-1", "first_name": "Aino", "last_name": "Operaatio-Q7",
    "street": "Testikatu 5 B 12", "postal_code": "33100", "town": "Tampere",
    "country": "FI", "phone": "+358401112233", "email": "aino.q7@example.invalid",
    "marketing_consent": True,
}
PARCELS = [{"weight_kg": 2.5, "length_cm": 30, "width_cm": 20, "height_cm": 10}]


def order_event(order_id: str = "O-1", *, carrier: str = "posti",
                service: str = "pickup_point") -> dict[str, Any]:
    return {"type": "order.ready_to_ship", "timestamp": "2026-11-22T10:00:00Z",
            "data": {"order_id": order_id, "customer": dict(CUSTOMER), "parcels": PARCELS,
                     "delivery": {"carrier": carrier, "service": service,
                                  "pickup_point_id": "PP-1"}}}


def return_event(order_id: str = "O-1", *, carrier: str = "posti") -> dict[str, Any]:
    return {"type": "order.return_requested", "timestamp": "2026-11-29T09:00:00Z",
            "data": {"order_id": order_id, "customer": dict(CUSTOMER), "parcels": PARCELS,
                     "return": {"carrier": carrier}}}


def cancel_event(order_id: str, disclosure_id: str) -> dict[str, Any]:
    return {"type": "order.cancelled", "timestamp": "2026-11-23T10:00:00Z",
            "data": {"order_id": order_id, "disclosure_id": disclosure_id}}


@attrs.define
class Gateway:
    """The operations over one record file, as a gateway process holds them; ``restart``
    closes the record and opens it again, as a new process would."""

    path: Path
    kek: bytes
    signer: Signer
    subject_key: bytes
    secret: HookSecret
    carriers: dict[str, FakeCarrier]
    record: Record = attrs.field(init=False)
    discloser: Discloser = attrs.field(init=False)
    canceller: Canceller = attrs.field(init=False)
    hooks: OrderHooks = attrs.field(init=False)

    async def open(self) -> None:
        self.record = Record(store=ThreadedStore(SqliteStore(self.path)), kek=self.kek,
                             signer=self.signer, origin=ORIGIN)
        await self.record.open()
        self.discloser = Discloser(policy=POLICY, record=self.record, carriers=self.carriers,
                                   sender=SENDER, subject_key=self.subject_key)
        self.canceller = Canceller(record=self.record, carriers=self.carriers)
        self.hooks = OrderHooks(discloser=self.discloser, canceller=self.canceller,
                                record=self.record, secrets=(self.secret,),
                                max_body=1 << 20)

    async def restart(self) -> list[tuple[str, str]]:
        """A new process on the same record: what its start-up recovery resolved."""
        await self.record.close()
        await self.open()
        return await recover(discloser=self.discloser, canceller=self.canceller,
                             record=self.record)

    async def hook(self, event: Mapping[str, Any], msg_id: str | None = None) -> Answer:
        """The pipeline's signed hook, answered as the HTTP edge would have it answered."""
        body = orjson.dumps(event)
        headers = sign_headers(self.secret, msg_id or f"msg_{uuid.uuid4().hex}", body)
        return await self.hooks.handle(headers, body)

    async def ship(self, event: Mapping[str, Any], webhook_id: str = "msg_ship") -> Answer:
        """An order shipped straight through the discloser (no hook bookkeeping above it)."""
        order = parse_event(orjson.dumps(event))
        assert isinstance(order, Order)
        return await self.discloser.ship(order, self.discloser.minimise(order),
                                         webhook_id=webhook_id)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry on disk, read by another connection, oldest first."""
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT body FROM entries ORDER BY seq").fetchall()
        return [document(body) for (body,) in rows]

    def kinds(self) -> list[str]:
        return [str(e["kind"]) for e in self.entries()]


@pytest.fixture
def posti() -> FakeCarrier:
    return FakeCarrier.like("posti")


@pytest.fixture
async def gateway(tmp_path: Path, posti: FakeCarrier) -> AsyncIterator[Gateway]:
    gw = Gateway(path=tmp_path / "record.sqlite", kek=os.urandom(32),
                 signer=Signer.generate(ORIGIN)[0], subject_key=os.urandom(32),
                 secret=HookSecret(os.urandom(32)), carriers={"posti": posti})
    await gw.open()
    yield gw
    await gw.record.close()
