"""The SQLite record's schema upgrades, each run once, in its own transaction, by the first
process to open a record of the older schema (``meta.schema`` says which it is).

Schema 2: the entries lose the indexes on time (a period is a range of positions, found by
binary search, since times never step back along the record) and on (recipient, time)
((recipient, seq) answers the same searches), and gain the ``subtrees`` table, filled here from
the stored leaves. A record whose times did once step back (a clock set back under schema 1)
keeps its time index, which its period searches then go through.

Schema 3: the entries gain the ``tally`` column (``record.tally``: what the transparency report
counts an entry by), filled here from the stored bodies, and the index the counts read; the
trigger refusing updates covers the new column.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from gateway.record.merkle import CompactRange
from gateway.record.tally import COUNTED, tally_of_stored

__all__ = ["NO_UPDATE", "TALLY_SCHEMA", "fill_subtrees", "migrate_v1", "migrate_v2"]

_CHUNK = 4096

#: No stored value of an entry changes (its sealed value may only be dropped: ``store``).
NO_UPDATE = """
CREATE TRIGGER IF NOT EXISTS entries_no_update
BEFORE UPDATE OF seq, body, leaf, kind, time, subject, order_ref, recipient, disclosure, tally
ON entries
BEGIN SELECT RAISE(ABORT, 'the record is append-only'); END;
"""

#: The counted entries' columns the transparency counts read, by position: the counts of a
#: period read this index's range and no body. Appended at its end, as the entries are.
TALLY_SCHEMA = """
CREATE INDEX IF NOT EXISTS entries_tally ON entries (seq, kind, recipient, time, tally)
    WHERE tally IS NOT NULL;
"""


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


def migrate_v2(db: sqlite3.Connection) -> None:
    """Schema 2 to 3 (see the module's description)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        (version,) = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if int(version) == 2:  # noqa: PLR2004 - another process may have upgraded it meanwhile
            if not any(c[1] == "tally" for c in db.execute("PRAGMA table_info(entries)")):
                db.execute("ALTER TABLE entries ADD COLUMN tally TEXT")
            db.execute("DROP TRIGGER IF EXISTS entries_no_update")
            _fill_tallies(db)
            db.execute(NO_UPDATE)
            db.execute(TALLY_SCHEMA)
            db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _fill_tallies(db: sqlite3.Connection) -> None:
    marks = ",".join("?" * len(COUNTED))
    seq = -1
    while True:
        chunk = db.execute(
            f"SELECT seq, body FROM entries WHERE seq > ? AND kind IN ({marks}) "  # noqa: S608
            "ORDER BY seq LIMIT ?", (seq, *sorted(COUNTED), _CHUNK)).fetchall()
        if not chunk:
            return
        db.executemany("UPDATE entries SET tally = ? WHERE seq = ?",
                       [(tally_of_stored(bytes(body)), s) for s, body in chunk])
        seq = chunk[-1][0]


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
