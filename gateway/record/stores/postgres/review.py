"""The PostgreSQL store's own reads for review (searches, disclosure counts) and its staff
sessions; the reads both stores answer alike are the shared ones (``stores.reads``).

A search is a keyset page on ``seq``; PostgreSQL's planner picks the index for the filters
given (subject, order, recipient or kind, each with ``seq``, or the time index for a period).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from gateway.record.queries import CountRow, Search
from gateway.record.rows import Row
from gateway.record.stores import statements as q
from gateway.record.stores.reads import COUNTED_KINDS, count_of, rows_of

if TYPE_CHECKING:
    import asyncpg



class PooledQueries:
    """What the PostgreSQL store's mixins use: the pooled queries PostgresStore provides."""

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:  # noqa: ANN401
        raise NotImplementedError  # pragma: no cover - provided by PostgresStore

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:  # noqa: ANN401
        raise NotImplementedError  # pragma: no cover - provided by PostgresStore

    async def execute(self, what: str, sql: str, *args: Any) -> str:  # noqa: ANN401
        raise NotImplementedError  # pragma: no cover - provided by PostgresStore

    def conn(self, what: str) -> AbstractAsyncContextManager[asyncpg.Connection]:
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
        return rows_of(await self.fetch(sql, *params))

    async def disclosure_counts_by(self, since: str | None, until: str | None,
                                   ) -> list[CountRow]:
        """Carrier outcomes and authority disclosures in [since, until), grouped: the period's
        stretch of the index of counted entries (their stored tallies, which verify checks
        against the bodies)."""
        rows = await self.fetch(
            "SELECT kind, recipient, substr(time, 1, 7), tally, COUNT(*) FROM entries "
            "WHERE tally IS NOT NULL AND kind IN ($1, $2) AND time >= $3 AND time < $4 "
            "GROUP BY 1, 2, 3, 4", *COUNTED_KINDS, since or "", until or "\U0010ffff")
        return [count_of(r) for r in rows]

    # -- staff sessions --------------------------------------------------------------------
    async def add_session(self, token_hash: str, username: str, created: str,
                          expires: str) -> None:
        """Store a session (drops sessions expired by ``created``)."""
        async with self.conn("the session could not be stored") as c:
            await c.execute(q.numbered(q.EXPIRE_SESSIONS), created)
            await c.execute(q.numbered(q.ADD_SESSION), token_hash, username, created, expires)

    async def end_session(self, token_hash: str) -> None:
        await self.execute("the session could not be ended", q.numbered(q.END_SESSION),
                           token_hash)
