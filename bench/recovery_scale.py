"""What start-up recovery costs on a large record: finding the operations left without an
outcome.

A record of ``--entries`` entries (intent/outcome pairs, generated as bench/record_scale.py
does) gets a closed hook row for every pair, as the gateway writes them, and ``--pending``
intents whose hooks are still open (a crash between intent and outcome). Then, each timed on a
cold connection and again warm:

- before: the query start-up ran until now, every intent checked for an outcome by a NOT
  EXISTS subquery;
- after: ``SqliteStore.open_hooks`` (the partial index of open hooks) and
  ``disclosure_rows`` for each, which is what start-up runs now.

    PYTHONPATH=. .venv/bin/python bench/recovery_scale.py --entries 1000000 --dir /tmp/rec
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
import time
from pathlib import Path

from bench.record_scale import generate
from gateway.record.entry import Draft, Kind
from gateway.record.rows import HookOp
from gateway.record.stores.sqlite.store import SqliteStore

OLD_QUERY = (
    "SELECT seq, body, leaf, sealed FROM entries i WHERE i.kind = 'disclosure.intent' "
    "AND NOT EXISTS (SELECT 1 FROM entries o WHERE o.disclosure = i.disclosure "
    "AND o.kind = 'disclosure.outcome') ORDER BY seq")


def prepare(directory: Path, entries: int, pending: int) -> Path:
    path = directory / f"record-{entries}.sqlite"
    if not path.exists():
        generate(directory, (entries,))
    store = SqliteStore(path)
    store.open()
    db = store.db
    if db.execute("SELECT COUNT(*) FROM hooks").fetchone()[0] == 0:
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO hooks (webhook_id, disclosure, subject, status, answer) "
            "SELECT json_extract(body, '$.data.webhook_id'), disclosure, subject, 201, "
            "randomblob(400) FROM entries WHERE kind = 'disclosure.intent'")
        db.execute("COMMIT")
        drafts = [Draft(kind=Kind.INTENT, disclosure=f"d_pending{i}", subject="s" * 64,
                        order=f"P-{i}", recipient="posti", service="home_delivery",
                        data={"webhook_id": f"msg_pending{i}"}) for i in range(pending)]
        store.append_batch(drafts, [HookOp(f"msg_pending{i}", f"d_pending{i}", "s" * 64)
                                    for i in range(pending)], "2027-01-01T00:00:00.000Z")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


#: The old query is quadratic (SQLite answers its subquery from the kind index, scanning every
#: outcome for every intent); it is interrupted after this many seconds.
LIMIT = 120.0


def _before(path: Path) -> tuple[int, float]:
    db = sqlite3.connect(path)
    timer = threading.Timer(LIMIT, db.interrupt)
    timer.start()
    started = time.perf_counter()
    try:
        found = len(db.execute(OLD_QUERY).fetchall())
    except sqlite3.OperationalError:  # interrupted
        found = -1
    seconds = time.perf_counter() - started
    timer.cancel()
    plan = " / ".join(str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + OLD_QUERY))
    print(f"  old query plan: {plan}")
    db.close()
    return found, seconds


def _after(path: Path) -> tuple[int, float]:
    store = SqliteStore(path)
    store.open()  # rebuilds the tree: not part of what is timed
    started = time.perf_counter()
    hooks = store.open_hooks()
    found = sum(1 for h in hooks if store.disclosure_rows(h.disclosure))
    seconds = time.perf_counter() - started
    store.close()
    return found, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/recovery-bench"))  # noqa: S108 - a bench machine's scratch dir
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = prepare(args.dir, args.entries, args.pending)
    for name, run, times in (("after (open hooks, partial index)", _after, 3),
                             ("before (NOT EXISTS over every intent)", _before, 1)):
        results = [run(path) for _ in range(times)]
        found = "interrupted" if results[0][0] < 0 else str(results[0][0])
        print(f"{name:40s} found {found:>11}  " + "  ".join(
            f"{seconds * 1000:10.1f} ms" for _, seconds in results), flush=True)


if __name__ == "__main__":
    main()
