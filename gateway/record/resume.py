"""Taking up the record's tree on open, as a signed checkpoint vouches for it, without reading
every leaf: its frontier from the stored subtree hashes, checked against the checkpoint's
signed root, then the entries after it from their leaves.

The writer never signs over a tree it did not check: stored hashes that disagree are ignored
for the leaves, and leaves that disagree too refuse the record (RecordCorrupt). The vouching
checkpoint is the larger of the database's newest that verifies with the log's keys and the one
kept in the witness file (which the database cannot roll back or delete); each is checked. With
neither, nothing stored is trusted and the store reads every leaf.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from gateway.errors import RecordCorrupt
from gateway.record.checkpoint import Checkpoint, CheckpointInvalid, Verifier, parse_and_verify
from gateway.record.merkle import CompactRange
from gateway.record.stores.contract import Store

log = structlog.get_logger("gateway.record")


async def resume(store: Store, verifiers: Sequence[Verifier], origin: str,
                 witness: Path | None) -> tuple[int, str] | None:
    """Take up ``store``'s tree where the newest checked checkpoint left it; returns the
    database's newest stored checkpoint (size, note), as read for it."""
    vouched: list[tuple[Checkpoint, str]] = []
    latest = await store.latest_checkpoint()
    if latest is not None:
        try:
            vouched.append((parse_and_verify(latest[1], verifiers, origin=origin),
                            "its latest signed checkpoint"))
        except CheckpointInvalid:
            log.warning("record.checkpoint_unverified", size=latest[0])
    if witness is not None and witness.exists():
        # A record that lost or changed entries this one covered (a torn or rolled-back
        # database) is refused by ``_checked_tree``.
        kept = parse_and_verify(witness.read_text(encoding="utf-8"), verifiers)
        if not any((c.size, c.root) == (kept.size, kept.root) for c, _ in vouched):
            vouched.append((kept, "its last checkpoint"))  # the same one is checked once
    trees = [(signed.size, await _checked_tree(store, signed, which))
             for signed, which in vouched]
    if trees:
        _, (tree, newest) = max(trees, key=lambda sized: sized[0])
        await store.resume(tree, newest)
    return latest


async def _checked_tree(store: Store, signed: Checkpoint, which: str,
                        ) -> tuple[CompactRange, bytes]:
    """The tree of the first ``signed.size`` entries (and the newest of their leaves) with the
    root ``signed`` vouches for: from the stored subtree hashes if they give it, else from every
    leaf; RecordCorrupt if neither does."""
    resumed = await store.tree_at(signed.size)
    if resumed is not None and resumed[0].root() == signed.root:
        return resumed
    rebuilt = await store.tree_at(signed.size, stored=False)
    if rebuilt is not None and rebuilt[0].root() == signed.root:
        log.warning("record.stored_subtrees_ignored", size=signed.size)
        return rebuilt
    size, _ = await store.head()
    if size < signed.size:
        raise RecordCorrupt(
            f"the record holds {size} entries but {which} covers {signed.size}: it was "
            "truncated or rolled back; refusing to use it")
    raise RecordCorrupt(
        f"the record's first {signed.size} entries do not match {which}; refusing to use it")
