"""The record at scale: a generated record of one million entries, `gateway log verify` over
100k and 1M of them (speed and peak memory), and review searches through the store's indexes.

The record is written straight through ``SqliteStore.append_batch`` in batches of 1,000 (the
gateway's own path for entries, hash chain and Merkle tree, with the signed head replaced in
every batch), plus a checkpoint every 1,000 entries as ``checkpoint_every = 1000`` gives, signed
with ``sign_checkpoint``. Entries are intent/outcome pairs shaped as the gateway writes them: the
same keys, a 64-hex subject reference, a policy digest, and sealed values of the sizes real
sealed receivers and tracking numbers have (random bytes stand in for the ciphertext: verify
only hashes them). Only while generating, SQLite runs with synchronous=OFF.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import attrs

from bench import procs
from gateway.keygen import keygen
from gateway.record.checkpoint import Checkpoint, Signer, sign_checkpoint
from gateway.record.entry import Draft, Kind
from gateway.record.stores.sqlite.store import SqliteStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

ORIGIN = "jerone.fi/disclosure-record"
BATCH = 1000
CUSTOMERS = 200_000
#: Sizes of real sealed values (nonce + AES-GCM of the JSON): an intent's receiver, an outcome's
#: tracking number and carrier reference.
SEALED_INTENT = 169
SEALED_OUTCOME = 112
RECIPIENTS = (("posti", 5), ("matkahuolto", 3), ("postnord", 2), ("dhl_express", 1),
              ("budbee", 1))
SERVICES = ("pickup_point", "home_delivery")
FIELDS = {
    "pickup_point": ("name", "postal_code", "town", "country", "phone"),
    "home_delivery": ("name", "street", "postal_code", "town", "country", "phone"),
}
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)


@attrs.frozen
class Generated:
    path: Path
    public_key: Path
    entries: int
    seconds: float
    subjects: list[str]
    orders: list[str]


class _Maker:
    """Intent/outcome pairs for orders 0, 1, 2, ..."""

    def __init__(self, seed: int = 8) -> None:
        self.rng = random.Random(seed)
        key = self.rng.randbytes(32)
        self.subjects = [hmac.new(key, f"C-{i}".encode(), hashlib.sha256).hexdigest()
                         for i in range(CUSTOMERS)]
        self.policies = {s: hashlib.sha256(s.encode()).hexdigest() for s in SERVICES}
        self.recipients = [name for name, weight in RECIPIENTS for _ in range(weight)]

    def pair(self, order: int, intent_seq: int) -> tuple[Draft, Draft]:
        rng = self.rng
        disclosure = "d_" + rng.randbytes(16).hex()
        subject = self.subjects[rng.randrange(CUSTOMERS)]
        service = SERVICES[order % 2]
        common: dict[str, Any] = {
            "disclosure": disclosure, "subject": subject, "order": f"J-{order}",
            "recipient": self.recipients[order % len(self.recipients)], "service": service,
            "fields": FIELDS[service], "policy": self.policies[service],
        }
        intent = Draft(kind=Kind.INTENT, data={"webhook_id": "msg_" + rng.randbytes(16).hex()},
                       sealed=os.urandom(SEALED_INTENT), **common)
        outcome = Draft(kind=Kind.OUTCOME, data={
            "result": "booked", "label_format": "pdf",
            "label_sha256": rng.randbytes(32).hex(), "intent": intent_seq,
        }, sealed=os.urandom(SEALED_OUTCOME), **common)
        return intent, outcome


def _time_of(batch: int, batches: int) -> str:
    at = START + SPAN * (batch / batches)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _append(store: SqliteStore, maker: _Maker, signer: Signer, upto: int, total: int) -> None:
    """Append entries until the record holds ``upto`` (of a final ``total``)."""

    def sign(size: int, root: bytes) -> str:
        return sign_checkpoint(Checkpoint(ORIGIN, size, root), signer)

    batches = total // BATCH
    while store.size < upto:
        seq = store.size
        drafts: list[Draft] = []
        for i in range(BATCH // 2):
            drafts.extend(maker.pair(seq // 2 + i, seq + 2 * i))
        when = _time_of(seq // BATCH, batches)
        store.append_batch(drafts, [None] * len(drafts), when, sign)
        store.add_checkpoint(store.size, when, sign(store.size, store.root()))


def generate(directory: Path, sizes: tuple[int, ...]) -> list[Generated]:
    """One record per size in ``sizes`` (ascending), each grown from a copy of the one before."""
    keygen(directory / "secrets", origin=ORIGIN)
    signer = Signer.from_key_string((directory / "secrets" / "checkpoint.key").read_text().strip())
    maker = _Maker()
    out = []
    previous: Path | None = None
    started = time.perf_counter()
    for size in sizes:
        path = directory / f"record-{size}.sqlite"
        if previous is not None:
            shutil.copyfile(previous, path)
        store = SqliteStore(path)
        store.open()
        store.db.execute("PRAGMA synchronous=OFF")  # generating only; the gateway runs FULL
        store.db.execute("PRAGMA cache_size=-262144")  # 256 MiB: random index inserts
        _append(store, maker, signer, size, sizes[-1])
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        out.append(Generated(path, directory / "secrets" / "checkpoint.pub", size,
                             time.perf_counter() - started, maker.subjects, []))
        previous = path
    return out


@attrs.frozen
class VerifyRun:
    entries: int
    seconds: float
    peak_rss_mb: float
    output: str
    #: CPU seconds (user + system) of verify and its worker processes; the workers asked for.
    cpu_seconds: float = 0.0
    workers: int = 1

    @property
    def rate(self) -> float:
        return self.entries / self.seconds


def verify(record: Generated, *, wrap: list[str] | None = None, workers: int = 1) -> VerifyRun:
    """``python -m gateway.cli log verify --db X --public-key Y --quiet`` in a subprocess: its
    wall time, and its peak RSS: VmHWM from /proc/<pid>/status, read every 10 ms while it runs
    (wait4's ru_maxrss would count the parent's memory, which the child has until its exec); its
    CPU seconds with its worker processes' (this process's reaped children before and after)."""
    command = [sys.executable, "-m", "gateway.cli", "log", "verify", "--db", str(record.path),
               "--public-key", str(record.public_key), "--quiet", "--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*(wrap or []), *command], cwd=procs.ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    peak = 0.0
    while proc.poll() is None:
        with contextlib.suppress(OSError):
            peak = max(peak, procs.peak_rss_mb(proc.pid))
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    output = proc.communicate()[0]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0 or "OK:" not in output:
        raise RuntimeError(f"verify failed on {record.path}: {output.strip()}")
    return VerifyRun(record.entries, seconds, peak, output.strip(), cpu, workers)


# -- review searches ------------------------------------------------------------------------------


@attrs.frozen
class Search:
    name: str
    how: str  # the query plan's index, or the store method used
    p50_ms: float
    p99_ms: float
    rows: float  # mean rows per search


def _timed(queries: Iterator[Callable[[], int]]) -> tuple[list[float], list[int]]:
    times, rows = [], []
    for run in queries:
        t = time.perf_counter()
        rows.append(run())
        times.append((time.perf_counter() - t) * 1000)
    return times, rows


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def searches(record: Generated, count: int = 200) -> tuple[str, list[Search]]:
    """Searches by subject, by order, and by recipient over one day, ``count`` of each with
    random keys: through ``SqliteStore.search`` (one page, as the review API asks) when the
    store has it, else straight SQL over the indexed columns. Returns how, and the timings."""
    rng = random.Random(9)
    orders = record.entries // 2
    days = [START + timedelta(days=rng.randrange(365)) for _ in range(count)]
    periods = [(d.strftime("%Y-%m-%dT00:00:00.000Z"),
                (d + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00.000Z")) for d in days]
    keys = {
        "by subject": [{"subject": rng.choice(record.subjects)} for _ in range(count)],
        "by order": [{"order": f"J-{rng.randrange(orders)}"} for _ in range(count)],
        "recipient + one day": [{"recipient": rng.choice(RECIPIENTS)[0], "since": since,
                                 "until": until} for since, until in periods],
    }
    try:
        return "SqliteStore.search, one page", _store_searches(record, keys)
    except (ImportError, AttributeError, TypeError) as exc:
        why = f"SqliteStore.search is not usable here ({type(exc).__name__}: {exc})" if (
            hasattr(SqliteStore, "search")) else "SqliteStore has no search method yet"
        return f"{why}: SQL on the indexed columns", _sql_searches(record, keys)


def _store_searches(record: Generated, keys: dict[str, list[dict[str, str]]]) -> list[Search]:
    from gateway.record.queries import Search as Query  # noqa: PLC0415 - may not exist yet

    store = SqliteStore(record.path)
    store.open()
    try:
        out = []
        for name, params in keys.items():
            queries = [Query(**cast("dict[str, Any]", p)) for p in params]
            times, rows = _timed(
                (lambda q=q: len(store.search(q))) for q in queries)  # type: ignore[misc]
            limit = attrs.fields(Query).limit.default
            out.append(Search(name, f"store.search, limit {limit}", _pct(times, 0.5),
                              _pct(times, 0.99), statistics.fmean(rows)))
        return out
    finally:
        store.close()


_SQL = {
    "subject": "subject = ?", "order": "order_ref = ?", "recipient": "recipient = ?",
    "since": "time >= ?", "until": "time < ?",
}


def _sql_searches(record: Generated, keys: dict[str, list[dict[str, str]]]) -> list[Search]:
    import sqlite3  # noqa: PLC0415

    db = sqlite3.connect(f"file:{record.path}?mode=ro", uri=True)
    out = []
    for name, params in keys.items():
        where = " AND ".join(_SQL[k] for k in params[0])
        query = f"SELECT seq, body, sealed FROM entries WHERE {where} ORDER BY seq"  # noqa: S608
        values = [tuple(p.values()) for p in params]
        plan = " ".join(str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + query,
                                                          values[0]))
        index = next((w for w in plan.split() if w.startswith("entries_")), "no index: " + plan)
        times, rows = _timed(
            (lambda v=v, q=query: len(db.execute(q, v).fetchall())) for v in values)  # type: ignore[misc]
        out.append(Search(name, f"SQL via {index}, every row", _pct(times, 0.5),
                          _pct(times, 0.99), statistics.fmean(rows)))
    db.close()
    return out


