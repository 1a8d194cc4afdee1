"""What an operation answers its hook, and what each carrier failure means for the operation.

An answer is kept with the hook (sealed, or in the clear when it holds no personal value) so
a retry of the hook gets the first answer again. The table ``RESULTS`` is the one place a
carrier failure becomes the result an outcome entry records and an answer states; ``STATUS``
is the hook status each recorded result answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from gateway.errors import (
    TYPE_BASE,
    CarrierError,
    CarrierOutcomeUnknown,
    CarrierRejected,
    CarrierUnavailable,
)
from gateway.record.entry import Entry
from gateway.record.entry_data import OutcomeData

#: What each carrier failure means for the operation, as written in its outcome entry:
#: refused by the carrier, provably never sent, or sent with no answer.
RESULTS: Mapping[type[CarrierError], str] = {
    CarrierRejected: "rejected",
    CarrierUnavailable: "not_sent",
    CarrierOutcomeUnknown: "unknown",
}
#: The hook status each recorded result answers.
STATUS = {"booked": 201, "cancelled": 200, "rejected": 502, "not_sent": 503, "unknown": 504}


def result_of(error: CarrierError) -> str:
    """The recorded result of an operation the carrier failed with ``error``."""
    return next(result for kind, result in RESULTS.items() if isinstance(error, kind))


@attrs.frozen(repr=False)
class Answer:
    """What the hook answers; kept sealed for idempotent retries."""

    status: int
    body: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"Answer(status={self.status})"

    @property
    def retryable(self) -> bool:
        """Nothing was booked and a retry may try again."""
        return self.body.get("result") == "not_sent"

    def in_clear(self) -> bytes:
        """The answer as a hook keeps it when it holds no personal value (not sealed)."""
        return orjson.dumps({"status": self.status, "body": dict(self.body)})


def recorded_answer(intent: Entry, outcome: Entry) -> Answer:
    """The answer a recorded outcome gives, from its metadata alone (no personal value): for
    a hook whose outcome was written but whose answer was not kept."""
    data = outcome.data if isinstance(outcome.data, OutcomeData) else None
    result = str(None if data is None else data.result)
    status = STATUS.get(result, 500)
    body: dict[str, Any] = {
        "disclosure_id": outcome.disclosure, "order_id": outcome.order,
        "carrier": outcome.recipient, "service": outcome.service,
        "fields": list(outcome.fields), "result": result,
        "record": {"intent": intent.seq}, "values_erased": True,
    }
    if status >= 400:  # noqa: PLR2004 - a problem, as the first answer was
        error = None if data is None else data.error
        body = {"type": TYPE_BASE + (error if error is not None else "carrier-error"),
                "title": "Recorded outcome", "status": status,
                "detail": f"the record holds this disclosure's outcome: {result}", **body}
    return Answer(status=status, body=body)
