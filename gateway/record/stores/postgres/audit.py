"""The audit of a PostgreSQL record (see ``gateway.record.audit``): entries and side tables read
in one read-only, repeatable-read snapshot, so gateways may keep appending while it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg

from gateway.record.audit import (
    HOLDS_SQL,
    KEYS_SQL,
    PENDING_SQL,
    REQUESTS_SQL,
    STAFF_SQL,
    AuditReport,
    Rebuilt,
    Tables,
    compare,
)
from gateway.record.stores.postgres.store import failure

_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_BATCH = 8192


async def audit_postgres(url: str, schema: str,
                         progress: Callable[[int], None] | None = None) -> AuditReport:
    """Rebuild the state from the entries of the record in ``schema`` and compare it with the
    side tables; RecordError if the database cannot be reached or read."""
    try:
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    except _ERRORS as exc:
        raise failure("cannot connect to the record's database", exc) from None
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            rebuilt = Rebuilt()
            async for seq, body in _entries(conn):
                rebuilt.add(seq, body)
                if progress is not None and rebuilt.entries % 100_000 == 0:
                    progress(rebuilt.entries)
            tables = Tables.from_rows(
                staff=await conn.fetch(STAFF_SQL), requests=await conn.fetch(REQUESTS_SQL),
                holds=await conn.fetch(HOLDS_SQL), pending=await conn.fetch(PENDING_SQL),
                keys=await conn.fetch(KEYS_SQL))
    except _ERRORS as exc:
        raise failure("the record cannot be read", exc) from None
    finally:
        await conn.close()
    return compare(rebuilt, tables)


async def _entries(conn: asyncpg.Connection) -> AsyncIterator[tuple[int, bytes]]:
    seq = -1
    while chunk := await conn.fetch(
            "SELECT seq, body FROM entries WHERE seq > $1 ORDER BY seq LIMIT $2", seq, _BATCH):
        for row in chunk:
            yield row[0], bytes(row[1])
        seq = chunk[-1][0]

