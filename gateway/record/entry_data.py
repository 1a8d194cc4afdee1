"""The ``data`` of an entry, typed per kind, as read back from its body (``entry.decode``).

Each type names the keys the gateway writes for its kind and the readers act on: a key the
gateway always writes is required, one written only sometimes (or only by newer versions) has
a default. Keys not named here are kept in the body (its hash covers them) but not read back;
``entry.document`` shows a body with every key. A kind without a type here (the authority
steps, staff reads, …) reads back as the mapping recorded.
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Data(msgspec.Struct, frozen=True, kw_only=True):
    pass


class _Step(_Data, frozen=True, kw_only=True):
    """Who made a recorded step (``Actor.to_json``)."""

    by: str | None = None
    channel: str | None = None
    os_user: str | None = None


class IntentData(_Data, frozen=True, kw_only=True):
    """``disclosure.intent``: the hook that asked, the policy version checked against (its
    position), ``operation`` "return" for a return label, the add-ons by name."""

    webhook_id: str
    policy_version: int | None = None
    operation: str | None = None
    addons: tuple[str, ...] = ()


class OutcomeData(_Data, frozen=True, kw_only=True):
    """``disclosure.outcome``: the result (booked, or the failure's), the intent's position,
    the label's format and hash when booked, the error's slug otherwise."""

    result: str
    intent: int | None = None
    error: str | None = None
    label_format: str | None = None
    label_sha256: str | None = None
    recovered: bool = False


class CancelIntentData(_Data, frozen=True, kw_only=True):
    """``shipment.cancel.intent``: the hook that asked and the booking's outcome position."""

    webhook_id: str
    booking: int


class CancelOutcomeData(_Data, frozen=True, kw_only=True):
    """``shipment.cancel.outcome``: the result and the cancel intent's position."""

    result: str
    intent: int
    error: str | None = None
    recovered: bool = False


class ErasureData(_Step, frozen=True, kw_only=True):
    """``erasure``: a customer's key deleted, and why."""

    reason: str | None = None


class ErasureDeferredData(_Step, frozen=True, kw_only=True):
    """``erasure.deferred``: an erasure made to wait until ``due`` on a legal ``basis``."""

    due: str
    basis: str
    reason: str | None = None


class LegalHoldData(_Step, frozen=True, kw_only=True):
    """``erasure.hold``: a customer's values held until ``until`` on a legal ``basis``."""

    until: str
    basis: str


class ErasureReleasedData(_Step, frozen=True, kw_only=True):
    """``erasure.released``: a hold lifted or a deferred erasure cancelled (``released``:
    "hold" or "erasure"), when and why. Old entries lack ``at`` (the entry's time then)."""

    released: str | None = None
    reason: str | None = None
    at: str | None = None


class NoticeIntentData(_Data, frozen=True, kw_only=True):
    """``erasure.notice.intent``: a recipient to tell of an erasure (GDPR Art. 19), by which
    channel, about which shipments (disclosure ids), after the erasure at position
    ``erasure``."""

    channel: str = "file"
    shipments: tuple[str, ...] = ()
    erasure: int | None = None
    basis: str | None = None


class NoticeOutcomeData(_Step, frozen=True, kw_only=True):
    """``erasure.notice.outcome``: an attempt's result (sent, written, failed,
    acknowledged) and when."""

    result: str = "failed"
    channel: str | None = None
    at: str | None = None
    attempt: int | None = None
    error: str | None = None


class StaffData(_Step, frozen=True, kw_only=True):
    """``staff.changed``: an account's state after a change. Old entries lack ``enabled``
    (it follows from ``action`` then)."""

    action: str
    username: str
    roles: tuple[str, ...]
    enabled: bool | None = None


class PolicyData(_Data, frozen=True, kw_only=True):
    """``policy.version``: the canonical policy document (origin and each rule's canonical
    form); the entry's ``policy`` is its hash."""

    document: dict[str, Any]


#: An entry's data: its kind's type, or the mapping recorded for a kind without one.
EntryData = (IntentData | OutcomeData | CancelIntentData | CancelOutcomeData | ErasureData
             | ErasureDeferredData | LegalHoldData | ErasureReleasedData | NoticeIntentData
             | NoticeOutcomeData | StaffData | PolicyData | dict[str, Any])
