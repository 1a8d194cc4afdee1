"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing with SHA-256.

Leaves are hashed as ``SHA-256(0x00 || data)`` and interior nodes as ``SHA-256(0x01 || left ||
right)``; the empty tree's root is ``SHA-256("")``. Proofs are the RFC's own, generated as in
sections 2.1.3.1 and 2.1.4.1 and checked with the bit-shifting algorithms of 2.1.3.2 and 2.1.4.2.
There is no other kind of proof here on purpose: an unchecked home-made "linear proof" was
immudb's CVE-2022-36111.

Everything is pure and takes leaf *hashes*. Proof generation reads leaves one at a time by index
(``leaf_hashes[i]``), so a store may pass a lazy ``Sequence`` rather than a list in memory.
"""

from __future__ import annotations

from hashlib import sha256
from typing import TYPE_CHECKING, Final

from gateway.errors import RecordCorrupt

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "SUBTREE_MIN",
    "CompactRange",
    "consistency_proof",
    "consistency_ranges",
    "frontier_ranges",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "root",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = sha256(b"").digest()

_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"
_SIZE_BYTES: Final = 8
#: The smallest perfect subtree a store keeps the hash of (one tlog tile of leaves): a proof
#: then hashes at most this many leaves per sibling, whatever the record's size.
SUBTREE_MIN: Final = 256


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one entry."""
    return sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node."""
    return sha256(_NODE + left + right).digest()


def split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n > 1): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTH make up PATH(index, D[size]) (RFC 9162 2.1.3.1), leaf-first."""
    ranges = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = split(end - start)
        if m < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m = start + k, m - k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTH make up PROOF(old, D[new]) (RFC 9162 2.1.4.1), in proof
    order; none for an empty old tree or ``old == new``."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency from {old} to {new}")
    if old in (0, new):
        return []
    ranges = []
    start, end, m, whole = 0, new, old, True
    while m != end - start:
        k = split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def frontier_ranges(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees [0, size) splits into, largest first: the ranges whose MTH a
    ``CompactRange`` of ``size`` leaves keeps (one per set bit of ``size``)."""
    ranges = []
    start = 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            ranges.append((start, start + (1 << bit)))
            start += 1 << bit
    return ranges


def fold(frontier: Sequence[bytes]) -> bytes:
    """The root of a tree whose perfect subtrees, left to right, have the hashes ``frontier``."""
    if not frontier:
        return EMPTY_ROOT
    acc = frontier[-1]
    for left in reversed(frontier[:-1]):
        acc = sha256(_NODE + left + acc).digest()
    return acc


def subtree_hash(start: int, end: int, leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[start:end]): the root of the tree over ``leaf_hashes[start:end]``.

    Reads the leaves one by one and keeps only the O(log n) frontier.
    """
    if not 0 <= start <= end <= len(leaf_hashes):
        raise ValueError(f"no range [{start}, {end}) in {len(leaf_hashes)} leaves")
    frontier: list[bytes] = []
    for done in range(end - start):
        h = leaf_hashes[start + done]
        merges = done
        while merges & 1:
            h = sha256(_NODE + frontier.pop() + h).digest()
            merges >>= 1
        frontier.append(h)
    return fold(frontier)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]): the root of the tree over all of ``leaf_hashes``."""
    return subtree_hash(0, len(leaf_hashes), leaf_hashes)


# -- inclusion: RFC 9162 section 2.1.3 ------------------------------------------------------------


def inclusion_proof(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 2.1.3.1), over the first ``size`` of ``leaf_hashes``.

    With k the largest power of two below n, PATH(m, D[n]) is PATH(m, D[0:k]) followed by
    MTH(D[k:n]) when m < k, else PATH(m - k, D[k:n]) followed by MTH(D[0:k]). Walking down from
    the top meets the siblings top-first; the proof lists them leaf-first.
    """
    if not 0 <= index < size <= len(leaf_hashes):
        raise ValueError(f"no leaf {index} in a tree of {size} (of {len(leaf_hashes)} leaves)")
    proof: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = split(end - start)
        if m < k:
            proof.append(subtree_hash(start + k, end, leaf_hashes))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, leaf_hashes))
            start, m = start + k, m - k
    proof.reverse()
    return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf`` at ``index`` in the tree of ``size`` with ``root_hash``.

    The algorithm of RFC 9162 section 2.1.3.2, step by step.
    """
    if not (_is_hash(leaf) and _is_hash(root_hash) and all(_is_hash(p) for p in proof)):
        return False
    # 1. If leaf_index is greater than or equal to tree_size, then stop and fail.
    if not 0 <= index < size:
        return False
    # 2. Set fn to leaf_index and sn to tree_size - 1.  3. Set r to hash.
    fn, sn, r = index, size - 1, leaf
    # 4. For each value p in the inclusion_path array:
    for p in proof:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            r = sha256(_NODE + p + r).digest()
            # If LSB(fn) is not set, then right-shift both fn and sn equally until either
            # LSB(fn) is set or fn reaches zero.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(_NODE + r + p).digest()
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 5. Compare sn to 0. Compare r against the root_hash.
    return sn == 0 and r == root_hash


# -- consistency: RFC 9162 section 2.1.4 ----------------------------------------------------------


def consistency_proof(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[new_size]) (RFC 9162 2.1.4.1), over the first ``new_size`` leaves.

    PROOF(m, D[n]) is SUBPROOF(m, D[n], true). SUBPROOF(m, D[m], b) is empty when b is true and
    MTH(D[m]) otherwise; for m < n, with k the largest power of two below n, it is
    SUBPROOF(m, D[0:k], b) followed by MTH(D[k:n]) when m <= k, else SUBPROOF(m - k, D[k:n],
    false) followed by MTH(D[0:k]).

    The RFC defines proofs for ``0 < old_size < new_size``; an empty tree, or a tree compared with
    itself, is consistent without one, so those cases give the empty proof.
    """
    if not 0 <= old_size <= new_size <= len(leaf_hashes):
        raise ValueError(f"no consistency from {old_size} to {new_size} (of {len(leaf_hashes)})")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = split(end - start)
        if m <= k:
            proof.append(subtree_hash(start + k, end, leaf_hashes))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, leaf_hashes))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(subtree_hash(start, end, leaf_hashes))
    proof.reverse()
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (``old_size``, ``old_root``) is a prefix of
    (``new_size``, ``new_root``).

    The algorithm of RFC 9162 section 2.1.4.2, step by step, for ``0 < old_size < new_size``.
    Outside that range no proof is needed: a tree is consistent with itself (same root, empty
    proof), and the empty tree (root ``SHA-256("")``, empty proof) with every tree.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    return _rfc9162_consistency(old_size, new_size, old_root, new_root, proof)


