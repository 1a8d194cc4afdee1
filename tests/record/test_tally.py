"""The tally stored beside each counted entry: what the transparency counts read instead of the
bodies, written with the entry, filled in when an older record is upgraded, and checked by
verify against the signed body."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from gateway.record import Draft, Kind
from gateway.record.queries import CountRow
from gateway.record.stores.postgres.schema import MIGRATIONS, TALLY
from gateway.record.stores.postgres.store import PostgresStore
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.tally import tally_of_stored
from gateway.record.verify import verify_sqlite
from tests.stores import PG_URL, pg_sql

JAN, FEB = "2026-01-10T00:00:00.000Z", "2026-02-10T00:00:00.000Z"
FIELDS = ("name", "phone")


def _drafts() -> list[Draft]:
    return [
        Draft(kind=Kind.INTENT, subject="s1", recipient="posti", fields=FIELDS,
              data={"webhook_id": "w1"}),
        Draft(kind=Kind.OUTCOME, subject="s1", recipient="posti", fields=FIELDS,
              data={"result": "booked"}),
        Draft(kind=Kind.OUTCOME, subject="s2", recipient="posti", fields=FIELDS,
              data={"result": "failed"}),
        Draft(kind=Kind.AUTHORITY_DISCLOSURE, subject="s3", recipient="Poliisi",
              fields=("name",), data={"status": "held", "legal_basis": "Police Act 4:3",
                                      "request": "ar_1"}),
        Draft(kind=Kind.REVIEW, subject="s1", data={"by": "rea"}),
    ]


def _sorted(rows: list[CountRow]) -> list[CountRow]:
    return sorted(rows, key=repr)


EXPECTED = [
    CountRow("authority.disclosure", "Poliisi", "2026-01", "held", "Police Act 4:3", "ar_1", 1,
             ("name",)),
    CountRow("authority.disclosure", "Poliisi", "2026-02", "held", "Police Act 4:3", "ar_1", 1,
             ("name",)),
    CountRow("disclosure.outcome", "posti", "2026-01", "booked", None, None, 1, FIELDS),
    CountRow("disclosure.outcome", "posti", "2026-01", "failed", None, None, 1, FIELDS),
    CountRow("disclosure.outcome", "posti", "2026-02", "booked", None, None, 1, FIELDS),
    CountRow("disclosure.outcome", "posti", "2026-02", "failed", None, None, 1, FIELDS),
]


def _tallies(rows: list[tuple[object, ...]]) -> dict[int, str | None]:
    return {int(str(seq)): None if t is None else str(t) for seq, t in rows}


def test_sqlite_counts_read_the_tallies_written_with_the_entries(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.sqlite")
    store.open()
    for time in (JAN, FEB):
        store.append_batch(_drafts(), [None] * 5, time)
    assert _sorted(store.disclosure_counts_by(None, None)) == _sorted(EXPECTED)
    assert _sorted(store.disclosure_counts_by(FEB, None)) == _sorted(
        [r for r in EXPECTED if r.month == "2026-02"])
    tallies = _tallies(store.db.execute("SELECT seq, tally FROM entries").fetchall())
    bodies = dict(store.db.execute("SELECT seq, body FROM entries").fetchall())
    assert tallies == {seq: tally_of_stored(body) for seq, body in bodies.items()}
    assert [seq for seq, t in tallies.items() if t is not None] == [1, 2, 3, 6, 7, 8]
    store.close()


def _as_schema_2(path: Path) -> None:
    """Make the record look as schema 2 left it: no tally, the older update trigger."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("""
        DROP INDEX entries_tally; DROP TRIGGER entries_no_update;
        ALTER TABLE entries DROP COLUMN tally;
        CREATE TRIGGER entries_no_update
        BEFORE UPDATE OF seq, body, leaf, kind, time, subject, order_ref, recipient, disclosure
        ON entries BEGIN SELECT RAISE(ABORT, 'the record is append-only'); END;
        UPDATE meta SET value = '2' WHERE key = 'schema';""")
    db.close()


def test_a_schema_2_record_is_upgraded_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    store = SqliteStore(path)
    store.open()
    for time in (JAN, FEB):
        store.append_batch(_drafts(), [None] * 5, time)
    written = _tallies(store.db.execute("SELECT seq, tally FROM entries").fetchall())
    store.close()
    _as_schema_2(path)
    assert verify_sqlite(path, []).ok  # a record without tallies has none to differ
    store = SqliteStore(path)
    store.open()
    assert store.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("3",)
    assert _tallies(store.db.execute("SELECT seq, tally FROM entries").fetchall()) == written
    assert _sorted(store.disclosure_counts_by(None, None)) == _sorted(EXPECTED)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("UPDATE entries SET tally = NULL WHERE seq = 1")
    store.close()
    report = verify_sqlite(path, [])
    assert report.ok, report.summary()


async def test_a_postgres_record_gains_its_tallies(pg_schema: str) -> None:
    store = PostgresStore(PG_URL, schema=pg_schema)
    await store.open()
    for time in (JAN, FEB):
        await store.append_batch(_drafts(), [None] * 5, time)
    written = _tallies(await pg_sql(pg_schema, "SELECT seq, tally FROM entries"))
    assert _sorted(await store.disclosure_counts_by(None, None)) == _sorted(EXPECTED)
    await store.close()
    await pg_sql(pg_schema, "DROP INDEX entries_tally")
    await pg_sql(pg_schema, "ALTER TABLE entries DROP COLUMN tally")
    await pg_sql(pg_schema, "DELETE FROM schema_version WHERE version >= $1", TALLY)
    store = PostgresStore(PG_URL, schema=pg_schema)
    await store.open()
    try:
        assert _tallies(await pg_sql(pg_schema, "SELECT seq, tally FROM entries")) == written
        assert _sorted(await store.disclosure_counts_by(None, FEB)) == _sorted(
            [r for r in EXPECTED if r.month == "2026-01"])
        versions = [r[0] for r in await pg_sql(pg_schema, "SELECT version FROM schema_version")]
        assert versions == list(range(1, len(MIGRATIONS) + 1))
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
            await pg_sql(pg_schema, "UPDATE entries SET tally = NULL WHERE seq = 1")
    finally:
        await store.close()
