"""What an operator watches: /healthz, /readyz, /metrics, the public checkpoint."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from gateway.http.app import RECORD
from gateway.record.checkpoint import Signer, parse_and_verify
from tests.conftest import Harness, order_event, run_gateway


async def get(gateway: Harness, path: str) -> tuple[int, str]:
    async with gateway.http.get(gateway.url + path) as resp:
        return resp.status, await resp.text()


class TestProbes:
    async def test_healthz_and_readyz_answer_when_all_is_well(self, gateway: Harness) -> None:
        """A running gateway is healthy and ready."""
        assert (await get(gateway, "/healthz"))[0] == 200
        status, body = await get(gateway, "/readyz")
        assert status == 200, body
        assert '"record_writable": true' in body

    async def test_readyz_fails_while_the_record_cannot_be_written(
        self, gateway: Harness
    ) -> None:
        """After a failed commit the gateway reports not ready, and ready again after a good
        one."""
        db = sqlite3.connect(gateway.config.record.path)
        db.execute("CREATE TRIGGER broken BEFORE INSERT ON entries "
                   "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        db.commit()
        assert (await gateway.post(order_event("posti", "home_delivery")))[0] == 503
        status, body = await get(gateway, "/readyz")
        assert status == 503
        assert '"record_writable": false' in body
        db.execute("DROP TRIGGER broken")
        db.commit()
        assert (await gateway.post(order_event("posti", "home_delivery")))[0] == 201
        assert (await get(gateway, "/readyz"))[0] == 200


class TestMetrics:
    async def test_counts_disclosures_rejections_and_commits(self, gateway: Harness) -> None:
        """Disclosures by recipient and result, rejections by reason, and record batches show
        in /metrics, with no personal value."""
        await gateway.post(order_event("posti", "home_delivery"))
        await gateway.post(order_event("posti", "pickup_point"))  # no pickup point: refused
        status, text = await get(gateway, "/metrics")
        assert status == 200
        assert 'gateway_disclosures_total{recipient="posti",result="booked"} 1.0' in text
        assert 'gateway_http_rejections_total{reason="policy-refused"} 1.0' in text
        assert "gateway_record_batch_size_count 3.0" in text  # the policy version, 2
        assert "gateway_checkpoint_age_seconds" in text
        assert "Kanar" not in text


class TestCheckpoint:
    async def test_the_latest_checkpoint_is_public_and_verifies(self, gateway: Harness) -> None:
        """GET /v1/record/checkpoint serves the latest signed note, which verifies with the
        public key."""
        await gateway.post(order_event("posti", "home_delivery"))
        await gateway.app[RECORD].checkpoint()
        status, note = await get(gateway, "/v1/record/checkpoint")
        assert status == 200
        verifier = Signer.from_key_string(gateway.config.keys.checkpoint_signing).verifier()
        assert parse_and_verify(note, [verifier]).size == 3  # noqa: PLR2004 - the policy, 2


def _short_interval(raw: dict[str, Any]) -> None:
    raw["record"]["checkpoint_interval"] = INTERVAL


#: The checkpoint interval of the freshness tests: short, so a test waits a few of them.
INTERVAL = 0.3


class Clock:
    """The gateway's clock, moved forward by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def covered(gateway: Harness, *, within: float) -> bool:
    """Whether, within ``within`` seconds and with no write meanwhile, a checkpoint covers every
    entry of the record."""
    record = gateway.app[RECORD]
    deadline = time.monotonic() + within
    while True:
        size, _ = await record.head()
        signed = await record.latest_signed()
        if signed is not None and signed[0] == size:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)


class TestCheckpointFreshness:
    async def test_an_idle_gateway_with_every_entry_signed_stays_ready(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """Long after its last checkpoint, an idle gateway whose entries are all signed is
        ready: no entry waits for a checkpoint."""
        clock = Clock()
        async with run_gateway(tmp_path, _short_interval, clock=clock) as gw:
            assert (await gw.post(order_event("posti", "home_delivery")))[0] == 201
            assert await covered(gw, within=10 * INTERVAL)
            clock.offset = 3600.0  # an hour idle: far past 3 intervals + 60 s
            status, body = await get(gw, "/readyz")
            assert status == 200, body
            assert '"checkpoint_fresh": true' in body
            _, metrics = await get(gw, "/metrics")
            assert "gateway_checkpoint_age_seconds 0.0" in metrics

    async def test_entries_written_last_are_signed_without_another_write(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """The last entries before a quiet spell are covered by a checkpoint within the
        interval, with no further write to trigger it."""
        async with run_gateway(tmp_path, _short_interval) as gw:
            assert await covered(gw, within=10 * INTERVAL)  # the policy version, at start
            for _ in range(3):
                assert (await gw.post(order_event("posti", "home_delivery")))[0] == 201
            assert await covered(gw, within=3 * INTERVAL)

    async def test_an_entry_left_unsigned_too_long_makes_the_gateway_unready(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """While checkpoints cannot be stored, the oldest unsigned entry ages and the gateway
        turns unready; once they can, the next checkpoint comes within the interval and it is
        ready again."""
        clock = Clock()
        async with run_gateway(tmp_path, _short_interval, clock=clock) as gw:
            assert await covered(gw, within=10 * INTERVAL)
            db = sqlite3.connect(gw.config.record.path)
            db.execute("CREATE TRIGGER broken BEFORE INSERT ON checkpoints "
                       "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
            db.commit()
            assert (await gw.post(order_event("posti", "home_delivery")))[0] == 201
            assert not await covered(gw, within=2 * INTERVAL)
            clock.offset = 3600.0
            status, body = await get(gw, "/readyz")
            assert status == 503
            assert '"checkpoint_fresh": false' in body
            db.execute("DROP TRIGGER broken")
            db.commit()
            db.close()
            assert await covered(gw, within=3 * INTERVAL)
            assert (await get(gw, "/readyz"))[0] == 200
