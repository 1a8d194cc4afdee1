"""RFC 9162 Merkle hashing and proofs.

Published vectors: the RFC 6962 reference test data shared by google/certificate-transparency-go
and transparency-dev/merkle (``proof/verify_test.go``: eight leaves, the root at every size, and
known inclusion and consistency proofs, 1-based leaf numbers there, 0-based indices here) and the
hasher vectors of ``rfc6962/rfc6962_test.go``. Properties are checked against a naive recursive
tree written below straight from the RFC's definitions.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import RecordCorrupt
from gateway.record.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

# -- published vectors (transparency-dev/merkle proof/verify_test.go) ----------------------------

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
LEAF_HASHES = [leaf_hash(data) for data in LEAVES]

ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

# (0-based index, tree size, proof)
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def unhex(proof: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(p) for p in proof]


def published_root(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size])


# -- a naive reference tree, straight from RFC 9162 section 2.1 ----------------------------------


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) by recursion over list slices."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = ref_split(len(leaves))
    return ref_node(ref_root(leaves[:k]), ref_root(leaves[k:]))


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = ref_split(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_root(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_root(leaves[:k])]


def ref_subproof(m: int, leaves: Sequence[bytes], *, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    if m == len(leaves):
        return [] if whole else [ref_root(leaves)]
    k = ref_split(len(leaves))
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole=whole), ref_root(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], whole=False), ref_root(leaves[:k])]


def ref_root_from_path(m: int, n: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof of PATH's shape implies, rebuilt top-down (independent of the RFC's
    bit-shifting verifier)."""
    if n == 1:
        assert not proof
        return leaf
    *rest, sibling = proof
    k = ref_split(n)
    if m < k:
        return ref_node(ref_root_from_path(m, k, leaf, rest), sibling)
    return ref_node(sibling, ref_root_from_path(m - k, n - k, leaf, rest))


