"""What a reviewer sees to trust an entry: its RFC 9162 inclusion proof against the latest signed
checkpoint, checked here, and the latest checkpoint's own status.

The proof is the RFC's audit path (section 2.1.3.1), built from the leaves the store holds, and
checked with ``merkle.verify_inclusion`` (2.1.3.2) against the root the checkpoint signature
vouches for; the leaf is recomputed from the entry's body. So a changed body, a changed leaf or
a changed neighbour all fail the check.

The record keeps the hash of every complete perfect subtree of ``merkle.SUBTREE_MIN`` leaves or
more (written with the batch that completes it), so a proof reads a few dozen of those and at
most a few hundred leaves, from a cold start as later; a source without them (a list of leaves)
is hashed leaf by leaf, and hashes of subtrees of ``CHUNK`` leaves or more are kept once computed
from the leaves: MTH(D[a:b]) depends on leaves a..b-1 only, which an append-only record never
changes. A stored hash that was changed makes the proof fail its check against the signed root;
the proof is then built again from the leaves alone, so the changed hash is ignored, never
served (``Prover.checked_path``). The checkpoint status never uses them: it rehashes every leaf,
so it also catches a changed leaf.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import attrs
import structlog

from gateway.record import Record
from gateway.record.checkpoint import CheckpointInvalid, Verifier, parse_and_verify
from gateway.record.entry import leaf_of
from gateway.record.merkle import (
    SUBTREE_MIN,
    consistency_ranges,
    inclusion_ranges,
    node_hash,
    root,
    split,
    subtree_hash,
    verify_inclusion,
)
from gateway.record.rows import Row

ALGORITHM: Final = "RFC 9162 section 2.1.3 (inclusion proof), checked as in 2.1.3.2"
CHUNK: Final = 1 << 12
_MEMO_MAX: Final = 1 << 16
T = TypeVar("T")

log = structlog.get_logger("gateway.record")


class Leaves(Protocol):
    """Where a proof's leaves come from: the record (or, in tests, a list of leaf hashes)."""

    async def leaves(self, start: int, end: int) -> list[bytes]: ...


@runtime_checkable
class Subtrees(Protocol):
    """A source that also keeps hashes of perfect subtrees (the record: ``subtrees``)."""

    async def subtrees(self, ranges: Sequence[tuple[int, int]],
                       ) -> dict[tuple[int, int], bytes]: ...


