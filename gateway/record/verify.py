"""Offline verification of a record: needs the database file and the checkpoint public key only.

Streams the entries in position order (bounded memory) and checks, for each: its position, its
link to the previous leaf, its leaf hash, and its sealed value's hash; it rebuilds the Merkle
tree as it goes and checks every stored checkpoint's signature and root at its size. It stops at
the first bad position and names it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import attrs
import orjson

from gateway.errors import RecordError
from gateway.record.checkpoint import Checkpoint, CheckpointInvalid, Verifier, parse_and_verify
from gateway.record.entry import GENESIS, leaf_of
from gateway.record.merkle import CompactRange
from gateway.record.verify_witnessed import witnessed_sqlite


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


class _Bad(Exception):
    def __init__(self, position: int | None, problem: str) -> None:
        super().__init__(problem)
        self.position = position
        self.problem = problem


def _open_ro(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise _Bad(None, f"no record at {path}")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.text_factory = bytes  # a value stored with the wrong type is tampering, not a crash
    return db


def _rows(db: sqlite3.Connection, batch: int = 8192,
          ) -> Iterator[tuple[int, bytes, bytes, bytes | None]]:
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


def verify_sqlite(
    path: Path,
    verifiers: Sequence[Verifier],
    *,
    origin: str | None = None,
    trusted: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    cosigned: Callable[[str, str], str | None] | None = None,
) -> Report:
    """Verify the record at ``path``. ``trusted`` are checkpoint notes kept elsewhere (a witness's
    copy): each must match the record too, which catches a record rolled back or rewritten.
    ``cosigned`` checks the newest checkpoint's witness cosignatures (``verify_witnessed``)."""
    try:
        db = _open_ro(path)
        notes = [(size, bytes(note).decode("utf-8", "replace")) for size, note in
                 db.execute("SELECT size, note FROM checkpoints ORDER BY size")]
        head = _head(db)
    except _Bad as bad:
        return refused(bad.position, bad.problem)
    except sqlite3.Error as exc:
        return refused(0, f"the database cannot be read: {exc}")
    report = verify_rows(_rows(db), notes, head, verifiers, origin=origin, trusted=trusted,
                         progress=progress)
    return report if cosigned is None else witnessed_sqlite(report, db, notes, cosigned)


def refused(position: int | None, problem: str) -> Report:
    """The report on a record found bad before any entry was read."""
    return Report(entries=0, checkpoints=0, root=CompactRange().root(), ok=False,
                  first_bad=position, problem=problem)