def flip(proof: Sequence[bytes], item: int, bit: int) -> list[bytes]:
    changed = list(proof)
    value = bytearray(changed[item])
    value[bit // 8] ^= 1 << (bit % 8)
    changed[item] = bytes(value)
    return changed


def distinct_leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


trees = st.lists(st.binary(max_size=6), min_size=1, max_size=80, unique=True).map(
    lambda data: [leaf_hash(d) for d in data]
)
examples = settings(database=None, deadline=None, max_examples=150)


# -- tests -----------------------------------------------------------------------------------------


class TestLeafHash:
    def test_empty_leaf(self) -> None:
        """The empty leaf hashes to SHA-256(0x00), as rfc6962_test.go publishes."""
        assert leaf_hash(b"").hex() == (
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        )

    def test_leaf(self) -> None:
        """A leaf hashes to SHA-256(0x00 || data), as rfc6962_test.go publishes for "L123456"."""
        assert leaf_hash(b"L123456").hex() == (
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
        )

    def test_domain_separation(self) -> None:
        """A leaf of two hashes' concatenation does not hash like the node over them."""
        a, b = leaf_hash(b"Hello"), leaf_hash(b"World")
        assert leaf_hash(a + b) != node_hash(a, b)


class TestNodeHash:
    def test_node(self) -> None:
        """A node hashes to SHA-256(0x01 || left || right), as rfc6962_test.go publishes."""
        assert node_hash(b"N123", b"N456").hex() == (
            "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
        )

    def test_order_matters(self) -> None:
        """Swapping the children changes the node hash."""
        a, b = leaf_hash(b"one"), leaf_hash(b"or other")
        assert node_hash(a, b) != node_hash(b, a)


class TestRoot:
    def test_empty_tree(self) -> None:
        """The empty tree's root is SHA-256 of nothing."""
        assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
        assert EMPTY_ROOT.hex() == (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )

    @pytest.mark.parametrize("size", sorted(ROOTS))
    def test_published_roots(self, size: int) -> None:
        """The root of the first ``size`` reference leaves is the published one."""
        assert root(LEAF_HASHES[:size]) == published_root(size)

    @examples
    @given(trees)
    def test_matches_reference(self, leaves: list[bytes]) -> None:
        """root agrees with the naive recursive MTH."""
        assert root(leaves) == ref_root(leaves)


class TestSubtreeHash:
    @examples
    @given(st.data(), trees)
    def test_matches_reference(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """subtree_hash(start, end) is the MTH of that slice of leaves."""
        start = data.draw(st.integers(0, len(leaves)))
        end = data.draw(st.integers(start, len(leaves)))
        assert subtree_hash(start, end, leaves) == ref_root(leaves[start:end])

    @pytest.mark.parametrize(("start", "end"), [(-1, 2), (3, 2), (0, 9)])
    def test_out_of_range(self, start: int, end: int) -> None:
        """A range outside the leaves is a programming error."""
        with pytest.raises(ValueError, match="no range"):
            subtree_hash(start, end, LEAF_HASHES)


def inclusion_probes(
    index: int, size: int, proof: list[bytes], root_hash: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    """The corruptions proof/verify_test.go tries on every known-good inclusion proof."""
    probes = [
        ("index - 1", index - 1, size, proof, root_hash, leaf),
        ("index + 1", index + 1, size, proof, root_hash, leaf),
        ("index ^ 2", index ^ 2, size, proof, root_hash, leaf),
        ("size * 2", index, size * 2, proof, root_hash, leaf),
        ("size // 2", index, size // 2, proof, root_hash, leaf),
        ("wrong leaf", index, size, proof, root_hash, b"WrongLeaf"),
        ("empty root", index, size, proof, EMPTY_ROOT, leaf),
        ("random root", index, size, proof, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*proof, b""], root_hash, leaf),
        ("trailing root", index, size, [*proof, root_hash], root_hash, leaf),
        ("preceding garbage", index, size, [b"", *proof], root_hash, leaf),
        ("preceding root", index, size, [root_hash, *proof], root_hash, leaf),
    ]
    probes += [
        (f"proof[{i}] bit 3", index, size, flip(proof, i, 3), root_hash, leaf)
        for i in range(len(proof))
    ]
    if proof:
        probes.append(("removed component", index, size, proof[:-1], root_hash, leaf))
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted component", index, size, inserted, root_hash, leaf))
    return probes


PUBLISHED_INCLUSION_PROBES = [
    pytest.param(*probe[1:], id=f"{index}-of-{size}: {probe[0]}")
    for index, size, proof in INCLUSION
    for probe in inclusion_probes(
        index, size, unhex(proof), published_root(size), LEAF_HASHES[index]
    )
]


class TestInclusionProof:
    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
    def test_published_proofs(self, index: int, size: int, proof: list[str]) -> None:
        """The proof for a reference leaf is the published one."""
        assert inclusion_proof(index, size, LEAF_HASHES) == unhex(proof)

    @pytest.mark.parametrize("size", range(1, 33))
    def test_every_proof_matches_reference(self, size: int) -> None:
        """Every proof in trees of up to 32 leaves is PATH as the RFC defines it."""
        leaves = distinct_leaves(size)
        for index in range(size):
            assert inclusion_proof(index, size, leaves) == ref_path(index, leaves)

    def test_proof_at_an_older_size(self) -> None:
        """A proof for an earlier tree size uses only the leaves that tree held."""
        leaves = distinct_leaves(20)
        assert inclusion_proof(3, 11, leaves) == ref_path(3, leaves[:11])

    @pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0), (0, 9)])
    def test_out_of_range(self, index: int, size: int) -> None:
        """A leaf outside the tree, or a tree larger than the leaves given, is a programming
        error."""
        with pytest.raises(ValueError, match="no leaf"):
            inclusion_proof(index, size, LEAF_HASHES)


