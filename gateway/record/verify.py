"""Offline verification of a record: needs the database file and the checkpoint public key only.

Streams the entries in position order (bounded memory) and checks, for each: its position, its
link to the previous leaf, its leaf hash, its sealed value's hash, and every column stored beside
the body for searches, reports and recovery (``COLUMNS``) against the body; it rebuilds the
Merkle tree as it goes and checks every stored checkpoint's signature and root at its size. A
sealed value may be missing only where the record holds an erasure of the entry's customer at a
later position (erasure deletes the key, after which the ciphertext may be dropped). It stops at
the first bad position and names it (and the column, where one differs). Every disclosure
intent's rule must be a rule of the recorded policy version in force (``verify_policy``).
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import orjson

from gateway.errors import RecordError
from gateway.record.checkpoint import Checkpoint, CheckpointInvalid, Verifier, parse_and_verify
from gateway.record.merkle import CompactRange
from gateway.record.tally import COUNTED, tally_of_body
from gateway.record.verify_range import COLUMNS, SELECT, Report, StoredRow, check_range
from gateway.record.verify_range import Bad as _Bad
from gateway.record.verify_witnessed import witnessed_sqlite

__all__ = ["PROGRESS", "entry_rows", "open_ro", "refused", "signed_checkpoints", "signed_head",
           "verify_rows", "verify_sqlite"]


def open_ro(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise _Bad(None, f"no record at {path}")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.text_factory = bytes  # a value stored with the wrong type is tampering, not a crash
    return db


_CHUNK = f"{SELECT} FROM entries WHERE seq > ? ORDER BY seq LIMIT ?"
_TYPED = (f"{SELECT}, typeof(body), typeof(leaf), typeof(sealed), "
          + ", ".join(f"typeof({c})" for c, _ in COLUMNS)
          + " FROM entries WHERE seq > ? ORDER BY seq LIMIT ?")
#: A record of SQLite schema 2 or older keeps no tally: its entries are read with the tally
#: their bodies make, so there is nothing to differ (the store adds the column when it opens).
_UNTALLIED = _CHUNK.replace(", tally FROM", ", NULL FROM")
_VALUES = 3 + len(COLUMNS)  # body, leaf, sealed and the columns


def entry_rows(db: sqlite3.Connection, start: int = 0, end: int | None = None,
          batch: int = 8192) -> Iterator[StoredRow]:
    """The entries from position ``start`` on in position order (up to ``end`` of them from
    ``start``, None: all), text columns as str (so a column stored as a BLOB or a number differs
    from the body's text, as it does for the searches' comparisons)."""
    db.text_factory = str
    tallied = any(c[1] == "tally" for c in db.execute("PRAGMA table_info(entries)"))
    seq, left = start - 1, (1 << 62) if end is None else end - start
    while left > 0:
        try:
            if tallied:
                chunk = db.execute(_CHUNK, (seq, min(batch, left))).fetchall()
            else:
                chunk = [_with_tally(r) for r in
                         db.execute(_UNTALLIED, (seq, min(batch, left))).fetchall()]
        except sqlite3.OperationalError:  # a text value that is not UTF-8: tampering
            chunk = _undecoded(db, seq, min(batch, left))
        if not chunk:
            return
        yield from chunk
        seq, left = chunk[-1][0], left - len(chunk)


def _with_tally(row: StoredRow) -> StoredRow:
    """A row of a record that keeps no tally, with the one its body makes."""
    if row[4] not in COUNTED:
        return row
    try:
        tally = tally_of_body(orjson.loads(row[1]))  # type: ignore[arg-type]
    except (orjson.JSONDecodeError, TypeError, AttributeError):
        return row
    return (*row[:-1], tally)


def _undecoded(db: sqlite3.Connection, seq: int, batch: int) -> list[StoredRow]:
    """A chunk read again as bytes, where a text value does not decode: each value comes back
    as the type it is stored with, one that does not decode as bytes (a column) or text (the
    body, leaf or sealed value), so it fails its check rather than the read."""
    db.text_factory = bytes
    try:
        rows = db.execute(_TYPED, (seq, batch)).fetchall()
    finally:
        db.text_factory = str
    out: list[StoredRow] = []
    for r in rows:
        values, types = r[1:_VALUES + 1], r[_VALUES + 1:]
        out.append((r[0], *(_as_stored(v, t, column=i >= 3)  # noqa: PLR2004 - body, leaf, sealed
                            for i, (v, t) in enumerate(zip(values, types, strict=True)))))
    return out


def _as_stored(value: object, stored: bytes, *, column: bool) -> object:
    if stored != b"text" or not isinstance(value, bytes):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value if column else value.decode("utf-8", "replace")


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
        db = open_ro(path)
        notes = [(size, bytes(note).decode("utf-8", "replace")) for size, note in
                 db.execute("SELECT size, note FROM checkpoints ORDER BY size")]
        head = signed_head(db)
    except _Bad as bad:
        return refused(bad.position, bad.problem)
    except sqlite3.Error as exc:
        return refused(0, f"the database cannot be read: {exc}")
    report = verify_rows(entry_rows(db), notes, head, verifiers, origin=origin, trusted=trusted,
                         progress=progress)
    return report if cosigned is None else witnessed_sqlite(report, db, notes, cosigned)


def refused(position: int | None, problem: str) -> Report:
    """The report on a record found bad before any entry was read."""
    return Report(entries=0, checkpoints=0, root=CompactRange().root(), ok=False,
                  first_bad=position, problem=problem)


def verify_rows(
    rows: Iterable[StoredRow],
    notes: Sequence[tuple[int, str]],
    head: tuple[int, str] | None,
    verifiers: Sequence[Verifier],
    *,
    origin: str | None = None,
    trusted: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Report:
    """The checks over any store's entries (``StoredRow``), streamed in position order, its
    stored checkpoint notes (size, note) and its signed head. A failing read raises
    sqlite3.Error or RecordError (whose message holds no row data)."""
    try:
        checkpoints, limit = signed_checkpoints(notes, head, trusted, verifiers, origin)
    except _Bad as bad:
        return refused(bad.position, bad.problem)
    except (sqlite3.Error, RecordError) as exc:
        return refused(0, f"the database cannot be read: {exc}")
    pending = iter(c for c in checkpoints if c[0] > 0)
    nxt = next(pending, None)
    count_cp = 0

    def at_stop(size: int, frontier: list[bytes]) -> None:
        nonlocal nxt, count_cp
        if nxt is not None and nxt[0] == size:
            root = CompactRange.from_hashes(size, frontier).root()
            while nxt is not None and nxt[0] == size:
                if nxt[1].root != root:
                    raise _Bad(size - 1, f"the {nxt[2]} checkpoint at size {nxt[0]} does "
                                         "not match the entries")
                count_cp += 1
                nxt = next(pending, None)
        if progress is not None and size % PROGRESS == 0:
            progress(size)

    found = check_range(rows, limit=limit, stops=stops([c[0] for c in checkpoints]),
                        at_stop=at_stop)
    tree = CompactRange.from_hashes(found.size, found.frontier)
    problem = found.failure
    if problem is None and nxt is not None:
        problem = (tree.size, (f"a {nxt[2]} checkpoint covers {nxt[0]} entries but the record "
                              f"holds {tree.size}: entries were truncated or deleted"))
    if problem is None and found.dropped:
        problem = (min(found.dropped.values()), ("the entry's sealed value was dropped, but "
                   "the record holds no erasure of its customer after it"))
    if problem is not None:
        return Report(entries=tree.size, checkpoints=count_cp, root=tree.root(), ok=False,
                      first_bad=problem[0], problem=problem[1])
    last = checkpoints[-1][0] if checkpoints else 0
    policies = found.policies
    return Report(entries=tree.size, checkpoints=count_cp, root=tree.root(), ok=True,
                  unsigned_tail=tree.size - last, policy_versions=len(policies.versions),
                  predating=policies.predating, earlier_policy=policies.earlier)


def stops(sizes: Iterable[int]) -> Iterator[int]:
    """The sizes at which a verify looks up from the entries, in order: each checkpoint's,
    and every ``PROGRESS`` entries for a progress report."""
    merged = heapq.merge(sorted(s for s in sizes if s > 0),
                         itertools.count(PROGRESS, PROGRESS))
    return (size for size, _ in itertools.groupby(merged))


PROGRESS = 100_000


def signed_checkpoints(
    notes: Sequence[tuple[int, str]],
    head: tuple[int, str] | None,
    trusted: Sequence[str],
    verifiers: Sequence[Verifier],
    origin: str | None,
) -> tuple[list[tuple[int, Checkpoint, str]], int | None]:
    """Every checkpoint to hold the entries to, verified and by size, and the signed head's size
    (None without one)."""
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
    return checkpoints, limit


def signed_head(db: sqlite3.Connection) -> tuple[int, str] | None:
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
