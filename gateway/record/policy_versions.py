"""The recorded policy versions of a record, read offline (``gateway policy history``): the
bodies of its ``policy.version`` entries in position order, from a SQLite file opened read-only
or a PostgreSQL schema in a read-only transaction. Nothing is verified here: ``gateway log
verify`` checks each version's hash against its document."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from gateway.errors import RecordError
from gateway.record.entry import Kind
from gateway.record.stores.postgres.store import failure

_SELECT = "SELECT body FROM entries WHERE kind = {} ORDER BY seq"


def sqlite_policy_entries(path: Path) -> list[bytes]:
    if not path.exists():
        raise RecordError(f"no record at {path}")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [bytes(body) for (body,) in db.execute(_SELECT.format("?"), (Kind.POLICY,))]
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise RecordError(f"the record at {path} cannot be read: {exc}") from None


async def postgres_policy_entries(url: str, schema: str) -> list[bytes]:
    try:
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise failure("cannot connect to the record's database", exc) from None
    try:
        async with conn.transaction(readonly=True):
            rows = await conn.fetch(_SELECT.format("$1"), Kind.POLICY)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise failure("the record cannot be read", exc) from None
    finally:
        await conn.close()
    return [bytes(r[0]) for r in rows]
