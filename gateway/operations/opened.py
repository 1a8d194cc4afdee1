"""The operation a hook opened, as the record holds it: its intent, and its outcome if one is
recorded. The order hook reads it to answer a retry of a hook left open; recovery reads it to
find the operations a crash left without an outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.record import Kind
from gateway.record.entry import Entry, decode
from gateway.record.entry_data import CancelIntentData, CancelOutcomeData, IntentData, OutcomeData

if TYPE_CHECKING:
    from gateway.record import Record
    from gateway.record.rows import HookRow, Row

#: The kind of outcome each kind of intent waits for.
OUTCOME_OF = {Kind.INTENT: Kind.OUTCOME, Kind.CANCEL_INTENT: Kind.CANCEL_OUTCOME}


async def operation(record: Record, hook: HookRow,
                    ) -> tuple[Row, Entry, Entry | None] | None:
    """The operation ``hook`` opened: its intent (row and entry) and its outcome entry, if
    recorded; None if the record holds no intent of the hook."""
    rows = [(row, decode(row.body)) for row in await record.disclosure_entries(
        hook.disclosure)]
    found = next(((r, d) for r, d in reversed(rows)
                  if isinstance(d.data, IntentData | CancelIntentData)
                  and d.data.webhook_id == hook.webhook_id), None)
    if found is None:
        return None
    row, intent = found
    outcome = next((d for _, d in rows if d.kind == OUTCOME_OF[intent.kind]
                    and isinstance(d.data, OutcomeData | CancelOutcomeData)
                    and d.data.intent == intent.seq), None)
    return row, intent, outcome
