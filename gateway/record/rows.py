"""What the stores write beside an entry in its transaction (side operations) and what they
hand back (rows). Shared by the SQLite and PostgreSQL stores."""

from __future__ import annotations

import attrs

__all__ = [
    "HOLD_KEPT",
    "HOLD_RELEASED",
    "NO_ERASURE",
    "NO_HOLD",
    "AddHold",
    "AddStaff",
    "CancelErasure",
    "CaseOp",
    "ChangeStaff",
    "DeferErasure",
    "DisableStaff",
    "EndHolds",
    "HookOp",
    "HookRow",
    "KeyErasure",
    "NewKey",
    "OneOp",
    "PolicyGuard",
    "PutRequest",
    "ReleaseHolds",
    "Row",
    "SideOp",
    "SideOps",
    "staff_taken",
    "staff_unknown",
]


@attrs.frozen
class HookOp:
    """Idempotency bookkeeping written in the same transaction as an entry.

    ``status`` None opens the hook (pending); a status closes it with its answer, sealed under
    the key of ``subject``, or, with ``subject`` None, in the clear (an answer holding no
    personal value, for a customer erased before the outcome).
    """

    webhook_id: str
    disclosure: str
    subject: str | None = None
    status: int | None = None
    answer: bytes | None = None
    #: Close only a hook still open (recovery): if another process answered it meanwhile, the
    #: entry is refused (HookTaken) rather than recorded twice.
    if_open: bool = False


@attrs.frozen
class KeyErasure:
    """Delete a subject's key in the same transaction as the erasure entry that records it."""

    subject: str


@attrs.frozen(repr=False)
class NewKey:
    """Store a subject's first data key in the same transaction as the entry sealed with it.

    Inserted if the subject has no key; if another writer stored a different one meanwhile,
    the batch fails (nothing sealed with a key that is not kept can be committed)."""

    subject: str
    wrapped: bytes
    time: str

    def __repr__(self) -> str:
        return "NewKey(...)"


#: Refusals of a release, and the basis a deferred erasure takes when its holds are released.
NO_HOLD = "no legal hold runs on that customer; nothing was changed"
NO_ERASURE = "no erasure is pending for that customer; nothing was changed"
HOLD_RELEASED = "hold released"
#: Why a release is refused while a hold it may not end runs.
HOLD_KEPT = ("a hold on the customer's values ends only through its own workflow (a "
             "preservation order's: its authority request); nothing was changed or recorded")



def staff_taken(username: str) -> str:
    return f"there is already a staff account {username}"


def staff_unknown(username: str) -> str:
    return f"no staff account {username}"


# -- state changes the record vouches for: each is committed with the entry recording it, or
# -- not at all. A conditional one that no longer holds refuses its entry (SideOpRefused).


@attrs.frozen(repr=False)
class PutRequest:
    """Insert an authority request (``expected`` None), or move it from state ``expected``;
    if it is no longer in that state (another caller moved it), the entry is refused."""

    request_id: str
    state: str
    deadline: str
    doc: bytes
    expected: str | None = None

    def __repr__(self) -> str:
        return f"PutRequest({self.request_id!r}, {self.expected!r} -> {self.state!r})"


@attrs.frozen
class DeferErasure:
    """Record (or move the due time of) a subject's deferred erasure."""

    subject: str
    requested: str
    due: str
    basis: str


@attrs.frozen
class CancelErasure:
    """Drop a subject's deferred erasure; refused if none is pending."""

    subject: str


@attrs.frozen
class AddHold:
    """Place a legal hold on a subject's values."""

    subject: str
    until: str
    basis: str
    created: str


@attrs.frozen
class ReleaseHolds:
    """End every hold on ``subject`` still running at ``now`` (refused if none runs); a
    deferred erasure waiting on them falls due at ``now``. With ``kept``, refused while a hold
    whose basis begins with it runs (one that ends only through its own workflow)."""

    subject: str
    now: str
    kept: str = ""


@attrs.frozen
class EndHolds:
    """End the holds on ``subject`` placed on ``basis`` and still running at ``now`` (one
    preservation order's), leaving any other; never refused (a customer it held nothing of)."""

    subject: str
    basis: str
    now: str


@attrs.frozen(repr=False)
class AddStaff:
    """Create a staff account (``password`` is the KDF string); refused if the name is taken."""

    username: str
    password: str
    roles: tuple[str, ...]
    created: str

    def __repr__(self) -> str:
        return f"AddStaff({self.username!r}, roles={self.roles!r})"


@attrs.frozen
class DisableStaff:
    """Disable an account and end its sessions; refused if there is no such account."""

    username: str


@attrs.frozen(repr=False)
class ChangeStaff:
    """Replace an account's roles, set its password (the KDF string; a new one ends its
    sessions) or enable it again; refused if there is no such account."""

    username: str
    roles: tuple[str, ...] | None = None
    password: str | None = None
    enable: bool = False

    def __repr__(self) -> str:
        return f"ChangeStaff({self.username!r}, roles={self.roles!r}, enable={self.enable})"


@attrs.frozen
class PolicyGuard:
    """Append a policy version only if no other was recorded after position ``after`` (-1:
    none at all) meanwhile: of gateways starting at once with the same new policy, one records
    it; the others' drafts are refused (PolicyRecorded) and they read what was recorded."""

    after: int


CaseOp = (PutRequest | DeferErasure | CancelErasure | AddHold | ReleaseHolds | EndHolds
          | AddStaff | DisableStaff | ChangeStaff)
OneOp = HookOp | KeyErasure | NewKey | PolicyGuard | CaseOp


@attrs.frozen
class SideOps:
    """Several side operations for one entry, applied in order."""

    ops: tuple[OneOp, ...]


SideOp = OneOp | SideOps


@attrs.frozen
class HookRow:
    webhook_id: str
    disclosure: str
    subject: str | None
    status: int | None
    answer: bytes | None


@attrs.frozen
class Row:
    seq: int
    body: bytes
    leaf: bytes
    sealed: bytes | None
