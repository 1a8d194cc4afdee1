"""A witness's memory: for each log it witnesses (by origin), the latest checkpoint it cosigned.

One SQLite file (WAL, synchronous=FULL). Checking a submission's old size against the stored
one, checking its consistency proof and storing the new checkpoint happen in one ``BEGIN
IMMEDIATE`` transaction, so two submissions can never both pass the check against the same
state (the race in c2sp.org/tlog-witness that would roll a log back), and a witness killed in the
middle of an update comes back with the old checkpoint or the new one, never a mix. A
cosignature is only made once the new state is durable.

Submissions whose proof fails are kept too (``evidence``): a signed checkpoint that is not
consistent with one the log signed before is proof of the log's misbehaviour.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import attrs

from gateway.errors import GatewayError
from gateway.record.checkpoint import Checkpoint
from gateway.record.merkle import EMPTY_ROOT, verify_consistency

__all__ = ["Accepted", "Conflict", "Inconsistent", "Stale", "WitnessState"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (origin TEXT PRIMARY KEY, size INTEGER NOT NULL,
                                 root BLOB NOT NULL, note TEXT NOT NULL, time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS evidence (origin TEXT NOT NULL, old_size INTEGER NOT NULL,
                                     proof TEXT NOT NULL, note TEXT NOT NULL,
                                     time INTEGER NOT NULL);
"""


@attrs.frozen
class Accepted:
    """The checkpoint is now the latest this witness cosigned for its log."""

    size: int


@attrs.frozen
class Stale:
    """The submitter's old size is not the size this witness holds: ``size``."""

    size: int


@attrs.frozen
class Conflict:
    """Same size as the one held, another root: the log forked (``size`` is the one held)."""

    size: int


@attrs.frozen
class Inconsistent:
    """The consistency proof does not lead from the held tree to the submitted one."""

    size: int


Outcome = Accepted | Stale | Conflict | Inconsistent


class WitnessStateError(GatewayError):
    """The witness's state file cannot be read or written."""

    status = 503
    title = "Witness state unavailable"
    type_slug = "witness-state"


class WitnessState:
    """The state file; every call runs under one lock, off the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise WitnessStateError(f"cannot open the witness state at {self.path}: {exc}",
                                    ) from None
        self._db = db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise WitnessStateError("the witness state is not open")
        return self._db

    def latest(self, origin: str) -> tuple[int, bytes]:
        """(size, root) of the latest checkpoint cosigned for ``origin``; (0, empty root) if
        none."""
        with self._lock:
            row = self.db.execute("SELECT size, root FROM logs WHERE origin = ?",
                                  (origin,)).fetchone()
        return (0, EMPTY_ROOT) if row is None else (int(row[0]), bytes(row[1]))

    def advance(self, checkpoint: Checkpoint, note: str, old_size: int,
                proof: Sequence[bytes], now: int) -> Outcome:
        """Check ``old_size`` and ``proof`` against the held checkpoint and, if both hold, make
        ``checkpoint`` the held one, atomically and durably."""
        with self._lock:
            db = self.db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    outcome = self._advance(db, checkpoint, note, old_size, proof, now)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise WitnessStateError(f"the witness state cannot be updated: {exc}",
                                        ) from None
        return outcome

    @staticmethod
    def _advance(db: sqlite3.Connection, checkpoint: Checkpoint, note: str, old_size: int,
                 proof: Sequence[bytes], now: int) -> Outcome:
        row = db.execute("SELECT size, root FROM logs WHERE origin = ?",
                         (checkpoint.origin,)).fetchone()
        size, root = (0, EMPTY_ROOT) if row is None else (int(row[0]), bytes(row[1]))
        if old_size != size:
            return Stale(size)
        if checkpoint.size == size:
            if checkpoint.root != root:
                return Conflict(size)
            return Accepted(size)
        if not verify_consistency(size, checkpoint.size, root, checkpoint.root, proof):
            db.execute("INSERT INTO evidence VALUES (?,?,?,?,?)",
                       (checkpoint.origin, old_size, "".join(p.hex() + "\n" for p in proof),
                        note, now))
            return Inconsistent(size)
        db.execute("INSERT INTO logs VALUES (?,?,?,?,?) ON CONFLICT (origin) DO UPDATE SET "
                   "size = excluded.size, root = excluded.root, note = excluded.note, "
                   "time = excluded.time",
                   (checkpoint.origin, checkpoint.size, checkpoint.root, note, now))
        return Accepted(checkpoint.size)

    def evidence(self, origin: str) -> list[tuple[int, str]]:
        """Refused submissions for ``origin``: (their old size, the signed note)."""
        with self._lock:
            return [(int(r[0]), str(r[1])) for r in self.db.execute(
                "SELECT old_size, note FROM evidence WHERE origin = ? ORDER BY rowid",
                (origin,))]
