"""What the record answers: entries by position, subject, disclosure or search; the state it
vouches for (authority requests, deferred erasures, legal holds, staff accounts, open hooks);
its tree and checkpoints; counts for the reports.

``Reads`` holds these operations for ``Record``, which services hold, and for ``RecordReader``,
a record opened to read only (no keys, no writer: the demo's receipt check). Both ask their store;
nothing outside ``gateway.record`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.record.queries import CheckpointRow, CosignedRow, CountRow, Search, StaffRow
from gateway.record.rows import HookRow, Row
from gateway.record.stores.contract import Store
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore


class Reads:
    """The record's read operations over ``_store``."""

    _store: Store

    # -- entries -----------------------------------------------------------------------------
    async def entry(self, seq: int) -> Row | None:
        """The entry at position ``seq``, if the record holds one."""
        return await self._store.entry(seq)

    async def search(self, query: Search) -> list[Row]:
        """One keyset page of entries matching every filter of ``query``."""
        return await self._store.search(query)

    async def subject_entries(self, subject: str) -> list[Row]:
        """Every entry of one customer (by subject reference), in position order."""
        return await self._store.subject_rows(subject)

    async def disclosure_entries(self, disclosure: str) -> list[Row]:
        """Every entry naming ``disclosure``, in position order."""
        return await self._store.disclosure_rows(disclosure)

    async def subject_of_order(self, order: str) -> str | None:
        """The subject reference the record holds for ``order``, if any."""
        return await self._store.subject_of_order(order)

    async def last_disclosure(self, subject: str) -> str | None:
        """When the subject's data last left (its newest booked disclosure's time)."""
        return await self._store.last_disclosure(subject)

    # -- counts for the reports ----------------------------------------------------------------
    async def disclosure_counts(self) -> dict[tuple[str, str], int]:
        """Booked disclosures per (recipient, service)."""
        return await self._store.disclosure_counts()

    async def disclosure_counts_in(self, since: str | None, until: str | None,
                                   ) -> list[CountRow]:
        """Carrier outcomes and authority disclosures in [since, until), grouped."""
        return await self._store.disclosure_counts_by(since, until)

    # -- authority requests --------------------------------------------------------------------
    async def authority_request(self, request_id: str) -> tuple[str, bytes] | None:
        """(state, document) of one authority request."""
        return await self._store.get_request(request_id)

    async def authority_requests(self, states: Sequence[str],
                                 ) -> list[tuple[str, str, bytes]]:
        """(id, state, document) of every authority request in one of ``states``."""
        return await self._store.list_requests(states)

    # -- erasure: deferrals, holds, retention ----------------------------------------------------
    async def deferred_erasures(self) -> list[tuple[str, str, str, str]]:
        """Deferred erasures: (subject, requested, due, basis), soonest due first."""
        return await self._store.pending_erasures()

    async def due_erasures(self, now: str) -> list[str]:
        """Subjects whose deferred erasure is due at ``now``."""
        return await self._store.due_erasures(now)

    async def legal_hold(self, subject: str, now: str) -> tuple[str, str] | None:
        """(until, basis) of the longest legal hold running on ``subject`` at ``now``."""
        return await self._store.hold_until(subject, now)

    async def legal_holds(self, now: str) -> list[tuple[str, str, str, str]]:
        """Holds still running at ``now``: (subject, until, basis, placed), soonest end first."""
        return await self._store.legal_holds(now)

    async def stale_subjects(self, before: str) -> list[str]:
        """Subjects with a key whose last disclosure is older than ``before``."""
        return await self._store.stale_subjects(before)

    # -- staff accounts ------------------------------------------------------------------------
    async def staff_account(self, username: str) -> StaffRow | None:
        return await self._store.staff_member(username)

    async def staff_accounts(self) -> list[StaffRow]:
        return await self._store.list_staff()

    async def session_user(self, token_hash: str, now: str) -> str | None:
        """The username of the unexpired session with this token hash."""
        return await self._store.session_user(token_hash, now)

    # -- hooks ---------------------------------------------------------------------------------
    async def hook(self, webhook_id: str) -> HookRow | None:
        return await self._store.hook(webhook_id)

    async def open_hooks(self, *, alone_only: bool = True) -> list[HookRow]:
        """Hooks not yet closed with an answer; with ``alone_only``, none while another process
        or instance has the record open."""
        return await self._store.open_hooks(alone_only=alone_only)

    # -- the tree and its checkpoints ------------------------------------------------------------
    async def head(self) -> tuple[int, bytes]:
        """(size, root) of the record as committed."""
        return await self._store.head()

    async def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of the entries at positions [start, end), in position order."""
        return await self._store.leaves(start, end)

    async def subtrees(self, ranges: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Stored hashes of the perfect subtrees among ``ranges`` ((start, end)), by range."""
        return await self._store.subtrees(ranges)

    async def latest_checkpoint(self) -> str | None:
        """The latest signed checkpoint's note."""
        latest = await self._store.latest_checkpoint()
        return None if latest is None else latest[1]

    async def latest_signed(self) -> tuple[int, str] | None:
        """(tree size, note) of the latest signed checkpoint."""
        return await self._store.latest_checkpoint()

    async def latest_checkpoint_row(self) -> CheckpointRow | None:
        """The latest checkpoint with the time it was signed."""
        return await self._store.checkpoint_row()

    async def cosigned_checkpoints(self, limit: int) -> list[CosignedRow]:
        """The newest ``limit`` checkpoints holding a cosignature, newest first."""
        return await self._store.cosigned(limit)


class RecordReader(Reads):
    """A record opened to read only: no keys, no writer, nothing appended or signed."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @classmethod
    def sqlite(cls, path: Path) -> RecordReader:
        """The record in the SQLite file at ``path``."""
        return cls(ThreadedStore(SqliteStore(path)))

    async def open(self) -> None:
        await self._store.open()

    async def close(self) -> None:
        await self._store.close()
