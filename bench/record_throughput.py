"""Durable disclosures per second through the record alone, without a carrier.

Each disclosure does what the gateway's hook path does to the record: take (or create) the
customer's key, seal the minimised receiver, append the intent with its hook bookkeeping and
the new key in the batch's transaction, seal the tracking number, append the outcome. Every
append returns only once its batch is committed (SQLite WAL, synchronous=FULL). ``--tasks``
disclosures are in flight at once, as concurrent hooks would be; each is for a new customer.

This is the ceiling the record puts on the gateway, apart from the carrier's HTTP exchange
(which the load benchmark in bench/run.py includes). ``--prefill N`` first writes N
disclosures (entries, keys and hooks, as the path above leaves them) straight through the store,
so the indexes are a grown record's, not an empty one's; ``--batch-max`` is the record writer's
cap on entries per commit. ``--postgres URL`` measures the same on PostgreSQL as well, in a new
schema dropped afterwards (synchronous_commit as the server sets it), and prints both.

    .venv/bin/python -m bench.record_throughput [--seconds 5] [--tasks 256]
        [--prefill 500000] [--batch-max 512]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from gateway.operations.disclose import new_disclosure_id
from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.record.rows import HookOp, NewKey, SideOp, SideOps
from gateway.record.sealing import seal
from gateway.record.stores.contract import Store
from gateway.record.stores.postgres.schema import quoted
from gateway.record.stores.postgres.store import PostgresStore
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore

ORIGIN = "bench.invalid/record"
RECEIVER = {"name": "Bench Customer", "postal_code": "33100", "town": "Tampere",
            "country": "FI", "phone": "+358401234567"}
FIELDS = ("name", "postal_code", "town", "country", "phone")


async def _disclose(record: Record) -> None:
    subject = uuid.uuid4().hex * 2
    disclosure = new_disclosure_id()
    hook = "msg_" + uuid.uuid4().hex
    key, new_key = await record.key_for(subject)
    sealed = seal(key, f"{Kind.INTENT}:{disclosure}", {"receiver": RECEIVER})
    intent = await record.append(
        Draft(kind=Kind.INTENT, disclosure=disclosure, subject=subject, order="O-1",
              recipient="posti", service="pickup_point", fields=FIELDS, policy="0" * 64,
              data={"webhook_id": hook}, sealed=sealed),
        HookOp(webhook_id=hook, disclosure=disclosure, subject=subject), new_key)
    tracking = seal(key, f"{Kind.OUTCOME}:{disclosure}", {"tracking_number": "JJFI0000000001"})
    await record.append(
        Draft(kind=Kind.OUTCOME, disclosure=disclosure, subject=subject, order="O-1",
              recipient="posti", service="pickup_point", fields=FIELDS, policy="0" * 64,
              data={"result": "booked", "intent": intent.seq}, sealed=tracking),
        HookOp(webhook_id=hook, disclosure=disclosure, status=201, answer=b"sealed answer"))


def prefill(path: Path, disclosures: int, batch: int = 1000) -> None:
    """Write ``disclosures`` intent/outcome pairs with their keys and hooks, as the path above
    leaves them, straight through the store."""
    store = SqliteStore(path)
    store.open()
    time_ = "2026-01-01T00:00:00.000Z"
    try:
        for start in range(0, disclosures, batch):
            drafts: list[Draft] = []
            ops: list[SideOp | None] = []
            for _ in range(min(batch, disclosures - start)):
                subject, disclosure = uuid.uuid4().hex * 2, new_disclosure_id()
                hook = "msg_" + uuid.uuid4().hex
                common: dict[str, Any] = {
                    "disclosure": disclosure, "subject": subject, "order": f"O-{start}",
                    "recipient": "posti", "service": "pickup_point", "fields": FIELDS,
                    "policy": "0" * 64}
                drafts.append(Draft(kind=Kind.INTENT, data={"webhook_id": hook},
                                    sealed=os.urandom(200), **common))
                ops.append(SideOps((NewKey(subject, os.urandom(60), time_),
                                    HookOp(webhook_id=hook, disclosure=disclosure,
                                           subject=subject))))
                drafts.append(Draft(kind=Kind.OUTCOME, data={"result": "booked", "intent": 0},
                                    sealed=os.urandom(60), **common))
                ops.append(HookOp(webhook_id=hook, disclosure=disclosure, status=201,
                                  answer=b"sealed answer"))
            store.append_batch(drafts, ops, time_)
    finally:
        store.close()


async def measure(directory: Path, *, seconds: float, tasks: int, batch_max: int = 512,
                  store: Store | None = None) -> dict[str, float]:
    """Disclosures per second on a new SQLite record in ``directory``, or on ``store``."""
    if store is None:
        store = ThreadedStore(SqliteStore(directory / "record.sqlite"))
    record = Record(store=store, kek=os.urandom(32), signer=Signer.generate(ORIGIN)[0],
                    origin=ORIGIN, batch_max=batch_max)
    await record.open()
    done = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await _disclose(record)
            done += 1

    try:
        deadline = time.monotonic() + 0.5  # warm-up
        await asyncio.gather(*(worker() for _ in range(tasks)))
        done, batches = 0, record.batches
        cpu = time.process_time()
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(worker() for _ in range(tasks)))
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu
        batches = record.batches - batches
    finally:
        await record.close()
    return {"disclosures_per_s": done / wall, "cpu_ms_per_disclosure": 1000 * cpu / done,
            "entries_per_batch": 2 * done / max(batches, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


async def measure_postgres(url: str, *, seconds: float, tasks: int, batch_max: int = 512,
                           ) -> dict[str, float]:
    """The same on PostgreSQL, in a new schema dropped afterwards."""
    schema = f"bench_record_{uuid.uuid4().hex[:12]}"
    try:
        return await measure(Path(), seconds=seconds, tasks=tasks, batch_max=batch_max,
                             store=PostgresStore(url, schema=schema))
    finally:
        conn = await asyncpg.connect(url)
        with contextlib.suppress(asyncpg.PostgresError):
            await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")
        await conn.close()


def _line(name: str, args: argparse.Namespace, r: dict[str, float]) -> str:
    return (f"record alone ({name}), {args.tasks} in flight, "
            f"{args.seconds:.0f} s: {r['disclosures_per_s']:,.0f} durable disclosures/s "
            f"(intent + outcome each), {r['cpu_ms_per_disclosure']:.2f} CPU ms per disclosure, "
            f"{r['entries_per_batch']:.0f} entries per commit, peak RSS {r['peak_rss_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tasks", type=int, default=256, help="disclosures in flight")
    parser.add_argument("--prefill", type=int, default=0,
                        help="disclosures written before the measurement")
    parser.add_argument("--batch-max", type=int, default=512,
                        help="the record writer's cap on entries per commit")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure on this PostgreSQL database (a new schema in it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        if args.prefill:
            started = time.monotonic()
            prefill(Path(tmp) / "record.sqlite", args.prefill)
            print(f"prefilled {args.prefill:,} disclosures in {time.monotonic() - started:.0f} s")
        r = asyncio.run(measure(Path(tmp), seconds=args.seconds, tasks=args.tasks,
                                batch_max=args.batch_max))
    print(_line("SQLite, synchronous=FULL", args, r))
    if args.postgres:
        r = asyncio.run(measure_postgres(args.postgres, seconds=args.seconds, tasks=args.tasks,
                                         batch_max=args.batch_max))
        print(_line("PostgreSQL", args, r))


if __name__ == "__main__":
    main()
