"""The figures issue 20's targets 3 and 5 are judged on: the record alone, and review at scale.

- The record alone: bench/record_throughput.py's measurement (intent + outcome per disclosure,
  each acknowledged only once its batch is committed, SQLite WAL with synchronous=FULL, 256
  disclosures in flight), run in this process for a few seconds on a new record.
- Review at scale, on the largest generated record (bench/record_scale.py): customer and order
  searches as a distribution of random searches (bench/review_search.py's ``percentiles``, one
  page through ``SqliteStore.search`` as the review API asks); an inclusion proof from a cold
  start, in a fresh process (``python -m bench.review_targets cold-proof DB INDEX``) that opens
  the record as the gateway does (its tree checked against the newest signed checkpoint) and
  answers the review API's checked proof, timed from before the record opens to the proof; and
  a year's transparency counts (``disclosure_counts_by`` over the record's whole year).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import orjson

from bench import procs, record_throughput
from bench.record_scale import ORIGIN, SPAN, START
from bench.review_search import percentiles
from gateway.record import Record
from gateway.record.checkpoint import Signer
from gateway.record.proof import Prover, check_inclusion
from gateway.record.queries import Search as Query
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore

if TYPE_CHECKING:
    from bench.record_scale import Generated


@attrs.frozen
class RecordAlone:
    disclosures_per_s: float
    cpu_ms_per_disclosure: float
    entries_per_batch: float
    seconds: float


def record_alone(seconds: float, tasks: int = 256) -> RecordAlone:
    """Durable disclosures/s through the record alone on a new SQLite record."""
    with tempfile.TemporaryDirectory(prefix="bench-record-alone-") as tmp:
        r = asyncio.run(record_throughput.measure(Path(tmp), seconds=seconds, tasks=tasks))
    return RecordAlone(r["disclosures_per_s"], r["cpu_ms_per_disclosure"],
                       r["entries_per_batch"], seconds)


@attrs.frozen
class Review:
    entries: int
    searches: int
    #: p50, p99 and worst milliseconds of customer (subject) and of order searches.
    customer_ms: tuple[float, float, float]
    order_ms: tuple[float, float, float]
    #: A fresh process: opening the record, then its first inclusion proof (milliseconds).
    cold_open_ms: float
    cold_proof_ms: float
    #: A year's transparency counts: the worst of three (milliseconds), and rows counted.
    year_counts_ms: float
    count_rows: int

    @property
    def cold_total_ms(self) -> float:
        return self.cold_open_ms + self.cold_proof_ms


def review(record: Generated, searches: int = 2000) -> Review:
    """Point searches, a year's counts and a cold-start proof on ``record``."""
    rng = random.Random(12)
    orders = record.entries // 2
    store = SqliteStore(record.path)
    store.open()
    try:
        customer = percentiles(
            lambda: store.search(Query(subject=rng.choice(record.subjects))), searches)
        order = percentiles(
            lambda: store.search(Query(order=f"J-{rng.randrange(orders)}")), searches)
        since, until = _iso(START), _iso(START + SPAN)
        worst, rows = 0.0, 0
        for _ in range(3):
            started = time.perf_counter()
            rows = len(store.disclosure_counts_by(since, until))
            worst = max(worst, (time.perf_counter() - started) * 1000)
    finally:
        store.close()
    open_ms, proof_ms = cold_proof(record.path, rng.randrange(record.entries))
    return Review(record.entries, searches, customer, order, open_ms, proof_ms, worst, rows)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cold_proof(path: Path, index: int) -> tuple[float, float]:
    """Open the record in a fresh process and build the audit path of entry ``index``:
    milliseconds to open, and to the first proof."""
    out = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.review_targets", "cold-proof", str(path), str(index)],
        cwd=procs.ROOT, capture_output=True, text=True, check=False, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"the cold-start proof failed: {out.stderr.strip()[-2000:]}")
    figures = orjson.loads(out.stdout)
    return float(figures["open_ms"]), float(figures["proof_ms"])


async def _cold_proof(path: Path, index: int) -> dict[str, float]:
    """What the gateway does from a cold start: open the record as ``serve`` does (its tree
    taken up and checked against the newest signed checkpoint), then answer the review API's
    proof of entry ``index`` (checked against that checkpoint). The record's signing key is
    the one ``record_scale.generate`` wrote beside it."""
    key = (path.parent / "secrets" / "checkpoint.key").read_text(encoding="utf-8").strip()
    signer = Signer.from_key_string(key)
    started = time.perf_counter()
    record = Record(store=ThreadedStore(SqliteStore(path)), kek=os.urandom(32), signer=signer,
                    origin=ORIGIN)
    await record.open()
    opened = time.perf_counter()
    try:
        row = await record.entry(index)
        if row is None:
            raise SystemExit(f"no entry {index} in {path}")
        inclusion = await check_inclusion(record, [signer.verifier()], row, Prover())
        proved = time.perf_counter()
    finally:
        await record.close()
    if not inclusion.verified:
        raise SystemExit(f"the proof of entry {index} does not verify: {inclusion.problem}")
    return {"open_ms": (opened - started) * 1000, "proof_ms": (proved - opened) * 1000,
            "hashes": len(inclusion.path)}


def lines(alone: RecordAlone | None, seen: Review | None) -> list[str]:
    out = []
    if alone is not None:
        out.append(f"the record alone (bench/record_throughput.py, SQLite synchronous=FULL, 256 "
                   f"in flight, {alone.seconds:g} s on a new record): "
                   f"{alone.disclosures_per_s:,.0f} durable disclosures/s (intent + outcome "
                   f"each), {alone.cpu_ms_per_disclosure:.2f} CPU ms per disclosure, "
                   f"{alone.entries_per_batch:.0f} entries per commit")
    if seen is not None:
        c, o = seen.customer_ms, seen.order_ms
        out += [
            (f"review at scale on {seen.entries:,} entries ({seen.searches:,} random searches "
             "each, one page through SqliteStore.search; p50 / p99 / max ms):"),
            (f"  customer search {c[0]:.3f} / {c[1]:.3f} / {c[2]:.3f}; "
             f"order search {o[0]:.3f} / {o[1]:.3f} / {o[2]:.3f}"),
            (f"  inclusion proof from a cold start (a fresh process): open {seen.cold_open_ms:.1f}"
             f" ms + first proof {seen.cold_proof_ms:.1f} ms"),
            (f"  a year's transparency counts: {seen.year_counts_ms:.1f} ms (worst of 3, "
             f"{seen.count_rows} rows)"),
        ]
    return out


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "cold-proof":
        sys.exit("usage: python -m bench.review_targets cold-proof DB INDEX")
    print(orjson.dumps(asyncio.run(_cold_proof(Path(sys.argv[2]), int(sys.argv[3])))).decode())
