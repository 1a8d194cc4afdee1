"""Several gateway instances on one PostgreSQL record: three `gateway serve` processes under
concurrent signed hooks, some of them the same hook sent to two instances at once, build one
verifiable tree, book no order twice and keep every acknowledged entry."""

from __future__ import annotations

import asyncio
import re
import signal
import tomllib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from carriers.sandbox import BOOKINGS, CONTROL, run_sandbox
from gateway.config import Config
from gateway.record.checkpoint import Signer
from gateway.record.stores.postgres.verify import verify_postgres
from tests.cli import command, environ
from tests.conftest import ROOT, order_event, write_config
from tests.e2e.test_crash import Gateway, free_port, send
from tests.stores import PG_URL, pg_sql

INSTANCES = 3


async def post(http: aiohttp.ClientSession, url: str, secret: Any, event: dict[str, Any],  # noqa: ANN401
               msg_id: str) -> tuple[int, dict[str, Any]] | None:
    """Send a hook as the pipeline does: again after a 503, which sent nothing (two instances
    storing a new customer's first key at once refuse one of the batches)."""
    for _ in range(5):
        answer = await send(http, url, secret, event, msg_id)
        if answer is None or answer[0] != 503:
            return answer
        await asyncio.sleep(0.05)
    return answer


def postgres_configs(tmp_path: Path, urls: dict[str, str], schema: str) -> list[Path]:
    """One config per instance: the same secrets and PostgreSQL record, each its own port."""
    base = write_config(tmp_path, urls).read_text()
    base = base.replace('store = "sqlite"', f'store = "postgres"\nurl = "{PG_URL}"\n'
                                            f'schema = "{schema}"')
    paths = []
    for i in range(INSTANCES):
        path = tmp_path / f"config-{i}.toml"
        path.write_text(re.sub(r"(?m)^port = \d+$", f"port = {free_port()}", base, count=1))
        paths.append(path)
    return paths


@pytest.fixture
async def instances(tmp_path: Path, carrier_env: None,
                    pg_schema: str) -> AsyncIterator[dict[str, Any]]:
    async with AsyncExitStack() as stack:
        raw = tomllib.loads((ROOT / "config.toml").read_text())
        urls, apps = {}, {}
        for name in raw["carriers"]:
            urls[name], apps[name] = await stack.enter_async_context(run_sandbox(name))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        paths = postgres_configs(tmp_path, urls, pg_schema)
        gateways = [Gateway(p, Config.from_toml(p).port) for p in paths]
        await asyncio.gather(*(g.start(http) for g in gateways))
        try:
            yield {"gateways": gateways, "config": Config.from_toml(paths[0]), "apps": apps,
                   "http": http, "schema": pg_schema}
        finally:
            for g in gateways:
                if g.proc is not None and g.proc.returncode is None:
                    g.proc.kill()
                    await g.proc.wait()


