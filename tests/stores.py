"""The record stores the store tests run against: SQLite (a file in tmp_path, run on its thread)
and PostgreSQL (the real server on 127.0.0.1:5432, database ``test``, each test in a fresh
schema dropped afterwards).

``Backend.make()`` opens another store over the same record (a second process or instance);
``Backend.sql()`` runs a statement straight on the database as its owner, past the gateway, the
way an intruder with database access would.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import attrs
import pytest

from gateway.record.stores.contract import Store
from gateway.record.stores.postgres.schema import quoted, writer_grants
from gateway.record.stores.postgres.store import PostgresStore
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore

#: The PostgreSQL server the tests use (trust auth); other users of ``test`` are left alone.
PG_URL = os.environ.get("GATEWAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")


@attrs.frozen
class Backend:
    name: str
    make: Callable[[], Store]
    sql: Callable[..., Awaitable[Any]]
    #: What the database raises when a statement breaks the record's append-only rules.
    refused: tuple[type[Exception], ...]


async def pg_sql(schema: str, statement: str, *args: object) -> Any:  # noqa: ANN401
    conn = await asyncpg.connect(PG_URL, server_settings={"search_path": schema})
    try:
        return await conn.fetch(statement, *args)
    finally:
        await conn.close()


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema name, dropped (with everything in it) after the test."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield schema
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def pg_writer(pg_schema: str) -> AsyncIterator[tuple[str, str]]:
    """A login role holding only ``writer_grants`` on ``pg_schema``, migrated by the owner
    first: (its URL, its name). Dropped afterwards."""
    owner = PostgresStore(PG_URL, schema=pg_schema)
    await owner.open()
    await owner.close()
    role = f"gw_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f"CREATE ROLE {quoted(role)} LOGIN")
        for statement in writer_grants(pg_schema, role):
            await conn.execute(statement)
        yield PG_URL.replace("postgres@", f"{role}@", 1), role
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(pg_schema)} CASCADE")
        await conn.execute(f"DROP OWNED BY {quoted(role)}")
        await conn.execute(f"DROP ROLE {quoted(role)}")
        await conn.close()


def sqlite_backend(path: Path) -> Backend:
    async def sql(statement: str) -> list[Any]:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            return db.execute(statement).fetchall()
        finally:
            db.close()

    return Backend("sqlite", lambda: ThreadedStore(SqliteStore(path)), sql,
                   (sqlite3.IntegrityError,))


def postgres_backend(schema: str) -> Backend:
    async def sql(statement: str) -> Any:  # noqa: ANN401
        return await pg_sql(schema, statement)

    return Backend("postgres", lambda: PostgresStore(PG_URL, schema=schema), sql,
                   (asyncpg.IntegrityConstraintViolationError,))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return sqlite_backend(tmp_path / "record.sqlite")
    schema: str = request.getfixturevalue("pg_schema")
    return postgres_backend(schema)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    store = backend.make()
    await store.open()
    yield store
    await store.close()
