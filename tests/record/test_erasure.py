"""Erasure by key deletion: values become unreadable, every proof and checkpoint still holds."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from gateway.actor import Actor
from gateway.erasure.requests import ErasureRules, request_erasure, run_due
from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer, parse_and_verify
from gateway.record.merkle import (
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from gateway.record.sealing import seal, subject_ref
from gateway.record.verify import verify_sqlite
from tests.cli import arun
from tests.conftest import CANARY_CUSTOMER, ROOT, order_event, run_gateway
from tests.stores import Backend

DPO = Actor("dpo", "api")

ORIGIN = "test.invalid/record"
HMAC_KEY = b"h" * 32
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
async def record(backend: Backend) -> AsyncIterator[Record]:
    signer = Signer.generate(ORIGIN)[0]
    record = Record(store=backend.make(), kek=os.urandom(32),
                    signer=signer, origin=ORIGIN, checkpoint_every=10_000,
                    clock=lambda: "2026-11-20T10:00:00.000Z")
    await record.open()
    yield record
    await record.close()


async def disclose(record: Record, customer: str, n: int = 3) -> list[int]:
    subject = subject_ref(HMAC_KEY, customer)
    key = await record.subject_key(subject, create=True)
    assert key is not None
    seqs = []
    for i in range(n):
        sealed = seal(key, f"{Kind.INTENT}:d_{customer}_{i}", {"name": "Canary"})
        seqs.append((await record.append(Draft(kind=Kind.INTENT, disclosure=f"d_{customer}_{i}",
                                               subject=subject, sealed=sealed))).seq)
    return seqs


class TestRequestErasure:
    async def test_erased_values_no_longer_open_but_the_tree_is_unchanged(
        self, record: Record
    ) -> None:
        """After erasure the customer's values read as erased, other customers' still open, and
        an inclusion proof made before the erasure verifies against the later tree."""
        mine = await disclose(record, "C-1")
        await disclose(record, "C-2")
        before_note = await record.checkpoint()
        assert before_note is not None
        result = await request_erasure(record, actor=DPO, customer_id="C-1", hmac_key=HMAC_KEY,
                                       rules=ErasureRules(), now=NOW)
        assert result.status == "erased"
        assert await record.subject_key(subject_ref(HMAC_KEY, "C-1"), create=False) is None
        assert await record.subject_key(subject_ref(HMAC_KEY, "C-2"), create=False) is not None
        after_note = await record.checkpoint()
        assert after_note is not None
        verifier = record._signer.verifier()  # noqa: SLF001 - the test's own key
        old = parse_and_verify(before_note, [verifier])
        new = parse_and_verify(after_note, [verifier])
        leaves = await record.leaves(0, new.size)
        proof = inclusion_proof(mine[0], new.size, leaves)
        assert verify_inclusion(leaves[mine[0]], mine[0], new.size, proof, new.root)
        assert verify_consistency(old.size, new.size, old.root, new.root,
                                  consistency_proof(old.size, new.size, leaves))

    async def test_the_erasure_is_an_entry_naming_only_the_reference(self, record: Record) -> None:
        """The erasure entry names the customer by HMAC reference, never by id."""
        await disclose(record, "C-1")
        result = await request_erasure(record, actor=DPO, customer_id="C-1", hmac_key=HMAC_KEY,
                                       rules=ErasureRules(), now=NOW)
        row = await record.entry(result.seq)
        assert row is not None
        body = orjson.loads(row.body)
        assert (body["kind"], body["subject"]) == ("erasure", subject_ref(HMAC_KEY, "C-1"))
        assert b"C-1" not in row.body

    async def test_a_legal_hold_defers_the_erasure_until_it_ends(self, record: Record) -> None:
        """With a hold, the request is recorded as deferred, the key stays, and run_due erases it
        once the hold has ended, not before."""
        await disclose(record, "C-1")
        rules = ErasureRules(hold_days=30, hold_basis="Consumer Protection Act 38/1978")
        result = await request_erasure(record, actor=DPO, customer_id="C-1", hmac_key=HMAC_KEY,
                                       rules=rules, now=NOW)
        assert result.status == "deferred"
        assert result.due == "2026-12-20T10:00:00.000Z"
        subject = subject_ref(HMAC_KEY, "C-1")
        assert await run_due(record, actor=DPO, now=NOW + timedelta(days=10)) == []
        assert await record.subject_key(subject, create=False) is not None
        done = await run_due(record, actor=DPO, now=NOW + timedelta(days=30))
        assert [e.status for e in done] == ["erased"]
        assert await record.subject_key(subject, create=False) is None

    async def test_a_hold_that_has_passed_does_not_defer(self, record: Record) -> None:
        """Disclosures older than the hold period do not delay the erasure."""
        await disclose(record, "C-1")
        rules = ErasureRules(hold_days=1, hold_basis="x")
        result = await request_erasure(record, actor=DPO, customer_id="C-1", hmac_key=HMAC_KEY,
                                       rules=rules, now=NOW)
        assert result.status == "erased"


class TestEraseThroughTheGateway:
    async def test_erasing_a_customer_keeps_the_record_verifiable(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """Disclose through the gateway, erase with the CLI beside the running gateway: the
        record verifies, the customer's hook answers can no longer be replayed, and later
        disclosures still work."""
        event = order_event("posti", "home_delivery")
        async with run_gateway(tmp_path) as gw:
            status, _, _ = await gw.post(event, msg_id="msg_erase")
            assert status == 201
            config_file = tmp_path / "config.toml"
            config_file.write_text(_config_for(tmp_path))
            await gw.add_staff("dpo", "admin")
            result = await arun("--config", str(config_file), "erase",
                                "--customer", CANARY_CUSTOMER["id"], "--as", "dpo")
            assert result.returncode == 0, result.stderr
            assert result.stdout.startswith("erased:")
            status, problem, _ = await gw.post(event, msg_id="msg_erase")
            assert status == 409
            assert "erased" in problem["detail"]
            status, _, _ = await gw.post(order_event("posti", "home_delivery"))
            assert status == 201
            config = gw.config
        verifier = Signer.from_key_string(config.keys.checkpoint_signing).verifier()
        report = verify_sqlite(config.record.path, [verifier], origin=config.origin)
        assert report.ok, report.summary()
        kinds = [orjson.loads(b)["kind"] for (b,) in sqlite3.connect(config.record.path).execute(
            "SELECT body FROM entries ORDER BY seq")]
        # the erasure tells posti (GDPR Art. 19): its notice, written for a person to send
        assert kinds == ["policy.version", "disclosure.intent", "disclosure.outcome",
                         "staff.changed", "erasure",
                         "erasure.notice.intent", "erasure.notice.outcome",
                         "disclosure.intent", "disclosure.outcome"]


def _config_for(tmp_path: Path) -> str:
    """The shipped config.toml with the paths the test harness uses under ``tmp_path``."""
    text = (ROOT / "config.toml").read_text()
    return text.replace('path = "var/record.sqlite"', 'path = "record.sqlite"').replace(
        "var/secrets/", "secrets/")


class TestHoldsAndRetention:
    async def test_a_placed_hold_defers_a_request_until_it_ends(self, record: Record) -> None:
        """A hold on one customer defers their erasure; run_due erases after the hold ends."""
        from gateway.erasure.requests import place_hold  # noqa: PLC0415

        await disclose(record, "C-1")
        await place_hold(record, actor=DPO, customer_id="C-1", hmac_key=HMAC_KEY,
                         until=NOW + timedelta(days=5), basis="Accounting Act 1336/1997",
                         now=NOW)
        result = await request_erasure(record, actor=DPO, customer_id="C-1", hmac_key=HMAC_KEY,
                                       rules=ErasureRules(), now=NOW)
        assert (result.status, result.due) == ("deferred", "2026-11-27T12:00:00.000Z")
        assert await run_due(record, actor=DPO, now=NOW + timedelta(days=4)) == []
        assert [e.status for e in await run_due(record, actor=DPO,
            now=NOW + timedelta(days=6))] == [
            "erased"]

    async def test_retention_erases_inactive_customers_unless_held(self, record: Record) -> None:
        """Customers with no disclosure within retention_days are erased; a held one is not."""
        from gateway.erasure.requests import apply_retention, place_hold  # noqa: PLC0415

        for customer in ("C-1", "C-2"):
            await disclose(record, customer, n=1)
        later = NOW + timedelta(days=400)
        await place_hold(record, actor=DPO, customer_id="C-2", hmac_key=HMAC_KEY,
                         until=later + timedelta(days=30), basis="dispute", now=NOW)
        rules = ErasureRules(retention_days=365)
        assert await apply_retention(record, actor=DPO, rules=rules, now=NOW) == []
        result = {e.subject: e.status for e in await apply_retention(record, actor=DPO, rules=rules,
                                                                      now=later)}
        assert result == {subject_ref(HMAC_KEY, "C-1"): "erased",
                          subject_ref(HMAC_KEY, "C-2"): "held"}
        assert await record.subject_key(subject_ref(HMAC_KEY, "C-1"), create=False) is None
        assert await record.subject_key(subject_ref(HMAC_KEY, "C-2"), create=False) is not None
