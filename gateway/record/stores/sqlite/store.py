"""The embedded store: one SQLite file in WAL mode with synchronous=FULL.

Blocking by design: every call runs on the record's single database thread. Append-only is
enforced by the database itself (triggers), not only by this code: no entry can be updated or
deleted, positions have no gaps, and the one allowed change is dropping an entry's sealed value.
"""

from __future__ import annotations

import fcntl
import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import structlog

from gateway.errors import HookTaken, KeyTaken, PolicyRecorded, RecordError, SideOpRefused
from gateway.record.entry import GENESIS, Appended, Draft, Kind, encode, leaf_of
from gateway.record.merkle import CompactRange
from gateway.record.rows import (
    HookOp,
    HookRow,
    KeyErasure,
    NewKey,
    PolicyGuard,
    Row,
    SideOp,
    SideOps,
)
from gateway.record.stores import statements as q
from gateway.record.stores.changes import steps
from gateway.record.stores.reads import hook_of, rows_of, take_in
from gateway.record.stores.sqlite.cosignatures import COSIGNATURE_SCHEMA, SqliteCosignatures
from gateway.record.stores.sqlite.migrate import NO_UPDATE, TALLY_SCHEMA, migrate_v1, migrate_v2
from gateway.record.stores.sqlite.schema import CACHE_KIB, CHECKPOINT_PAGES, SCHEMA, SCHEMA_VERSION
from gateway.record.stores.sqlite.search import SEARCH_SCHEMA, SqliteSearch
from gateway.record.stores.sqlite.staff import STAFF_SCHEMA, SqliteStaff
from gateway.record.tally import tally_of

__all__ = ["HookOp", "KeyErasure", "SqliteStore"]

log = structlog.get_logger("gateway.record")

#: Entries per INSERT statement: a batch goes in as a few multi-row statements, not one per
#: entry, so the statement journal (the append-only triggers make every insert able to abort
#: alone) saves a page the batch touches once per statement, not once per entry. 90 rows of 11
#: values stay within SQLite's oldest limit of 999 parameters.
_ROWS_PER_INSERT = 90
_ENTRY_ROW = "(?,?,?,?,?,?,?,?,?,?,?)"


#: (webhook_id, disclosure, subject): a hook opened, or one whose attempt sent nothing (answered
#: 503) opened again; one row changed, or none when another attempt holds it.
_OPEN_HOOK = (
    "INSERT INTO hooks (webhook_id, disclosure, subject) VALUES (?,?,?) "
    "ON CONFLICT (webhook_id) DO UPDATE SET disclosure=excluded.disclosure, "
    "subject=excluded.subject, status=NULL, answer=NULL WHERE hooks.status = 503")
#: (status, answer, subject, webhook_id)
_CLOSE_HOOK = "UPDATE hooks SET status=?, answer=?, subject=? WHERE webhook_id=?"


@functools.cache
def _insert_entries(rows: int) -> str:
    return "INSERT INTO entries VALUES " + ",".join([_ENTRY_ROW] * rows)  # noqa: S608 - placeholders only


