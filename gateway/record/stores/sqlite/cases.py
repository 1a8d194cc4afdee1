"""The SQLite store's case tables: authority requests (state and document), deferred erasures
and legal holds. They live in the record's database beside the entries, outside the tree; every
change to them is a side operation of the entry recording it (``case_op``), committed in that
entry's transaction or not at all."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from gateway.errors import NotFound, RecordError, SideOpRefused
from gateway.record.rows import (
    HOLD_RELEASED,
    NO_ERASURE,
    NO_HOLD,
    AddHold,
    CancelErasure,
    DeferErasure,
    EndHolds,
    PutRequest,
    ReleaseHolds,
)


class SqliteCases:
    """Mixed into SqliteStore; every method runs on the store's database thread."""

    @property
    def db(self) -> sqlite3.Connection:  # pragma: no cover - provided by SqliteStore
        raise NotImplementedError

    def case_op(self, op: PutRequest | DeferErasure | CancelErasure | AddHold | ReleaseHolds
                | EndHolds, index: int) -> None:
        """Apply one case change in the open batch transaction; a condition that no longer
        holds refuses draft ``index`` (SideOpRefused, nothing of the batch kept)."""
        db = self.db
        if isinstance(op, PutRequest):
            if op.expected is None:
                db.execute("INSERT INTO authority_requests VALUES (?,?,?,?)",
                           (op.request_id, op.state, op.deadline, op.doc))
            elif db.execute("UPDATE authority_requests SET state=?, doc=? WHERE id=? AND "
                            "state=?", (op.state, op.doc, op.request_id, op.expected),
                            ).rowcount != 1:
                raise SideOpRefused(index, RecordError(
                    f"request {op.request_id} is no longer {op.expected}"))
        elif isinstance(op, DeferErasure):
            db.execute(
                "INSERT INTO pending_erasures VALUES (?,?,?,?) ON CONFLICT (subject) DO UPDATE "
                "SET due=excluded.due, basis=excluded.basis",
                (op.subject, op.requested, op.due, op.basis))
        elif isinstance(op, CancelErasure):
            if db.execute("DELETE FROM pending_erasures WHERE subject=?",
                          (op.subject,)).rowcount != 1:
                raise SideOpRefused(index, NotFound(NO_ERASURE))
        elif isinstance(op, AddHold):
            db.execute("INSERT INTO legal_holds VALUES (?,?,?,?)",
                       (op.subject, op.until, op.basis, op.created))
        elif isinstance(op, EndHolds):
            db.execute("DELETE FROM legal_holds WHERE subject=? AND basis=? AND until > ?",
                       (op.subject, op.basis, op.now))
        else:
            if not db.execute("DELETE FROM legal_holds WHERE subject=? AND until > ?",
                              (op.subject, op.now)).rowcount:
                raise SideOpRefused(index, NotFound(NO_HOLD))
            db.execute("UPDATE pending_erasures SET due=?, basis=? WHERE subject=?",
                       (op.now, HOLD_RELEASED, op.subject))

    # -- authority requests ----------------------------------------------------------------
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
