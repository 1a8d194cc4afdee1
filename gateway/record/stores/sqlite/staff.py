"""The SQLite store's staff tables: accounts (username, KDF string, roles, disabled) and login
sessions (only a hash of each token is kept). They live in the record's database, beside the
entries, but outside the tree: accounts and sessions change, entries never do. Every account
change is a side operation of the ``staff.changed`` entry recording it (``staff_op``)."""

from __future__ import annotations

import sqlite3

from gateway.errors import Conflict, NotFound, RecordError, SideOpRefused
from gateway.record.queries import StaffRow
from gateway.record.rows import (
    AddStaff,
    ChangeStaff,
    DisableStaff,
    staff_taken,
    staff_unknown,
)

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

    def staff_op(self, op: AddStaff | DisableStaff | ChangeStaff, index: int) -> None:
        """Apply one account change in the open batch transaction; a name taken (adding) or
        unknown (changing) refuses draft ``index`` (SideOpRefused, nothing of the batch kept).
        Disabling an account ends its sessions."""
        db = self.db
        if isinstance(op, AddStaff):
            if db.execute("INSERT OR IGNORE INTO staff VALUES (?,?,?,0,?)",
                          (op.username, op.password, ",".join(op.roles), op.created),
                          ).rowcount != 1:
                raise SideOpRefused(index, Conflict(staff_taken(op.username)))
            return
        if isinstance(op, DisableStaff):
            done = db.execute("UPDATE staff SET disabled=1 WHERE username=?",
                              (op.username,)).rowcount
            db.execute("DELETE FROM staff_sessions WHERE username=?", (op.username,))
        else:
            done = db.execute(
                "UPDATE staff SET roles=COALESCE(?, roles), password=COALESCE(?, password), "
                "disabled=CASE WHEN ? THEN 0 ELSE disabled END WHERE username=?",
                (None if op.roles is None else ",".join(op.roles), op.password, op.enable,
                 op.username)).rowcount
            if op.password is not None:
                db.execute("DELETE FROM staff_sessions WHERE username=?", (op.username,))
        if done != 1:
            raise SideOpRefused(index, NotFound(staff_unknown(op.username)))

    def staff_member(self, username: str) -> StaffRow | None:
        row = self.db.execute(
            "SELECT username, password, roles, disabled, created FROM staff WHERE username=?",
            (username,)).fetchone()
        return None if row is None else _staff(row)

    def list_staff(self) -> list[StaffRow]:
        return [_staff(r) for r in self.db.execute(
            "SELECT username, password, roles, disabled, created FROM staff ORDER BY username")]

    def add_session(self, token_hash: str, username: str, created: str, expires: str) -> None:
        """Store a session; sessions that have expired by ``created`` are dropped."""
        try:
            self.db.execute("DELETE FROM staff_sessions WHERE expires <= ?", (created,))
            self.db.execute("INSERT INTO staff_sessions VALUES (?,?,?,?)",
                            (token_hash, username, created, expires))
        except sqlite3.Error as exc:
            raise RecordError(f"the session could not be stored: {exc}") from None

    def session_user(self, token_hash: str, now: str) -> str | None:
        """The username of an unexpired session, if there is one."""
        row = self.db.execute(
            "SELECT username FROM staff_sessions WHERE token_hash=? AND expires > ?",
            (token_hash, now)).fetchone()
        return None if row is None else row[0]

    def end_session(self, token_hash: str) -> None:
        try:
            self.db.execute("DELETE FROM staff_sessions WHERE token_hash=?", (token_hash,))
        except sqlite3.Error as exc:
            raise RecordError(f"the session could not be ended: {exc}") from None


def _staff(row: tuple[str, str, str, int, str]) -> StaffRow:
    return StaffRow(username=row[0], password=row[1],
                    roles=tuple(r for r in row[2].split(",") if r), disabled=bool(row[3]),
                    created=row[4])
