"""The PostgreSQL store's case tables: authority requests (state and document), deferred
erasures and legal holds, beside the entries and outside the tree; and the writes of them and
of staff accounts, each a side operation applied in its entry's batch transaction
(``case_op``)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from gateway.errors import Conflict, NotFound, RecordError, SideOpRefused
from gateway.record.rows import (
    HOLD_RELEASED,
    NO_ERASURE,
    NO_HOLD,
    AddHold,
    AddStaff,
    CancelErasure,
    CaseOp,
    DeferErasure,
    DisableStaff,
    EndHolds,
    PutRequest,
    ReleaseHolds,
    staff_taken,
    staff_unknown,
)
from gateway.record.stores.postgres.review import PooledQueries


async def case_op(c: asyncpg.Connection, op: CaseOp, index: int) -> None:
    """Apply one state change in the open batch transaction on ``c``; a condition that no
    longer holds refuses draft ``index`` (SideOpRefused: the batch is rolled back)."""
    if isinstance(op, PutRequest):
        if op.expected is None:
            await c.execute("INSERT INTO authority_requests VALUES ($1, $2, $3, $4)",
                            op.request_id, op.state, op.deadline, op.doc)
        elif await c.execute(
                "UPDATE authority_requests SET state = $2, doc = $3 WHERE id = $1 "
                "AND state = $4", op.request_id, op.state, op.doc, op.expected) != "UPDATE 1":
            raise SideOpRefused(index, RecordError(
                f"request {op.request_id} is no longer {op.expected}"))
    elif isinstance(op, DeferErasure):
        await c.execute(
            "INSERT INTO pending_erasures VALUES ($1, $2, $3, $4) ON CONFLICT (subject) "
            "DO UPDATE SET due = excluded.due, basis = excluded.basis",
            op.subject, op.requested, op.due, op.basis)
    elif isinstance(op, CancelErasure):
        if await c.execute("DELETE FROM pending_erasures WHERE subject = $1",
                           op.subject) != "DELETE 1":
            raise SideOpRefused(index, NotFound(NO_ERASURE))
    elif isinstance(op, AddHold):
        await c.execute("INSERT INTO legal_holds VALUES ($1, $2, $3, $4)",
                        op.subject, op.until, op.basis, op.created)
    elif isinstance(op, EndHolds):
        await c.execute("DELETE FROM legal_holds WHERE subject = $1 AND basis = $2 "
                        "AND until > $3", op.subject, op.basis, op.now)
    elif isinstance(op, ReleaseHolds):
        if await c.execute("DELETE FROM legal_holds WHERE subject = $1 AND until > $2",
                           op.subject, op.now) == "DELETE 0":
            raise SideOpRefused(index, NotFound(NO_HOLD))
        await c.execute("UPDATE pending_erasures SET due = $2, basis = $3 WHERE subject = $1",
                        op.subject, op.now, HOLD_RELEASED)
    elif isinstance(op, AddStaff):
        if await c.execute(
                "INSERT INTO staff VALUES ($1, $2, $3, false, $4) ON CONFLICT DO NOTHING",
                op.username, op.password, ",".join(op.roles), op.created) != "INSERT 0 1":
            raise SideOpRefused(index, Conflict(staff_taken(op.username)))
    elif isinstance(op, DisableStaff):
        if await c.execute(
                "WITH ended AS (DELETE FROM staff_sessions WHERE username = $1) "
                "UPDATE staff SET disabled = true WHERE username = $1",
                op.username) != "UPDATE 1":
            raise SideOpRefused(index, NotFound(staff_unknown(op.username)))
    elif await c.execute(
            "WITH ended AS (DELETE FROM staff_sessions WHERE username = $1 "
            "AND $3::text IS NOT NULL) "
            "UPDATE staff SET roles = COALESCE($2, roles), password = COALESCE($3, password), "
            "disabled = disabled AND NOT $4 WHERE username = $1",
            op.username, None if op.roles is None else ",".join(op.roles), op.password,
            op.enable) != "UPDATE 1":
        raise SideOpRefused(index, NotFound(staff_unknown(op.username)))


class PostgresCases(PooledQueries):
    """Mixed into PostgresStore, which provides the pooled queries."""

    # -- authority requests ----------------------------------------------------------------
    async def get_request(self, request_id: str) -> tuple[str, bytes] | None:
        row = await self.fetchrow("SELECT state, doc FROM authority_requests WHERE id = $1",
                                  request_id)
        return None if row is None else (row[0], bytes(row[1]))

    async def list_requests(self, states: Sequence[str]) -> list[tuple[str, str, bytes]]:
        return [(r[0], r[1], bytes(r[2])) for r in await self.fetch(
            "SELECT id, state, doc FROM authority_requests WHERE state = ANY($1::text[]) "
            "ORDER BY deadline, id", list(states))]

    # -- erasure ---------------------------------------------------------------------------
    async def last_disclosure(self, subject: str) -> str | None:
        row = await self.fetchrow("SELECT MAX(time) FROM entries WHERE subject = $1 "
                                  "AND kind LIKE '%disclosure%'", subject)
        return None if row is None else row[0]

    async def due_erasures(self, now: str) -> list[str]:
        return [r[0] for r in await self.fetch(
            "SELECT subject FROM pending_erasures WHERE due <= $1 ORDER BY due", now)]

    async def hold_until(self, subject: str, now: str) -> tuple[str, str] | None:
        row = await self.fetchrow(
            "SELECT until, basis FROM legal_holds WHERE subject = $1 AND until > $2 "
            "ORDER BY until DESC LIMIT 1", subject, now)
        return None if row is None else (row[0], row[1])

    async def stale_subjects(self, before: str) -> list[str]:
        return [r[0] for r in await self.fetch(
            "SELECT k.subject FROM subject_keys k WHERE NOT EXISTS (SELECT 1 FROM entries e "
            "WHERE e.subject = k.subject AND e.time >= $1 AND e.kind <> 'review.read')",
            before)]

    async def pending_erasures(self) -> list[tuple[str, str, str, str]]:
        return [(r[0], r[1], r[2], r[3]) for r in await self.fetch(
            "SELECT subject, requested, due, basis FROM pending_erasures ORDER BY due, subject")]

    async def legal_holds(self, now: str) -> list[tuple[str, str, str, str]]:
        return [(r[0], r[1], r[2], r[3]) for r in await self.fetch(
            "SELECT subject, until, basis, created FROM legal_holds WHERE until > $1 "
            "ORDER BY until, subject", now)]
