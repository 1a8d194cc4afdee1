"""The shared store: PostgreSQL through asyncpg, for several gateway instances on one record.

Same semantics as the SQLite store: a batch is one transaction (committed with
``synchronous_commit = on``: acknowledged means durable), the entries are encoded and hashed the
same way, the signed tree head is replaced in the batch's transaction, and append-only is
enforced by the database (see ``postgres_schema``).

One sequencer across instances: each batch transaction first takes a transaction-scoped
advisory lock, then catches up the entries other instances appended since this one last wrote,
assigns the next positions, inserts, re-signs the head and commits, which releases the lock. So
all instances' entries form one tree, without gaps and without a fork.

Driver messages can echo row values, so errors name only the exception class and SQLSTATE.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import structlog

from gateway.errors import HookTaken, KeyTaken, PolicyRecorded, RecordError, SideOpRefused
from gateway.record.entry import GENESIS, Appended, Draft, Kind, encode, leaf_of
from gateway.record.merkle import CompactRange
from gateway.record.rows import (
    CaseOp,
    HookOp,
    HookRow,
    KeyErasure,
    NewKey,
    OneOp,
    PolicyGuard,
    SideOp,
    SideOps,
)
from gateway.record.stores import statements as q
from gateway.record.stores.changes import steps
from gateway.record.stores.contract import SignHead
from gateway.record.stores.postgres.cosignatures import PostgresCosignatures
from gateway.record.stores.postgres.migrate import insert_subtrees, migrate
from gateway.record.stores.postgres.review import PostgresReview
from gateway.record.stores.postgres.schema import (
    LOCK_CLASS,
)
from gateway.record.stores.reads import SharedReads, hook_of, take_in
from gateway.record.tally import tally_of

log = structlog.get_logger("gateway.record")

_INSERT = """
INSERT INTO entries (seq, body, leaf, sealed, kind, time, subject, order_ref, recipient,
                     disclosure, tally)
SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bytea[], $5::text[],
                     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
"""
_OPEN_HOOKS = """
INSERT INTO hooks (webhook_id, disclosure, subject)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT (webhook_id) DO UPDATE SET disclosure = excluded.disclosure,
    subject = excluded.subject, status = NULL, answer = NULL WHERE hooks.status = 503
RETURNING webhook_id
"""
_NEW_KEYS = """
INSERT INTO subject_keys (subject, wrapped, created)
SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[]) ON CONFLICT DO NOTHING
"""
_CLOSE_HOOKS = """
UPDATE hooks SET status = u.status, answer = u.answer, subject = u.subject
FROM unnest($1::text[], $2::int[], $3::bytea[], $4::text[])
    AS u (webhook_id, status, answer, subject)
