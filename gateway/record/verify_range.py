"""The checks of a verify over a contiguous range of entries, and the report they make.

``check_range`` reads a range's stored rows in position order and checks, for each: its
position, its link to the previous leaf, its leaf hash, its sealed value's hash, and every
column stored beside the body (``COLUMNS``) against the body, and the policy check of intents
(``verify_policy``); an entry's ``tally``, what the transparency report counts it by,
is checked against the body it is derived from (``tally``). It builds the range's Merkle
subtrees (RFC 9162) a batch of leaves at a time and hands the caller the range's perfect
subtrees at each size it asks for (a checkpoint's size, a progress report). A whole record is
one range; ``verify_parallel`` splits it into ranges aligned to a power of two, checked in other
processes and joined in order.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import attrs
import msgspec
import orjson

from gateway.errors import RecordError
from gateway.record.entry import GENESIS, Entry, Head, Kind, Malformed, decode, leaf_of
from gateway.record.tally import COUNTED, tally_of, tally_of_body
from gateway.record.verify_policy import KINDS as POLICY_KINDS
from gateway.record.verify_policy import POLICY_VERSION, PolicyCheck


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
#: the body's field it repeats (None: derived from the body, ``tally.tally_of_body``).
COLUMNS: Final = (("kind", "kind"), ("time", "time"), ("subject", "subject"),
                  ("order_ref", "order"), ("recipient", "recipient"),
                  ("disclosure", "disclosure"), ("tally", None))

#: An entry as stored: seq, body, leaf, sealed, then the ``COLUMNS``. Values are typed
#: ``object``: a tampered database may hold any type anywhere. The columns are compared here,
#: not in SQL: on SQLite 3.40, json_extract parses the whole body per row, which costs more than
#: fetching the columns (measured: a verify's marginal rate 0.79x with the comparison in SQL).
StoredRow = tuple[object, ...]
SELECT: Final = "SELECT seq, body, leaf, sealed, " + ", ".join(c for c, _ in COLUMNS)


class Bad(Exception):
    def __init__(self, position: int | None, problem: str) -> None:
        super().__init__(problem)
        self.position = position
        self.problem = problem


class _Stored(Head, frozen=True, gc=False):
    """A body as ``entry.decode`` reads it, every field of the same type, with ``data`` read as
    the mapping recorded in the same pass. A body this does not read goes to ``decode``."""

    data: dict[str, Any]
    sealed: str | None
    v: int


_STORED: Final = msgspec.json.Decoder(_Stored)
_NODE: Final = b"\x01"
_LEAF: Final = b"\x00"
#: Leaves hashed into the tree at a time, at least (a stop may come sooner).
_FLUSH: Final = 4096
_NEVER: Final = 1 << 62


@attrs.define
class Range:
    """What ``check_range`` found over [start, size): the range's perfect subtrees (largest
    first, as if the range began the tree), its last leaf (hex), the customers with a dropped
    sealed value no erasure after it allows yet (each with the first such position), the
    customers erased in it (kept only for a range after the first), its policy check, and the
    first problem (position, what), if any."""

    start: int
    size: int
    frontier: list[bytes]
    prev: str
    dropped: dict[object, int]
    erased: set[object]
    policies: PolicyCheck
    failure: tuple[int | None, str] | None = None


def check_range(  # noqa: PLR0915 - one flat loop is the cost of a verify
    rows: Iterable[StoredRow],
    *,
    start: int = 0,
    prev: str | None = None,
    end: int | None = None,
    limit: int | None = None,
    stops: Iterator[int] | None = None,
    at_stop: Callable[[int, list[bytes]], None] | None = None,
) -> Range:
    """Check ``rows`` as the entries from position ``start`` (whose previous leaf is ``prev``,
    hex) up to ``end`` (exclusive; None: the rows' end); entries from ``limit`` on (the signed
    head's size) fail. At each size ``stops`` yields (increasing), ``at_stop`` gets the size and
    the range's subtrees so far; it may raise ``Bad``."""
    prev = GENESIS.hex() if prev is None else prev
    policies = PolicyCheck(start=start)
    found = Range(start, start, [], prev, {}, set(), policies)
    frontier, dropped, erased = found.frontier, found.dropped, found.erased
    track = start > 0
    leaves: list[bytes] = []
    append, sha256, stored, erasure, policy, counted = (
        leaves.append, hashlib.sha256, _STORED.decode, Kind.ERASURE, Kind.POLICY, COUNTED)
    lim = _NEVER if limit is None else limit
    last = _NEVER if end is None else end
    stops = stops if stops is not None else iter(())
    nxt = next(stops, _NEVER)
    while nxt <= start:
        nxt = next(stops, _NEVER)
    size = start  # the position of the entry at hand
    stop_at = min(nxt, last, (size // _FLUSH + 1) * _FLUSH)
    try:
        for row in rows:
            (seq, body, leaf, sealed, kind, time, subject, order, recipient, disclosure,
             tally) = row
            if size >= lim:
                raise Bad(size, f"entries from position {lim} on are not under the "
                                "signed head: they were added outside the gateway")
            doc: _Stored | Entry
            try:
                doc = stored(body)  # type: ignore[arg-type]
                ok = (seq == size and sha256(_LEAF + body).digest() == leaf  # type: ignore[operator]
                      and doc.seq == seq and doc.prev == prev
                      and doc.kind == kind and doc.time == time
                      and doc.subject == subject and doc.order == order
                      and doc.recipient == recipient and doc.disclosure == disclosure
                      and (tally is None if kind not in counted
                           else tally == tally_of(kind, doc.data, doc.fields))
                      and (doc.sealed is None if sealed is None
                           else sha256(sealed).hexdigest() == doc.sealed))  # type: ignore[arg-type]
            except (msgspec.MsgspecError, TypeError):
                doc, ok = _decoded(size, row, prev)
            if not ok:
                # Raises naming what failed, unless the one difference is a dropped value.
                check_entry(size, row, bytes.fromhex(prev))
                dropped.setdefault(subject, size)
            elif kind == erasure:
                if track:
                    erased.add(subject)
                dropped.pop(subject, None)
            if kind in POLICY_KINDS:
                if kind == policy or isinstance(doc, Entry):
                    problem = policies.entry(size, doc if isinstance(doc, Entry) else decode(
                        body))  # type: ignore[arg-type]
                else:
                    problem = policies.intent(doc.kind, doc.data.get(POLICY_VERSION),
                                              doc.policy, seq=size)
                if problem is not None:
                    raise Bad(size, problem)
            append(leaf)  # type: ignore[arg-type]
            prev = leaf.hex()  # type: ignore[attr-defined]
            size += 1
            if size < stop_at:
                continue
            _extend(frontier, found.size - start, leaves)
            found.size, found.prev = size, prev
            leaves.clear()
            while nxt <= size:
                if nxt == size and at_stop is not None:
                    at_stop(size, frontier)
                nxt = next(stops, _NEVER)
            if size >= last:
                break
            stop_at = min(nxt, last, (size // _FLUSH + 1) * _FLUSH)
    except Bad as bad:
        found.failure = (bad.position, bad.problem)
    except (sqlite3.Error, RecordError) as exc:
        found.failure = (size, f"the database cannot be read: {exc}")
    if leaves:
        _extend(frontier, found.size - start, leaves)
        found.size, found.prev = found.size + len(leaves), prev
    return found


def _decoded(size: int, row: StoredRow, prev: str) -> tuple[Entry, bool]:
    """The checks of ``check_range`` on a body its one-pass read refused, through
    ``entry.decode``; raises ``Bad`` naming what failed if the body is no entry."""
    seq, body, leaf, sealed, kind, time, subject, order, recipient, disclosure, tally = row
    try:
        doc = decode(body)  # type: ignore[arg-type]
        ok = (seq == size and leaf_of(body) == leaf  # type: ignore[arg-type]
              and doc.seq == seq and doc.prev == prev
              and doc.kind == kind and doc.time == time
              and doc.subject == subject and doc.order == order
              and doc.recipient == recipient and doc.disclosure == disclosure
              and tally == tally_of_body(orjson.loads(body))  # type: ignore[arg-type]
              and (doc.sealed is None if sealed is None
                   else hashlib.sha256(sealed).hexdigest() == doc.sealed))  # type: ignore[arg-type]
    except (Malformed, TypeError):
        # Names what failed; a body whose checks pass but that is no entry (a field of the
        # wrong type, an unknown kind) is malformed.
        check_entry(size, row, bytes.fromhex(prev))
        raise Bad(size, "the entry is malformed") from None
    return doc, ok


def _extend(frontier: list[bytes], size: int, leaves: list[bytes]) -> None:
    """Add ``leaves`` to the tree of ``size`` leaves whose perfect subtrees are ``frontier``:
    each aligned block of a power of two is hashed level by level, then merged in."""
    sha256 = hashlib.sha256
    i, n = 0, len(leaves)
    while i < n:
        block = size & -size if size else _NEVER
        while block > n - i:
            block >>= 1
        level = leaves[i:i + block]
        while len(level) > 1:
            pairs = iter(level)
            level = [sha256(_NODE + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        node = level[0]
        m = size // block
        while m & 1:
            node = sha256(_NODE + frontier.pop() + node).digest()
            m >>= 1
        frontier.append(node)
        size += block
        i += block


def check_entry(expected: int, row: StoredRow, prev: bytes) -> None:
    """Names what is wrong with an entry the quick checks refused; returns only if the one
    difference is a sealed value dropped from an entry that names its customer (allowed once
    the record holds that customer's erasure, which the caller waits for)."""
    seq, body, leaf, sealed, *columns = row
    if seq != expected:
        raise Bad(expected, f"position {expected} is missing (next stored position is {seq})")
    if not isinstance(body, bytes) or not isinstance(leaf, bytes) or not (
            sealed is None or isinstance(sealed, bytes)):
        raise Bad(expected, "the entry's stored values have the wrong type")
    if leaf_of(body) != leaf:
        raise Bad(expected, "the entry does not match its leaf hash")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Bad(expected, "the entry is not valid JSON") from None
    if not isinstance(doc, dict):
        raise Bad(expected, "the entry is malformed")
    if doc.get("seq") != seq:
        raise Bad(expected, "the entry states another position")
    if doc.get("prev") != prev.hex():
        raise Bad(expected, "the entry does not link to the entry before it")
    for (column, field), value in zip(COLUMNS, columns, strict=True):
        if (field not in doc or doc[field] != value) if field is not None else (
                tally_of_body(doc) != value):
            raise Bad(expected, f"the stored column {column} differs from the signed entry")
    committed = doc.get("sealed")
    if sealed is not None:
        if hashlib.sha256(sealed).hexdigest() != committed:
            raise Bad(expected, "the sealed value does not match the hash the entry commits to")
    elif committed is not None:
        if not isinstance(doc.get("subject"), str):
            raise Bad(expected, "the entry's sealed value was dropped, but the entry names no "
                                "customer whose erasure would allow it")
        return
    raise Bad(expected, "the entry is malformed")
