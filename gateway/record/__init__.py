"""The append-only, tamper-evident disclosure record, and the only door to its storage.

``record``: ``Record``, what services call (group commit from one writer task, subject keys,
hooks, side operations) and what it answers (``reads``); entries (``entry``: the canonical
body, ``Kind``; ``entry_data``: the data of each kind, typed), sealing of personal values per
subject (``sealing``: the AEAD contexts built in one place), what a store writes beside an entry
and hands back (``rows``) and the values of its read side (``queries``); the Merkle tree
(``merkle``), signed checkpoints (``checkpoint``, ``note_keys``) and inclusion proofs
(``proof``); offline checks over the stored rows (``verify``, ``verify_policy``,
``verify_witnessed``, ``audit``, ``policy_versions``); and the stores behind it (``stores/``),
which nothing outside this package but ``gateway.wiring`` imports."""

from gateway.record.entry import Appended as Appended
from gateway.record.entry import Draft as Draft
from gateway.record.entry import Kind as Kind
from gateway.record.record import Record as Record

__all__ = ["Appended", "Draft", "Kind", "Record"]
