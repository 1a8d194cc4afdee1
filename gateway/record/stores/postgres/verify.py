"""Verification of a PostgreSQL record: the same checks as ``verify_sqlite`` (``verify_rows``),
over entries streamed from one read-only, repeatable-read snapshot, so gateways may keep
appending while it runs. Needs the connection URL, the schema and the checkpoint public keys.

The checks run on a worker thread; each chunk of entries is fetched on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence

import asyncpg

from gateway.record.checkpoint import Verifier
from gateway.record.stores.postgres.store import failure
from gateway.record.verify import refused, verify_rows
from gateway.record.verify_range import SELECT, Report, StoredRow
from gateway.record.verify_witnessed import witnessed_postgres

_BATCH = 8192
_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_CHUNK = f"{SELECT} FROM entries WHERE seq > $1 ORDER BY seq LIMIT $2"


async def verify_postgres(
    url: str,
    schema: str,
    verifiers: Sequence[Verifier],
    *,
    origin: str | None = None,
    trusted: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    cosigned: Callable[[str, str], str | None] | None = None,
) -> Report:
    try:
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    except _ERRORS as exc:
        return refused(None, failure("cannot connect to the record's database", exc).detail)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            try:
                notes = [(r[0], r[1]) for r in await conn.fetch(
                    "SELECT size, note FROM checkpoints ORDER BY size")]
                row = await conn.fetchrow("SELECT size, note FROM head WHERE id = 1")
            except _ERRORS as exc:
                return refused(0, failure("the record cannot be read", exc).detail)
            head = None if row is None else (row[0], row[1])
            rows = _rows(conn, asyncio.get_running_loop())
            report = await asyncio.to_thread(verify_rows, rows, notes, head, verifiers,
                                             origin=origin, trusted=trusted, progress=progress)
            return report if cosigned is None else await witnessed_postgres(
                report, conn, notes, cosigned)
    finally:
        await conn.close()


def _rows(conn: asyncpg.Connection, loop: asyncio.AbstractEventLoop) -> Iterator[StoredRow]:
    """The entries in position order with the columns stored beside them, a chunk at a time
    (called from the worker thread)."""
    seq = -1
    while True:
        fetch = conn.fetch(_CHUNK, seq, _BATCH)
        try:
            chunk = asyncio.run_coroutine_threadsafe(fetch, loop).result()
        except _ERRORS as exc:
            raise failure("the record cannot be read", exc) from None
        if not chunk:
            return
        yield from map(tuple, chunk)
        seq = chunk[-1][0]
