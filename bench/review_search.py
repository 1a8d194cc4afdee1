"""Review search speed on a record of a million entries.

Builds (once) a SQLite record straight through ``SqliteStore.append_batch`` in big batches:
intent and outcome pairs for ~100,000 customers over two years and five carriers, with some
authority disclosures and review reads; then times the review searches the API runs (first
page and a later page, keyset on position), an inclusion proof, the checkpoint root check, an
access report's rows and the transparency counts. Customer and order searches are timed as a
distribution (``--points`` random searches each, p50 / p99 / max); given several sizes, a record
per size is built (``<db stem>-<size>``) and the point searches' growth from the smallest to the
largest is printed (a point search must not grow with the record).

    PYTHONPATH=. python bench/review_search.py --entries 1000000 --db /tmp/review-bench.sqlite
    PYTHONPATH=. python bench/review_search.py --entries 100000,1000000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.record import Draft, Kind
from gateway.record.merkle import root
from gateway.record.proof import Prover
from gateway.record.queries import Search
from gateway.record.sealing import subject_ref
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore

HMAC_KEY = bytes(range(32))
CARRIERS = (("posti", "home_delivery"), ("posti", "pickup_point"), ("matkahuolto",
            "pickup_point"), ("postnord", "service_point"), ("budbee", "home"))
FIELDS = ("name", "street", "postal_code", "town", "country", "phone")
START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 730


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def generate(store: SqliteStore, entries: int, batch: int, customers: int) -> None:
    rng = random.Random(7)
    refs = [subject_ref(HMAC_KEY, f"C-{n}") for n in range(customers)]
    batches = max(1, (entries - store.size) // batch)
    done = 0
    started = time.perf_counter()
    while store.size < entries:
        at = START + timedelta(days=DAYS * store.size / entries)
        drafts: list[Draft] = []
        while len(drafts) < min(batch, entries - store.size):
            n = len(drafts) + store.size
            subject = refs[rng.randrange(customers)]
            roll = rng.random()
            if roll < 0.01:
                drafts.append(Draft(kind=Kind.AUTHORITY_DISCLOSURE, disclosure=f"ar_{n}:0",
                                    subject=subject, recipient="Poliisi", service="criminal",
                                    fields=("name", "phone"), data={
                                        "request": f"ar_{n // 7}", "legal_basis": rng.choice(
                                            ["Police Act 872/2011 4:3", ("Coercive Measures "
                                             "Act 806/2011 10")]), "defer_until": None}))
                continue
            if roll < 0.02:
                drafts.append(Draft(kind=Kind.REVIEW, subject=subject,
                                    data={"by": "rea", "what": "search"}))
                continue
            carrier, service = CARRIERS[rng.randrange(len(CARRIERS))]
            common: dict[str, Any] = {
                "disclosure": f"d_{n:012x}", "subject": subject, "order": f"J-{n}",
                "recipient": carrier, "service": service, "fields": FIELDS, "policy": "0" * 64}
            drafts.append(Draft(kind=Kind.INTENT, data={"webhook_id": f"msg_{n}"},
                                sealed=rng.randbytes(120), **common))
            drafts.append(Draft(kind=Kind.OUTCOME, data={"result": "booked", "intent": n},
                                sealed=rng.randbytes(80), **common))
        drafts = drafts[: entries - store.size]
        store.append_batch(drafts, [None] * len(drafts), _iso(at))
        done += 1
        if done % max(1, batches // 10) == 0:
            print(f"  {store.size:>9,} entries  {time.perf_counter() - started:6.1f} s")
    store.add_checkpoint(store.size, _iso(START + timedelta(days=DAYS)), "bench")


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median and worst milliseconds over ``runs`` calls, and the last result."""
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result


