"""The SQLite store's witness cosignatures: note signature lines by independent witnesses
(c2sp.org/tlog-cosignature) over the checkpoint stored at a size. They sit beside the
checkpoints, append-only like them; each line is self-authenticating, so the table is a cache
of evidence anyone can check with the witnesses' public keys, not something verify trusts."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gateway.errors import RecordError
from gateway.record.queries import CosignedRow

COSIGNATURE_SCHEMA = """
CREATE TABLE IF NOT EXISTS cosignatures (size INTEGER NOT NULL, witness TEXT NOT NULL,
                                         line TEXT NOT NULL, time TEXT NOT NULL,
                                         PRIMARY KEY (size, witness));
CREATE TRIGGER IF NOT EXISTS cosignatures_no_delete BEFORE DELETE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'cosignatures are append-only'); END;
CREATE TRIGGER IF NOT EXISTS cosignatures_no_update BEFORE UPDATE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'cosignatures are append-only'); END;
"""

#: The newest checkpoints holding at least one cosignature, with their lines in one column.
COSIGNED_SQL = """
SELECT c.size, c.note, group_concat(s.line, '') FROM checkpoints c
JOIN cosignatures s ON s.size = c.size
GROUP BY c.size ORDER BY c.size DESC LIMIT ?
"""


class SqliteCosignatures:
    """Mixed into SqliteStore; every method runs on the store's database thread."""

    @property
    def db(self) -> sqlite3.Connection:  # pragma: no cover - provided by SqliteStore
        raise NotImplementedError

    def add_cosignatures(self, size: int, lines: Sequence[tuple[str, str]], time: str) -> None:
        """Keep (witness key, signature line) pairs for the checkpoint at ``size``; a witness's
        first cosignature of a size is kept, later ones are ignored."""
        try:
            self.db.executemany("INSERT OR IGNORE INTO cosignatures VALUES (?,?,?,?)",
                                [(size, witness, line, time) for witness, line in lines])
        except sqlite3.Error as exc:
            raise RecordError(f"the cosignatures could not be written: {exc}") from None

    def cosigned(self, limit: int) -> list[CosignedRow]:
        """The newest ``limit`` checkpoints that hold a cosignature, newest first."""
        return [CosignedRow(size=size, note=note, lines=lines)
                for size, note, lines in self.db.execute(COSIGNED_SQL, (limit,))]
