"""Crashes: the gateway killed with SIGKILL at random moments under concurrent hooks loses no
acknowledged entry, books nothing twice, and leaves a record that verifies."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sqlite3
import tomllib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from carriers.sandbox import BOOKINGS, CANCELLED, CONTROL, RECEIVED, run_sandbox
from gateway.config import Config
from gateway.operations.signature import sign_headers
from gateway.record.checkpoint import Signer
from gateway.record.verify import verify_sqlite
from gateway.wiring import build_record
from tests.cli import arun, command, environ
from tests.conftest import ROOT, order_event, write_config

#: Kill cycles in the default run; `GATEWAY_CRASH_KILLS=100 pytest -m slow ...` for the long one.
KILLS = int(os.environ.get("GATEWAY_CRASH_KILLS", "5"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    """A `gateway serve` process."""

    def __init__(self, config: Path, port: int) -> None:
        self.config, self.port = config, port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *command("--config", str(self.config), "serve"), env=environ(),
            cwd=self.config.parent,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await self.wait_healthy(http)

    async def wait_healthy(self, http: aiohttp.ClientSession) -> None:
        for _ in range(300):
            try:
                async with http.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        raise AssertionError("the gateway did not start")

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(self.proc.wait(), 30) == 0


@pytest.fixture
async def setup(tmp_path: Path, carrier_env: None) -> AsyncIterator[dict[str, Any]]:
    async with AsyncExitStack() as stack:
        raw = tomllib.loads((ROOT / "config.toml").read_text())
        urls, apps = {}, {}
        for name in raw["carriers"]:
            urls[name], apps[name] = await stack.enter_async_context(run_sandbox(name))
        port = free_port()
        config_path = write_config(tmp_path, urls, port=port)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        yield {"config": config_path, "port": port, "apps": apps, "http": http}


async def send(http: aiohttp.ClientSession, url: str, secret: Any, event: dict[str, Any],  # noqa: ANN401
               msg_id: str) -> tuple[int, dict[str, Any]] | None:
    body = orjson.dumps(event)
    headers = {**sign_headers(secret, msg_id, body), "content-type": "application/json"}
    try:
        async with http.post(url, data=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError):
        return None


class TestKill:
    async def test_sigkill_under_load_loses_nothing_acknowledged(
        self, setup: dict[str, Any]
    ) -> None:
        """Across repeated SIGKILLs under concurrent hooks: every 2xx has its intent and outcome
        in the record, no order is booked twice (also when unanswered hooks are retried), and
        the record verifies."""
        rng = random.Random(20261122)  # noqa: S311 - test timing, not security
        config = Config.from_toml(setup["config"])
        http: aiohttp.ClientSession = setup["http"]
        gateway = Gateway(setup["config"], setup["port"])
        url = f"http://127.0.0.1:{setup['port']}/v1/hooks/orders"
        setup["apps"]["posti"][CONTROL].delay = 0.01
        acknowledged: dict[str, str] = {}
        unanswered: dict[str, dict[str, Any]] = {}
        for _ in range(KILLS):
            await gateway.start(http)
            stop = asyncio.Event()

            async def client(stop: asyncio.Event = stop) -> None:
                while not stop.is_set():
                    msg_id = f"msg_{uuid.uuid4().hex}"
                    event = order_event("posti", "home_delivery")
                    result = await send(http, url, config.keys.hooks[0], event, msg_id)
                    if result is None:
                        unanswered[msg_id] = event
                        return
                    if result[0] == 201:
                        acknowledged[result[1]["disclosure_id"]] = event["data"]["order_id"]

            clients = [asyncio.create_task(client()) for _ in range(8)]
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            await gateway.kill()
            stop.set()
            await asyncio.gather(*clients)
        await gateway.start(http)
        for msg_id, event in unanswered.items():
            result = await send(http, url, config.keys.hooks[0], event, msg_id)
            assert result is not None
            assert result[0] in (201, 409), result  # its first answer, or still unresolved
        await gateway.stop()

        assert acknowledged, "no hook was acknowledged: the test proved nothing"
        db = sqlite3.connect(config.record.path)
        kinds: dict[str, set[str]] = {}
        orders: dict[str, str] = {}
        for (body,) in db.execute("SELECT body FROM entries"):
            doc = orjson.loads(body)
            kinds.setdefault(doc["disclosure"], set()).add(doc["kind"])
            orders[doc["disclosure"]] = doc["order"]
        for disclosure in acknowledged:
            assert kinds.get(disclosure) == {"disclosure.intent", "disclosure.outcome"}
        booked_orders = [orders.get(ref) for ref in setup["apps"]["posti"][BOOKINGS]]
        assert len(booked_orders) == len(set(booked_orders)), "an order was booked twice"
        verifier = Signer.from_key_string(config.keys.checkpoint_signing).verifier()
        report = verify_sqlite(config.record.path, [verifier], origin=config.origin)
        assert report.ok, report.summary()
        assert report.unsigned_tail == 0
        print(f"\ncrash loop: {KILLS} SIGKILLs, {len(acknowledged)} hooks acknowledged, "  # noqa: T201
              f"{len(unanswered)} unanswered hooks retried, {len(booked_orders)} bookings, "
              f"{report.entries} entries verified")


class TestTornWrites:
    async def test_a_torn_wal_is_refused_or_recovered_never_silently_short(
        self, setup: dict[str, Any], tmp_path: Path
    ) -> None:
        """After a SIGKILL, the write-ahead log cut at random offsets either opens with every
        checkpointed entry intact or is refused with a clear message; never opened short."""
        path: Path = setup["config"]
        path.write_text(path.read_text().replace("checkpoint_every = 1000", "checkpoint_every = 4"))
        config = Config.from_toml(path)
        http: aiohttp.ClientSession = setup["http"]
        gateway = Gateway(path, setup["port"])
        url = f"http://127.0.0.1:{setup['port']}/v1/hooks/orders"
        await gateway.start(http)
        for _ in range(30):
            await send(http, url, config.keys.hooks[0], order_event("posti", "home_delivery"),
                       f"msg_{uuid.uuid4().hex}")
        await gateway.kill()
        db = config.record.path
        wal = db.with_name(db.name + "-wal")
        witness = db.with_name(db.name + ".checkpoint")
        assert wal.exists()
        assert wal.stat().st_size > 0
        rng = random.Random(7)  # noqa: S311
        outcomes = {"recovered": 0, "refused": 0}
        from gateway.errors import GatewayError  # noqa: PLC0415

        for trial in range(12):
            copy = tmp_path / f"trial{trial}"
            copy.mkdir()
            for f in (db, wal, witness):
                (copy / f.name).write_bytes(f.read_bytes())
            cut = rng.randrange(0, wal.stat().st_size)
            with (copy / wal.name).open("r+b") as cut_wal:
                cut_wal.truncate(cut)
            import attrs  # noqa: PLC0415

            record = build_record(attrs.evolve(config, record=attrs.evolve(
                config.record, path=copy / db.name)))
            try:
                await record.open()
            except GatewayError as exc:
                assert "truncated" in exc.detail or "do not match" in exc.detail  # noqa: PT017 - refusing is one of two right answers
                outcomes["refused"] += 1
                continue
            report = verify_sqlite(copy / db.name, [Signer.from_key_string(
                config.keys.checkpoint_signing).verifier()], trusted=[
                (copy / witness.name).read_text()])
            await record.close()
            assert report.ok, report.summary()
            outcomes["recovered"] += 1
        assert outcomes["refused"] > 0, outcomes


class TestGracefulShutdown:
    async def test_sigterm_finishes_in_flight_disclosures_and_signs_a_final_checkpoint(
        self, setup: dict[str, Any]
    ) -> None:
        """A SIGTERM while a carrier is still answering lets that disclosure finish with its
        answer and outcome, then the process exits 0 with every entry under a checkpoint."""
        config = Config.from_toml(setup["config"])
        http: aiohttp.ClientSession = setup["http"]
        gateway = Gateway(setup["config"], setup["port"])
        url = f"http://127.0.0.1:{setup['port']}/v1/hooks/orders"
        await gateway.start(http)
        setup["apps"]["posti"][CONTROL].delay = 1.0
        pending = asyncio.create_task(send(http, url, config.keys.hooks[0],
                                           order_event("posti", "home_delivery"), "msg_term"))
        while not setup["apps"]["posti"][BOOKINGS]:
            await asyncio.sleep(0.02)
        await gateway.stop()
        result = await pending
        assert result is not None
        assert result[0] == 201
        verifier = Signer.from_key_string(config.keys.checkpoint_signing).verifier()
        report = verify_sqlite(config.record.path, [verifier], origin=config.origin)
        assert report.ok, report.summary()
        assert (report.entries, report.unsigned_tail) == (3, 0)  # the policy version, 2


def record_docs(path: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(path)
    try:
        return [orjson.loads(b) for (b,) in db.execute("SELECT body FROM entries ORDER BY seq")]
    finally:
        db.close()


class TestRecovery:
    @pytest.mark.parametrize(("moment", "recovered", "retried"), [
        ("booked", "booked", 201),         # killed while the carrier held its answer
        ("not_booked", "not_sent", 201),   # killed while the carrier held the request
        ("carrier_down", "unknown", 504),  # booked, and the carrier is down at the restart
    ])
    async def test_a_kill_between_intent_and_outcome_is_resolved_at_start_up(
        self, setup: dict[str, Any], moment: str, recovered: str, retried: int
    ) -> None:
        """SIGKILL after the intent is durable and before the outcome: on restart the gateway
        asks the carrier by our reference and records the outcome (booked / not_sent /
        unknown); the pipeline's retry of the hook gets that answer, and the carrier never
        holds two bookings for it."""
        config = Config.from_toml(setup["config"])
        http: aiohttp.ClientSession = setup["http"]
        app = setup["apps"]["posti"]
        gateway = Gateway(setup["config"], setup["port"])
        url = f"http://127.0.0.1:{setup['port']}/v1/hooks/orders"
        secret = config.keys.hooks[0]
        event = order_event("posti", "home_delivery")
        await gateway.start(http)
        held = asyncio.Event()
        if moment == "not_booked":
            app[CONTROL].hold_before = held
        else:
            app[CONTROL].hold = held
        pending = asyncio.create_task(send(http, url, secret, event, "msg_crash"))
        while not app[RECEIVED]:
            await asyncio.sleep(0.01)
        await gateway.kill()
        assert await pending is None
        kinds = [d["kind"] for d in record_docs(config.record.path)]
        assert kinds == ["policy.version", "disclosure.intent"]
        app[CONTROL].hold = app[CONTROL].hold_before = None
        held.set()
        if moment == "carrier_down":
            app[CONTROL].fail_status = 503
        bookings_before = dict(app[BOOKINGS])

        await gateway.start(http)

        docs = record_docs(config.record.path)
        _, intent, outcome = docs  # after the policy version
        assert (outcome["kind"], outcome["disclosure"]) == ("disclosure.outcome",
                                                            intent["disclosure"])
        assert outcome["data"]["result"] == recovered
        assert outcome["data"]["recovered"] is True
        creates_before = sum(r.path.endswith("create-shipment") for r in app[RECEIVED])

        result = await send(http, url, secret, event, "msg_crash")
        again = await send(http, url, secret, event, "msg_crash")
        await gateway.stop()

        assert result is not None
        assert again == result
        status, answer = result
        assert status == retried
        assert len(app[BOOKINGS]) == 1  # exactly one booking, whatever happened
        if moment != "not_booked":
            assert list(app[BOOKINGS]) == [intent["disclosure"]]
        if moment == "booked":
            booking = bookings_before[intent["disclosure"]]
            assert answer["tracking_number"] == booking.tracking_number
            assert answer["disclosure_id"] == intent["disclosure"]
        creates_after = sum(r.path.endswith("create-shipment") for r in app[RECEIVED])
        assert creates_after - creates_before == (1 if moment == "not_booked" else 0)
        booked = [d["order"] for d in record_docs(config.record.path)
                  if d["kind"] == "disclosure.outcome" and d["data"]["result"] == "booked"]
        assert booked == ([] if moment == "carrier_down" else [event["data"]["order_id"]])

    async def test_a_customer_erased_before_recovery_gets_an_answer_without_values(
        self, setup: dict[str, Any]
    ) -> None:
        """SIGKILL after the intent, then the customer is erased while the gateway is down: on
        restart the booking is found and its outcome recorded with metadata only, and the
        pipeline's retry of the hook is answered (201, no tracking number, no label, no
        customer value) instead of 409; nothing is booked twice."""
        config = Config.from_toml(setup["config"])
        http: aiohttp.ClientSession = setup["http"]
        app = setup["apps"]["posti"]
        gateway = Gateway(setup["config"], setup["port"])
        url = f"http://127.0.0.1:{setup['port']}/v1/hooks/orders"
        secret = config.keys.hooks[0]
        event = order_event("posti", "home_delivery")
        await gateway.start(http)
        held = asyncio.Event()
        app[CONTROL].hold = held
        pending = asyncio.create_task(send(http, url, secret, event, "msg_erased"))
        while not app[RECEIVED]:
            await asyncio.sleep(0.01)
        await gateway.kill()
        assert await pending is None
        app[CONTROL].hold = None
        held.set()
        for argv in (("staff", "add", "dpo", "--role", "admin"),
                     ("erase", "--customer", event["data"]["customer"]["id"], "--as", "dpo")):
            done = await arun("--config", str(setup["config"]), *argv,
                              env={"GATEWAY_STAFF_PASSWORD": "a long enough passphrase"},
                              cwd=setup["config"].parent)
            assert done.returncode == 0, done.stderr

        await gateway.start(http)
        result = await send(http, url, secret, event, "msg_erased")
        again = await send(http, url, secret, event, "msg_erased")
        await gateway.stop()

        assert result is not None
        assert again == result
        status, answer = result
        assert status == 201
        assert answer["result"] == "booked"
        assert answer["values_erased"] is True
        assert "tracking_number" not in answer
        assert "label" not in answer
        assert event["data"]["customer"]["last_name"] not in orjson.dumps(answer).decode()
        assert len(app[BOOKINGS]) == 1
        outcome = next(d for d in record_docs(config.record.path)
                       if d["kind"] == "disclosure.outcome")
        assert (outcome["data"]["result"], outcome["sealed"]) == ("booked", None)
        assert outcome["data"]["recovered"] is True

    async def test_a_cancellation_cut_short_is_sent_again_at_start_up(
        self, setup: dict[str, Any]
    ) -> None:
        """SIGKILL while the carrier holds a cancellation's answer: on restart the
        cancellation is sent again (harmless at the carrier), its outcome recorded, and the
        retried hook answered with it."""
        config = Config.from_toml(setup["config"])
        http: aiohttp.ClientSession = setup["http"]
        app = setup["apps"]["posti"]
        gateway = Gateway(setup["config"], setup["port"])
        url = f"http://127.0.0.1:{setup['port']}/v1/hooks/orders"
        secret = config.keys.hooks[0]
        await gateway.start(http)
        booked = await send(http, url, secret, order_event("posti", "home_delivery"), "msg_b")
        assert booked is not None
        assert booked[0] == 201
        cancel = {"type": "order.cancelled", "data": {
            "order_id": booked[1]["order_id"], "disclosure_id": booked[1]["disclosure_id"]}}
        held = asyncio.Event()
        app[CONTROL].hold = held
        sent = len(app[RECEIVED])
        pending = asyncio.create_task(send(http, url, secret, cancel, "msg_cancel"))
        while len(app[RECEIVED]) == sent:
            await asyncio.sleep(0.01)
        await gateway.kill()
        assert await pending is None
        app[CONTROL].hold = None
        held.set()

        await gateway.start(http)
        result = await send(http, url, secret, cancel, "msg_cancel")
        await gateway.stop()

        assert result is not None
        assert result[0] == 200
        assert result[1]["result"] == "cancelled"
        kinds = [d["kind"] for d in record_docs(config.record.path)]
        assert kinds[-2:] == ["shipment.cancel.intent", "shipment.cancel.outcome"]
        assert record_docs(config.record.path)[-1]["data"]["recovered"] is True
        assert booked[1]["disclosure_id"] in app[CANCELLED]