class Prover:
    """Builds RFC 9162 audit paths over the record's leaves, remembering large subtree hashes.
    Its hashing runs on a thread of its own: never the default executor, the record writer's
    or the password pool's, so proofs and logins, hooks and proofs do not queue behind each
    other."""

    def __init__(self) -> None:
        #: Hashes of ranges of ``CHUNK`` leaves or more computed from the leaves alone (never
        #: from stored subtree hashes, which may be wrong).
        self._memo: dict[tuple[int, int], bytes] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proofs")
        #: Set once a path from the stored subtree hashes failed its check where the one from
        #: the leaves held: this prover reads the leaves from then on.
        self._distrusted = False

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        """``fn(*args)`` on the prover's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _missing(self, start: int, end: int, out: list[tuple[int, int]],
                 stored: dict[tuple[int, int], bytes], chunk: int) -> None:
        """The leaf ranges (at most ``chunk`` long) needed to hash [start, end)."""
        if (start, end) in self._memo or (start, end) in stored:
            return
        if end - start <= chunk:
            out.append((start, end))
            return
        k = split(end - start)
        self._missing(start, start + k, out, stored, chunk)
        self._missing(start + k, end, out, stored, chunk)

    def _perfect(self, start: int, end: int, out: list[tuple[int, int]]) -> None:
        """The perfect subtrees of SUBTREE_MIN leaves or more, not yet remembered, that the
        hash of [start, end) is made of (the largest of each branch)."""
        n = end - start
        if (start, end) in self._memo or n < SUBTREE_MIN:
            return
        if n & (n - 1) == 0:
            out.append((start, end))
            return
        k = split(n)
        self._perfect(start, start + k, out)
        self._perfect(start + k, end, out)

    def _hash(self, start: int, end: int, leaves: dict[int, Sequence[bytes]],
              stored: dict[tuple[int, int], bytes], chunk: int) -> bytes:
        known = self._memo.get((start, end)) or stored.get((start, end))
        if known is not None:
            return known
        if end - start <= chunk:
            digest = subtree_hash(0, end - start, leaves[start])
        else:
            k = split(end - start)
            digest = node_hash(self._hash(start, start + k, leaves, stored, chunk),
                               self._hash(start + k, end, leaves, stored, chunk))
        if end - start < CHUNK or stored:
            return digest
        if len(self._memo) >= _MEMO_MAX:
            self._memo.clear()
        self._memo[(start, end)] = digest
        return digest

    async def path(self, source: Leaves, index: int, size: int, *,
                   stored: bool = True) -> list[bytes]:
        """PATH(index, D[size]) over the leaves ``source`` holds; with ``stored`` false, from
        its leaves alone even where it keeps subtree hashes."""
        if not 0 <= index < size:
            raise ValueError(f"no leaf {index} in a tree of {size}")
        return await self._hashes(source, inclusion_ranges(index, size), stored=stored)

    async def checked_path(self, source: Leaves, leaf: bytes, index: int, size: int,
                           root_hash: bytes) -> tuple[list[bytes], bool]:
        """PATH(index, D[size]) and whether it leads from ``leaf`` to ``root_hash``. A path
        built from stored subtree hashes that fails is built again from the leaves alone: a
        changed stored hash is then ignored (and no longer used by this prover), never served
        as the proof; a changed leaf still fails."""
        from_stored = self._uses_stored(source)
        path = await self.path(source, index, size)
        if verify_inclusion(leaf, index, size, path, root_hash):
            return path, True
        if not from_stored:
            return path, False
        from_leaves = await self.path(source, index, size, stored=False)
        if not verify_inclusion(leaf, index, size, from_leaves, root_hash):
            return path, False
        log.warning("proof.stored_subtree_refused", index=index, size=size)
        self._distrusted = True
        return from_leaves, True

    def _uses_stored(self, source: Leaves) -> bool:
        return not self._distrusted and isinstance(source, Subtrees)

    async def consistency(self, source: Leaves, old: int, new: int) -> list[bytes]:
        """PROOF(old, D[new]) over the leaves ``source`` holds (empty for 0 or ``new``)."""
        if not 0 <= old <= new:
            raise ValueError(f"no consistency from {old} to {new}")
        return await self._hashes(source, consistency_ranges(old, new), stored=True)

    async def _hashes(self, source: Leaves, siblings: list[tuple[int, int]], *,
                      stored: bool) -> list[bytes]:
        """MTH of each range in ``siblings``: from the subtree hashes the store keeps, if it
        keeps them (and ``stored``), and the leaves of what is neither kept there nor
        remembered here."""
        kept: dict[tuple[int, int], bytes] = {}
        chunk = CHUNK
        if stored and self._uses_stored(source):
            assert isinstance(source, Subtrees)
            wanted: list[tuple[int, int]] = []
            for start, end in siblings:
                self._perfect(start, end, wanted)
            kept = await source.subtrees(wanted) if wanted else {}
            chunk = SUBTREE_MIN
        needed: list[tuple[int, int]] = []
        for start, end in siblings:
            self._missing(start, end, needed, kept, chunk)
        leaves: dict[int, Sequence[bytes]] = {}
        for start, end in _merge(needed):
            fetched = await source.leaves(start, end)
            if len(fetched) != end - start:
                raise LookupError("the record holds fewer leaves than the tree needs")
            for a, b in needed:
                if start <= a and b <= end:
                    leaves[a] = fetched[a - start:b - start]
        return await self.run(
            lambda: [self._hash(a, b, leaves, kept, chunk) for a, b in siblings])


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


@attrs.frozen
class Inclusion:
    index: int
    tree_size: int
    leaf_hash: str
    root: str
    path: tuple[str, ...]
    origin: str
    signed_at: str
    verified: bool
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "path": list(self.path), "algorithm": ALGORITHM}


async def check_inclusion(record: Record, verifiers: Sequence[Verifier], row: Row,
                          prover: Prover) -> Inclusion:
    """Prove and check ``row`` under the latest checkpoint; an entry newer than it gets a fresh
    checkpoint signed first (the record signs them anyway, this only does it sooner)."""
    latest = await record.latest_checkpoint_row()
    if latest is None or latest.size <= row.seq:
        await record.checkpoint()
        latest = await record.latest_checkpoint_row()
    assert latest is not None
    leaf = leaf_of(row.body)

    def refuse(problem: str, size: int = latest.size, root_hex: str = "",
               origin: str = "") -> Inclusion:
        return Inclusion(index=row.seq, tree_size=size, leaf_hash=leaf.hex(), root=root_hex,
                         path=(), origin=origin, signed_at=latest.time, verified=False,
                         problem=problem)

    try:
        checkpoint = parse_and_verify(latest.note, verifiers)
    except CheckpointInvalid as exc:
        return refuse(f"the latest checkpoint does not verify ({exc.detail})")
    where = (checkpoint.size, checkpoint.root.hex(), checkpoint.origin)
    if leaf != row.leaf:
        return refuse("the entry's body does not hash to its stored leaf", *where)
    try:
        path, ok = await prover.checked_path(record, leaf, row.seq, checkpoint.size,
                                             checkpoint.root)
    except LookupError:
        return refuse("the record holds fewer entries than its checkpoint covers", *where)
    return Inclusion(index=row.seq, tree_size=checkpoint.size, leaf_hash=leaf.hex(),
                     root=checkpoint.root.hex(), path=tuple(p.hex() for p in path),
                     origin=checkpoint.origin, signed_at=latest.time, verified=ok,
                     problem=None if ok else "the proof does not lead to the signed root")


async def checkpoint_status(record: Record, verifiers: Sequence[Verifier], *, prover: Prover,
                            now: float | None = None) -> dict[str, Any]:
    """The latest checkpoint: verified with the public keys, its size and age, and whether the
    record's first ``size`` entries still hash to its root (every leaf rehashed)."""
    latest = await record.latest_checkpoint_row()
    size, _ = await record.head()
    if latest is None:
        return {"present": False, "verified": False, "record_size": size,
                "problem": "no checkpoint has been signed yet"}
    signed = datetime.fromisoformat(latest.time).timestamp()
    status: dict[str, Any] = {
        "present": True, "size": latest.size, "signed_at": latest.time,
        "age_seconds": round((time.time() if now is None else now) - signed, 1),
        "record_size": size, "note": latest.note,
    }
    try:
        checkpoint = parse_and_verify(latest.note, verifiers)
    except CheckpointInvalid as exc:
        return {**status, "verified": False, "problem": exc.detail}
    leaves = await record.leaves(0, checkpoint.size)
    matches = len(leaves) == checkpoint.size and (
        await prover.run(root, leaves)) == checkpoint.root
    return {**status, "verified": True, "origin": checkpoint.origin,
            "root": checkpoint.root.hex(), "keys": sorted({v.name for v in verifiers}),
            "matches_record": matches,
            "problem": None if matches else "the record's entries no longer hash to this root"}
