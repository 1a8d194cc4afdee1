"""Durable disclosures per second through the record alone, without a carrier.

Each disclosure does what the gateway's hook path does to the record: take (or create) the
customer's key, seal the minimised receiver, append the intent with its hook bookkeeping and
the new key in the batch's transaction, seal the tracking number, append the outcome. Every
append returns only once its batch is committed (SQLite WAL, synchronous=FULL). ``--tasks``
disclosures are in flight at once, as concurrent hooks would be; each is for a new customer.

This is the ceiling the record puts on the gateway, apart from the carrier's HTTP exchange
(which the load benchmark in bench/run.py includes).

    PYTHONPATH=. .venv/bin/python bench/record_throughput.py [--seconds 5] [--tasks 256]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path

from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.record.rows import HookOp
from gateway.record.sealing import seal
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore

ORIGIN = "bench.invalid/record"
RECEIVER = {"name": "Bench Customer", "postal_code": "33100", "town": "Tampere",
            "country": "FI", "phone": "+358401234567"}
FIELDS = ("name", "postal_code", "town", "country", "phone")


async def _disclose(record: Record) -> None:
    subject = uuid.uuid4().hex * 2
    disclosure = "d_" + uuid.uuid4().hex
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


async def measure(directory: Path, *, seconds: float, tasks: int) -> dict[str, float]:
    record = Record(store=ThreadedStore(SqliteStore(directory / "record.sqlite")),
                    kek=os.urandom(32), signer=Signer.generate(ORIGIN)[0], origin=ORIGIN)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tasks", type=int, default=256, help="disclosures in flight")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        r = asyncio.run(measure(Path(tmp), seconds=args.seconds, tasks=args.tasks))
    print(f"record alone (SQLite, synchronous=FULL), {args.tasks} in flight, "
          f"{args.seconds:.0f} s: {r['disclosures_per_s']:,.0f} durable disclosures/s "
          f"(intent + outcome each), {r['cpu_ms_per_disclosure']:.2f} CPU ms per disclosure, "
          f"{r['entries_per_batch']:.0f} entries per commit, peak RSS {r['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