def percentiles(fn: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    """p50, p99 and worst milliseconds over ``runs`` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default="1000000",
                        help="record size, or sizes separated by commas")
    parser.add_argument("--db", type=Path, default=Path("/tmp/review-bench.sqlite"))  # noqa: S108
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--points", type=int, default=2_000,
                        help="customer and order searches timed for p50 / p99")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.entries.split(","))
    points: dict[int, dict[str, tuple[float, float, float]]] = {}
    for entries in sizes:
        db = args.db if len(sizes) == 1 else args.db.with_name(
            f"{args.db.stem}-{entries}{args.db.suffix}")
        points[entries] = bench(db, entries, args)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\npoint searches from {small:,} to {large:,} entries "
              "(p50 / p99 milliseconds, growth of p99):")
        for name in points[small]:
            (a50, a99, _), (b50, b99, _) = points[small][name], points[large][name]
            print(f"  {name:<40} {a50:6.3f} / {a99:6.3f}  ->  {b50:6.3f} / {b99:6.3f}   "
                  f"x{b99 / a99:.2f}")


def bench(db: Path, entries: int, args: argparse.Namespace,
          ) -> dict[str, tuple[float, float, float]]:
    """Time the review reads on a record of ``entries`` entries at ``db``; returns the point
    searches' p50 / p99 / max."""
    customers = max(10, entries // 10)
    store = SqliteStore(db)
    started = time.perf_counter()
    store.open()
    print(f"opened {db} ({store.size:,} entries) in {time.perf_counter() - started:.1f} s")
    if store.size < entries:
        print(f"generating {entries - store.size:,} entries")
        generate(store, entries, args.batch, customers)
    store.db.execute("ANALYZE")
    rng = random.Random(11)
    size = store.size

    def month() -> tuple[str, str]:
        first = START + timedelta(days=rng.randrange(DAYS - 31))
        first = first.replace(day=1)
        return _iso(first), _iso((first + timedelta(days=32)).replace(day=1))

    def customer() -> str:
        return subject_ref(HMAC_KEY, f"C-{rng.randrange(customers)}")

    def later_page(query: Search) -> list[Any]:
        page = store.search(query)
        return store.search(Search(**{**_fields(query), "cursor": page[-1].seq})) if len(
            page) == query.limit else []

    orders = [r[0] for r in store.db.execute(
        "SELECT order_ref FROM entries WHERE seq % 97 = 0 AND order_ref IS NOT NULL")]
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("customer, newest first", lambda: store.search(Search(subject=customer()))),
        ("customer + period (a year)", lambda: store.search(
            Search(subject=customer(), since="2025-01-01T00:00:00.000Z",
                   until="2026-01-01T00:00:00.000Z"))),
        ("order", lambda: store.search(Search(order=rng.choice(orders)))),
        ("recipient + period (a month), first page",
         lambda: store.search(Search(recipient="posti", since=(m := month())[0], until=m[1]))),
        ("recipient + period (a month), next page",
         lambda: later_page(Search(recipient="budbee", since=(m := month())[0], until=m[1]))),
        ("recipient + period, oldest first",
         lambda: store.search(Search(recipient="postnord", since=(m := month())[0],
                                     until=m[1], newest_first=False))),
        ("kind + period (authority, a month)",
         lambda: store.search(Search(kind=Kind.AUTHORITY_DISCLOSURE, since=(m := month())[0],
                                     until=m[1]))),
        ("period only (a month)",
         lambda: store.search(Search(since=(m := month())[0], until=m[1]))),
        ("no filter, newest 50", lambda: store.search(Search())),
        ("access report rows (subject_rows)", lambda: store.subject_rows(customer())),
    ]
    print(f"\n{size:,} entries, {args.runs} runs each, page size 50 "
          "(median / worst, milliseconds):")
    for name, fn in cases:
        median, worst, result = timed(fn, args.runs)
        print(f"  {name:<44} {median:8.2f} {worst:8.2f}   ({len(result)} rows last run)")
    prover = Prover()

    def prove() -> list[bytes]:
        async def run() -> list[bytes]:
            threaded = ThreadedStore(store)
            try:
                return await prover.path(threaded, rng.randrange(size), size)
            finally:
                threaded._thread.shutdown(wait=True)  # noqa: SLF001 - leave the store open

        return asyncio.run(run())

    median, worst, _ = timed(prove, 1)
    print(f"  {'inclusion proof, first (hashes every leaf)':<44} {median:8.1f} {worst:8.1f}")
    slow = [
        ("inclusion proof, later (subtrees kept)", prove),
        ("checkpoint root check (every leaf rehashed)", lambda: root(store.leaves(0, size))),
        ("transparency counts, one year", lambda: store.disclosure_counts_by(
            "2025-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z")),
        ("transparency counts, one month", lambda: store.disclosure_counts_by(*month())),
    ]
    for name, fn in slow:
        median, worst, _ = timed(fn, 3)
        print(f"  {name:<44} {median:8.1f} {worst:8.1f}")
    point_cases = {
        "customer, newest first": lambda: store.search(Search(subject=customer())),
        "order": lambda: store.search(Search(order=rng.choice(orders))),
        "customer, every entry (access report)": lambda: store.subject_rows(customer()),
    }
    print(f"\n{size:,} entries, {args.points} random searches each "
          "(p50 / p99 / max, milliseconds):")
    found: dict[str, tuple[float, float, float]] = {}
    for name, fn in point_cases.items():
        found[name] = percentiles(fn, args.points)
        print(f"  {name:<44} {found[name][0]:8.3f} {found[name][1]:8.3f} {found[name][2]:8.3f}")
    store.close()
    return found


def _fields(query: Search) -> dict[str, Any]:
    import attrs  # noqa: PLC0415

    return attrs.asdict(query)


if __name__ == "__main__":
    main()
