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

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final

import attrs
import orjson

from gateway.errors import RecordError
from gateway.record.checkpoint import Checkpoint, CheckpointInvalid, Verifier, parse_and_verify
from gateway.record.entry import GENESIS, Kind, Malformed, decode, leaf_of
from gateway.record.merkle import CompactRange, leaf_hash
from gateway.record.verify_policy import KINDS as POLICY_KINDS
from gateway.record.verify_policy import PolicyCheck
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
    #: Policy versions recorded; disclosures written before the first one; carrier disclosures
    #: checked against a version older than the latest before them (``verify_policy``).
    policy_versions: int = 0
    predating: int = 0
    earlier_policy: int = 0

    def summary(self) -> str:
        if not self.ok:
            where = "" if self.first_bad is None else f" at position {self.first_bad}"
            return f"FAILED{where}: {self.problem}"
        tail = f"; {self.unsigned_tail} newer entries not yet under a checkpoint" if (
            self.unsigned_tail) else ""
        if self.policy_versions:
            tail += (f"; {self.policy_versions} policy version"
                     f"{'s' if self.policy_versions > 1 else ''}")
        if self.predating:
            tail += f"; {self.predating} disclosures predate recorded policies"
        if self.earlier_policy:
            tail += (f"; {self.earlier_policy} disclosures were checked against a policy "
                     "version older than the latest (an instance still running it)")
        return (f"OK: {self.entries} entries, {self.checkpoints} checkpoints verified, "
                f"root {self.root.hex()}{tail}")


#: The columns stored beside an entry's body that searches, reports and recovery read, each with
#: the body's field it repeats.
COLUMNS: Final = (("kind", "kind"), ("time", "time"), ("subject", "subject"),
                  ("order_ref", "order"), ("recipient", "recipient"),
                  ("disclosure", "disclosure"))

#: An entry as stored: seq, body, leaf, sealed, then the ``COLUMNS``. Values are typed
#: ``object``: a tampered database may hold any type anywhere.
StoredRow = tuple[object, ...]
SELECT: Final = "SELECT seq, body, leaf, sealed, " + ", ".join(c for c, _ in COLUMNS)


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


_CHUNK = f"{SELECT} FROM entries WHERE seq > ? ORDER BY seq LIMIT ?"
_TYPED = (f"{SELECT}, typeof(body), typeof(leaf), typeof(sealed), "
          + ", ".join(f"typeof({c})" for c, _ in COLUMNS)
          + " FROM entries WHERE seq > ? ORDER BY seq LIMIT ?")


def _rows(db: sqlite3.Connection, batch: int = 8192) -> Iterator[StoredRow]:
    """The entries in position order, text columns as str (so a column stored as a BLOB or a
    number differs from the body's text, as it does for the searches' comparisons)."""
    db.text_factory = str
    seq = -1
    while True:
        try:
            chunk = db.execute(_CHUNK, (seq, batch)).fetchall()
        except sqlite3.OperationalError:  # a text value that is not UTF-8: tampering
            chunk = _undecoded(db, seq, batch)
        if not chunk:
            return
        yield from chunk
        seq = chunk[-1][0]


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
        values, types = r[1:10], r[10:]
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


