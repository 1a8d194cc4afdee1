"""Verification of a PostgreSQL record: the same checks as ``verify_sqlite`` (``verify.Walk``),
over entries streamed from one read-only, repeatable-read snapshot, so gateways may keep
appending while it runs. Needs the connection URL, the schema and the checkpoint public keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from gateway.record.checkpoint import Verifier
from gateway.record.postgres import failure
from gateway.record.verify import Bad, Report, Walk, refused

_BATCH = 8192


async def verify_postgres(  # noqa: PLR0913 - where the record is, and what to trust
    url: str,
    schema: str,
    verifiers: Sequence[Verifier],
    *,
    origin: str | None = None,
    trusted: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Report:
    try:
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        return refused(Bad(None, failure("cannot connect to the record's database", exc).detail))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            try:
                notes = [(r[0], r[1]) for r in await conn.fetch(
                    "SELECT size, note FROM checkpoints ORDER BY size")]
                row = await conn.fetchrow("SELECT size, note FROM head WHERE id = 1")
                head = None if row is None else (row[0], row[1])
                walk = Walk(notes, head, verifiers, origin=origin, trusted=trusted,
                            progress=progress)
            except asyncpg.PostgresError as exc:
                return refused(Bad(0, failure("the record cannot be read", exc).detail))
            except Bad as bad:
                return refused(bad)
            return await _stream(conn, walk)
    finally:
        await conn.close()


async def _stream(conn: asyncpg.Connection, walk: Walk) -> Report:
    seq = -1
    try:
        while True:
            chunk = await conn.fetch(
                "SELECT seq, body, leaf, sealed FROM entries WHERE seq > $1 ORDER BY seq "
                "LIMIT $2", seq, _BATCH)
            if not chunk:
                return walk.finish()
            for r in chunk:
                walk.feed(r[0], bytes(r[1]), bytes(r[2]), None if r[3] is None else bytes(r[3]))
            seq = chunk[-1][0]
    except Bad as bad:
        return walk.failed(bad.position, bad.problem)
    except asyncpg.PostgresError as exc:
        return walk.failed(walk.tree.size, failure("the record cannot be read", exc).detail)

