"""The SQLite store as a ``Store``: the blocking ``SqliteStore`` run on one dedicated thread.

The reads both databases answer alike come from ``SharedReads`` over ``select``; only what the
SQLite store does differently is declared here. Every call into SQLite goes through ``_run``
(or, for the hot path's point reads, ``_point``), where a failing database (``database is
locked``, an I/O error) becomes RecordError, the 503 PostgreSQL's connection failures answer
too, never a 500.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from gateway.errors import RecordError
from gateway.record.entry import Appended, Draft
from gateway.record.merkle import CompactRange
from gateway.record.queries import CosignedRow, CountRow, Search
from gateway.record.rows import HookRow, Row, SideOp
from gateway.record.stores import statements as q
from gateway.record.stores.contract import SignHead
from gateway.record.stores.reads import SharedReads, as_bytes, hook_of
from gateway.record.stores.sqlite.store import SqliteStore

__all__ = ["ThreadedStore"]

T = TypeVar("T")


def _unavailable(exc: sqlite3.Error) -> RecordError:
    return RecordError(f"the record is unavailable: {exc}")


class ThreadedStore(SharedReads):
    """Runs a blocking SQLite store's calls, one at a time, on its own thread.

    The hot path's two point reads (a hook, a subject key: one primary-key look-up each, tens of
    microseconds) run on the calling thread over a second connection instead: in WAL mode they
    read the last commit without waiting for the writer, and a hop to a thread would cost more
    than the read."""

    def __init__(self, store: SqliteStore) -> None:
        self.sync = store
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record-store")
        self._closed = False

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:  # noqa: ANN401
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
        except sqlite3.Error as exc:
            raise _unavailable(exc) from None

    def _point(self, sql: str, key: str) -> tuple[Any, ...] | None:
        try:
            return self.sync.point_read(sql, key)
        except sqlite3.Error as exc:
            raise _unavailable(exc) from None

    async def select(self, sql: str, *args: Any) -> list[Sequence[Any]]:  # noqa: ANN401
        return list(await self._run(self.sync.select, sql, args))

    # -- life cycle ------------------------------------------------------------------------
    async def open(self) -> None:
        await self._run(self.sync.open)

    async def close(self) -> None:
        """Close the store and its thread; closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        await self._run(self.sync.close)
        self._thread.shutdown(wait=True)

    # -- the record ------------------------------------------------------------------------
    async def append_batch(
        self, drafts: Sequence[Draft], hooks: Sequence[SideOp | None], time: str,
        sign_head: SignHead | None = None,
    ) -> list[Appended]:
        return await self._run(self.sync.append_batch, drafts, hooks, time, sign_head)

    async def resume(self, tree: CompactRange, newest: bytes) -> None:
        await self._run(self.sync.resume, tree, newest)

    async def head(self) -> tuple[int, bytes]:
        def run() -> tuple[int, bytes]:
            self.sync.refresh()
            return self.sync.size, self.sync.root()

        return await self._run(run)

    async def sign_checkpoint(self, sign: SignHead, time: str) -> str | None:
        def run() -> str | None:
            self.sync.refresh()
            size = self.sync.size
            if size == 0:
                return None
            note = sign(size, self.sync.root())
            self.sync.add_checkpoint(size, time, note)
            return note

        return await self._run(run)

    async def add_cosignatures(self, size: int, lines: Sequence[tuple[str, str]],
                               time: str) -> None:
        await self._run(self.sync.add_cosignatures, size, lines, time)

    async def cosigned(self, limit: int) -> list[CosignedRow]:
        return await self._run(self.sync.cosigned, limit)

    # -- subject keys and hooks (point reads on the calling thread) ------------------------
    async def wrapped_key(self, subject: str) -> bytes | None:
        row = self._point(q.WRAPPED_KEY, subject)
        return None if row is None else as_bytes(row[0])

    async def hook(self, webhook_id: str) -> HookRow | None:
        row = self._point(q.HOOK, webhook_id)
        return None if row is None else hook_of(row)

    async def add_key(self, subject: str, wrapped: bytes, time: str) -> bytes:
        return await self._run(self.sync.add_key, subject, wrapped, time)

    async def replace_keys(self, rows: Sequence[tuple[str, bytes]]) -> None:
        await self._run(self.sync.replace_keys, rows)

    async def disclosure_counts(self) -> dict[tuple[str, str], int]:
        return await self._run(self.sync.disclosure_counts)

    async def list_requests(self, states: Sequence[str]) -> list[tuple[str, str, bytes]]:
        return await self._run(self.sync.list_requests, states)

    # -- review ----------------------------------------------------------------------------
    async def search(self, query: Search) -> list[Row]:
        return await self._run(self.sync.search, query)

    async def disclosure_counts_by(self, since: str | None, until: str | None,
                                   ) -> list[CountRow]:
        return await self._run(self.sync.disclosure_counts_by, since, until)

    # -- staff sessions --------------------------------------------------------------------
    async def add_session(self, token_hash: str, username: str, created: str,
                          expires: str) -> None:
        await self._run(self.sync.add_session, token_hash, username, created, expires)

    async def end_session(self, token_hash: str) -> None:
        await self._run(self.sync.end_session, token_hash)

    # -- crash recovery --------------------------------------------------------------------
    async def open_hooks(self, *, alone_only: bool = True) -> list[HookRow]:
        return await self._run(self.sync.open_hooks, alone_only)
