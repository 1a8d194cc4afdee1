"""A monitor: follows a running gateway from outside through what it publishes
(c2sp.org/tlog-tiles), trusting nothing but the log's public key (and the witnesses').

Each run fetches ``/checkpoint``, verifies its signature (and cosignatures), and compares it with
the last checkpoint it verified (kept by the caller, ``State``):

- a smaller tree is a **rollback**; the same size with another root is a **fork**;
- a larger tree must be consistent with the old one: the RFC 9162 consistency proof is built
  from the hash tiles and checked (2.1.4.2); a proof that fails is a **fork**;
- the tiles must hash to the checkpoint's root;
- with an auditor's token, every new entry is fetched from the entry bundles and checked as
  ``gateway log verify`` checks it: its leaf hash is the level-0 tile's, its position and its
  link to the previous leaf are right, and the new leaves extend the old tree to the new root.
  An entry that fails is a **bad entry**.

Nothing is kept unless every check passed; the caller writes the new ``State``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Final

import aiohttp
import attrs
import orjson

from gateway.errors import GatewayError
from gateway.record.checkpoint import Checkpoint, CheckpointInvalid, Verifier, parse_and_verify
from gateway.record.merkle import CompactRange, leaf_hash, verify_consistency
from gateway.transparency.tiles import (
    WIDTH,
    Tile,
    TileNodes,
    consistency_ranges,
    root_of_pieces,
    split_hashes,
    tiles_of_level,
)

__all__ = ["Alarm", "MonitorFailed", "State", "TileClient", "follow"]

_WINDOW: Final = 16  # level-0 tiles (and bundles) fetched at once while catching up
_MAX_RESOURCE: Final = 4 * 1024 * 1024

#: (checkpoint note, lines holding its cosignatures) -> what the witness policy misses, or None.
WitnessCheck = Callable[[str, str], str | None]
Progress = Callable[[int, int], None]


class MonitorFailed(GatewayError):
    """The monitor could not check the log (unreachable, refused, unwitnessed): no verdict."""


class Alarm(GatewayError):
    """The log misbehaved: ``kind`` is ``rollback``, ``fork`` or ``bad entry``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@attrs.frozen
