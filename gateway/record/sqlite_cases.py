"""The SQLite store's case tables: authority requests (state and document), deferred erasures
and legal holds. They live in the record's database beside the entries, outside the tree; every
change to them is also recorded as an entry by the workflow that makes it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gateway.errors import RecordError


class SqliteCases:
    """Mixed into SqliteStore; every method runs on the store's database thread."""

    @property
    def db(self) -> sqlite3.Connection:  # pragma: no cover - provided by SqliteStore
        raise NotImplementedError

    # -- authority requests ----------------------------------------------------------------
    def put_request(self, request_id: str, state: str, deadline: str, doc: bytes,
                    expected: str | None) -> None:
        """Insert (``expected`` None) or move a request from state ``expected``; refuses a
        transition from any other state (two approvers at once, say)."""
        db = self.db
        try:
            if expected is None:
                db.execute("INSERT INTO authority_requests VALUES (?,?,?,?)",
                           (request_id, state, deadline, doc))
                return
            done = db.execute("UPDATE authority_requests SET state=?, doc=? WHERE id=? AND "
                              "state=?", (state, doc, request_id, expected)).rowcount
        except sqlite3.Error as exc:
            raise RecordError(f"the request could not be stored: {exc}") from None
        if done != 1:
            raise RecordError(f"request {request_id} is no longer {expected}")

    def get_request(self, request_id: str) -> tuple[str, bytes] | None:
        row = self.db.execute("SELECT state, doc FROM authority_requests WHERE id=?",
                              (request_id,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def list_requests(self, states: Sequence[str]) -> list[tuple[str, str, bytes]]:
        marks = ",".join("?" * len(states))
        return [(r[0], r[1], bytes(r[2])) for r in self.db.execute(
            f"SELECT id, state, doc FROM authority_requests WHERE state IN ({marks}) "  # noqa: S608
            "ORDER BY deadline, id", tuple(states))]

    # -- erasure ---------------------------------------------------------------------------
    def last_disclosure(self, subject: str) -> str | None:
        """When the subject's data last went out (time of its newest disclosure entry)."""
        row = self.db.execute(
            "SELECT MAX(time) FROM entries WHERE subject=? AND kind LIKE '%disclosure%'",
            (subject,),
        ).fetchone()
        return None if row is None else row[0]

    def defer_erasure(self, subject: str, requested: str, due: str, basis: str) -> None:
        try:
            self.db.execute(
                "INSERT INTO pending_erasures VALUES (?,?,?,?) ON CONFLICT (subject) DO UPDATE "
                "SET due=excluded.due, basis=excluded.basis", (subject, requested, due, basis))
        except sqlite3.Error as exc:
            raise RecordError(f"the erasure could not be deferred: {exc}") from None

    def add_hold(self, subject: str, until: str, basis: str, created: str) -> None:
        try:
            self.db.execute("INSERT INTO legal_holds VALUES (?,?,?,?)",
                            (subject, until, basis, created))
        except sqlite3.Error as exc:
            raise RecordError(f"the legal hold could not be stored: {exc}") from None

    def hold_until(self, subject: str, now: str) -> tuple[str, str] | None:
        """The latest end of a legal hold on ``subject`` still running at ``now``, and its basis."""
        row = self.db.execute(
            "SELECT until, basis FROM legal_holds WHERE subject=? AND until > ? "
            "ORDER BY until DESC LIMIT 1", (subject, now)).fetchone()
        return None if row is None else (row[0], row[1])

    def stale_subjects(self, before: str) -> list[str]:
        """Subjects that still have a key but no disclosure since ``before`` (a staff member
        reading their entries is no reason to keep them)."""
        rows = self.db.execute(
            "SELECT k.subject FROM subject_keys k WHERE NOT EXISTS (SELECT 1 FROM entries e "
            "WHERE e.subject = k.subject AND e.time >= ? AND e.kind <> 'review.read')",
            (before,))
        return [r[0] for r in rows]

    def due_erasures(self, now: str) -> list[str]:
        rows = self.db.execute(
            "SELECT subject FROM pending_erasures WHERE due <= ? ORDER BY due", (now,))
        return [r[0] for r in rows]

    def pending_erasures(self) -> list[tuple[str, str, str, str]]:
        return [(r[0], r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT subject, requested, due, basis FROM pending_erasures ORDER BY due, subject")]

    def legal_holds(self, now: str) -> list[tuple[str, str, str, str]]:
        return [(r[0], r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT subject, until, basis, created FROM legal_holds WHERE until > ? "
            "ORDER BY until, subject", (now,))]

    def release_holds(self, subject: str, now: str) -> int:
        try:
            return self.db.execute("DELETE FROM legal_holds WHERE subject=? AND until > ?",
                                   (subject, now)).rowcount
        except sqlite3.Error as exc:
            raise RecordError(f"the legal hold could not be released: {exc}") from None

    def end_holds(self, subject: str, basis: str, now: str) -> int:
        try:
            return self.db.execute("DELETE FROM legal_holds WHERE subject=? AND basis=? AND "
                                   "until > ?", (subject, basis, now)).rowcount
        except sqlite3.Error as exc:
            raise RecordError(f"the legal hold could not be ended: {exc}") from None

    def cancel_erasure(self, subject: str) -> bool:
        try:
            return self.db.execute("DELETE FROM pending_erasures WHERE subject=?",
                                   (subject,)).rowcount == 1
        except sqlite3.Error as exc:
            raise RecordError(f"the deferred erasure could not be cancelled: {exc}") from None
