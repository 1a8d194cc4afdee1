"""The SQLite record's schema upgrades, each run once, in its own transaction, by the first
process to open a record of the older schema (``meta.schema`` says which it is).

Schema 2: the entries lose the indexes on time (a period is a range of positions, found by
binary search, since times never step back along the record) and on (recipient, time)
((recipient, seq) answers the same searches), and gain the ``subtrees`` table, filled here from
the stored leaves. A record whose times did once step back (a clock set back under schema 1)
keeps its time index, which its period searches then go through.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from gateway.record.merkle import CompactRange

__all__ = ["fill_subtrees", "migrate_v1"]

_CHUNK = 4096


def migrate_v1(db: sqlite3.Connection) -> None:
    """Schema 1 to 2 (see the module's description)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        (version,) = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if int(version) == 1:  # another process may have upgraded it meanwhile
            db.execute("DROP INDEX IF EXISTS entries_recipient")
            if _times_ordered(db.execute("SELECT time FROM entries ORDER BY seq")):
                db.execute("DROP INDEX IF EXISTS entries_time")
            fill_subtrees(db)
            db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _times_ordered(rows: Iterable[tuple[str]]) -> bool:
    last = ""
    for (time,) in rows:
        if time < last:
            return False
        last = time
    return True


def fill_subtrees(db: sqlite3.Connection) -> None:
    """Store the hash of every complete perfect subtree the record's leaves make (of
    ``merkle.SUBTREE_MIN`` leaves or more), in the caller's transaction."""
    tree = CompactRange()
    completed: list[tuple[int, int, bytes]] = []
    for (leaf,) in db.execute("SELECT leaf FROM entries ORDER BY seq"):
        tree.append(bytes(leaf), completed)
        if len(completed) >= _CHUNK:
            db.executemany("INSERT OR IGNORE INTO subtrees VALUES (?,?,?)", completed)
            completed.clear()
    db.executemany("INSERT OR IGNORE INTO subtrees VALUES (?,?,?)", completed)
