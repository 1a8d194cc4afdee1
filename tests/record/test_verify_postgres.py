"""`gateway log verify` on a PostgreSQL record: the same checks as on SQLite, and tampering done
straight in the database by a superuser with the triggers switched off is found."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.record.stores.postgres.store import PostgresStore
from gateway.record.stores.postgres.verify import verify_postgres
from gateway.record.verify_range import Report
from tests.cli import Ran, run
from tests.conftest import ROOT
from tests.stores import PG_URL

ORIGIN = "test.invalid/record"


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)[0]


@pytest.fixture
async def record(pg_schema: str, signer: Signer) -> str:
    """A PostgreSQL record of 12 entries with checkpoints every 5; yields its schema."""
    record = Record(store=PostgresStore(PG_URL, schema=pg_schema), kek=os.urandom(32),
                    signer=signer, origin=ORIGIN, checkpoint_every=5)
    await record.open()
    for i in range(12):
        await record.append(Draft(kind=Kind.INTENT, disclosure=f"d_{i}", sealed=b"v" * i))
    await record.close()
    return pg_schema


async def tamper(schema: str, statement: str) -> None:
    """Run ``statement`` as a superuser past the record's triggers."""
    conn = await asyncpg.connect(PG_URL, server_settings={"search_path": schema})
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(statement)
    finally:
        await conn.close()


async def verify(schema: str, signer: Signer) -> Report:
    return await verify_postgres(PG_URL, schema, [signer.verifier()], origin=ORIGIN)


def cli_verify(schema: str, signer: Signer, tmp_path: Path) -> Ran:
    key = tmp_path / "checkpoint.pub"
    key.write_text(signer.verifier().key_string())
    return run("log", "verify", "--url", PG_URL, "--schema", schema, "--public-key", str(key),
               "--quiet", cwd=ROOT)


class TestVerifyPostgres:
    async def test_an_untouched_record_verifies(self, record: str, signer: Signer,
                                                tmp_path: Path) -> None:
        """Every entry, checkpoint and the signed head check out, from code and the CLI."""
        report = await verify(record, signer)
        assert report.ok, report.summary()
        assert (report.entries, report.unsigned_tail) == (12, 0)
        assert report.checkpoints >= 3
        done = cli_verify(record, signer, tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("OK: 12 entries")

    async def test_a_flipped_byte_is_found(self, record: str, signer: Signer,
                                           tmp_path: Path) -> None:
        """One bit changed in an entry's body fails at that entry's position."""
        await tamper(record, "UPDATE entries SET body = set_byte(body, 20, get_byte(body, 20) # 1)"
                             " WHERE seq = 3")
        report = await verify(record, signer)
        assert (report.ok, report.first_bad) == (False, 3)
        done = cli_verify(record, signer, tmp_path)
        assert done.returncode == 1
        assert "FAILED at position 3" in done.stdout

    async def test_a_deleted_entry_is_found(self, record: str, signer: Signer) -> None:
        """An entry deleted from the middle fails at its position."""
        await tamper(record, "DELETE FROM entries WHERE seq = 7")
        report = await verify(record, signer)
        assert (report.ok, report.first_bad) == (False, 7)
        assert "missing" in (report.problem or "")

    async def test_a_truncated_tail_is_found(self, record: str, signer: Signer) -> None:
        """Entries cut from the end, under a checkpoint, fail verification."""
        await tamper(record, "DELETE FROM entries WHERE seq >= 10")
        report = await verify(record, signer)
        assert not report.ok
        assert "truncated or deleted" in (report.problem or "")

    async def test_a_changed_sealed_value_is_found(self, record: str, signer: Signer) -> None:
        """A sealed value swapped for another fails its committed hash."""
        await tamper(record, "UPDATE entries SET sealed = '\\x00'::bytea WHERE seq = 5")
        report = await verify(record, signer)
        assert (report.ok, report.first_bad) == (False, 5)

    async def test_an_unreachable_database_is_a_failed_report(self, signer: Signer) -> None:
        """No database answers: a failed report naming no values, not a crash."""
        report = await verify_postgres("postgresql://postgres@127.0.0.1:1/test", "x",
                                       [signer.verifier()])
        assert not report.ok
        assert "cannot connect" in (report.problem or "")
