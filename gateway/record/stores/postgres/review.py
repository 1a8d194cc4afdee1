"""The PostgreSQL store's read side for review (searches, single entries, leaves, the latest
checkpoint, disclosure counts) and its staff accounts and sessions.

A search is a keyset page on ``seq``; PostgreSQL's planner picks the index for the filters
given (subject, order, recipient or kind, each with ``seq``, or the time index for a period).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from gateway.record.queries import CheckpointRow, CountRow, Search, StaffRow
from gateway.record.rows import Row

if TYPE_CHECKING:
    import asyncpg

_OUTCOME = "disclosure.outcome"
_AUTHORITY = "authority.disclosure"
_DOC = "convert_from(body, 'UTF8')::jsonb -> 'data'"


class PooledQueries:
    """What the PostgreSQL store's mixins use: the pooled queries PostgresStore provides."""

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:  # noqa: ANN401
        raise NotImplementedError  # pragma: no cover - provided by PostgresStore

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:  # noqa: ANN401
        raise NotImplementedError  # pragma: no cover - provided by PostgresStore

    async def execute(self, what: str, sql: str, *args: Any) -> str:  # noqa: ANN401
        raise NotImplementedError  # pragma: no cover - provided by PostgresStore


class PostgresReview(PooledQueries):
    """Mixed into PostgresStore, which provides the pooled queries."""

    # -- review ----------------------------------------------------------------------------
    async def search(self, query: Search) -> list[Row]:
        """One page of entries matching ``query``, newest or oldest first."""
        conditions: list[str] = []
        params: list[Any] = []

        def where(sql: str, value: object) -> None:
            params.append(value)
            conditions.append(sql.replace("?", f"${len(params)}"))

        for column, value in (("subject", query.subject), ("order_ref", query.order),
                              ("recipient", query.recipient), ("kind", query.kind),
                              ("time >=", query.since), ("time <", query.until)):
            if value is not None:
                where(f"{column} ?" if " " in column else f"{column} = ?", value)
        if query.cursor is not None:
            where("seq < ?" if query.newest_first else "seq > ?", query.cursor)
        params.append(query.limit)
        sql = ("SELECT seq, body, leaf, sealed FROM entries "  # noqa: S608 - fixed column names
               f"WHERE {' AND '.join(conditions) or 'true'} "
               f"ORDER BY {query.order_by} LIMIT ${len(params)}")
        return [row_of(r) for r in await self.fetch(sql, *params)]

    async def entry(self, seq: int) -> Row | None:
        row = await self.fetchrow("SELECT seq, body, leaf, sealed FROM entries WHERE seq = $1",
                                  seq)
        return None if row is None else row_of(row)

    async def leaves(self, start: int, end: int) -> list[bytes]:
        return [bytes(r[0]) for r in await self.fetch(
            "SELECT leaf FROM entries WHERE seq >= $1 AND seq < $2 ORDER BY seq", start, end)]

    async def checkpoint_row(self) -> CheckpointRow | None:
        row = await self.fetchrow(
            "SELECT size, time, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        return None if row is None else CheckpointRow(size=row[0], time=row[1], note=row[2])

    async def disclosure_counts_by(self, since: str | None, until: str | None,
                                   ) -> list[CountRow]:
        """Carrier outcomes and authority disclosures in [since, until), grouped."""
        rows = await self.fetch(
            f"SELECT kind, recipient, substr(time, 1, 7), "  # noqa: S608
            f"COALESCE({_DOC} ->> 'result', {_DOC} ->> 'status'), "
            f"{_DOC} ->> 'legal_basis', {_DOC} ->> 'request', COUNT(*), "
            "convert_from(body, 'UTF8')::jsonb ->> 'fields' FROM entries "
            "WHERE kind IN ($1, $2) AND time >= $3 AND time < $4 GROUP BY 1, 2, 3, 4, 5, 6, 8",
            _OUTCOME, _AUTHORITY, since or "", until or "\U0010ffff")
        return [CountRow(kind=r[0], recipient=r[1] or "-", month=r[2], result=r[3],
                         legal_basis=r[4], request=r[5], count=r[6],
                         fields=tuple(orjson.loads(r[7] or "[]"))) for r in rows]

    # -- staff -----------------------------------------------------------------------------
    async def staff_member(self, username: str) -> StaffRow | None:
        row = await self.fetchrow("SELECT username, password, roles, disabled, created "
                                  "FROM staff WHERE username = $1", username)
        return None if row is None else _staff(row)

    async def list_staff(self) -> list[StaffRow]:
        return [_staff(r) for r in await self.fetch(
            "SELECT username, password, roles, disabled, created FROM staff ORDER BY username")]

    async def add_session(self, token_hash: str, username: str, created: str,
                          expires: str) -> None:
        await self.execute(
            "the session could not be stored",
            "WITH expired AS (DELETE FROM staff_sessions WHERE expires <= $3) "
            "INSERT INTO staff_sessions VALUES ($1, $2, $3, $4)",
            token_hash, username, created, expires)

    async def session_user(self, token_hash: str, now: str) -> str | None:
        row = await self.fetchrow("SELECT username FROM staff_sessions WHERE token_hash = $1 "
                                  "AND expires > $2", token_hash, now)
        return None if row is None else row[0]

    async def end_session(self, token_hash: str) -> None:
        await self.execute("the session could not be ended",
                           "DELETE FROM staff_sessions WHERE token_hash = $1", token_hash)


def row_of(r: asyncpg.Record) -> Row:
    return Row(r[0], bytes(r[1]), bytes(r[2]), None if r[3] is None else bytes(r[3]))


def _staff(r: asyncpg.Record) -> StaffRow:
    return StaffRow(username=r[0], password=r[1], roles=tuple(x for x in r[2].split(",") if x),
                    disabled=bool(r[3]), created=r[4])