def verify_rows(  # noqa: PLR0915 - one flat loop is the cost of a verify (see below)
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
    tree = CompactRange()
    count_cp = 0
    try:
        checkpoints, limit = _checkpoints(notes, head, trusted, verifiers, origin)
        pending = iter(checkpoints)
        nxt = next(pending, None)
        while nxt is not None and nxt[0] == 0:
            nxt = next(pending, None)
        prev = GENESIS.hex()
        # Customers with an entry whose sealed value is missing, each with the first such
        # position, until an erasure of theirs later in the record allows it.
        dropped: dict[object, int] = {}
        erasure = Kind.ERASURE
        policies = PolicyCheck()
        # The loop is the cost of a verify: it stays flat (no call per entry, no copies) and
        # stops at the next checkpoint, progress report or the signed head's limit to do the
        # rest; the checks are those of _check_entry, which names what failed.
        append, sha256 = tree.append, hashlib.sha256
        stop_at = _next_stop(tree.size, nxt, limit)
        size = tree.size  # the position of the entry at hand
        for row in rows:
            seq, body, leaf, sealed, kind, time, subject, order, recipient, disclosure = row
            if limit is not None and size >= limit:
                raise _Bad(size, f"entries from position {limit} on are not under the "
                                 "signed head: they were added outside the gateway")
            try:
                doc = decode(body)  # type: ignore[arg-type]
                ok = (seq == size and leaf_hash(body) == leaf  # type: ignore[arg-type]
                      and doc.seq == seq and doc.prev == prev
                      and doc.kind == kind and doc.time == time
                      and doc.subject == subject and doc.order == order
                      and doc.recipient == recipient and doc.disclosure == disclosure
                      and (doc.sealed is None if sealed is None
                           else sha256(sealed).hexdigest() == doc.sealed))  # type: ignore[arg-type]
            except (Malformed, TypeError):
                # Names what failed; a body whose checks pass but that is no entry (a field
                # of the wrong type, an unknown kind) is malformed.
                _check_entry(size, row, bytes.fromhex(prev))
                raise _Bad(size, "the entry is malformed") from None
            if not ok:
                # Raises naming what failed, unless the one difference is a dropped value.
                _check_entry(size, row, bytes.fromhex(prev))
                dropped.setdefault(subject, size)
            elif dropped and kind == erasure:
                dropped.pop(subject, None)
            if kind in POLICY_KINDS and (problem := policies.entry(size, doc)) is not None:
                raise _Bad(size, problem)
            append(leaf)  # type: ignore[arg-type]
            prev = leaf.hex()  # type: ignore[attr-defined]
            size += 1
            if size < stop_at:
                continue
            while nxt is not None and nxt[0] == tree.size:
                if nxt[1].root != tree.root():
                    raise _Bad(size - 1, f"the {nxt[2]} checkpoint at size {nxt[0]} does "
                                         "not match the entries")
                count_cp += 1
                nxt = next(pending, None)
            if progress is not None and tree.size % _PROGRESS == 0:
                progress(tree.size)
            stop_at = _next_stop(tree.size, nxt, limit)
        if nxt is not None:
            raise _Bad(tree.size, f"a {nxt[2]} checkpoint covers {nxt[0]} entries but the record "
                                  f"holds {tree.size}: entries were truncated or deleted")
        if dropped:
            raise _Bad(min(dropped.values()), "the entry's sealed value was dropped, but the "
                       "record holds no erasure of its customer after it")
        last = checkpoints[-1][0] if checkpoints else 0
    except _Bad as bad:
        return Report(entries=tree.size, checkpoints=count_cp, root=tree.root(), ok=False,
                      first_bad=bad.position, problem=bad.problem)
    except (sqlite3.Error, RecordError) as exc:
        return Report(entries=tree.size, checkpoints=count_cp, root=tree.root(), ok=False,
                      first_bad=tree.size, problem=f"the database cannot be read: {exc}")
    return Report(entries=tree.size, checkpoints=count_cp, root=tree.root(), ok=True,
                  unsigned_tail=tree.size - last, policy_versions=len(policies.versions),
                  predating=policies.predating, earlier_policy=policies.earlier)


_PROGRESS = 100_000


def _checkpoints(
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


def _check_entry(expected: int, row: StoredRow, prev: bytes) -> None:
    """Names what is wrong with an entry the quick checks refused; returns only if the one
    difference is a sealed value dropped from an entry that names its customer (allowed once
    the record holds that customer's erasure, which the caller waits for)."""
    seq, body, leaf, sealed, *columns = row
    if seq != expected:
        raise _Bad(expected, f"position {expected} is missing (next stored position is {seq})")
    if not isinstance(body, bytes) or not isinstance(leaf, bytes) or not (
            sealed is None or isinstance(sealed, bytes)):
        raise _Bad(expected, "the entry's stored values have the wrong type")
    if leaf_of(body) != leaf:
        raise _Bad(expected, "the entry does not match its leaf hash")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Bad(expected, "the entry is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _Bad(expected, "the entry is malformed")
    if doc.get("seq") != seq:
        raise _Bad(expected, "the entry states another position")
    if doc.get("prev") != prev.hex():
        raise _Bad(expected, "the entry does not link to the entry before it")
    for (column, field), value in zip(COLUMNS, columns, strict=True):
        if field not in doc or doc[field] != value:
            raise _Bad(expected, f"the stored column {column} differs from the signed entry")
    committed = doc.get("sealed")
    if sealed is not None:
        if hashlib.sha256(sealed).hexdigest() != committed:
            raise _Bad(expected, "the sealed value does not match the hash the entry commits to")
    elif committed is not None:
        if not isinstance(doc.get("subject"), str):
            raise _Bad(expected, "the entry's sealed value was dropped, but the entry names no "
                                 "customer whose erasure would allow it")
        return
    raise _Bad(expected, "the entry is malformed")
