"""A SQLite record verified by several processes: the positions are split into ranges of
``CHUNK`` entries (a power of two, so each range's Merkle subtrees are the tree's own, RFC 9162
2.1.1), each checked by ``verify_range.check_range`` in a worker process over its own
read-only connection, and joined here in position order: the tree from the ranges' subtrees,
every checkpoint's root from the subtrees before its size and the range's own up to it, the
hash chain across ranges (a range starts from the stored leaf before it, which the range before
checks), dropped sealed values against erasures in later ranges, and intents against the policy
versions of the ranges before theirs. The report is the one ``verify_rows`` makes, the first
bad position named the same way; memory stays flat (a range at a time per worker).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final

import attrs

from gateway.record.checkpoint import Checkpoint, Verifier
from gateway.record.merkle import CompactRange, fold
from gateway.record.verify import (
    PROGRESS,
    entry_rows,
    open_ro,
    refused,
    signed_checkpoints,
    signed_head,
    verify_sqlite,
)
from gateway.record.verify_policy import PolicyCheck
from gateway.record.verify_range import Bad, Range, Report, check_range
from gateway.record.verify_witnessed import witnessed_sqlite

#: Entries per range: a power of two.
CHUNK: Final = 1 << 16


@attrs.frozen
class _Task:
    path: str
    start: int
    end: int | None  # None: to the last stored entry
    limit: int | None
    sizes: tuple[int, ...]  # checkpoint sizes in (start, end]


@attrs.frozen
class _Done:
    found: Range
    partials: list[tuple[int, list[bytes]]]


def verify_sqlite_split(
    path: Path,
    verifiers: Sequence[Verifier],
    *,
    workers: int,
    origin: str | None = None,
    trusted: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    cosigned: Callable[[str, str], str | None] | None = None,
    chunk: int = CHUNK,
) -> Report:
    """``verify_sqlite`` on ``workers`` processes, each checking ranges of ``chunk`` entries
    (a power of two); a record of one range or less is checked here, in one."""
    try:
        db = open_ro(path)
        notes = [(size, bytes(note).decode("utf-8", "replace")) for size, note in
                 db.execute("SELECT size, note FROM checkpoints ORDER BY size")]
        head = signed_head(db)
        last = db.execute("SELECT max(seq) FROM entries").fetchone()[0]
    except Bad as bad:
        return refused(bad.position, bad.problem)
    except sqlite3.Error as exc:
        return refused(0, f"the database cannot be read: {exc}")
    if workers < 2 or not isinstance(last, int) or last < chunk:  # noqa: PLR2004
        db.close()
        return verify_sqlite(path, verifiers, origin=origin, trusted=trusted,
                             progress=progress, cosigned=cosigned)
    try:
        checkpoints, limit = signed_checkpoints(notes, head, trusted, verifiers, origin)
    except Bad as bad:
        db.close()
        return refused(bad.position, bad.problem)
    starts = range(0, last + 1, chunk)
    tasks = [_Task(str(path), s, None if s == starts[-1] else s + chunk, limit,
                   tuple(c[0] for c in checkpoints if s < c[0] <= s + chunk))
             for s in starts]
    # Never a plain fork: the caller may run threads (a store's, an executor's) whose locks a
    # forked child would inherit held. The fork server is started single-threaded.
    context = multiprocessing.get_context(
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
    try:
        with context.Pool(min(workers, len(tasks))) as pool:
            report = _join(pool.imap(_check, tasks), checkpoints, chunk, progress)
        return report if cosigned is None else witnessed_sqlite(report, db, notes, cosigned)
    finally:
        db.close()


def _check(task: _Task) -> _Done:
    """One range, checked in a worker process; a range the database cannot give fails there,
    named by its first position."""
    try:
        return _check_range(task)
    except sqlite3.Error as exc:
        return _Done(Range(start=task.start, size=task.start, frontier=[], prev="", dropped={},
                           erased=set(), policies=PolicyCheck(task.start),
                           failure=(task.start, f"the database cannot be read: {exc}")), [])


def _check_range(task: _Task) -> _Done:
    db = sqlite3.connect(f"file:{task.path}?mode=ro", uri=True)
    db.text_factory = bytes
    try:
        prev = None
        if task.start > 0:
            row = db.execute("SELECT leaf FROM entries WHERE seq = ?", (task.start - 1,)
                             ).fetchone()
            # A leaf missing or of the wrong type fails the range before, which names it.
            prev = row[0].hex() if row is not None and isinstance(row[0], bytes) else ""
        partials: list[tuple[int, list[bytes]]] = []
        found = check_range(entry_rows(db, task.start, task.end), start=task.start, prev=prev,
                            end=task.end, limit=task.limit, stops=iter(task.sizes),
                            at_stop=lambda size, frontier: partials.append(
                                (size, list(frontier))))
        return _Done(found, partials)
    finally:
        db.close()


def _join(done: Iterator[_Done], checkpoints: list[tuple[int, Checkpoint, str]], chunk: int,
          progress: Callable[[int], None] | None) -> Report:
    """The ranges' findings joined in position order into the record's report."""
    ranges = CompactRange()  # over the full ranges' roots, each a perfect subtree
    pending = iter(c for c in checkpoints if c[0] > 0)
    nxt = next(pending, None)
    count_cp, size = 0, 0
    dropped: dict[object, int] = {}
    policies = None
    frontier: list[bytes] = []
    for d in done:
        found = d.found
        problem = found.failure
        if policies is None:
            policies = found.policies
        else:
            late = policies.join(found.policies)
            if late is not None and (problem is None or problem[0] is None
                                     or late[0] < problem[0]):
                problem = late
        for at, part in d.partials:
            if problem is not None and problem[0] is not None and at - 1 >= problem[0]:
                break
            root = fold([*ranges.hashes, *part])
            while nxt is not None and nxt[0] == at:
                if nxt[1].root != root:
                    problem = (at - 1, (f"the {nxt[2]} checkpoint at size {nxt[0]} does not "
                                       "match the entries"))
                    break
                count_cp += 1
                nxt = next(pending, None)
            if problem is not None and problem[0] == at - 1:
                break
        for subject in found.erased:
            dropped.pop(subject, None)
        for subject, at in found.dropped.items():
            dropped.setdefault(subject, at)
        if progress is not None:
            for n in range(size // PROGRESS + 1, found.size // PROGRESS + 1):
                progress(n * PROGRESS)
        size, frontier = found.size, found.frontier
        if problem is not None:
            return _report(ranges, size, frontier, count_cp, problem)
        if size - found.start == chunk:
            ranges.append(frontier[0])
            frontier = []
    if policies is None:
        return _report(ranges, size, frontier, count_cp, (0, "the record holds no entries"))
    if nxt is not None:
        return _report(ranges, size, frontier, count_cp, (
            size, (f"a {nxt[2]} checkpoint covers {nxt[0]} entries but the record holds "
                  f"{size}: entries were truncated or deleted")))
    if dropped:
        return _report(ranges, size, frontier, count_cp, (
            min(dropped.values()), ("the entry's sealed value was dropped, but the record "
                                   "holds no erasure of its customer after it")))
    last = checkpoints[-1][0] if checkpoints else 0
    return Report(entries=size, checkpoints=count_cp, root=fold([*ranges.hashes, *frontier]),
                  ok=True, unsigned_tail=size - last, policy_versions=len(policies.versions),
                  predating=policies.predating, earlier_policy=policies.earlier)


def _report(ranges: CompactRange, size: int, frontier: list[bytes], count_cp: int,
            problem: tuple[int | None, str]) -> Report:
    return Report(entries=size, checkpoints=count_cp, root=fold([*ranges.hashes, *frontier]),
                  ok=False, first_bad=problem[0], problem=problem[1])
