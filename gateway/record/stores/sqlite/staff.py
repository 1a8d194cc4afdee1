"""The SQLite store's staff tables: accounts (username, KDF string, roles, disabled) and login
sessions (only a hash of each token is kept). They live in the record's database, beside the
entries, but outside the tree: accounts and sessions change, entries never do. Account changes
are side operations of the ``staff.changed`` entry recording them (``stores.changes``); reads
are the shared ones (``stores.reads``)."""

from __future__ import annotations

import sqlite3

from gateway.errors import RecordError
from gateway.record.stores import statements as q

STAFF_SCHEMA = """
CREATE TABLE IF NOT EXISTS staff (username TEXT PRIMARY KEY, password TEXT NOT NULL,
                                  roles TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
                                  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staff_sessions (token_hash TEXT PRIMARY KEY,
                                           username TEXT NOT NULL REFERENCES staff (username),
                                           created TEXT NOT NULL, expires TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS staff_sessions_expires ON staff_sessions (expires);
"""


class SqliteStaff:
    """Mixed into SqliteStore; every method runs on the store's database thread."""

    @property
    def db(self) -> sqlite3.Connection:  # pragma: no cover - provided by SqliteStore
        raise NotImplementedError

    def add_session(self, token_hash: str, username: str, created: str, expires: str) -> None:
        """Store a session; sessions that have expired by ``created`` are dropped."""
        try:
            self.db.execute(q.EXPIRE_SESSIONS, (created,))
            self.db.execute(q.ADD_SESSION, (token_hash, username, created, expires))
        except sqlite3.Error as exc:
            raise RecordError(f"the session could not be stored: {exc}") from None

    def end_session(self, token_hash: str) -> None:
        try:
            self.db.execute(q.END_SESSION, (token_hash,))
        except sqlite3.Error as exc:
            raise RecordError(f"the session could not be ended: {exc}") from None