class State:
    """The last checkpoint the monitor verified."""

    origin: str
    size: int
    root: bytes
    note: str

    def to_json(self) -> bytes:
        return orjson.dumps({"origin": self.origin, "size": self.size,
                             "root": base64.b64encode(self.root).decode(),
                             "checkpoint": self.note}, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> State:
        try:
            doc = orjson.loads(data)
            return cls(str(doc["origin"]), int(doc["size"]),
                       base64.b64decode(doc["root"], validate=True), str(doc["checkpoint"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error):
            raise MonitorFailed("the monitor's state file is not one it wrote") from None


class TileClient:
    """Fetches a gateway's checkpoint, tiles and (with ``token``) entry bundles."""

    def __init__(self, *, session: aiohttp.ClientSession, url: str,
                 token: str | None = None) -> None:
        self._session = session
        self._url = url.rstrip("/")
        self._token = token
        self.can_read_entries = token is not None

    async def _get(self, path: str, *, auth: bool = False) -> bytes:
        headers = {"Authorization": f"Bearer {self._token}"} if auth else {}
        try:
            async with self._session.get(f"{self._url}/{path}", headers=headers) as resp:
                body = await resp.content.read(_MAX_RESOURCE)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise MonitorFailed(f"cannot reach {self._url}: {type(exc).__name__}") from None
        if status in (401, 403) and auth:
            raise MonitorFailed(f"the gateway refused the token for /{path} ({status}): "
                                "entry bundles need an auditor's session")
        if status != 200:  # noqa: PLR2004
            raise MonitorFailed(f"the gateway answered {status} for /{path}")
        return body

    async def checkpoint(self) -> str:
        return (await self._get("checkpoint")).decode("utf-8", "replace")

    async def tile(self, tile: Tile) -> list[bytes]:
        data = await self._get(tile.path())
        if len(data) != tile.width * 32:
            raise Alarm("fork", f"/{tile.path()} does not hold {tile.width} hashes")
        return split_hashes(data)

    async def bundle(self, tile: Tile) -> list[bytes]:
        data = await self._get(tile.path(entries=True), auth=True)
        entries, at = [], 0
        while at < len(data):
            length = int.from_bytes(data[at:at + 2], "big")
            entries.append(data[at + 2:at + 2 + length])
            at += 2 + length
        if at != len(data) or len(entries) != tile.width:
            raise Alarm("bad entry", f"/{tile.path(entries=True)} does not hold "
                                     f"{tile.width} whole entries")
        return entries


async def follow(client: TileClient, *, verifiers: Sequence[Verifier], state: State | None,
                 witnessed: WitnessCheck | None = None,
                 progress: Progress | None = None) -> tuple[State, str]:
    """Check the gateway's newest checkpoint against ``state``; the new state and a summary.
    Raises Alarm when the log misbehaved, MonitorFailed when it could not be checked."""
    note = await client.checkpoint()
    try:
        new = parse_and_verify(note, verifiers,
                               origin=None if state is None else state.origin)
    except CheckpointInvalid as exc:
        raise MonitorFailed(f"the served checkpoint is refused: {exc.detail}") from None
    if witnessed is not None and (problem := witnessed(note, note)):
        raise MonitorFailed(f"the served checkpoint is not witnessed: {problem}")
    old = state.size if state is not None else 0
    if state is not None:
        if new.size < state.size:
            raise Alarm("rollback", f"the gateway serves a signed tree of {new.size} entries, "
                                    f"smaller than the {state.size} verified before")
        if new.size == state.size and new.root != state.root:
            raise Alarm("fork", f"two signed trees of {new.size} entries with different roots")
    nodes = await _nodes(client, new, state)
    if nodes is not None:
        _check_tree(nodes, new, state)
    checked = 0
    if client.can_read_entries and new.size > old:
        frontier = nodes.frontier(old) if nodes is not None and old else []
        checked = await _check_entries(client, new, old, frontier, progress)
    after = State(new.origin, new.size, new.root, note)
    if state is None:
        summary = f"first checkpoint verified: {new.size} entries"
    elif new.size == state.size:
        summary = f"no new entries: still {new.size}"
    else:
        summary = f"consistent: {state.size} -> {new.size} entries"
    if checked:
        summary += f"; {checked} new entries checked against the tiles"
    return after, summary


async def _nodes(client: TileClient, new: Checkpoint, state: State | None) -> TileNodes | None:
    """The node reader over the tiles the checks need, fetched at once."""
    if new.size == 0:
        return None
    old = 0 if state is None else state.size
    ranges = [(0, new.size), *consistency_ranges(old, new.size)]
    if old:
        ranges.append((0, old))
    fetched: dict[Tile, list[bytes]] = {}
    nodes = TileNodes(new.size, lambda tile: fetched[tile])
    needed = sorted(nodes.needed(ranges), key=lambda t: (t.level, t.index))
    fetched.update(zip(needed, await asyncio.gather(*map(client.tile, needed)), strict=True))
    return nodes


def _check_tree(nodes: TileNodes, new: Checkpoint, state: State | None) -> None:
    if nodes.hash(0, new.size) != new.root:
        raise Alarm("fork", f"the tiles do not hash to the root of the signed tree of "
                            f"{new.size} entries")
    if state is None or state.size in (0, new.size):
        return
    proof = [nodes.hash(a, b) for a, b in consistency_ranges(state.size, new.size)]
    if not verify_consistency(state.size, new.size, state.root, new.root, proof):
        raise Alarm("fork", f"the signed tree of {new.size} entries is not consistent with "
                            f"the one of {state.size} verified before")
    if root_of_pieces(nodes.frontier(state.size)) != state.root:
        raise Alarm("fork", f"the tiles' first {state.size} entries do not hash to the root "
                            "verified before")


async def _check_entries(client: TileClient, new: Checkpoint, old: int,
                         frontier: list[bytes], progress: Progress | None) -> int:
    """Each entry from ``old`` on, from the bundles, against the level-0 tiles; the leaves
    extend the old tree (``frontier``) to the new root."""
    tree = CompactRange.from_hashes(old, frontier)
    tiles = tiles_of_level(0, old, new.size, new.size)
    prev = await _leaf_before(client, old, new.size)
    total = new.size - old
    for at in range(0, len(tiles), _WINDOW):
        window = tiles[at:at + _WINDOW]
        answers: list[Any] = await asyncio.gather(*map(client.tile, window),
                                                  *map(client.bundle, window))
        for tile, leaves, entries in zip(window, answers[:len(window)], answers[len(window):],
                                         strict=True):
            for offset in range(max(old - tile.first, 0), tile.width):
                seq = tile.first + offset
                prev = _check_entry(seq, entries[offset], leaves[offset], prev)
                tree.append(leaves[offset])
        if progress is not None:
            progress(min(window[-1].first + window[-1].width, new.size) - old, total)
    if tree.root() != new.root:
        raise Alarm("fork", f"the new entries do not extend the tree verified before to the "
                            f"signed root of {new.size} entries")
    return total


async def _leaf_before(client: TileClient, seq: int, size: int) -> bytes:
    """The leaf hash at ``seq - 1`` (the chain's start for the entry at ``seq``)."""
    if seq == 0:
        return bytes(32)
    (tile,) = tiles_of_level(0, seq - 1, seq, size)
    return (await client.tile(tile))[(seq - 1) % WIDTH]


def _check_entry(seq: int, entry: bytes, leaf: bytes, prev: bytes) -> bytes:
    """The entry's leaf, once it hashes to the tile's ``leaf`` and names its position and the
    previous leaf."""
    if leaf_hash(entry) != leaf:
        raise Alarm("bad entry", f"the entry at position {seq} does not hash to its leaf in "
                                 "the tiles")
    try:
        body = orjson.loads(entry)
        ok = body.get("seq") == seq and body.get("prev") == prev.hex()
    except (orjson.JSONDecodeError, AttributeError):
        ok = False
    if not ok:
        raise Alarm("bad entry", f"the entry at position {seq} does not name its position "
                                 "and the previous leaf")
    return leaf
