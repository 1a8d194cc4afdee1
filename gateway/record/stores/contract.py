"""The interface every record store implements, and the adapter that runs a blocking store
(SQLite) on one dedicated thread.

A store keeps the entries, checkpoints, wrapped subject keys and hook idempotency rows, and
enforces append-only itself. ``append_batch`` is one transaction: when it returns, the batch is
durable; if it raises, none of it was kept. The state the record vouches for (authority
requests, deferred erasures, legal holds, staff accounts, subject keys) changes only through a
draft's side operations (``gateway.record.rows``), in that transaction; beside them, only
``add_key`` stores a first key on its own, and ``replace_keys`` rewraps keys after a KEK
rotation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from gateway.record.entry import Appended, Draft
from gateway.record.queries import CheckpointRow, CosignedRow, CountRow, Search, StaffRow
from gateway.record.rows import HookRow, Row, SideOp
from gateway.record.stores.sqlite.store import SqliteStore

T = TypeVar("T")

#: Signs a checkpoint for (size, root); returns the note text.
SignHead = Callable[[int, bytes], str]


class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def append_batch(
        self, drafts: Sequence[Draft], hooks: Sequence[SideOp | None], time: str,
        sign_head: SignHead | None = None,
    ) -> list[Appended]:
        """One transaction; with ``sign_head``, also replaces the signed tree head in it."""
        ...
    async def head(self) -> tuple[int, bytes]:
        """(size, root) of the record as committed."""
        ...
    async def root_at(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        ...
    async def sign_checkpoint(self, sign: SignHead, time: str) -> str | None:
        """Sign the committed head with ``sign`` and store the note; None for an empty record."""
        ...
    async def latest_checkpoint(self) -> tuple[int, str] | None: ...
    async def add_cosignatures(self, size: int, lines: Sequence[tuple[str, str]],
                               time: str) -> None:
        """Keep witnesses' (key, cosignature line) pairs for the checkpoint at ``size``."""
        ...
    async def cosigned(self, limit: int) -> list[CosignedRow]:
        """The newest ``limit`` checkpoints holding a cosignature, newest first."""
        ...
    async def wrapped_key(self, subject: str) -> bytes | None: ...
    async def add_key(self, subject: str, wrapped: bytes, time: str) -> bytes: ...
    async def hook(self, webhook_id: str) -> HookRow | None: ...
    async def wrapped_keys(self) -> list[tuple[str, bytes]]: ...
    async def subject_rows(self, subject: str) -> list[Row]: ...
    async def subject_of_order(self, order: str) -> str | None: ...
    async def get_request(self, request_id: str) -> tuple[str, bytes] | None: ...
    async def list_requests(self, states: Sequence[str]) -> list[tuple[str, str, bytes]]: ...
    async def disclosure_counts(self) -> dict[tuple[str, str], int]:
        """Booked disclosures per (recipient, service)."""
        ...
    async def replace_keys(self, rows: Sequence[tuple[str, bytes]]) -> None:
        """Replace wrapped keys (a KEK rotation) in one transaction; a key erased meanwhile
        stays erased."""
        ...
    async def last_disclosure(self, subject: str) -> str | None: ...
    async def due_erasures(self, now: str) -> list[str]: ...
    async def hold_until(self, subject: str, now: str) -> tuple[str, str] | None: ...
    async def stale_subjects(self, before: str) -> list[str]: ...
    async def pending_erasures(self) -> list[tuple[str, str, str, str]]:
        """Deferred erasures: (subject, requested, due, basis), soonest due first."""
        ...
    async def legal_holds(self, now: str) -> list[tuple[str, str, str, str]]:
        """Holds still running at ``now``: (subject, until, basis, placed), soonest end first."""
        ...
    # -- review (read side) ----------------------------------------------------------------
    async def search(self, query: Search) -> list[Row]:
        """One keyset page of entries matching every filter of ``query``."""
        ...
    async def entry(self, seq: int) -> Row | None: ...
    async def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of the entries at positions [start, end), in position order."""
        ...
    async def checkpoint_row(self) -> CheckpointRow | None:
        """The latest checkpoint with the time it was signed."""
        ...
    async def disclosure_counts_by(self, since: str | None, until: str | None,
                                   ) -> list[CountRow]:
        """Carrier outcomes and authority disclosures in [since, until), grouped."""
        ...
    # -- staff accounts and sessions -------------------------------------------------------
    async def staff_member(self, username: str) -> StaffRow | None: ...
    async def list_staff(self) -> list[StaffRow]: ...
    async def add_session(self, token_hash: str, username: str, created: str,
                          expires: str) -> None:
        """Store a session (drops sessions expired by ``created``)."""
        ...
    async def session_user(self, token_hash: str, now: str) -> str | None:
        """The username of the unexpired session with this token hash."""
        ...
    async def end_session(self, token_hash: str) -> None: ...
    # -- crash recovery, cancellation --------------------------------------------------------
    async def open_hooks(self, *, alone_only: bool = True) -> list[HookRow]:
        """Hooks not yet closed with an answer (``status`` NULL); read through an index that
        holds only those, so start-up does not scan the record. With ``alone_only``, none
        while another process or instance has the record open."""
        ...
    async def disclosure_rows(self, disclosure: str) -> list[Row]:
        """Every entry naming ``disclosure``, in position order."""
        ...


class ThreadedStore:
    """Runs a blocking store's calls, one at a time, on its own thread.

    The hot path's two point reads (a hook, a subject key: one primary-key look-up each, tens of
    microseconds) run on the calling thread over a second connection instead: in WAL mode they
    read the last commit without waiting for the writer, and a hop to a thread would cost more
    than the read."""

    def __init__(self, store: SqliteStore) -> None:
        self.sync = store
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record-store")
        self._closed = False

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:  # noqa: ANN401
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def open(self) -> None:
        await self._run(self.sync.open)

    async def close(self) -> None:
        """Close the store and its thread; closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        await self._run(self.sync.close)
        self._thread.shutdown(wait=True)

    async def append_batch(
        self, drafts: Sequence[Draft], hooks: Sequence[SideOp | None], time: str,
        sign_head: SignHead | None = None,
    ) -> list[Appended]:
        return await self._run(self.sync.append_batch, drafts, hooks, time, sign_head)

    async def head(self) -> tuple[int, bytes]:
        def run() -> tuple[int, bytes]:
            self.sync.refresh()
            return self.sync.size, self.sync.root()

        return await self._run(run)

    async def root_at(self, size: int) -> bytes:
        return await self._run(self.sync.root_at, size)

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

    async def latest_checkpoint(self) -> tuple[int, str] | None:
        return await self._run(self.sync.latest_checkpoint)

    async def add_cosignatures(self, size: int, lines: Sequence[tuple[str, str]],
                               time: str) -> None:
        await self._run(self.sync.add_cosignatures, size, lines, time)

    async def cosigned(self, limit: int) -> list[CosignedRow]:
        return await self._run(self.sync.cosigned, limit)

    async def wrapped_key(self, subject: str) -> bytes | None:
        return self.sync.wrapped_key(subject, reader=True)

    async def add_key(self, subject: str, wrapped: bytes, time: str) -> bytes:
        return await self._run(self.sync.add_key, subject, wrapped, time)

    async def hook(self, webhook_id: str) -> HookRow | None:
        return self.sync.hook(webhook_id, reader=True)

    async def wrapped_keys(self) -> list[tuple[str, bytes]]:
        return await self._run(self.sync.wrapped_keys)

    async def subject_rows(self, subject: str) -> list[Row]:
        return await self._run(self.sync.subject_rows, subject)

    async def subject_of_order(self, order: str) -> str | None:
        return await self._run(self.sync.subject_of_order, order)

    async def get_request(self, request_id: str) -> tuple[str, bytes] | None:
        return await self._run(self.sync.get_request, request_id)

    async def list_requests(self, states: Sequence[str]) -> list[tuple[str, str, bytes]]:
        return await self._run(self.sync.list_requests, states)

    async def disclosure_counts(self) -> dict[tuple[str, str], int]:
        return await self._run(self.sync.disclosure_counts)

    async def replace_keys(self, rows: Sequence[tuple[str, bytes]]) -> None:
        await self._run(self.sync.replace_keys, rows)

    async def last_disclosure(self, subject: str) -> str | None:
        return await self._run(self.sync.last_disclosure, subject)

    async def due_erasures(self, now: str) -> list[str]:
        return await self._run(self.sync.due_erasures, now)

    async def hold_until(self, subject: str, now: str) -> tuple[str, str] | None:
        return await self._run(self.sync.hold_until, subject, now)

    async def stale_subjects(self, before: str) -> list[str]:
        return await self._run(self.sync.stale_subjects, before)

    async def pending_erasures(self) -> list[tuple[str, str, str, str]]:
        return await self._run(self.sync.pending_erasures)

    async def legal_holds(self, now: str) -> list[tuple[str, str, str, str]]:
        return await self._run(self.sync.legal_holds, now)

    async def search(self, query: Search) -> list[Row]:
        return await self._run(self.sync.search, query)

    async def entry(self, seq: int) -> Row | None:
        return await self._run(self.sync.entry, seq)

    async def leaves(self, start: int, end: int) -> list[bytes]:
        return await self._run(self.sync.leaves, start, end)

    async def checkpoint_row(self) -> CheckpointRow | None:
        return await self._run(self.sync.checkpoint_row)

    async def disclosure_counts_by(self, since: str | None, until: str | None,
                                   ) -> list[CountRow]:
        return await self._run(self.sync.disclosure_counts_by, since, until)

    async def staff_member(self, username: str) -> StaffRow | None:
        return await self._run(self.sync.staff_member, username)

    async def list_staff(self) -> list[StaffRow]:
        return await self._run(self.sync.list_staff)

    async def add_session(self, token_hash: str, username: str, created: str,
                          expires: str) -> None:
        await self._run(self.sync.add_session, token_hash, username, created, expires)

    async def session_user(self, token_hash: str, now: str) -> str | None:
        return await self._run(self.sync.session_user, token_hash, now)

    async def end_session(self, token_hash: str) -> None:
        await self._run(self.sync.end_session, token_hash)

    async def open_hooks(self, *, alone_only: bool = True) -> list[HookRow]:
        return await self._run(self.sync.open_hooks, alone_only)

    async def disclosure_rows(self, disclosure: str) -> list[Row]:
        return await self._run(self.sync.disclosure_rows, disclosure)
