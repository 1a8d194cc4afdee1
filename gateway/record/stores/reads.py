"""The reads of the store contract that both databases answer with the same SQL, written once
over one primitive each store provides: ``select(sql, *args)``, a statement in the shared
placeholder style (see ``statements``) and its rows, with driver failures already turned into
RecordError (the 503 of an unavailable record). Also the row conversions both stores use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway.errors import RecordCorrupt, RecordError
from gateway.record.entry import GENESIS
from gateway.record.merkle import SUBTREE_MIN, CompactRange, frontier_ranges
from gateway.record.queries import CheckpointRow, CountRow, StaffRow
from gateway.record.rows import HookRow, Row
from gateway.record.stores import statements as q
from gateway.record.tally import COUNTED, read_tally

__all__ = ["COUNTED_KINDS", "SharedReads", "as_bytes", "count_of", "hook_of", "row_of",
           "rows_of", "staff_of", "take_in"]

#: One row as a driver hands it back (a tuple from sqlite3, a Record from asyncpg).
DbRow = Sequence[Any]


def as_bytes(value: bytes | str | memoryview) -> bytes:
    """A BLOB column as bytes, even where tampering stored it as TEXT (then it fails checks
    rather than the read)."""
    return value.encode() if isinstance(value, str) else bytes(value)


def row_of(r: DbRow) -> Row:
    return Row(r[0], as_bytes(r[1]), as_bytes(r[2]), None if r[3] is None else as_bytes(r[3]))


def rows_of(rows: Iterable[DbRow]) -> list[Row]:
    return [row_of(r) for r in rows]


#: The kinds the transparency counts read (``tally.COUNTED``), as query arguments.
COUNTED_KINDS: tuple[str, ...] = tuple(sorted(COUNTED))


def count_of(r: DbRow) -> CountRow:
    """One group of the transparency counts: kind, recipient, month, stored tally, count."""
    tally = read_tally(r[3])
    return CountRow(kind=r[0], recipient=r[1] or "-", month=r[2], result=tally.result,
                    legal_basis=tally.legal_basis, request=tally.request, count=r[4],
                    fields=tally.fields)


def hook_of(r: DbRow) -> HookRow:
    return HookRow(r[0], r[1], r[2], r[3], None if r[4] is None else as_bytes(r[4]))


def staff_of(r: DbRow) -> StaffRow:
    return StaffRow(username=r[0], password=r[1], roles=tuple(x for x in r[2].split(",") if x),
                    disabled=bool(r[3]), created=r[4])


def take_in(tree: CompactRange, prev: bytes, rows: Iterable[DbRow]) -> bytes:
    """Append the (seq, leaf) rows read by ``statements.CATCH_UP`` to ``tree``; returns the
    newest leaf. A gap in the positions is a damaged record."""
    for seq, leaf in rows:
        if seq != tree.size:
            raise RecordError(f"the record has no entry at position {tree.size}")
        prev = as_bytes(leaf)
        tree.append(prev)
    return prev


def _first(rows: Sequence[DbRow]) -> DbRow | None:
    return rows[0] if rows else None


class SharedReads:
    """Mixed into each store, which provides ``select``."""

    async def select(self, sql: str, *args: Any) -> list[DbRow]:  # noqa: ANN401
        raise NotImplementedError  # pragma: no cover - provided by each store

    # -- the record ------------------------------------------------------------------------
    async def root_at(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        tree = CompactRange()
        for (leaf,) in await self.select(q.LEAVES_BELOW, size):
            tree.append(as_bytes(leaf))
        return tree.root()

    async def tree_at(self, size: int, *, stored: bool = True,
                      ) -> tuple[CompactRange, bytes] | None:
        """The tree over the first ``size`` entries and the newest of their leaves (GENESIS for
        none); None if the record holds fewer entries, or a stored hash it needs is missing or
        malformed.

        With ``stored``, from the stored hashes of its perfect subtrees of ``SUBTREE_MIN``
        leaves or more and the last 1 to ``SUBTREE_MIN`` leaves (so the newest leaf is part of
        what it hashes): O(log n) hashes and a few hundred leaves read, whatever the size. Those
        hashes are only as good as the database: the caller checks the root against a signed
        checkpoint. Without ``stored``, from every leaf."""
        if size == 0:
            return CompactRange(), GENESIS
        base = (size - 1) // SUBTREE_MIN * SUBTREE_MIN if stored else 0
        pieces = frontier_ranges(base)
        hashes = await self.subtrees(pieces) if pieces else {}
        try:
            tree = CompactRange.from_hashes(base, [hashes[p] for p in pieces])
        except (KeyError, RecordCorrupt):
            return None
        leaves = await self.leaves(base, size)
        if len(leaves) != size - base:
            return None
        try:
            tree.extend(leaves)
        except ValueError:  # a leaf that is no SHA-256 hash
            return None
        return tree, leaves[-1]

    async def subtrees(self, ranges: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of those of ``ranges`` ((start, end) of a perfect subtree) the
        store holds, by range."""
        if not ranges:
            return {}
        where = " OR ".join(["(start = ? AND size = ?)"] * len(ranges))
        rows = await self.select(f"SELECT start, size, hash FROM subtrees WHERE {where}",  # noqa: S608
                                 *(v for start, end in ranges for v in (start, end - start)))
        return {(r[0], r[0] + r[1]): as_bytes(r[2]) for r in rows}

    async def latest_checkpoint(self) -> tuple[int, str] | None:
        row = _first(await self.select(q.LATEST_CHECKPOINT))
        return None if row is None else (row[0], row[1])

    async def checkpoint_row(self) -> CheckpointRow | None:
        row = _first(await self.select(q.CHECKPOINT_ROW))
        return None if row is None else CheckpointRow(size=row[0], time=row[1], note=row[2])

    async def entry(self, seq: int) -> Row | None:
        row = _first(await self.select(q.ENTRY, seq))
        return None if row is None else row_of(row)

    async def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of the entries at positions [start, end), in position order."""
        return [as_bytes(r[0]) for r in await self.select(q.LEAVES, start, end)]

    async def subject_rows(self, subject: str) -> list[Row]:
        """Every entry naming ``subject``, in position order."""
        return rows_of(await self.select(q.SUBJECT_ROWS, subject))

    async def disclosure_rows(self, disclosure: str) -> list[Row]:
        """Every entry naming the disclosure id, in position order: its intent and outcome,
        and any cancellation of it."""
        return rows_of(await self.select(q.DISCLOSURE_ROWS, disclosure))

    async def subject_of_order(self, order: str) -> str | None:
        row = _first(await self.select(q.SUBJECT_OF_ORDER, order))
        return None if row is None else row[0]

    # -- subject keys and hooks ------------------------------------------------------------
    async def wrapped_key(self, subject: str) -> bytes | None:
        row = _first(await self.select(q.WRAPPED_KEY, subject))
        return None if row is None else as_bytes(row[0])

    async def wrapped_keys(self) -> list[tuple[str, bytes]]:
        return [(r[0], as_bytes(r[1])) for r in await self.select(q.WRAPPED_KEYS)]

    async def hook(self, webhook_id: str) -> HookRow | None:
        row = _first(await self.select(q.HOOK, webhook_id))
        return None if row is None else hook_of(row)

    # -- cases -----------------------------------------------------------------------------
    async def get_request(self, request_id: str) -> tuple[str, bytes] | None:
        row = _first(await self.select(q.GET_REQUEST, request_id))
        return None if row is None else (row[0], as_bytes(row[1]))

    async def last_disclosure(self, subject: str) -> str | None:
        """When the subject's data last went out (time of its newest disclosure entry)."""
        row = _first(await self.select(q.LAST_DISCLOSURE, subject))
        return None if row is None else row[0]

    async def hold_until(self, subject: str, now: str) -> tuple[str, str] | None:
        """The latest end of a legal hold on ``subject`` still running at ``now``, and its
        basis."""
        row = _first(await self.select(q.HOLD_UNTIL, subject, now))
        return None if row is None else (row[0], row[1])

    async def stale_subjects(self, before: str) -> list[str]:
        """Subjects that still have a key but no disclosure since ``before`` (a staff member
        reading their entries is no reason to keep them)."""
        return [r[0] for r in await self.select(q.STALE_SUBJECTS, before)]

    async def due_erasures(self, now: str) -> list[str]:
        return [r[0] for r in await self.select(q.DUE_ERASURES, now)]

    async def pending_erasures(self) -> list[tuple[str, str, str, str]]:
        return [(r[0], r[1], r[2], r[3]) for r in await self.select(q.PENDING_ERASURES)]

    async def legal_holds(self, now: str) -> list[tuple[str, str, str, str]]:
        return [(r[0], r[1], r[2], r[3]) for r in await self.select(q.LEGAL_HOLDS, now)]

    # -- staff -----------------------------------------------------------------------------
    async def staff_member(self, username: str) -> StaffRow | None:
        row = _first(await self.select(q.STAFF_MEMBER, username))
        return None if row is None else staff_of(row)

    async def list_staff(self) -> list[StaffRow]:
        return [staff_of(r) for r in await self.select(q.LIST_STAFF)]

    async def session_user(self, token_hash: str, now: str) -> str | None:
        """The username of the unexpired session with this token hash."""
        row = _first(await self.select(q.SESSION_USER, token_hash, now))
        return None if row is None else row[0]
