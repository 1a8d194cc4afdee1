"""The PostgreSQL store's witness cosignatures (see ``sqlite_cosignatures``)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.record.queries import CosignedRow
from gateway.record.stores.postgres.review import PooledQueries

#: Migration: the table, append-only like the checkpoints it cosigns.
COSIGNATURES_DDL = """
CREATE TABLE cosignatures (size BIGINT NOT NULL, witness TEXT NOT NULL, line TEXT NOT NULL,
                           time TEXT NOT NULL, PRIMARY KEY (size, witness));
CREATE TRIGGER cosignatures_no_change BEFORE UPDATE OR DELETE ON cosignatures
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER cosignatures_no_truncate BEFORE TRUNCATE ON cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();
"""

_COSIGNED = """
SELECT c.size, c.note, string_agg(s.line, '' ORDER BY s.witness) FROM checkpoints c
JOIN cosignatures s ON s.size = c.size
GROUP BY c.size, c.note ORDER BY c.size DESC LIMIT $1
"""


class PostgresCosignatures(PooledQueries):
    """Mixed into PostgresStore, which provides the pooled queries."""

    async def add_cosignatures(self, size: int, lines: Sequence[tuple[str, str]],
                               time: str) -> None:
        await self.execute(
            "the cosignatures could not be written",
            "INSERT INTO cosignatures SELECT $1, w, l, $2 FROM unnest($3::text[], $4::text[]) "
            "AS u (w, l) ON CONFLICT DO NOTHING",
            size, time, [w for w, _ in lines], [line for _, line in lines])

    async def cosigned(self, limit: int) -> list[CosignedRow]:
        return [CosignedRow(size=r[0], note=r[1], lines=r[2])
                for r in await self.fetch(_COSIGNED, limit)]
