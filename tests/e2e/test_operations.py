"""What an operator watches: /healthz, /readyz, /metrics, the public checkpoint."""

from __future__ import annotations

import sqlite3

from gateway.http.app import RECORD
from gateway.record.checkpoint import Signer, parse_and_verify
from tests.conftest import Harness, order_event


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
        assert parse_and_verify(note, [verifier]).size == 3
