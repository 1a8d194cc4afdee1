"""Entry encoding. An entry's body is canonical JSON (sorted keys, no spaces) holding no personal
values: those are sealed apart, and the body commits to the ciphertext's SHA-256. The RFC 9162
leaf hash is taken over the body, and each body names the previous leaf (a hash chain inside the
Merkle tree), so a deleted or reordered entry shows up even without a checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
import orjson

from gateway.record.merkle import leaf_hash

VERSION = 1
GENESIS = bytes(32)


class Kind:
    """The kinds of entry the record holds."""

    INTENT = "disclosure.intent"
    OUTCOME = "disclosure.outcome"
    #: A cancellation of a booking: what the carrier got is its own ids, no personal field.
    CANCEL_INTENT = "shipment.cancel.intent"
    CANCEL_OUTCOME = "shipment.cancel.outcome"
    ERASURE = "erasure"
    ERASURE_DEFERRED = "erasure.deferred"
    LEGAL_HOLD = "erasure.hold"
    #: A legal hold lifted, or a deferred erasure cancelled, with who and why.
    ERASURE_RELEASED = "erasure.released"
    #: A recipient told of an erasure (GDPR Art. 19): what was planned, then each attempt's
    #: result (sent, written, failed, acknowledged); no personal value in either.
    ERASURE_NOTICE_INTENT = "erasure.notice.intent"
    ERASURE_NOTICE_OUTCOME = "erasure.notice.outcome"
    REVIEW = "review.read"
    STAFF = "staff.changed"
    AUTHORITY_RECEIVED = "authority.received"
    AUTHORITY_APPROVED = "authority.approved"
    AUTHORITY_REJECTED = "authority.rejected"
    AUTHORITY_INTENT = "authority.intent"
    AUTHORITY_DISCLOSURE = "authority.disclosure"
    AUTHORITY_CLOSED = "authority.closed"
    #: The disclosure policy a gateway started with: its canonical document and its hash.
    POLICY = "policy.version"
    #: A request's deadline moved, with the reason.
    AUTHORITY_EXTENDED = "authority.extended"
    #: The shop objected to a request, and how the objection ended.
    AUTHORITY_OBJECTED = "authority.objected"
    AUTHORITY_OBJECTION_RESOLVED = "authority.objection_resolved"
    #: The customer told, the telling deferred, or prohibited.
    AUTHORITY_NOTIFICATION = "authority.notification"
    #: A preservation order's values kept, its period extended, and its end.
    AUTHORITY_PRESERVED = "authority.preserved"
    AUTHORITY_PRESERVATION_ENDED = "authority.preservation_ended"
    #: A production stuck in ``disclosing`` (a crash between intent and outcome) given back.
    AUTHORITY_RELEASED = "authority.released"


@attrs.frozen(repr=False)
class Draft:
    """An entry before the writer gives it a position. ``sealed`` is ciphertext, never plaintext."""

    kind: str
    disclosure: str | None = None
    subject: str | None = None
    order: str | None = None
    recipient: str | None = None
    service: str | None = None
    fields: tuple[str, ...] = ()
    policy: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)
    sealed: bytes | None = None

    def __repr__(self) -> str:
        return f"Draft(kind={self.kind!r}, disclosure={self.disclosure!r})"


@attrs.frozen
class Appended:
    seq: int
    leaf: bytes


def iso_time(moment: datetime) -> str:
    """The record's time format (UTC, milliseconds, ``Z``): entries, keys, holds and requests
    are written, and compared as text, in it."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(draft: Draft, *, seq: int, prev: bytes, time: str) -> bytes:
    """The canonical body of ``draft`` at position ``seq``."""
    body: dict[str, Any] = {
        "v": VERSION,
        "seq": seq,
        "prev": prev.hex(),
        "time": time,
        "kind": draft.kind,
        "disclosure": draft.disclosure,
        "subject": draft.subject,
        "order": draft.order,
        "recipient": draft.recipient,
        "service": draft.service,
        "fields": list(draft.fields),
        "policy": draft.policy,
        "data": dict(draft.data),
        "sealed": None if draft.sealed is None else hashlib.sha256(draft.sealed).hexdigest(),
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def decode(body: bytes) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(body)
    return value


def leaf_of(body: bytes) -> bytes:
    return leaf_hash(body)