WHERE hooks.webhook_id = u.webhook_id
"""


# InternalClientError: a connection the server dropped mid-exchange can be left in a state the
# driver refuses to use; it is a failure of the database connection like the others.
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
                  OSError, TimeoutError)


def _flatten(op: SideOp | None) -> tuple[OneOp, ...]:
    if op is None:
        return ()
    return op.ops if isinstance(op, SideOps) else (op,)


def failure(what: str, exc: BaseException) -> RecordError:
    """A RecordError naming the failure's class and SQLSTATE, never the driver's message."""
    code = getattr(exc, "sqlstate", None)
    return RecordError(f"{what}: {type(exc).__name__}" + (f" ({code})" if code else ""))


class PostgresStore(PostgresReview, PostgresCosignatures, SharedReads):
    def __init__(self, url: str, *, schema: str = "gateway", pool_size: int = 4) -> None:
        self.url = url
        self.schema = schema
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._tree = CompactRange()
        self._prev = GENESIS
        self._tree_lock = asyncio.Lock()
        self._presence: asyncpg.Connection | None = None
        self._regain: asyncio.Task[None] | None = None
        self._closing = False

    # -- connections -----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def conn(self, what: str) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; driver and network failures become RecordError."""
        if self._pool is None:
            raise RecordError("the record is not open")
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except _DRIVER_ERRORS as exc:
            raise failure(what, exc) from None

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:  # noqa: ANN401
        async with self.conn("the record could not be read") as c:
            rows: list[asyncpg.Record] = await c.fetch(sql, *args)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:  # noqa: ANN401
        async with self.conn("the record could not be read") as c:
            row: asyncpg.Record | None = await c.fetchrow(sql, *args)
            return row

    async def execute(self, what: str, sql: str, *args: Any) -> str:  # noqa: ANN401
        async with self.conn(what) as c:
            status: str = await c.execute(sql, *args)
            return status

    async def select(self, sql: str, *args: Any) -> list[asyncpg.Record]:  # noqa: ANN401
        """A shared statement (``?`` placeholders) and its rows."""
        return await self.fetch(q.numbered(sql), *args)

    # -- life cycle ------------------------------------------------------------------------
    async def open(self) -> None:
        self._closing = False
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self._pool_size,
                server_settings={"search_path": self.schema, "synchronous_commit": "on",
                                 "application_name": "disclosure-gateway"})
        except _DRIVER_ERRORS as exc:
            raise failure("cannot connect to the record's database", exc) from None
        try:
            async with self.conn("cannot migrate the record's schema") as c:
                await migrate(c, self.schema)
            # Held while this instance runs: recovery resolves intents only when no other
            # instance holds it (their intents may be in flight, not crashed).
            try:
                await self._be_present()
            except _DRIVER_ERRORS as exc:
                raise failure("cannot connect to the record's database", exc) from None
        except BaseException:
            await self.close()
            raise
        # Not read here (a record of millions of entries would read every leaf): ``resume``
        # sets the tree from a checked frontier, else the first use catches it up from the
        # leaves.
        self._tree, self._prev = CompactRange(), GENESIS

    async def resume(self, tree: CompactRange, newest: bytes) -> None:
        """Take up the tree from ``tree`` (its newest leaf ``newest``), which the caller checked
        against a signed checkpoint, and the entries after it from their leaves."""
        async with self._tree_lock:
            resumed = tree.copy()
            async with self.conn("cannot read the record") as c:
                newest = await self._catch_up(c, resumed, newest)
            self._tree, self._prev = resumed, newest

    async def _be_present(self) -> None:
        """Hold the shared presence lock on a connection of its own; if the server drops that
        connection (a restart, a failover), it is taken again as soon as the server lets us."""
        conn = await asyncpg.connect(
            self.url, server_settings={"application_name": "disclosure-gateway-presence"})
        await conn.execute("SELECT pg_advisory_lock_shared($1, hashtext($2))",
                           LOCK_CLASS + 2, self.schema)
        conn.add_termination_listener(self._presence_lost)
        self._presence = conn

    def _presence_lost(self, conn: asyncpg.Connection) -> None:
        if self._presence is not conn or self._closing:
            return
        self._presence = None
        log.warning("record.presence_lost")
        self._regain = asyncio.get_running_loop().create_task(self._regain_presence())

    async def _regain_presence(self) -> None:
        pause = 0.2
        while self._presence is None and not self._closing:
            try:
                await self._be_present()
            except _DRIVER_ERRORS:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
        log.info("record.presence_regained")

    async def close(self) -> None:
        self._closing = True
        if self._regain is not None:
            self._regain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._regain
            self._regain = None
        if self._presence is not None:
            presence, self._presence = self._presence, None
            with contextlib.suppress(*_DRIVER_ERRORS):
                await presence.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # -- the record ------------------------------------------------------------------------
    async def _catch_up(self, c: asyncpg.Connection, tree: CompactRange, prev: bytes) -> bytes:
        """Take in entries appended (by any instance) since ``tree``; returns the newest leaf."""
        return take_in(tree, prev, await c.fetch(q.numbered(q.CATCH_UP), tree.size))

    async def append_batch(
        self, drafts: Sequence[Draft], hooks: Sequence[SideOp | None], time: str,
        sign_head: SignHead | None = None,
    ) -> list[Appended]:
        """Append ``drafts`` in one transaction, durable when this returns; raises
        SideOpRefused (nothing kept) if a draft's hook is held by another attempt."""
        async with self._tree_lock:
            tree, prev = self._tree.copy(), self._prev
            try:
                async with self.conn("the record could not be written") as c, c.transaction():
                    await c.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                                    LOCK_CLASS, self.schema)
                    prev = await self._catch_up(c, tree, prev)
                    await self._side_ops(c, hooks)
                    rows: list[list[Any]] = [[] for _ in range(11)]
                    out = []
                    completed: list[tuple[int, int, bytes]] = []
                    for draft in drafts:
                        seq = tree.size
                        body = encode(draft, seq=seq, prev=prev, time=time)
                        leaf = leaf_of(body)
                        for column, value in zip(rows, (
                                seq, body, leaf, draft.sealed, draft.kind, time, draft.subject,
                                draft.order, draft.recipient, draft.disclosure,
                                tally_of(draft.kind, draft.data, draft.fields)), strict=True):
                            column.append(value)
                        tree.append(leaf, completed)
                        prev = leaf
                        out.append(Appended(seq=seq, leaf=leaf))
                    await c.execute(_INSERT, *rows)
                    await insert_subtrees(c, completed)
                    if sign_head is not None:
                        await c.execute(q.numbered(q.PUT_HEAD),
                                        tree.size, sign_head(tree.size, tree.root()))
            except (RecordError, SideOpRefused):
                raise
            except Exception as exc:  # noqa: BLE001 - encoding errors too; nothing was kept
                raise failure("the record could not be written", exc) from None
            self._tree, self._prev = tree, prev
            return out

    async def _side_ops(self, c: asyncpg.Connection, ops: Sequence[SideOp | None]) -> None:
        """The drafts' side operations, in bulk where order cannot matter: hooks opened (a hook
        held by another attempt refuses its draft), new subject keys, key erasures and state
        changes (requests, erasures, holds, staff), hooks closed."""
        flat = [(i, one) for i, op in enumerate(ops) for one in _flatten(op)]
        for i, guard in flat:
            if isinstance(guard, PolicyGuard) and await c.fetchval(
                    "SELECT 1 FROM entries WHERE kind = $1 AND seq > $2 LIMIT 1",
                    Kind.POLICY, guard.after):
                raise SideOpRefused(i, PolicyRecorded())
        opening = [(i, op) for i, op in flat if isinstance(op, HookOp) and op.status is None]
        if opening:
            taken = {r[0] for r in await c.fetch(
                _OPEN_HOOKS, [op.webhook_id for _, op in opening],
                [op.disclosure for _, op in opening], [op.subject for _, op in opening])}
            for i, op in opening:
                if op.webhook_id not in taken:
                    raise SideOpRefused(i, HookTaken())
        keyed = [(i, k) for i, k in flat if not isinstance(k, HookOp | PolicyGuard)]
        if any(not isinstance(k, NewKey) for _, k in keyed):
            # In entry order: an erasure, a new key and a state change of one subject.
            for i, k in keyed:
                if isinstance(k, KeyErasure):
                    await self._erase(c, k)
                elif isinstance(k, NewKey):
                    await self._new_keys(c, [(i, k)])
                else:
                    await _change(c, k, i)
        elif keyed:
            await self._new_keys(c, [(i, k) for i, k in keyed if isinstance(k, NewKey)])
        for i, one in flat:
            if isinstance(one, HookOp) and one.status is not None and one.if_open:
                closed = await c.execute(q.numbered(q.CLOSE_OPEN_HOOK),
                                         one.status, one.answer, one.subject, one.webhook_id)
                if closed != "UPDATE 1":
                    raise SideOpRefused(i, HookTaken("another process answered this hook"))
        closing = [op for _, op in flat
                   if isinstance(op, HookOp) and op.status is not None and not op.if_open]
        if closing:
            await c.execute(_CLOSE_HOOKS, [op.webhook_id for op in closing],
                            [op.status for op in closing], [op.answer for op in closing],
                            [op.subject for op in closing])

    @staticmethod
    async def _new_keys(c: asyncpg.Connection, keys: Sequence[tuple[int, NewKey]]) -> None:
        """Store first keys; if another writer stored a different key for a subject first, the
        first draft sealed under the lost key is refused (nothing sealed under a key that is not
        kept may commit) and the writer commits the others again."""
        wanted: dict[str, tuple[int, NewKey]] = {}
        for i, k in keys:
            wanted.setdefault(k.subject, (i, k))
        await c.execute(_NEW_KEYS, list(wanted), [k.wrapped for _, k in wanted.values()],
                        [k.time for _, k in wanted.values()])
        stored = {r[0]: bytes(r[1]) for r in await c.fetch(
            "SELECT subject, wrapped FROM subject_keys WHERE subject = ANY($1::text[])",
            list(wanted))}
        for subject, (i, k) in wanted.items():
            if stored.get(subject) != k.wrapped:
                raise SideOpRefused(i, KeyTaken())

    @staticmethod
    async def _erase(c: asyncpg.Connection, op: KeyErasure) -> None:
        await c.execute(q.numbered(q.ERASE_KEY), op.subject)
        await c.execute(q.numbered(q.ERASE_PENDING), op.subject)

    async def head(self) -> tuple[int, bytes]:
        """(size, root) of the record as committed by every instance."""
        async with self._tree_lock:
            async with self.conn("cannot read the record") as c:
                self._prev = await self._catch_up(c, self._tree, self._prev)
            return self._tree.size, self._tree.root()

    async def sign_checkpoint(self, sign: SignHead, time: str) -> str | None:
        size, root = await self.head()
        if size == 0:
            return None
        note = sign(size, root)
        await self.execute("the checkpoint could not be written", q.numbered(q.ADD_CHECKPOINT),
                           size, time, note)
        return note

    # -- subject keys ----------------------------------------------------------------------
    async def add_key(self, subject: str, wrapped: bytes, time: str) -> bytes:
        """Store a new wrapped key unless one exists; return the one that is stored."""
        async with self.conn("a subject key could not be stored") as c:
            await c.execute(q.numbered(q.ADD_KEY), subject, wrapped, time)
            stored = await c.fetchval(q.numbered(q.WRAPPED_KEY), subject)
        if stored is None:
            raise RecordError("a subject key was erased while it was being created")
        return bytes(stored)

    async def replace_keys(self, rows: Sequence[tuple[str, bytes]]) -> None:
        async with self.conn("subject keys could not be rewrapped") as c, c.transaction():
            await c.executemany(q.numbered(q.REWRAP_KEY), [(w, s) for s, w in rows])

    async def disclosure_counts(self) -> dict[tuple[str, str], int]:
        rows = await self.fetch(
            "SELECT recipient, convert_from(body, 'UTF8')::jsonb ->> 'service', COUNT(*) "
            "FROM entries WHERE kind = 'disclosure.outcome' "
            "AND convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'result' = 'booked' "
            "GROUP BY 1, 2")
        return {(r[0], r[1]): r[2] for r in rows}

    # -- crash recovery --------------------------------------------------------------------
    async def open_hooks(self, *, alone_only: bool = True) -> list[HookRow]:
        """Hooks whose operation has no recorded answer (a crash between intent and outcome),
        through the partial index of open hooks; none while another instance runs (its hooks
        may be in flight, not crashed), so start-up recovery never resolves a disclosure a
        live instance is still making."""
        if self._pool is None:
            raise RecordError("the record is not open")
        if not alone_only:
            return await self._open_hooks()
        if self._presence is None:  # lost with its connection: others may be running
            log.info("recovery.deferred", reason="presence lock not held")
            return []
        presence = self._presence
        try:
            alone = await presence.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", LOCK_CLASS + 2, self.schema)
            if alone:
                await presence.execute("SELECT pg_advisory_unlock($1, hashtext($2))",
                                       LOCK_CLASS + 2, self.schema)
        except _DRIVER_ERRORS:  # the lock's connection is gone: it is taken again
            self._presence_lost(presence)
            alone = False
        if not alone:
            log.info("recovery.deferred", reason="other instances are running")
            return []
        return await self._open_hooks()

    async def _open_hooks(self) -> list[HookRow]:
        return [hook_of(r) for r in await self.select(q.OPEN_HOOKS)]

    async def list_requests(self, states: Sequence[str]) -> list[tuple[str, str, bytes]]:
        return [(r[0], r[1], bytes(r[2])) for r in await self.fetch(
            "SELECT id, state, doc FROM authority_requests WHERE state = ANY($1::text[]) "
            "ORDER BY deadline, id", list(states))]


async def _change(c: asyncpg.Connection, op: CaseOp, index: int) -> None:
    """Apply one state change (``changes.steps``) in the open batch transaction on ``c``; a
    condition that no longer holds refuses draft ``index``."""
    for step in steps(op):
        status: str = await c.execute(q.numbered(step.sql), *step.args)
        refusal = step.refused(int(status.rsplit(" ", 1)[1]))
        if refusal is not None:
            raise SideOpRefused(index, refusal)
