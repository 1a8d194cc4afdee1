"""Entry encoding. An entry's body is canonical JSON (sorted keys, no spaces) holding no personal
values: those are sealed apart, and the body commits to the ciphertext's SHA-256. The RFC 9162
leaf hash is taken over the body, and each body names the previous leaf (a hash chain inside the
Merkle tree), so a deleted or reordered entry shows up even without a checkpoint.

A body is read back as an ``Entry`` (``decode``): its kind a ``Kind``, its ``data`` typed per
kind (``gateway.record.entry_data``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import attrs
import msgspec
import orjson

from gateway.record.entry_data import (
    CancelIntentData,
    CancelOutcomeData,
    EntryData,
    ErasureData,
    ErasureDeferredData,
    ErasureReleasedData,
    IntentData,
    LegalHoldData,
    NoticeIntentData,
    NoticeOutcomeData,
    OutcomeData,
    PolicyData,
    StaffData,
)
from gateway.record.merkle import leaf_hash

VERSION = 1
GENESIS = bytes(32)


class Kind(StrEnum):
    """The kinds of entry the record holds. A member is its value wherever text is wanted
    (bodies, columns, f-strings), so bodies are the same bytes as when kinds were plain text."""

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


#: The type of each kind's data; a kind not named reads back as the mapping recorded.
DATA: Final[Mapping[Kind, type[Any]]] = {
    Kind.INTENT: IntentData,
    Kind.OUTCOME: OutcomeData,
    Kind.CANCEL_INTENT: CancelIntentData,
    Kind.CANCEL_OUTCOME: CancelOutcomeData,
    Kind.ERASURE: ErasureData,
    Kind.ERASURE_DEFERRED: ErasureDeferredData,
    Kind.LEGAL_HOLD: LegalHoldData,
    Kind.ERASURE_RELEASED: ErasureReleasedData,
    Kind.ERASURE_NOTICE_INTENT: NoticeIntentData,
    Kind.ERASURE_NOTICE_OUTCOME: NoticeOutcomeData,
    Kind.STAFF: StaffData,
    Kind.POLICY: PolicyData,
}


@attrs.frozen(repr=False)
class Draft:
    """An entry before the writer gives it a position. ``sealed`` is ciphertext, never plaintext."""

    kind: str  # a Kind
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


class Head(msgspec.Struct, frozen=True):
    """The members every body holds besides its data, its sealed value's hash and its version:
    one list for each way a body is read."""

    seq: int
    prev: str
    time: str
    kind: Kind
    disclosure: str | None
    subject: str | None
    order: str | None
    recipient: str | None
    service: str | None
    fields: tuple[str, ...]
    policy: str | None


class _Body(Head, frozen=True):
    """A body as stored; ``data`` is decoded in a second step, by the type of its kind."""

    data: msgspec.Raw
    sealed: str | None
    v: int


class Entry(Head, frozen=True, repr_omit_defaults=True):
    """An entry as read back from its body. ``data`` is the kind's type from
    ``entry_data.DATA``, or for a kind with none the mapping as recorded; ``sealed`` is the hex
    SHA-256 the body commits to (the ciphertext is stored beside it), None if nothing is."""

    data: EntryData
    sealed: str | None
    v: int = VERSION

    def __repr__(self) -> str:
        return f"Entry(seq={self.seq}, kind={self.kind.value!r})"


class Malformed(ValueError):
    """A body that does not decode as an entry: not JSON, a field missing or of the wrong
    type, an unknown kind, or data that is no JSON object."""


_BODY: Final = msgspec.json.Decoder(_Body)
_DATA: Final = {kind: msgspec.json.Decoder(DATA.get(kind, dict[str, Any])) for kind in Kind}


_MAPPING: Final = msgspec.json.Decoder(dict[str, Any])


def decode(body: bytes) -> Entry:
    """The entry ``body`` holds; Malformed if it holds none. Data not of its kind's shape (an
    entry written before a key was, or by hand) reads back as the mapping recorded, as the data
    of a kind without a type does: readers test for their type and pass such data by."""
    try:
        b = _BODY.decode(body)
        try:
            data = _DATA[b.kind].decode(b.data)
        except msgspec.ValidationError:
            data = _MAPPING.decode(b.data)
    except msgspec.MsgspecError as exc:
        raise Malformed(str(exc)) from None
    return Entry(b.seq, b.prev, b.time, b.kind, b.disclosure, b.subject, b.order, b.recipient,
                 b.service, b.fields, b.policy, data, b.sealed, b.v)


def document(body: bytes) -> dict[str, Any]:
    """The body as the JSON object it is, every key as signed: for showing an entry as it was
    recorded. Readers that act on an entry use ``decode``."""
    value: dict[str, Any] = orjson.loads(body)
    return value


def leaf_of(body: bytes) -> bytes:
    return leaf_hash(body)