def _rfc9162_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2 verbatim, for ``0 < old_size < new_size`` and 32-byte hashes."""
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if not proof:
        return False
    path = list(proof)
    # 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3. Set fn to first - 1 and sn to second - 1.
    fn, sn = old_size - 1, new_size - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            fr = sha256(_NODE + c + fr).digest()
            sr = sha256(_NODE + c + sr).digest()
            # If LSB(fn) is not set, then right-shift both fn and sn equally until either
            # LSB(fn) is set or fn reaches zero.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha256(_NODE + sr + c).digest()
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 7. Verify that fr equals first_hash, sr equals second_hash, and sn is 0.
    return fr == old_root and sr == new_root and sn == 0


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


# -- the incremental tree -------------------------------------------------------------------------


class CompactRange:
    """The tree over leaves [0, size) kept as its O(log n) perfect subtrees (the "frontier").

    A builder, not a value: ``append`` changes it in place, which is what makes a million appends
    cheap. A store appends to a ``copy()`` inside its transaction and keeps the copy only once
    the transaction commits, so a failed commit leaves its tree as it was. ``to_bytes`` and
    ``from_bytes`` let the store persist the frontier and resume without re-reading every leaf.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Iterable[bytes]) -> CompactRange:
        """Resume a tree of ``size`` leaves from its frontier, largest subtree first."""
        frontier = list(hashes)
        if size < 0 or len(frontier) != size.bit_count():
            raise RecordCorrupt(f"a tree of {size} leaves has {size.bit_count()} frontier hashes")
        if not all(_is_hash(h) for h in frontier):
            raise RecordCorrupt("a frontier hash is not a SHA-256 hash")
        tree = cls()
        tree._size = size
        tree._hashes = frontier
        return tree

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """The tree ``to_bytes`` wrote: 8-byte big-endian size, then the frontier hashes."""
        if len(data) < _SIZE_BYTES or (len(data) - _SIZE_BYTES) % HASH_SIZE:
            raise RecordCorrupt("a stored tree frontier has the wrong length")
        size = int.from_bytes(data[:_SIZE_BYTES], "big")
        body = data[_SIZE_BYTES:]
        return cls.from_hashes(
            size, (body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE))
        )

    def to_bytes(self) -> bytes:
        return self._size.to_bytes(_SIZE_BYTES, "big") + b"".join(self._hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The frontier: one perfect-subtree hash per set bit of ``size``, largest first."""
        return tuple(self._hashes)

    def copy(self) -> CompactRange:
        return CompactRange.from_hashes(self._size, self._hashes)

    def append(self, leaf: bytes, completed: list[tuple[int, int, bytes]] | None = None,
               smallest: int = SUBTREE_MIN) -> None:
        """Add the leaf hash ``leaf`` at position ``size``. With ``completed``, each perfect
        subtree of at least ``smallest`` leaves this leaf completes is added to it as
        (start, leaves, MTH): they never change once complete (``Subtrees``)."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        hashes = self._hashes
        n = self._size
        width = 1
        while n & 1:
            leaf = sha256(_NODE + hashes.pop() + leaf).digest()
            n >>= 1
            width <<= 1
            if completed is not None and width >= smallest:
                completed.append((self._size + 1 - width, width, leaf))
        hashes.append(leaf)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH over every leaf appended so far."""
        return fold(self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
