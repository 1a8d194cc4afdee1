"""A running gateway resolves operations another process left without an outcome (it crashed
while the others kept running, so no start-up recovery ran): once they are older than any call
in flight could be, they are looked up at the carrier and answered, never booked twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from gateway.http.app import RECORD
from gateway.record import Draft, Kind
from gateway.record.rows import HookOp
from gateway.record.sealing import subject_ref
from gateway.record.stores.sqlite.store import HookOp, SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from tests.conftest import Harness, run_gateway


def outcomes(gw: Harness, disclosure: str) -> list[dict[str, Any]]:
    import sqlite3  # noqa: PLC0415

    db = sqlite3.connect(gw.config.record.path)
    docs = [orjson.loads(b) for (b,) in db.execute(
        "SELECT body FROM entries WHERE disclosure = ? ORDER BY seq", (disclosure,))]
    return [d for d in docs if d["kind"] == Kind.OUTCOME]


async def crashed_intent(gw: Harness, disclosure: str, webhook_id: str) -> None:
    """An intent and its open hook as another gateway process writes them before calling the
    carrier, and then dies."""
    subject = subject_ref(gw.config.keys.subject_hmac, "C-STALE")
    await gw.app[RECORD].append(
        Draft(kind=Kind.INTENT, disclosure=disclosure, subject=subject, order="O-STALE",
              recipient="posti", service="home_delivery", fields=("name", "town"),
              policy="0" * 64, data={"webhook_id": webhook_id}),
        HookOp(webhook_id=webhook_id, disclosure=disclosure, subject=subject))


class TestStaleRecovery:
    async def test_a_crashed_processes_intent_is_resolved_while_others_run(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """With another process holding the record open (start-up recovery would wait), an
        intent older than recover_after is looked up at the carrier: unknown there, it is
        recorded not_sent once and its hook answered, so the pipeline's retry books."""
        def quick(raw: dict[str, Any]) -> None:
            raw["record"]["recover_after"] = 0.5

        async with run_gateway(tmp_path, quick) as gw:
            other = ThreadedStore(SqliteStore(gw.config.record.path))
            await other.open()  # another live gateway process on the record
            try:
                await crashed_intent(gw, "d_stale", "msg_stale")
                for _ in range(50):
                    hook = await gw.app[RECORD].hook("msg_stale")
                    if hook is not None and hook.status is not None:
                        break
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.6)  # more rounds of the periodic recovery
            finally:
                await other.close()
            assert hook is not None
            assert hook.status == 503
            recorded = outcomes(gw, "d_stale")
            assert [(o["data"]["result"], o["data"].get("recovered")) for o in recorded] == [
                ("not_sent", True)]
            assert gw.received("posti")  # the look-up by reference, no booking
            assert gw.bookings("posti") == []
