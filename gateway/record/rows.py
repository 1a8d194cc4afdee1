"""What the stores write beside an entry in its transaction (side operations) and what they
hand back (rows). Shared by the SQLite and PostgreSQL stores."""

from __future__ import annotations

import attrs

__all__ = ["HookOp", "HookRow", "KeyErasure", "NewKey", "PolicyGuard", "Row", "SideOp",
           "SideOps"]


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


@attrs.frozen
class PolicyGuard:
    """Append a policy version only if no other was recorded after position ``after`` (-1:
    none at all) meanwhile: of gateways starting at once with the same new policy, one records
    it; the others' drafts are refused (PolicyRecorded) and they read what was recorded."""

    after: int


@attrs.frozen
class SideOps:
    """Several side operations for one entry."""

    ops: tuple[HookOp | KeyErasure | NewKey | PolicyGuard, ...]


SideOp = HookOp | KeyErasure | NewKey | PolicyGuard | SideOps


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
