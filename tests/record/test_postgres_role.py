"""The PostgreSQL record under the role a gateway should connect as: the owner creates the
schema, grants ``writer_grants``, and the gateway, connected as a role that owns nothing, can
append, keep its side tables and sign checkpoints, but can neither rewrite nor delete the
record nor switch its triggers off."""

from __future__ import annotations

import os

import asyncpg
import pytest

from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.record.rows import HookOp
from gateway.record.stores.postgres.store import PostgresStore

ORIGIN = "test.invalid/record"


async def as_writer(url: str, schema: str, statement: str) -> None:
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


class TestWriterRole:
    async def test_the_gateway_works_as_the_writer_role(self, pg_writer: tuple[str, str],
        pg_schema: str,
                                                        ) -> None:
        """Connected as the writer role, the record appends entries with their hook and key
        side operations, and signs checkpoints."""
        record = Record(store=PostgresStore(pg_writer[0], schema=pg_schema), kek=os.urandom(32),
                        signer=Signer.generate(ORIGIN)[0], origin=ORIGIN, checkpoint_every=2)
        await record.open()
        try:
            key, new_key = await record.key_for("s1")
            assert key
            for i in range(3):
                await record.append(Draft(kind=Kind.INTENT, subject="s1", disclosure=f"d_{i}"),
                                    HookOp(webhook_id=f"h{i}", disclosure=f"d_{i}", subject="s1"),
                                    new_key)
            assert await record.checkpoint() is not None
            assert (await record.head())[0] == 3
        finally:
            await record.close()

    @pytest.mark.parametrize("statement", [
        "UPDATE entries SET body = body || 'x'::bytea WHERE seq = 0",
        "UPDATE entries SET kind = 'forged' WHERE seq = 0",
        "DELETE FROM entries WHERE seq = 0",
        "DELETE FROM checkpoints",
        "TRUNCATE entries",
        "ALTER TABLE entries DISABLE TRIGGER ALL",
        "DROP TABLE entries",
    ])
    async def test_the_writer_role_cannot_rewrite_the_record(
        self, pg_writer: tuple[str, str], pg_schema: str, statement: str
    ) -> None:
        """Rewriting, deleting, truncating or dropping the record, or switching its triggers
        off, is refused by the database's privileges, before any trigger runs."""
        record = Record(store=PostgresStore(pg_writer[0], schema=pg_schema), kek=os.urandom(32),
                        signer=Signer.generate(ORIGIN)[0], origin=ORIGIN)
        await record.open()
        try:
            await record.append(Draft(kind=Kind.INTENT, disclosure="d_0"))
            await record.checkpoint()
        finally:
            await record.close()
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_writer(pg_writer[0], pg_schema, statement)
