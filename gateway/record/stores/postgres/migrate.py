"""The PostgreSQL store's migrations run at open (the DDL itself is in ``schema``), with the
fills a migration needs for the entries already in the record, and the subtree hashes every
batch also writes."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from gateway.errors import RecordError
from gateway.record.merkle import CompactRange
from gateway.record.stores.postgres.schema import (
    BOOTSTRAP,
    LOCK_CLASS,
    MIGRATIONS,
    SUBTREES,
    TALLY,
    quoted,
)
from gateway.record.tally import COUNTED, tally_of_stored

_SUBTREES = """
INSERT INTO subtrees (start, size, hash)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) ON CONFLICT DO NOTHING
"""


async def insert_subtrees(c: asyncpg.Connection,
                          completed: Sequence[tuple[int, int, bytes]]) -> None:
    """Keep the perfect subtrees ``completed`` (start, size, hash): by every batch, and by the
    migration that began keeping them."""
    if completed:
        await c.execute(_SUBTREES, *(list(column) for column in zip(*completed, strict=True)))


async def migrate(c: asyncpg.Connection, schema: str) -> None:
    """Bring the schema to this gateway's version, one numbered migration at a time, under an
    advisory lock (several instances may start at once); refuse a newer record."""
    async with c.transaction():
        await c.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                        LOCK_CLASS + 1, schema)
        exists = await c.fetchval("SELECT to_regclass($1)",
                                  f"{quoted(schema)}.schema_version")
        version = 0 if exists is None else await c.fetchval(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version")
        if version > len(MIGRATIONS):
            raise RecordError(f"record schema {version} is newer than this gateway's "
                              f"{len(MIGRATIONS)}")
        if version == len(MIGRATIONS):
            return
        await c.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(schema)}")
        await c.execute(BOOTSTRAP)
        for number, ddl in enumerate(MIGRATIONS[version:], start=version + 1):
            await c.execute(ddl)
            await c.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
        if version < SUBTREES:
            await _fill_subtrees(c)
        if version < TALLY:
            await _fill_tallies(c)


async def _fill_subtrees(c: asyncpg.Connection) -> None:
    """Store the subtree hashes of the entries already in the record (in the migration's
    transaction)."""
    tree = CompactRange()
    completed: list[tuple[int, int, bytes]] = []
    async for (leaf,) in c.cursor("SELECT leaf FROM entries ORDER BY seq", prefetch=4096):
        tree.append(bytes(leaf), completed)
    await insert_subtrees(c, completed)


async def _fill_tallies(c: asyncpg.Connection) -> None:
    """Store the tallies of the counted entries already in the record (in the migration's
    transaction, past the trigger that otherwise refuses any change to an entry)."""
    filled: list[tuple[int, str | None]] = []
    async for seq, body in c.cursor(
            "SELECT seq, body FROM entries WHERE kind = ANY($1::text[]) ORDER BY seq",
            sorted(COUNTED), prefetch=4096):
        filled.append((seq, tally_of_stored(bytes(body))))
    if filled:
        await c.execute("ALTER TABLE entries DISABLE TRIGGER entries_no_update")
        await c.execute("UPDATE entries SET tally = u.tally FROM unnest($1::bigint[], "
                        "$2::text[]) AS u (seq, tally) WHERE entries.seq = u.seq",
                        [f[0] for f in filled], [f[1] for f in filled])
        await c.execute("ALTER TABLE entries ENABLE TRIGGER entries_no_update")
