"""Offline verification of a record: needs the database file and the checkpoint public key only.

Streams the entries in position order (bounded memory) and checks, for each: its position, its
link to the previous leaf, its leaf hash, and its sealed value's hash; it rebuilds the Merkle
tree as it goes and checks every stored checkpoint's signature and root at its size. It stops at
the first bad position and names it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs
import orjson

from gateway.record.checkpoint import Checkpoint, CheckpointInvalid, Verifier, parse_and_verify
from gateway.record.entry import GENESIS, leaf_of
from gateway.record.merkle import CompactRange


@attrs.frozen
class Report:
    entries: int
    checkpoints: int
    root: bytes
    ok: bool
    first_bad: int | None = None
    problem: str | None = None
    unsigned_tail: int = 0

    def summary(self) -> str:
        if not self.ok:
            where = "" if self.first_bad is None else f" at position {self.first_bad}"
            return f"FAILED{where}: {self.problem}"
        tail = f"; {self.unsigned_tail} newer entries not yet under a checkpoint" if (
            self.unsigned_tail) else ""
        return (f"OK: {self.entries} entries, {self.checkpoints} checkpoints verified, "
                f"root {self.root.hex()}{tail}")


class Bad(Exception):  # noqa: N818 - internal control flow
    def __init__(self, position: int | None, problem: str) -> None:
        super().__init__(problem)
        self.position = position
        self.problem = problem


def _open_ro(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise Bad(None, f"no record at {path}")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.text_factory = bytes  # a value stored with the wrong type is tampering, not a crash
    return db


def _rows(db: sqlite3.Connection, batch: int = 8192) -> Iterator[tuple[int, bytes, bytes, bytes | None]]:
    seq = -1
    while True:
        chunk = db.execute(
            "SELECT seq, body, leaf, sealed FROM entries WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, batch),
        ).fetchall()
        if not chunk:
            return
        yield from chunk
        seq = chunk[-1][0]


class Walk:
    """The checks, fed one entry at a time in position order (a store streams them in):
    ``feed`` raises Bad at the first bad entry, ``finish`` answers the report."""

    def __init__(
        self,
        notes: Sequence[tuple[int, str]],
        head: tuple[int, str] | None,
        verifiers: Sequence[Verifier],
        *,
        origin: str | None = None,
        trusted: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.tree = CompactRange()
        self.checkpoints_ok = 0
        self._progress = progress
        checkpoints: list[tuple[int, Checkpoint, str]] = []
        for size, note in notes:
            checkpoints.append((size, _checkpoint(note, verifiers, origin, size), "stored"))
        self._limit = None
        if head is not None:
            cp = _checkpoint(head[1], verifiers, origin, head[0])
            checkpoints.append((cp.size, cp, "signed head"))
            self._limit = cp.size
        for note in trusted:
            cp = _checkpoint(note, verifiers, origin, None)
            checkpoints.append((cp.size, cp, "trusted"))
        checkpoints.sort(key=lambda c: c[0])
        self._last = checkpoints[-1][0] if checkpoints else 0
        self._pending = iter(checkpoints)
        self._next = next(self._pending, None)
        while self._next is not None and self._next[0] == 0:
            self._next = next(self._pending, None)
        self._prev = GENESIS

    def feed(self, seq: int, body: bytes, leaf: bytes, sealed: bytes | None) -> None:
        tree = self.tree
        if self._limit is not None and tree.size >= self._limit:
            raise Bad(tree.size, f"entries from position {self._limit} on are not under the "
                                  "signed head: they were added outside the gateway")
        _check_entry(tree.size, seq, body, leaf, sealed, self._prev)
        tree.append(leaf)
        self._prev = leaf
        while self._next is not None and self._next[0] == tree.size:
            if self._next[1].root != tree.root():
                raise Bad(seq, f"the {self._next[2]} checkpoint at size {self._next[0]} does "
                                "not match the entries")
            self.checkpoints_ok += 1
            self._next = next(self._pending, None)
        if self._progress is not None and tree.size % 100_000 == 0:
            self._progress(tree.size)

    def finish(self) -> Report:
        if self._next is not None:
            raise Bad(self.tree.size, f"a {self._next[2]} checkpoint covers {self._next[0]} "
                                       f"entries but the record holds {self.tree.size}: "
                                       "entries were truncated or deleted")
        return Report(entries=self.tree.size, checkpoints=self.checkpoints_ok,
                      root=self.tree.root(), ok=True, unsigned_tail=self.tree.size - self._last)

    def failed(self, position: int | None, problem: str) -> Report:
        return Report(entries=self.tree.size, checkpoints=self.checkpoints_ok,
                      root=self.tree.root(), ok=False, first_bad=position, problem=problem)


def refused(bad: Bad) -> Report:
    """The report of a record found bad before its entries were read."""
    return Report(entries=0, checkpoints=0, root=CompactRange().root(), ok=False,
                  first_bad=bad.position, problem=bad.problem)


def verify_sqlite(
    path: Path,
    verifiers: Sequence[Verifier],
    *,
    origin: str | None = None,
    trusted: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify the record at ``path``. ``trusted`` are checkpoint notes kept elsewhere (a witness's
    copy): each must match the record too, which catches a record rolled back or rewritten."""
    try:
        db = _open_ro(path)
        try:
            notes = [(size, bytes(note).decode("utf-8", "replace")) for size, note in
                     db.execute("SELECT size, note FROM checkpoints ORDER BY size")]
            head = _head(db)
        except sqlite3.Error as exc:
            raise Bad(0, f"the database cannot be read: {exc}") from None
        walk = Walk(notes, head, verifiers, origin=origin, trusted=trusted, progress=progress)
    except Bad as bad:
        return refused(bad)
    try:
        for seq, body, leaf, sealed in _rows(db):
            walk.feed(seq, bytes(body), bytes(leaf), None if sealed is None else bytes(sealed))
        return walk.finish()
    except Bad as bad:
        return walk.failed(bad.position, bad.problem)
    except sqlite3.Error as exc:
        return walk.failed(walk.tree.size, f"the database cannot be read: {exc}")


