"""Publishing the record as tiles (c2sp.org/tlog-tiles): ``/checkpoint`` (served by the app, as
``/v1/record/checkpoint``), the hash tiles ``/tile/<L>/<N>[.p/<W>]`` to anyone (hashes hold no
personal data), and the entry bundles ``/tile/entries/<N>[.p/<W>]`` to auditors only (entries
hold pseudonymous metadata: customer references, orders, recipients); ``gateway.http.tiles``
serves them.

An entry in a bundle is the entry's body exactly as its leaf commits to it (``SHA-256(0x00 ||
body)``): canonical JSON in which a sealed value appears only as the SHA-256 of its ciphertext.

Each entry bundle an auditor fetches is a read of the record, recorded as the review reads are
(``gateway.review.search``: a ``review.read`` entry naming who and the positions read) before
the bundle is answered; a read the record cannot take is refused. Hash tiles are not recorded:
they are public and hold no personal data.

Level-0 tiles are the stored leaf hashes. A hash at level ``L >= 1`` is the root of a full tile
of level ``L - 1``; those roots never change once the tile is full, so they are kept once
computed (``Tiler``), and a tile of level 2 costs 256 hashes of remembered roots, not 16 million
leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from gateway.errors import NotFound, RecordError
from gateway.record import Record
from gateway.record.merkle import root
from gateway.record.queries import Search
from gateway.review.search import Reviewer, Via
from gateway.staff.accounts import Member, Role
from gateway.transparency.tiles import WIDTH, Tile, tile_for

__all__ = ["AUDITORS", "Tiler"]

T = TypeVar("T")

#: Who may fetch entry bundles.
AUDITORS: Final = (Role.AUDITOR,)
_MAX_ENTRY: Final = 0xFFFF  # a bundle's length prefix is a big-endian uint16
_MEMO_MAX: Final = 1 << 18


class Tiler:
    """Tiles and entry bundles of one record. Hashing runs on a thread of its own; bundle reads
    are recorded by ``reviewer``."""

    def __init__(self, *, record: Record, reviewer: Reviewer) -> None:
        self._record = record
        self._reviewer = reviewer
        self._memo: dict[tuple[int, int], bytes] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiles")

    async def _run(self, fn: Callable[..., T], /, *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def _held(self, tile: Tile) -> None:
        """NotFound unless the committed record holds every hash of ``tile``."""
        size, _ = await self._record.head()
        have = tile_for(tile.level, tile.index, size)
        if have is None or have.width < tile.width:
            raise NotFound(f"the record of {size} entries holds no tile {tile.path()}")

    async def hashes(self, tile: Tile) -> bytes:
        """The tile's hashes, concatenated."""
        await self._held(tile)
        if tile.level == 0:
            return b"".join(await self._leaves(tile.first, tile.first + tile.width))
        return b"".join(await self._roots(tile.level - 1, tile.first, tile.width))

    async def _leaves(self, start: int, end: int) -> list[bytes]:
        leaves = await self._record.leaves(start, end)
        if len(leaves) != end - start:
            raise RecordError("the record holds fewer leaves than its head says")
        return leaves

    async def _roots(self, level: int, first: int, count: int) -> list[bytes]:
        """The roots of the full tiles ``first`` to ``first + count - 1`` of ``level``."""
        span = range(first, first + count)
        known = {i: h for i in span if (h := self._memo.get((level, i))) is not None}
        missing = [i for i in span if i not in known]
        if missing:
            low, high = missing[0], missing[-1] + 1
            if level == 0:
                leaves = await self._leaves(low * WIDTH, high * WIDTH)
                found = await self._run(lambda: [
                    root(leaves[(i - low) * WIDTH:(i - low + 1) * WIDTH])
                    for i in range(low, high)])
            else:
                found = []
                for i in range(low, high):
                    children = await self._roots(level - 1, i * WIDTH, WIDTH)
                    found.append(await self._run(root, children))
            if len(self._memo) + len(found) > _MEMO_MAX:
                self._memo.clear()
            for i, digest in zip(range(low, high), found, strict=True):
                self._memo[(level, i)] = known[i] = digest
        return [known[i] for i in span]

    async def bundle(self, tile: Tile, member: Member, *, via: Via = "api") -> bytes:
        """The entry bundle of level-0 ``tile``: each body prefixed by its uint16 length. The
        read is recorded (who, the positions read) before the bundle is returned."""
        await self._held(tile)
        rows = await self._record.search(Search(
            cursor=tile.first - 1 if tile.first else None, limit=tile.width,
            newest_first=False))
        if [r.seq for r in rows] != list(range(tile.first, tile.first + tile.width)):
            raise RecordError("the record holds fewer entries than its head says")
        parts = []
        for row in rows:
            if len(row.body) > _MAX_ENTRY:
                raise RecordError(f"the entry at position {row.seq} is too long for an entry "
                                  "bundle")
            parts.append(len(row.body).to_bytes(2, "big") + row.body)
        await self._reviewer.record_read(member, via, what="entry_bundle", first=tile.first,
                                         count=tile.width)
        return b"".join(parts)