class TestVerifyInclusion:
    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
    def test_published_proofs(self, index: int, size: int, proof: list[str]) -> None:
        """Every published proof verifies against the published root."""
        assert verify_inclusion(LEAF_HASHES[index], index, size, unhex(proof), published_root(size))

    @pytest.mark.parametrize(
        ("index", "size", "proof", "root_hash", "leaf"), PUBLISHED_INCLUSION_PROBES
    )
    def test_published_corruptions(
        self, index: int, size: int, proof: list[bytes], root_hash: bytes, leaf: bytes
    ) -> None:
        """Each corruption transparency-dev tries on a published proof is refused."""
        assert not verify_inclusion(leaf, index, size, proof, root_hash)

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
    def test_impossible_positions(self, index: int, size: int) -> None:
        """An empty proof is refused for a leaf outside the tree or against the wrong root."""
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
        assert not verify_inclusion(SOME_HASH, index, size, [], b"")
        assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)

    def test_single_leaf(self) -> None:
        """In a one-leaf tree the root is the leaf and the proof is empty."""
        leaf = leaf_hash(b"data")
        assert verify_inclusion(leaf, 0, 1, [], leaf)
        assert not verify_inclusion(leaf, 0, 1, [], b"")
        assert not verify_inclusion(b"", 0, 1, [], leaf)
        assert not verify_inclusion(b"", 0, 1, [], b"")

    @pytest.mark.parametrize("size", range(1, 25))
    def test_every_proof_verifies(self, size: int) -> None:
        """Every leaf's proof in trees of up to 24 leaves verifies, and implies the root the
        naive tree rebuilds."""
        leaves = distinct_leaves(size)
        tree_root = ref_root(leaves)
        for index in range(size):
            proof = inclusion_proof(index, size, leaves)
            assert verify_inclusion(leaves[index], index, size, proof, tree_root)
            assert ref_root_from_path(index, size, leaves[index], proof) == tree_root

    @examples
    @given(st.data(), trees)
    def test_proofs_verify(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A generated proof verifies against the naive root."""
        size = data.draw(st.integers(1, len(leaves)))
        index = data.draw(st.integers(0, size - 1))
        proof = inclusion_proof(index, size, leaves)
        assert proof == ref_path(index, leaves[:size])
        assert verify_inclusion(leaves[index], index, size, proof, ref_root(leaves[:size]))

    @examples
    @given(st.data(), trees.filter(lambda leaves: len(leaves) > 1))
    def test_flipped_bit_fails(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A proof with any one bit flipped is refused."""
        size = len(leaves)
        index = data.draw(st.integers(0, size - 1))
        proof = inclusion_proof(index, size, leaves)
        item = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        tampered = flip(proof, item, bit)
        assert not verify_inclusion(leaves[index], index, size, tampered, ref_root(leaves))

    @examples
    @given(st.data(), trees.filter(lambda leaves: len(leaves) > 1))
    def test_wrong_index_fails(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A proof checked for any other position is refused."""
        size = len(leaves)
        index = data.draw(st.integers(0, size - 1))
        other = data.draw(st.integers(-2, size + 2).filter(lambda i: i != index))
        proof = inclusion_proof(index, size, leaves)
        assert not verify_inclusion(leaves[index], other, size, proof, ref_root(leaves))

    @examples
    @given(st.data(), trees.filter(lambda leaves: len(leaves) > 1))
    def test_wrong_size_fails(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A proof checked against another tree size and that size's own root is refused."""
        size = data.draw(st.integers(1, len(leaves)))
        index = data.draw(st.integers(0, size - 1))
        other = data.draw(st.integers(index + 1, len(leaves)).filter(lambda n: n != size))
        proof = inclusion_proof(index, size, leaves)
        assert not verify_inclusion(leaves[index], index, other, proof, ref_root(leaves[:other]))


def consistency_probes(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    """The corruptions proof/verify_test.go tries on every known-good consistency proof."""
    probes = [
        ("old - 1", old - 1, new, old_root, new_root, proof),
        ("old + 1", old + 1, new, old_root, new_root, proof),
        ("old ^ 2", old ^ 2, new, old_root, new_root, proof),
        ("new * 2", old, new * 2, old_root, new_root, proof),
        ("new // 2", old, new // 2, old_root, new_root, proof),
        ("wrong old root", old, new, b"WrongRoot", new_root, proof),
        ("wrong new root", old, new, old_root, b"WrongRoot", proof),
        ("swapped roots", old, new, new_root, old_root, proof),
        ("empty proof", old, new, old_root, new_root, []),
        ("trailing garbage", old, new, old_root, new_root, [*proof, b""]),
        ("trailing old root", old, new, old_root, new_root, [*proof, old_root]),
        ("trailing new root", old, new, old_root, new_root, [*proof, new_root]),
        ("preceding garbage", old, new, old_root, new_root, [b"", *proof]),
        ("preceding old root", old, new, old_root, new_root, [old_root, *proof]),
        ("preceding new root", old, new, old_root, new_root, [new_root, *proof]),
        ("preceding proof[0]", old, new, old_root, new_root, [proof[0], *proof]),
        ("truncated proof", old, new, old_root, new_root, proof[:-1]),
    ]
    probes += [
        (f"proof[{i}] bit 4", old, new, old_root, new_root, flip(proof, i, 4))
        for i in range(len(proof))
    ]
    return probes


PUBLISHED_CONSISTENCY_PROBES = [
    pytest.param(*probe[1:], id=f"{old}-to-{new}: {probe[0]}")
    for old, new, proof in CONSISTENCY
    if proof
    for probe in consistency_probes(
        old, new, published_root(old), published_root(new), unhex(proof)
    )
]


class TestConsistencyProof:
    @pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
    def test_published_proofs(self, old: int, new: int, proof: list[str]) -> None:
        """The proof between two reference tree sizes is the published one."""
        assert consistency_proof(old, new, LEAF_HASHES) == unhex(proof)

    @pytest.mark.parametrize("new", range(1, 33))
    def test_every_proof_matches_reference(self, new: int) -> None:
        """Every proof between trees of up to 32 leaves is PROOF as the RFC defines it."""
        leaves = distinct_leaves(new)
        for old in range(1, new):
            assert consistency_proof(old, new, leaves) == ref_subproof(old, leaves, whole=True)

    @pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 5), (5, 5)])
    def test_no_proof_needed(self, old: int, new: int) -> None:
        """From the empty tree, or from a tree to itself, the proof is empty."""
        assert consistency_proof(old, new, LEAF_HASHES) == []

    @pytest.mark.parametrize(("old", "new"), [(-1, 3), (4, 3), (2, 9)])
    def test_out_of_range(self, old: int, new: int) -> None:
        """Sizes out of order, or larger than the leaves given, are a programming error."""
        with pytest.raises(ValueError, match="no consistency"):
            consistency_proof(old, new, LEAF_HASHES)


class TestVerifyConsistency:
    @pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
    def test_published_proofs(self, old: int, new: int, proof: list[str]) -> None:
        """Every published proof verifies between the published roots."""
        assert verify_consistency(old, new, published_root(old), published_root(new), unhex(proof))

    @pytest.mark.parametrize(
        ("old", "new", "old_root", "new_root", "proof"), PUBLISHED_CONSISTENCY_PROBES
    )
    def test_published_corruptions(
        self, old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
    ) -> None:
        """Each corruption transparency-dev tries on a published proof is refused."""
        assert not verify_consistency(old, new, old_root, new_root, proof)

    def test_same_size(self) -> None:
        """A tree is consistent with itself only with the same root and an empty proof."""
        root_hash = published_root(3)
        assert verify_consistency(3, 3, root_hash, root_hash, [])
        assert not verify_consistency(3, 3, root_hash, published_root(4), [])
        assert not verify_consistency(3, 3, root_hash, root_hash, [EMPTY_ROOT])

    def test_from_the_empty_tree(self) -> None:
        """The empty tree, with the empty root and an empty proof, is a prefix of every tree."""
        assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
        assert verify_consistency(0, 8, EMPTY_ROOT, published_root(8), [])
        assert not verify_consistency(0, 8, SOME_HASH, published_root(8), [])
        assert not verify_consistency(0, 8, EMPTY_ROOT, published_root(8), [EMPTY_ROOT])

    def test_time_travel(self) -> None:
        """A newer size smaller than the older one is refused."""
        assert not verify_consistency(2, 1, published_root(2), published_root(1), [])
        assert not verify_consistency(1, 0, published_root(1), EMPTY_ROOT, [])

    def test_empty_proof_between_different_sizes(self) -> None:
        """Between two non-empty trees of different sizes an empty proof is refused."""
        assert not verify_consistency(1, 2, published_root(1), published_root(2), [])

    @pytest.mark.parametrize("new", range(2, 25))
    def test_every_proof_verifies(self, new: int) -> None:
        """Every proof between trees of up to 24 leaves verifies between the naive roots."""
        leaves = distinct_leaves(new)
        for old in range(1, new):
            proof = consistency_proof(old, new, leaves)
            assert verify_consistency(old, new, ref_root(leaves[:old]), ref_root(leaves), proof)

    @examples
    @given(st.data(), trees.filter(lambda leaves: len(leaves) > 1))
    def test_proofs_verify(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A generated proof verifies between the naive roots."""
        new = data.draw(st.integers(2, len(leaves)))
        old = data.draw(st.integers(1, new - 1))
        proof = consistency_proof(old, new, leaves)
        assert proof == ref_subproof(old, leaves[:new], whole=True)
        assert verify_consistency(old, new, ref_root(leaves[:old]), ref_root(leaves[:new]), proof)

    @examples
    @given(st.data(), trees.filter(lambda leaves: len(leaves) > 1))
    def test_flipped_bit_fails(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A proof with any one bit flipped is refused."""
        new = len(leaves)
        old = data.draw(st.integers(1, new - 1))
        proof = consistency_proof(old, new, leaves)
        item = data.draw(st.integers(0, len(proof) - 1))
        tampered = flip(proof, item, data.draw(st.integers(0, 255)))
        assert not verify_consistency(old, new, ref_root(leaves[:old]), ref_root(leaves), tampered)

    @examples
    @given(st.data(), trees.filter(lambda leaves: len(leaves) > 1))
    def test_wrong_old_size_fails(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A proof checked for any other older size is refused."""
        new = len(leaves)
        old = data.draw(st.integers(1, new - 1))
        other = data.draw(st.integers(-1, new + 1).filter(lambda m: m != old))
        proof = consistency_proof(old, new, leaves)
        assert not verify_consistency(other, new, ref_root(leaves[:old]), ref_root(leaves), proof)

    @examples
    @given(st.data(), trees.filter(lambda leaves: len(leaves) > 2))
    def test_wrong_new_size_fails(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A proof checked against another newer size and that size's own root is refused."""
        new = data.draw(st.integers(2, len(leaves)))
        old = data.draw(st.integers(1, new - 1))
        other = data.draw(st.integers(old + 1, len(leaves)).filter(lambda n: n != new))
        proof = consistency_proof(old, new, leaves)
        assert not verify_consistency(
            old, other, ref_root(leaves[:old]), ref_root(leaves[:other]), proof
        )

    @examples
    @given(st.data(), trees.filter(lambda leaves: len(leaves) > 1))
    def test_wrong_roots_fail(self, data: st.DataObject, leaves: list[bytes]) -> None:
        """A proof checked against swapped roots, or a root from another size, is refused."""
        new = len(leaves)
        old = data.draw(st.integers(1, new - 1))
        other = data.draw(st.integers(1, new).filter(lambda m: m != old))
        old_root, new_root = ref_root(leaves[:old]), ref_root(leaves)
        proof = consistency_proof(old, new, leaves)
        assert not verify_consistency(old, new, new_root, old_root, proof)
        assert not verify_consistency(old, new, ref_root(leaves[:other]), new_root, proof)


class TestCompactRange:
    def test_empty(self) -> None:
        """A new range holds no leaves and has the empty tree's root."""
        tree = CompactRange()
        assert (tree.size, tree.hashes, tree.root()) == (0, (), EMPTY_ROOT)

    @pytest.mark.parametrize("size", sorted(ROOTS))
    def test_published_roots(self, size: int) -> None:
        """Appending the reference leaves gives the published root at every size."""
        tree = CompactRange()
        tree.extend(LEAF_HASHES[:size])
        assert tree.root() == published_root(size)

    def test_matches_reference_at_every_size(self) -> None:
        """After each of 70 appends the root is the naive root and the frontier holds one hash
        per set bit of the size."""
        leaves = distinct_leaves(70)
        tree = CompactRange()
        for size in range(1, 71):
            tree.append(leaves[size - 1])
            assert tree.size == size
            assert tree.root() == ref_root(leaves[:size])
            assert len(tree.hashes) == size.bit_count()

    def test_resume_at_every_size(self) -> None:
        """A range saved at any size up to 70 and loaded again carries on to the same root."""
        leaves = distinct_leaves(70)
        for size in range(71):
            saved = CompactRange()
            saved.extend(leaves[:size])
            for resumed in (
                CompactRange.from_bytes(saved.to_bytes()),
                CompactRange.from_hashes(saved.size, saved.hashes),
            ):
                assert resumed == saved
                resumed.extend(leaves[size:])
                assert (resumed.size, resumed.root()) == (70, ref_root(leaves))

    def test_copy_is_independent(self) -> None:
        """Appending to a copy leaves the original as it was, so a failed commit keeps the old
        tree."""
        tree = CompactRange()
        tree.extend(LEAF_HASHES[:5])
        copy = tree.copy()
        copy.append(LEAF_HASHES[5])
        assert (tree.size, tree.root()) == (5, published_root(5))
        assert (copy.size, copy.root()) == (6, published_root(6))

    def test_serialised_form(self) -> None:
        """The saved form is the 8-byte big-endian size, then the frontier, largest first."""
        tree = CompactRange()
        tree.extend(LEAF_HASHES[:6])
        assert tree.to_bytes() == (
            (6).to_bytes(8, "big") + ref_root(LEAF_HASHES[:4]) + ref_root(LEAF_HASHES[4:6])
        )

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            bytes(7),
            (1).to_bytes(8, "big"),
            (1).to_bytes(8, "big") + bytes(31),
            (2).to_bytes(8, "big") + bytes(64),
            (3).to_bytes(8, "big") + bytes(32),
        ],
        ids=["empty", "short size", "missing hash", "short hash", "too many", "too few"],
    )
    def test_corrupt_saved_form(self, data: bytes) -> None:
        """A saved form of the wrong length, or with the wrong number of hashes, is refused."""
        with pytest.raises(RecordCorrupt):
            CompactRange.from_bytes(data)

    def test_corrupt_frontier(self) -> None:
        """A frontier hash that is not 32 bytes, or a negative size, is refused."""
        with pytest.raises(RecordCorrupt):
            CompactRange.from_hashes(1, [b"short"])
        with pytest.raises(RecordCorrupt):
            CompactRange.from_hashes(-1, [])

    def test_leaf_must_be_a_hash(self) -> None:
        """Appending something other than a 32-byte hash is a programming error."""
        with pytest.raises(ValueError, match="32 bytes"):
            CompactRange().append(b"data")

    @examples
    @given(trees)
    def test_matches_root(self, leaves: list[bytes]) -> None:
        """The range's root equals root() over the same leaves."""
        tree = CompactRange()
        tree.extend(leaves)
        assert tree.root() == root(leaves) == ref_root(leaves)