class TestThreeInstances:
    async def test_concurrent_hooks_on_three_instances_form_one_record(
        self, instances: dict[str, Any]
    ) -> None:
        """Hooks spread over three instances, and the same hook sent to two at once: one
        verifiable tree, every 2xx's intent and outcome in it, no order booked twice."""
        config: Config = instances["config"]
        http: aiohttp.ClientSession = instances["http"]
        gateways: list[Gateway] = instances["gateways"]
        urls = [f"http://127.0.0.1:{g.port}/v1/hooks/orders" for g in gateways]
        secret = config.keys.hooks[0]
        instances["apps"]["posti"][CONTROL].delay = 0.01
        acknowledged: dict[str, str] = {}
        twice: list[list[tuple[int, dict[str, Any]] | None]] = []

        async def client(n: int) -> None:
            for i in range(12):
                event = order_event("posti", "home_delivery")
                msg_id = f"msg_{uuid.uuid4().hex}"
                if i % 3 == 0:  # the same hook to two instances at once (a retry elsewhere)
                    pair = await asyncio.gather(
                        post(http, urls[n % 3], secret, event, msg_id),
                        post(http, urls[(n + 1) % 3], secret, event, msg_id))
                    twice.append(list(pair))
                    answers = [a for a in pair if a is not None]
                else:
                    answers = [a for a in [await post(http, urls[(n + i) % 3], secret, event,
                                                      msg_id)]
                               if a is not None]
                for status, body in answers:
                    if status == 201:
                        acknowledged[body["disclosure_id"]] = event["data"]["order_id"]

        await asyncio.gather(*(client(n) for n in range(9)))
        for g in gateways:
            await g.stop()

        assert len(acknowledged) > 50, "too few hooks were acknowledged to prove anything"
        for pair in twice:
            booked = {b["disclosure_id"] for s, b in (a for a in pair if a) if s == 201}
            assert len(booked) <= 1, "one hook answered with two bookings"
            assert {s for s, _ in (a for a in pair if a)} <= {201, 409}, pair
        kinds: dict[str, set[str]] = {}
        orders: dict[str, str] = {}
        policies = 0
        for (body,) in await pg_sql(instances["schema"], "SELECT body FROM entries"):
            doc = orjson.loads(body)
            if doc["kind"] == "policy.version":
                policies += 1
                continue
            kinds.setdefault(doc["disclosure"], set()).add(doc["kind"])
            orders[doc["disclosure"]] = doc["order"]
        for disclosure, order in acknowledged.items():
            assert kinds.get(disclosure) == {"disclosure.intent", "disclosure.outcome"}
            assert orders[disclosure] == order
        booked_orders = [orders.get(ref) for ref in instances["apps"]["posti"][BOOKINGS]]
        assert len(booked_orders) == len(set(booked_orders)), "an order was booked twice"
        assert None not in booked_orders, "a booking without an intent in the record"
        verifier = Signer.from_key_string(config.keys.checkpoint_signing).verifier()
        report = await verify_postgres(PG_URL, instances["schema"], [verifier],
                                       origin=config.origin)
        assert report.ok, report.summary()
        assert policies == 1, "three instances started at once recorded their policy once"
        assert report.entries == len(kinds) * 2 + policies
        assert report.unsigned_tail == 0
        pairs = sorted(tuple(sorted(a[0] if a else 0 for a in pair)) for pair in twice)
        print(f"\nthree instances: {len(acknowledged)} hooks acknowledged, "  # noqa: T201
              f"{len(booked_orders)} bookings, {report.entries} entries verified; the same hook "
              f"to two instances answered { {p: pairs.count(p) for p in set(pairs)} }")


class TestWorkers:
    async def test_serve_workers_share_one_port_and_record(
        self, instances: dict[str, Any], tmp_path: Path
    ) -> None:
        """`gateway serve --workers 2` runs two processes on one port; hooks through it all
        land in the one record, and SIGTERM stops both cleanly."""
        for g in instances["gateways"]:
            await g.stop()
        config: Config = instances["config"]
        path = tmp_path / "config-0.toml"
        http: aiohttp.ClientSession = instances["http"]
        log = (tmp_path / "workers.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            *command("--config", str(path), "serve", "--workers", "2"), env=environ(),
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=log)
        try:
            waiter = Gateway(path, config.port)
            await waiter.wait_healthy(http)
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            assert len(children) == 2
            url = f"http://127.0.0.1:{config.port}/v1/hooks/orders"
            answers = await asyncio.gather(*(
                post(http, url, config.keys.hooks[0], order_event("posti", "home_delivery"),
                     f"msg_{uuid.uuid4().hex}") for _ in range(40)))
            assert [a[0] if a else None for a in answers] == [201] * 40
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
            log.flush()
            errors = [line for line in (tmp_path / "workers.log").read_text().splitlines()
                      if '"level":"info"' not in line]
            assert code == 0, errors[-20:]
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            log.close()
        verifier = Signer.from_key_string(config.keys.checkpoint_signing).verifier()
        report = await verify_postgres(PG_URL, instances["schema"], [verifier],
                                       origin=config.origin)
        assert report.ok, report.summary()
        assert report.unsigned_tail == 0
