"""The state changes a draft's side operation makes beside its entry (authority requests,
deferred erasures, legal holds, staff accounts), planned once for both stores.

``steps(op)`` turns one change into statements in the shared placeholder style (see
``statements``); each store runs them, in order, inside the open batch transaction, and when a
step's ``holds`` refuses the count of rows it touched, refuses the draft with ``refusal``
(SideOpRefused: nothing of the batch is kept).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from gateway.errors import Conflict, GatewayError, NotFound, RecordError
from gateway.record.rows import (
    HOLD_KEPT,
    HOLD_RELEASED,
    NO_ERASURE,
    NO_HOLD,
    AddHold,
    AddStaff,
    CancelErasure,
    CaseOp,
    DeferErasure,
    DisableStaff,
    EndHolds,
    PutRequest,
    ReleaseHolds,
    staff_taken,
    staff_unknown,
)

__all__ = ["Step", "steps"]


def _one(count: int) -> bool:
    return count == 1


def _some(count: int) -> bool:
    return count > 0


def _none(count: int) -> bool:
    return count == 0


@attrs.frozen
class Step:
    sql: str
    args: tuple[Any, ...]
    #: Whether the number of rows the statement touched lets the draft stand.
    holds: Callable[[int], bool] | None = None
    refusal: GatewayError | None = None

    def refused(self, count: int) -> GatewayError | None:
        """The error refusing the draft when ``count`` rows do not satisfy ``holds``."""
        if self.holds is None or self.holds(count):
            return None
        return self.refusal


def steps(op: CaseOp) -> list[Step]:
    """The statements of one state change, in order."""
    if isinstance(op, PutRequest):
        if op.expected is None:
            return [Step("INSERT INTO authority_requests VALUES (?, ?, ?, ?)",
                         (op.request_id, op.state, op.deadline, op.doc))]
        return [Step("UPDATE authority_requests SET state = ?, doc = ? WHERE id = ? "
                     "AND state = ?", (op.state, op.doc, op.request_id, op.expected), _one,
                     RecordError(f"request {op.request_id} is no longer {op.expected}"))]
    if isinstance(op, DeferErasure):
        return [Step("INSERT INTO pending_erasures VALUES (?, ?, ?, ?) ON CONFLICT (subject) "
                     "DO UPDATE SET due = excluded.due, basis = excluded.basis",
                     (op.subject, op.requested, op.due, op.basis))]
    if isinstance(op, CancelErasure):
        return [Step("DELETE FROM pending_erasures WHERE subject = ?", (op.subject,), _one,
                     NotFound(NO_ERASURE))]
    if isinstance(op, AddHold):
        return [Step("INSERT INTO legal_holds VALUES (?, ?, ?, ?)",
                     (op.subject, op.until, op.basis, op.created))]
    if isinstance(op, EndHolds):
        return [Step("DELETE FROM legal_holds WHERE subject = ? AND basis = ? AND until > ?",
                     (op.subject, op.basis, op.now))]
    if isinstance(op, ReleaseHolds):
        kept = [] if not op.kept else [Step(
            # Touches (without changing) a kept hold still running: the release is refused,
            # decided inside the transaction that would end the holds.
            "UPDATE legal_holds SET until = until WHERE subject = ? AND until > ? "
            "AND substr(basis, 1, ?) = ?", (op.subject, op.now, len(op.kept), op.kept),
            _none, Conflict(HOLD_KEPT))]
        return [*kept,
                Step("DELETE FROM legal_holds WHERE subject = ? AND until > ?",
                     (op.subject, op.now), _some, NotFound(NO_HOLD)),
                Step("UPDATE pending_erasures SET due = ?, basis = ? WHERE subject = ?",
                     (op.now, HOLD_RELEASED, op.subject))]
    if isinstance(op, AddStaff):
        return [Step("INSERT INTO staff VALUES (?, ?, ?, false, ?) ON CONFLICT DO NOTHING",
                     (op.username, op.password, ",".join(op.roles), op.created), _one,
                     Conflict(staff_taken(op.username)))]
    unknown = NotFound(staff_unknown(op.username))
    end_sessions = Step("DELETE FROM staff_sessions WHERE username = ?", (op.username,))
    if isinstance(op, DisableStaff):
        # Disabling an account ends its sessions.
        return [Step("UPDATE staff SET disabled = true WHERE username = ?", (op.username,),
                     _one, unknown), end_sessions]
    change = Step(
        "UPDATE staff SET roles = COALESCE(?, roles), password = COALESCE(?, password), "
        "disabled = disabled AND NOT ? WHERE username = ?",
        (None if op.roles is None else ",".join(op.roles), op.password, op.enable,
         op.username), _one, unknown)
    # A new password ends the account's sessions.
    return [change] if op.password is None else [change, end_sessions]