class SqliteStore(SqliteSearch, SqliteStaff, SqliteCosignatures):
    """Blocking: every call runs on the record's database thread (``ThreadedStore``), but for
    ``point_read``, which reads on a second connection from the calling thread. sqlite3's own
    errors pass out of the reads; ``ThreadedStore`` turns them into RecordError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        # A second connection for the hot path's point reads (a hook, a subject key), used from
        # another thread: in WAL mode it reads the last commit without waiting for the writer's.
        self._reader: sqlite3.Connection | None = None
        # A shared lock on <record>.instances, held while open: recovery runs only in a process
        # that finds itself alone on the record (another one's hooks may be in flight).
        self._presence: IO[bytes] | None = None
        # The tree as this process last knew it; not read at open (a record of millions of
        # entries would read every leaf): ``resume`` sets it from a checked frontier, else the
        # first use catches it up from the leaves.
        self._tree = CompactRange()
        self._prev = GENESIS
        self._caught_up = False
        self._time_index = False
        #: (size, time): the time of the entry at position size - 1, as this process last
        #: appended it; the writer reads it from the file only when another process appended
        #: since (``append_batch``).
        self._last_time: tuple[int, str] | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RecordError("the record is not open")
        return self._db

    def select(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement on the writer's connection."""
        return self.db.execute(sql, args).fetchall()

    def point_read(self, sql: str, key: str) -> tuple[Any, ...] | None:
        """One row by key on the second connection (another thread than the writer's)."""
        db = self._reader if self._reader is not None else self.db
        row: tuple[Any, ...] | None = db.execute(sql, (key,)).fetchone()
        return row

    # -- life cycle ------------------------------------------------------------------------
    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA secure_delete=ON")
            db.execute("PRAGMA busy_timeout=5000")
            # The writer's pages: a batch dirties a page of each index keyed by a random value
            # (customer, order, disclosure, hook, key) per entry; a larger cache reads them
            # back from memory, not the file, and a checkpoint every ~40 MB of WAL instead of
            # every ~4 MB writes a page changed by many batches back once. Durability is the
            # same: each commit is still synced to the WAL (synchronous=FULL).
            db.execute(f"PRAGMA cache_size={CACHE_KIB}")
            db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
            # The statement journal a batch's inserts keep (the pages they change, so that one
            # refused by a trigger can be undone alone) stays in memory, not in a temporary
            # file: it is no part of durability, which the WAL gives.
            db.execute("PRAGMA temp_store=MEMORY")
            db.executescript(
                SCHEMA + NO_UPDATE + SEARCH_SCHEMA + STAFF_SCHEMA + COSIGNATURE_SCHEMA)
            version = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if version is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            else:
                if int(version[0]) == 1:
                    migrate_v1(db)
                if int(version[0]) in (1, 2):
                    migrate_v2(db)
                elif int(version[0]) != SCHEMA_VERSION:
                    raise RecordError(f"record schema {version[0]} is not {SCHEMA_VERSION}")
            db.execute(TALLY_SCHEMA)
            # Kept only by a record whose times once stepped back (see ``migrate_v1``).
            self._time_index = db.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'entries_time'").fetchone() is not None
        except sqlite3.Error as exc:
            raise RecordError(f"cannot open the record at {self.path}: {exc}") from None
        self._db = db
        try:
            self._presence = self.path.with_name(self.path.name + ".instances").open("ab")
            fcntl.flock(self._presence, fcntl.LOCK_SH)
        except OSError as exc:
            raise RecordError(f"cannot open the record at {self.path}: {exc.strerror}") from None
        try:
            self._reader = sqlite3.connect(self.path, isolation_level=None,
                                           check_same_thread=False)
            self._reader.execute("PRAGMA query_only=ON")
            self._reader.execute("PRAGMA busy_timeout=1000")
        except sqlite3.Error as exc:
            raise RecordError(f"cannot open the record at {self.path}: {exc}") from None
        self._tree, self._prev, self._caught_up = CompactRange(), GENESIS, False

    def resume(self, tree: CompactRange, newest: bytes) -> None:
        """Take up the tree from ``tree`` (its newest leaf ``newest``), which the caller checked
        against a signed checkpoint, and the entries after it from their leaves."""
        self._tree, self._prev = tree.copy(), newest
        self.refresh()

    def close(self) -> None:
        if self._presence is not None:
            self._presence.close()  # releases the lock
            self._presence = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- the record ------------------------------------------------------------------------
    @property
    def size(self) -> int:
        if not self._caught_up:
            self.refresh()
        return self._tree.size

    def root(self) -> bytes:
        if not self._caught_up:
            self.refresh()
        return self._tree.root()

    def append_batch(
        self,
        drafts: Sequence[Draft],
        hooks: Sequence[SideOp | None],
        time: str,
        sign_head: Callable[[int, bytes], str] | None = None,
    ) -> list[Appended]:
        """Append ``drafts`` in one transaction; durable when this returns. With ``sign_head``,
        the signed tree head is replaced in the same transaction, so no committed entry is ever
        outside a signature."""
        db = self.db
        tree = self._tree.copy()
        prev = self._prev
        out: list[Appended] = []
        rows: list[tuple[Any, ...]] = []
        completed: list[tuple[int, int, bytes]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            prev = self._catch_up(tree, prev)
            # Times never step back along the record, so a period is a range of positions.
            time = max(time, self._last_time_at(tree.size))
            for draft in drafts:
                seq = tree.size
                body = encode(draft, seq=seq, prev=prev, time=time)
                leaf = leaf_of(body)
                # A plain str: sqlite3 binds a str subclass (a Kind) through its slow adapters.
                rows.append((seq, body, leaf, draft.sealed, str(draft.kind), time, draft.subject,
                             draft.order, draft.recipient, draft.disclosure,
                             tally_of(draft.kind, draft.data, draft.fields)))
                tree.append(leaf, completed)
                prev = leaf
                out.append(Appended(seq=seq, leaf=leaf))
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[start:start + _ROWS_PER_INSERT]
                db.execute(_insert_entries(len(chunk)), [v for row in chunk for v in row])
            # The side operations run once every entry of the batch is in; the one that reads
            # entries (PolicyGuard) looks no further than its own draft's.
            if not self._side_ops_in_bulk(hooks):
                for index, hook in enumerate(hooks):
                    if hook is not None:
                        self._side_op(hook, index, out[index].seq)
            if completed:
                db.executemany("INSERT INTO subtrees VALUES (?,?,?)", completed)
            if sign_head is not None:
                db.execute(q.PUT_HEAD, (tree.size, sign_head(tree.size, tree.root())))
            db.execute("COMMIT")
        except Exception as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, SideOpRefused):
                raise
            why = str(exc) if isinstance(exc, sqlite3.Error) else type(exc).__name__
            raise RecordError(f"the record could not be written: {why}") from None
        self._tree, self._prev = tree, prev
        if out:
            self._last_time = (tree.size, time)
        return out

    def _last_time_at(self, size: int) -> str:
        """The time of the entry at ``size - 1`` ('' for an empty record): kept from this
        process's last batch, read from the file when another process appended since."""
        if size == 0:
            return ""
        if self._last_time is not None and self._last_time[0] == size:
            return self._last_time[1]
        row = self.db.execute("SELECT time FROM entries WHERE seq = ?", (size - 1,)).fetchone()
        return "" if row is None else str(row[0])

    def refresh(self) -> None:
        """Take in entries other processes committed (the head as committed, not as this
        process last wrote it)."""
        self._prev = self._catch_up(self._tree, self._prev)
        self._caught_up = True

    def _catch_up(self, tree: CompactRange, prev: bytes) -> bytes:
        """Take in entries another process appended since this one last wrote (a CLI command
        beside a running gateway); returns the newest leaf."""
        return take_in(tree, prev, self.db.execute(q.CATCH_UP, (tree.size,)))

    def _side_ops_in_bulk(self, ops: Sequence[SideOp | None]) -> bool:
        """The hot path's side operations (hooks opened and closed, first keys), one statement
        each for the whole batch, when their order cannot matter: each names another hook or
        subject, and none is of another kind. False (nothing kept) when they are not such, or
        when one of them does not go through as asked (a hook held by another attempt, a key
        stored already): then they run one by one, each refusal named by its draft."""
        opens: list[tuple[str, str, str | None]] = []
        closes: list[tuple[int, bytes | None, str | None, str]] = []
        keys: list[tuple[str, bytes, str]] = []
        hooks: set[str] = set()
        subjects: set[str] = set()
        for op in ops:
            for one in (() if op is None else op.ops if isinstance(op, SideOps) else (op,)):
                if type(one) is HookOp and not one.if_open and one.webhook_id not in hooks:
                    hooks.add(one.webhook_id)
                    if one.status is None:
                        opens.append((one.webhook_id, one.disclosure, one.subject))
                    else:
                        closes.append((one.status, one.answer, one.subject, one.webhook_id))
                elif type(one) is NewKey and one.subject not in subjects:
                    subjects.add(one.subject)
                    keys.append((one.subject, one.wrapped, one.time))
                else:
                    return False
        if not (opens or closes or keys):
            return True
        db = self.db
        db.execute("SAVEPOINT side_ops")
        if (db.executemany(_OPEN_HOOK, opens).rowcount == len(opens)
                and db.executemany(q.ADD_KEY, keys).rowcount == len(keys)):
            db.executemany(_CLOSE_HOOK, closes)
            db.execute("RELEASE side_ops")
            return True
        db.execute("ROLLBACK TO side_ops")
        db.execute("RELEASE side_ops")
        return False

    def _side_op(self, op: SideOp, index: int, seq: int) -> None:
        db = self.db
        if isinstance(op, SideOps):
            for one in op.ops:
                self._side_op(one, index, seq)
        elif isinstance(op, HookOp):
            self._hook(op, index)
        elif isinstance(op, KeyErasure):
            db.execute(q.ERASE_KEY, (op.subject,))
            db.execute(q.ERASE_PENDING, (op.subject,))
        elif isinstance(op, PolicyGuard):
            # The draft's own entry is in already: any other policy version since, up to it,
            # is one more.
            (recorded,) = db.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM entries WHERE seq > ? AND seq <= ? "
                "AND kind = ? LIMIT 2)", (op.after, seq, Kind.POLICY)).fetchone()
            if recorded > 1:
                raise SideOpRefused(index, PolicyRecorded())
        elif isinstance(op, NewKey):
            added = db.execute(q.ADD_KEY, (op.subject, op.wrapped, op.time)).rowcount
            if added != 1 and self._stored_key(op.subject) != op.wrapped:
                raise SideOpRefused(index, KeyTaken())
        else:
            for step in steps(op):
                refusal = step.refused(db.execute(step.sql, step.args).rowcount)
                if refusal is not None:
                    raise SideOpRefused(index, refusal)

    def _hook(self, op: HookOp, index: int) -> None:
        if op.status is None:
            # A hook whose attempt sent nothing (answered 503) may be tried again; one held by
            # another attempt (another process answering it) refuses this draft.
            opened = self.db.execute(
                _OPEN_HOOK, (op.webhook_id, op.disclosure, op.subject)).rowcount
            if opened != 1:
                raise SideOpRefused(index, HookTaken())
        elif op.if_open:
            closed = self.db.execute(
                q.CLOSE_OPEN_HOOK, (op.status, op.answer, op.subject, op.webhook_id)).rowcount
            if closed != 1:
                raise SideOpRefused(index, HookTaken("another process answered this hook"))
        else:
            self.db.execute(_CLOSE_HOOK, (op.status, op.answer, op.subject, op.webhook_id))

    def add_checkpoint(self, size: int, time: str, note: str) -> None:
        try:
            self.db.execute(q.ADD_CHECKPOINT, (size, time, note))
        except sqlite3.Error as exc:
            raise RecordError(f"the checkpoint could not be written: {exc}") from None

    def rows(self, start: int = 0, *, batch: int = 4096) -> Iterator[Row]:
        """Every entry from ``start`` on, streamed in position order."""
        seq = start
        while True:
            chunk = self.db.execute(
                "SELECT seq, body, leaf, sealed FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?",
                (seq, batch),
            ).fetchall()
            if not chunk:
                return
            yield from rows_of(chunk)
            seq = chunk[-1][0] + 1

    def subject_rows(self, subject: str) -> list[Row]:
        """Every entry naming ``subject``, in position order."""
        return rows_of(self.select(q.SUBJECT_ROWS, (subject,)))

    def disclosure_rows(self, disclosure: str) -> list[Row]:
        """Every entry naming the disclosure id, in position order."""
        return rows_of(self.select(q.DISCLOSURE_ROWS, (disclosure,)))

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes of the entries at positions [start, end), in position order."""
        return [bytes(r[0]) for r in self.select(q.LEAVES, (start, end))]

    # -- subject keys ----------------------------------------------------------------------
    def _stored_key(self, subject: str) -> bytes | None:
        row = self.db.execute(q.WRAPPED_KEY, (subject,)).fetchone()
        return None if row is None else bytes(row[0])

    def add_key(self, subject: str, wrapped: bytes, time: str) -> bytes:
        """Store a new wrapped key unless one exists; return the one that is stored."""
        try:
            self.db.execute(q.ADD_KEY, (subject, wrapped, time))
            stored = self._stored_key(subject)
        except sqlite3.Error as exc:
            raise RecordError(f"a subject key could not be stored: {exc}") from None
        assert stored is not None
        return stored

    def replace_keys(self, rows: Sequence[tuple[str, bytes]]) -> None:
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(q.REWRAP_KEY, [(w, s) for s, w in rows])
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise RecordError(f"subject keys could not be rewrapped: {exc}") from None

    def disclosure_counts(self) -> dict[tuple[str, str], int]:
        """Booked disclosures per (recipient, service)."""
        rows = self.db.execute(
            "SELECT recipient, json_extract(body, '$.service'), COUNT(*) FROM entries "
            "WHERE kind = 'disclosure.outcome' AND json_extract(body, '$.data.result') = 'booked' "
            "GROUP BY 1, 2")
        return {(r[0], r[1]): r[2] for r in rows}

    def list_requests(self, states: Sequence[str]) -> list[tuple[str, str, bytes]]:
        marks = ",".join("?" * len(states))
        return [(r[0], r[1], bytes(r[2])) for r in self.db.execute(
            f"SELECT id, state, doc FROM authority_requests WHERE state IN ({marks}) "  # noqa: S608
            "ORDER BY deadline, id", tuple(states))]

    # -- crash recovery --------------------------------------------------------------------
    def open_hooks(self, alone_only: bool = True) -> list[HookRow]:  # noqa: FBT001, FBT002
        """Hooks whose operation has no recorded answer yet (a crash between intent and
        outcome), through the partial index of open hooks: as cheap on a record of millions
        of entries as on an empty one. None while another process has the record open (a
        worker of ``serve --workers``: its hooks may be in flight, not crashed), unless
        ``alone_only`` is false (the periodic recovery of stale hooks)."""
        if alone_only and not self._alone():
            log.info("recovery.deferred", reason="other processes have the record open")
            return []
        return [hook_of(row) for row in self.db.execute(q.OPEN_HOOKS)]

    def _alone(self) -> bool:
        if self._presence is None:
            raise RecordError("the record is not open")
        # Converting a flock is not atomic: a refused exclusive try has already let go of the
        # shared lock, so it is taken again before answering.
        try:
            fcntl.flock(self._presence, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._presence, fcntl.LOCK_SH)
            return False
        fcntl.flock(self._presence, fcntl.LOCK_SH)
        return True