def verify_rows(
    rows: Iterable[tuple[int, bytes, bytes, bytes | None]],
    notes: Sequence[tuple[int, str]],
    head: tuple[int, str] | None,
    verifiers: Sequence[Verifier],
    *,
    origin: str | None = None,
    trusted: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Report:
    """The checks over any store's entries, streamed in position order, its stored checkpoint
    notes (size, note) and its signed head. A failing read raises sqlite3.Error or RecordError
    (whose message holds no row data)."""
    tree = CompactRange()
    count_cp = 0
    try:
        checkpoints: list[tuple[int, Checkpoint, str]] = []
        for size, note in notes:
            checkpoints.append((size, _checkpoint(note, verifiers, origin, size), "stored"))
        limit = None
        if head is not None:
            cp = _checkpoint(head[1], verifiers, origin, head[0])
            checkpoints.append((cp.size, cp, "signed head"))
            limit = cp.size
        for note in trusted:
            cp = _checkpoint(note, verifiers, origin, None)
            checkpoints.append((cp.size, cp, "trusted"))
        checkpoints.sort(key=lambda c: c[0])
        pending = iter(checkpoints)
        nxt = next(pending, None)
        while nxt is not None and nxt[0] == 0:
            nxt = next(pending, None)
        prev = GENESIS.hex()
        # The loop is the cost of a verify: it stays flat (no call per entry, no copies) and
        # stops at the next checkpoint, progress report or the signed head's limit to do the
        # rest; the checks are those of _check_entry, which names what failed.
        append, loads, sha256 = tree.append, orjson.loads, hashlib.sha256
        stop_at = _next_stop(tree.size, nxt, limit)
        for seq, body, leaf, sealed in rows:
            size = tree.size
            if limit is not None and size >= limit:
                raise _Bad(size, f"entries from position {limit} on are not under the "
                                 "signed head: they were added outside the gateway")
            try:
                doc = loads(body)
                ok = (seq == size and leaf_of(body) == leaf and doc["seq"] == seq
                      and doc["prev"] == prev and (sealed is None
                                                   or sha256(sealed).hexdigest() == doc["sealed"]))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                ok = False
            if not ok:
                _check_entry(size, seq, body, leaf, sealed, bytes.fromhex(prev))
                raise _Bad(seq, "the entry is malformed")
            append(leaf)
            prev = leaf.hex()
            if tree.size < stop_at:
                continue
            while nxt is not None and nxt[0] == tree.size:
                if nxt[1].root != tree.root():
                    raise _Bad(seq, f"the {nxt[2]} checkpoint at size {nxt[0]} does not match "
                                    "the entries")
                count_cp += 1
                nxt = next(pending, None)
            if progress is not None and tree.size % _PROGRESS == 0:
                progress(tree.size)
            stop_at = _next_stop(tree.size, nxt, limit)
        if nxt is not None:
            raise _Bad(tree.size, f"a {nxt[2]} checkpoint covers {nxt[0]} entries but the record "
                                  f"holds {tree.size}: entries were truncated or deleted")
        last = checkpoints[-1][0] if checkpoints else 0
    except _Bad as bad:
        return Report(entries=tree.size, checkpoints=count_cp, root=tree.root(), ok=False,
                      first_bad=bad.position, problem=bad.problem)
    except (sqlite3.Error, RecordError) as exc:
        return Report(entries=tree.size, checkpoints=count_cp, root=tree.root(), ok=False,
                      first_bad=tree.size, problem=f"the database cannot be read: {exc}")
    return Report(entries=tree.size, checkpoints=count_cp, root=tree.root(), ok=True,
                  unsigned_tail=tree.size - last)


_PROGRESS = 100_000


def _next_stop(size: int, nxt: tuple[int, Checkpoint, str] | None, limit: int | None) -> int:
    """The next size at which the loop must look up from the entries: a checkpoint, a progress
    report, or one past the signed head (to refuse entries beyond it)."""
    stops = [(size // _PROGRESS + 1) * _PROGRESS]
    if nxt is not None:
        stops.append(nxt[0])
    if limit is not None:
        stops.append(limit)
    return min(s for s in stops if s > size) if any(s > size for s in stops) else size + 1


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
        raise _Bad(size, f"a checkpoint is not validly signed ({exc})") from None
    if origin is not None and cp.origin != origin:
        raise _Bad(size, f"a checkpoint names origin {cp.origin!r}, not {origin!r}")
    if size is not None and cp.size != size:
        raise _Bad(size, "a checkpoint is stored under a size it does not state")
    return cp


def _check_entry(
    expected: int, seq: int, body: bytes, leaf: bytes, sealed: bytes | None, prev: bytes
) -> None:
    if seq != expected:
        raise _Bad(expected, f"position {expected} is missing (next stored position is {seq})")
    if not isinstance(body, bytes) or not isinstance(leaf, bytes) or not (
            sealed is None or isinstance(sealed, bytes)):
        raise _Bad(seq, "the entry's stored values have the wrong type")
    if leaf_of(body) != leaf:
        raise _Bad(seq, "the entry does not match its leaf hash")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Bad(seq, "the entry is not valid JSON") from None
    if doc.get("seq") != seq:
        raise _Bad(seq, "the entry states another position")
    if doc.get("prev") != prev.hex():
        raise _Bad(seq, "the entry does not link to the entry before it")
    if sealed is not None and hashlib.sha256(sealed).hexdigest() != doc.get("sealed"):
        raise _Bad(seq, "the sealed value does not match the hash the entry commits to")
