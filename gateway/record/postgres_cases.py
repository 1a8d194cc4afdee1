"""The PostgreSQL store's case tables: authority requests (state and document), deferred
erasures and legal holds, beside the entries and outside the tree."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import RecordError
from gateway.record.postgres_review import PooledQueries


class PostgresCases(PooledQueries):
    """Mixed into PostgresStore, which provides the pooled queries."""

    # -- authority requests ----------------------------------------------------------------
    async def put_request(self, request_id: str, state: str, deadline: str, doc: bytes,
                          expected: str | None) -> None:
        what = "the request could not be stored"
        if expected is None:
            await self.execute(what, "INSERT INTO authority_requests VALUES ($1, $2, $3, $4)",
                               request_id, state, deadline, doc)
            return
        status = await self.execute(
            what, "UPDATE authority_requests SET state = $2, doc = $3 WHERE id = $1 "
                  "AND state = $4", request_id, state, doc, expected)
        if status != "UPDATE 1":
            raise RecordError(f"request {request_id} is no longer {expected}")

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

    async def defer_erasure(self, subject: str, requested: str, due: str, basis: str) -> None:
        await self.execute(
            "the erasure could not be deferred",
            "INSERT INTO pending_erasures VALUES ($1, $2, $3, $4) ON CONFLICT (subject) "
            "DO UPDATE SET due = excluded.due, basis = excluded.basis",
            subject, requested, due, basis)

    async def due_erasures(self, now: str) -> list[str]:
        return [r[0] for r in await self.fetch(
            "SELECT subject FROM pending_erasures WHERE due <= $1 ORDER BY due", now)]

    async def add_hold(self, subject: str, until: str, basis: str, created: str) -> None:
        await self.execute("the legal hold could not be stored",
                           "INSERT INTO legal_holds VALUES ($1, $2, $3, $4)",
                           subject, until, basis, created)

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

    async def release_holds(self, subject: str, now: str) -> int:
        status = await self.execute("the legal hold could not be released",
                                    "DELETE FROM legal_holds WHERE subject = $1 AND until > $2",
                                    subject, now)
        return int(status.split()[-1])

    async def end_holds(self, subject: str, basis: str, now: str) -> int:
        status = await self.execute(
            "the legal hold could not be ended",
            "DELETE FROM legal_holds WHERE subject = $1 AND basis = $2 AND until > $3",
            subject, basis, now)
        return int(status.split()[-1])

    async def cancel_erasure(self, subject: str) -> bool:
        status = await self.execute("the deferred erasure could not be cancelled",
                                    "DELETE FROM pending_erasures WHERE subject = $1", subject)
        return status == "DELETE 1"
