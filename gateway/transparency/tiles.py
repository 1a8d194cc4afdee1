"""Tiles (c2sp.org/tlog-tiles): the record's RFC 9162 Merkle tree as static resources.

A tile at level ``L`` and index ``N`` holds up to 256 consecutive hashes: at level 0 the leaf
hashes ``N*256 ..``, at level ``L`` the roots of full tiles of level ``L - 1``. So hash ``i`` of
tile (L, N) is ``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])``. The rightmost tile
of a level is partial (1 to 255 hashes) and is never hashed into the level above.

Pure: path encoding, which tiles a tree has, and node hashes read out of tiles (``TileNodes``,
given the tiles). The consistency proof a monitor checks is the RFC's own (2.1.4.1), each of its
hashes computed from tiles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import attrs

from gateway.record.merkle import HASH_SIZE, node_hash, root

__all__ = ["HEIGHT", "WIDTH", "Tile", "TileNodes", "consistency_ranges", "tile_for",
           "tiles_of_level"]

HEIGHT: Final = 8
WIDTH: Final = 1 << HEIGHT
MAX_LEVEL: Final = 63
_LEVEL = re.compile("0|[1-9][0-9]?")
_WIDTH = re.compile("[1-9][0-9]{0,2}")
_SEGMENT = re.compile("[0-9]{3}")


class TilePathInvalid(ValueError):
    """A tile path that tlog-tiles does not allow."""


@attrs.frozen
class Tile:
    """Tile ``index`` at ``level`` holding ``width`` hashes (256: a full tile)."""

    level: int
    index: int
    width: int = WIDTH

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    @property
    def first(self) -> int:
        """The position of its first hash among the hashes of its level."""
        return self.index * WIDTH

    def path(self, *, entries: bool = False) -> str:
        """``tile/<L>/<N>[.p/<W>]``, or ``tile/entries/<N>[.p/<W>]`` for its entry bundle."""
        head = "tile/entries" if entries else f"tile/{self.level}"
        tail = "" if self.full else f".p/{self.width}"
        return f"{head}/{encode_index(self.index)}{tail}"

    @classmethod
    def parse(cls, level: str, rest: str) -> Tile:
        """The tile named by ``<L>`` and ``<N>[.p/<W>]`` (as they appear in the path)."""
        if not _LEVEL.fullmatch(level) or int(level) > MAX_LEVEL:
            raise TilePathInvalid("a tile level is a decimal from 0 to 63")
        index, width = _parse_rest(rest)
        return cls(int(level), index, width)


def encode_index(n: int) -> str:
    """1234067 -> ``x001/x234/067``: 3-digit groups, all but the last prefixed with ``x``."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _parse_rest(rest: str) -> tuple[int, int]:
    width = WIDTH
    if ".p/" in rest:
        rest, _, given = rest.partition(".p/")
        if not _WIDTH.fullmatch(given) or int(given) >= WIDTH:
            raise TilePathInvalid("a partial tile's width is a decimal from 1 to 255")
        width = int(given)
    *upper, last = rest.split("/")
    if not _SEGMENT.fullmatch(last) or not all(
            s.startswith("x") and _SEGMENT.fullmatch(s[1:]) for s in upper):
        raise TilePathInvalid("a tile index is 3-digit groups, all but the last after an x")
    index = 0
    for segment in [*(s[1:] for s in upper), last]:
        index = index * 1000 + int(segment)
    if upper and encode_index(index) != rest:  # no leading zero groups: one spelling per index
        raise TilePathInvalid("a tile index is written without leading zero groups")
    return index, width


def hashes_at(level: int, size: int) -> int:
    """How many hashes level ``level`` of a tree of ``size`` leaves holds."""
    return size >> (HEIGHT * level)


def tile_for(level: int, index: int, size: int) -> Tile | None:
    """Tile ``index`` of ``level`` as a tree of ``size`` leaves has it (full, or its partial
    width); None if that tree holds no hash of it."""
    count = hashes_at(level, size) - index * WIDTH
    if index < 0 or count <= 0:
        return None
    return Tile(level, index, min(count, WIDTH))


def tiles_of_level(level: int, start: int, end: int, size: int) -> list[Tile]:
    """The tiles of ``level`` holding hashes ``start`` to ``end - 1`` of that level, as a tree
    of ``size`` leaves has them."""
    tiles = []
    for index in range(start // WIDTH, (end + WIDTH - 1) // WIDTH):
        tile = tile_for(level, index, size)
        if tile is not None:
            tiles.append(tile)
    return tiles


def split_hashes(data: bytes) -> list[bytes]:
    if len(data) % HASH_SIZE:
        raise ValueError("tile data is not a whole number of SHA-256 hashes")
    return [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


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
        k = _split(end - start)
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


def perfect_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) as perfect subtrees, largest first: (height, index) each, index counted in
    subtrees of that height. ``start`` is aligned as a node of the RFC tree is (every range an
    RFC 9162 proof hashes is)."""
    pieces = []
    while start < end:
        height = (end - start).bit_length() - 1
        if start % (1 << height):
            raise ValueError(f"[{start}, {end}) is not a subtree of the Merkle tree")
        pieces.append((height, start >> height))
        start += 1 << height
    return pieces


#: Reads one tile's hashes; the tile is one the tree of the caller's size holds.
ReadTile = Callable[[Tile], list[bytes]]


class TileNodes:
    """Node hashes of the tree of ``size`` leaves, read out of its tiles by ``read``."""

    def __init__(self, size: int, read: ReadTile) -> None:
        self.size = size
        self._read = read

    def needed(self, ranges: list[tuple[int, int]]) -> set[Tile]:
        """The tiles ``hash`` of each of ``ranges`` reads, to fetch them first."""
        out = set()
        for start, end in ranges:
            for height, index in perfect_pieces(start, end):
                level, rest = divmod(height, HEIGHT)
                first = index << rest
                tile = tile_for(level, first // WIDTH, self.size)
                if tile is None:
                    raise ValueError("the tree holds no such subtree")
                out.add(tile)
        return out

    def node(self, height: int, index: int) -> bytes:
        """The root of the perfect subtree of 2**height leaves starting at index * 2**height."""
        level, rest = divmod(height, HEIGHT)
        first = index << rest
        tile = tile_for(level, first // WIDTH, self.size)
        if tile is None or first % WIDTH + (1 << rest) > tile.width:
            raise ValueError("the tree holds no such subtree")
        hashes = self._read(tile)
        if len(hashes) != tile.width:
            raise ValueError("a tile holds the wrong number of hashes")
        offset = first % WIDTH
        return root(hashes[offset:offset + (1 << rest)])

    def hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that is a node of the RFC tree, or a prefix [0, n)."""
        pieces = [self.node(h, i) for h, i in perfect_pieces(start, end)]
        return root_of_pieces(pieces)

    def frontier(self, size: int) -> list[bytes]:
        """The perfect subtrees of [0, size), largest first (a ``CompactRange``'s hashes)."""
        return [self.node(h, i) for h, i in perfect_pieces(0, size)]


def root_of_pieces(pieces: list[bytes]) -> bytes:
    """The root over perfect subtrees ``pieces``, largest first, folded right to left."""
    if not pieces:
        raise ValueError("no subtree to hash")
    acc = pieces[-1]
    for left in reversed(pieces[:-1]):
        acc = node_hash(left, acc)
    return acc