def _head(db: sqlite3.Connection) -> tuple[int, str] | None:
    """The signed tree head, if this record keeps one."""
    try:
        row = db.execute("SELECT size, note FROM head WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else (row[0], bytes(row[1]).decode("utf-8", "replace"))


def _checkpoint(
    note: str, verifiers: Sequence[Verifier], origin: str | None, size: int | None
) -> Checkpoint:
    try:
        cp = parse_and_verify(note, verifiers)
    except CheckpointInvalid as exc:
        raise Bad(size, f"a checkpoint is not validly signed ({exc})") from None
    if origin is not None and cp.origin != origin:
        raise Bad(size, f"a checkpoint names origin {cp.origin!r}, not {origin!r}")
    if size is not None and cp.size != size:
        raise Bad(size, "a checkpoint is stored under a size it does not state")
    return cp


def _check_entry(  # noqa: PLR0913 - the facts of one row
    expected: int, seq: int, body: bytes, leaf: bytes, sealed: bytes | None, prev: bytes
) -> None:
    if seq != expected:
        raise Bad(expected, f"position {expected} is missing (next stored position is {seq})")
    if leaf_of(bytes(body)) != bytes(leaf):
        raise Bad(seq, "the entry does not match its leaf hash")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Bad(seq, "the entry is not valid JSON") from None
    if doc.get("seq") != seq:
        raise Bad(seq, "the entry states another position")
    if doc.get("prev") != prev.hex():
        raise Bad(seq, "the entry does not link to the entry before it")
    if sealed is not None and hashlib.sha256(bytes(sealed)).hexdigest() != doc.get("sealed"):
        raise Bad(seq, "the sealed value does not match the hash the entry commits to")
