"""The state the record vouches for, rebuilt from its entries alone and compared with the side
tables the gateway reads it from (``gateway log audit``).

``log verify`` proves the entries; this proves the tables agree with them. Whoever edits a
table past the gateway (a role added to an account, a request moved to another state, a legal
hold deleted, an erasure made to wait, an erased customer's key put back) is named here, one
line per difference:

- staff accounts: which exist, their roles, enabled or disabled (``staff.changed`` entries).
  Passwords are never in the record, not even hashed, so they are not compared;
- authority requests: which exist and their state (``authority.*`` entries: each step after
  intake carries the state it leaves the request in, ``preserving`` and ``objected`` too);
- legal holds: subject, end and basis (``erasure.hold``, lifted by ``erasure.released``; a
  preservation order's, placed by its ``authority.approved`` or ``authority.preserved`` entry
  naming the customers held, ended by its ``authority.preservation_ended`` or by the intake
  entry of the production request that follows it, naming it in ``preservation_ended``);
- deferred erasures: subject, due time and basis (``erasure.deferred``, ended by an
  ``erasure`` or ``erasure.released`` entry);
- customer keys: a customer whose last word in the record is an erasure has no key; one whose
  last word is a sealed value has one.

The rules read records written before entries carried the state after each change, too: an
authority request's state follows from the kind of its entries (the first intent moves it to
``disclosing``, its last outcome to ``disclosed``); a staff entry's ``enabled`` from its action;
a released hold's time from the entry's time (the due time a deferred erasure got from that
release is then unknown, and only its basis is compared).

Entries and tables are read in one snapshot, so a gateway may keep running meanwhile. The
bodies are read as stored: run ``log verify`` too, which proves them.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from gateway.errors import RecordError
from gateway.record.entry import DATA, Kind, Malformed, decode
from gateway.record.entry_data import (
    ErasureData,
    ErasureDeferredData,
    ErasureReleasedData,
    LegalHoldData,
    StaffData,
)
from gateway.record.rows import HOLD_RELEASED

#: The side tables as compared, one query each (the same text on SQLite and PostgreSQL).
STAFF_SQL: Final = "SELECT username, roles, disabled FROM staff"
REQUESTS_SQL: Final = "SELECT id, state FROM authority_requests"
HOLDS_SQL: Final = "SELECT subject, until, basis FROM legal_holds"
PENDING_SQL: Final = "SELECT subject, due, basis FROM pending_erasures"
KEYS_SQL: Final = "SELECT subject FROM subject_keys"

_ERASURE_DATA: Final = (ErasureData, ErasureDeferredData, LegalHoldData, ErasureReleasedData)
#: The kinds the side state is rebuilt from by their typed data: one whose data does not fit
#: its type cannot be read.
_REBUILT_FROM: Final = frozenset(kind for kind, data in DATA.items()
                                 if data in (StaffData, *_ERASURE_DATA))
_DECIDED: Final = {Kind.AUTHORITY_RECEIVED: "received", Kind.AUTHORITY_APPROVED: "approved",
                   Kind.AUTHORITY_REJECTED: "rejected", Kind.AUTHORITY_CLOSED: "closed"}


def _quoted(text: object) -> str:
    """Text from a table or an entry, quoted with control characters escaped."""
    return orjson.dumps(str(text)).decode()


def _name(text: str) -> str:
    """A staff account's name: as it is if it is one word of printable characters (every name
    the gateway accepts), quoted otherwise."""
    return text if text and text.isprintable() and " " not in text else _quoted(text)


@attrs.frozen
class Tables:
    """The side tables as stored: staff (sorted roles, enabled), request states, holds
    (subject, until, basis) counted, deferred erasures (due, basis), subjects with a key."""

    staff: Mapping[str, tuple[tuple[str, ...], bool]]
    requests: Mapping[str, str]
    holds: Counter[tuple[str, str, str]]
    pending: Mapping[str, tuple[str, str]]
    keys: frozenset[str]

    @classmethod
    def from_rows(cls, *, staff: Iterable[Any], requests: Iterable[Any], holds: Iterable[Any],
                  pending: Iterable[Any], keys: Iterable[Any]) -> Tables:
        """From the rows of the ``*_SQL`` queries (tuples or driver records)."""
        return cls(
            staff={r[0]: (tuple(sorted(x for x in str(r[1]).split(",") if x)), not r[2])
                   for r in staff},
            requests={r[0]: r[1] for r in requests},
            holds=Counter((r[0], r[1], r[2]) for r in holds),
            pending={r[0]: (r[1], r[2]) for r in pending},
            keys=frozenset(r[0] for r in keys))


@attrs.define
class Rebuilt:
    """The state as the entries say it is, built one entry at a time (``add``)."""

    entries: int = 0
    #: username -> (sorted roles, enabled, position of the last change)
    staff: dict[str, tuple[tuple[str, ...], bool, int]] = attrs.field(factory=dict)
    #: request id -> (state, position of the last step)
    requests: dict[str, tuple[str, int]] = attrs.field(factory=dict)
    #: request id -> how many intent/outcome pairs its disclosure has
    slots: dict[str, int] = attrs.field(factory=dict)
    holds: Counter[tuple[str, str, str]] = attrs.field(factory=Counter)
    #: subject -> (due, or None where an old release left it unknown; basis)
    pending: dict[str, tuple[str | None, str]] = attrs.field(factory=dict)
    #: subject -> (has a key, position that says so: its last sealed value or its erasure)
    keys: dict[str, tuple[bool, int]] = attrs.field(factory=dict)
    unreadable: list[int] = attrs.field(factory=list)

    def add(self, seq: int, body: bytes) -> None:
        self.entries += 1
        try:
            entry = decode(body)
        except Malformed:
            self.unreadable.append(seq)
            return
        kind, data, subject = entry.kind, entry.data, entry.subject
        if kind in _REBUILT_FROM and isinstance(data, dict):
            self.unreadable.append(seq)
            return
        if isinstance(data, StaffData):
            self._staff(seq, data)
        elif kind.startswith("authority.") and isinstance(data, dict):
            try:
                self._authority(seq, kind, entry.disclosure or "", data)
            except (KeyError, TypeError, ValueError, AttributeError):
                self.unreadable.append(seq)
                return
        elif subject is not None and isinstance(data, _ERASURE_DATA):
            self._erasure(subject, entry.time, data)
        if subject is None:
            return
        if kind == Kind.ERASURE:
            self.keys[subject] = (False, seq)
        elif entry.sealed is not None:
            self.keys[subject] = (True, seq)

    def _staff(self, seq: int, data: StaffData) -> None:
        enabled = data.action != "disabled" if data.enabled is None else data.enabled
        self.staff[data.username] = (tuple(sorted(data.roles)), enabled, seq)

    def _authority(self, seq: int, kind: Kind, disclosure: str,
                   data: Mapping[str, Any]) -> None:
        request, _, slot = disclosure.partition(":")
        state = data.get("state")
        if kind == Kind.AUTHORITY_RECEIVED:
            self.slots[request] = max(1, len(data.get("subjects") or ()))
        if state is None and kind in _DECIDED:
            state = _DECIDED[kind]
        elif state is None and kind == Kind.AUTHORITY_INTENT and slot == "0":
            state = "disclosing"
        elif state is None and kind == Kind.AUTHORITY_DISCLOSURE and slot.isdigit() and (
                int(slot) == self.slots.get(request, 1) - 1):
            state = "disclosed"
        if state is not None:
            self.requests[request] = (state, seq)
        if data.get("holds") is not None:  # a preservation order's, placed with its entry
            for subject in data["holds"]:
                self.holds[(subject, data["until"], data["basis"])] += 1
        if kind == Kind.AUTHORITY_PRESERVATION_ENDED:  # its holds still running end with it
            self._end_holds(data)
        if (ended := data.get("preservation_ended")) is not None:
            # a production request's intake ended the preservation it follows
            self.requests[ended["request"]] = (ended["state"], seq)
            self._end_holds(ended)

    def _end_holds(self, ended: Mapping[str, Any]) -> None:
        """A preservation order's holds still running when it ended end with it."""
        for hold in [h for h in self.holds if h[2] == ended["basis"] and h[1] > ended["at"]]:
            del self.holds[hold]

    def _erasure(self, subject: str, time: str,
                 data: ErasureData | ErasureDeferredData | LegalHoldData | ErasureReleasedData,
                 ) -> None:
        if isinstance(data, ErasureData):
            self.pending.pop(subject, None)
        elif isinstance(data, ErasureDeferredData):
            self.pending[subject] = (data.due, data.basis)
        elif isinstance(data, LegalHoldData):
            self.holds[(subject, data.until, data.basis)] += 1
        elif data.released == "erasure":
            self.pending.pop(subject, None)
        else:
            at = data.at
            for hold in [h for h in self.holds if h[0] == subject and h[1] > (at or time)]:
                del self.holds[hold]
            if subject in self.pending:
                self.pending[subject] = (at, HOLD_RELEASED)


@attrs.frozen
class AuditReport:
    entries: int
    differences: tuple[str, ...]
    counted: str = ""

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        if self.ok:
            return (f"OK: the state rebuilt from {self.entries} entries matches the tables: "
                    f"{self.counted} (passwords are not in the record and are not compared)")
        head = (f"FAILED: {len(self.differences)} difference(s) between the tables and the "
                f"state rebuilt from {self.entries} entries:")
        return "\n".join([head, *(f"  {d}" for d in self.differences)])


def compare(rebuilt: Rebuilt, tables: Tables) -> AuditReport:
    """Every difference between the rebuilt state and the tables, one line each."""
    out = [f"entry at position {seq}: its body cannot be read (run gateway log verify)"
           for seq in rebuilt.unreadable]
    out += _staff(rebuilt, tables)
    for rid in sorted(rebuilt.requests.keys() | tables.requests.keys()):
        mine, theirs = rebuilt.requests.get(rid), tables.requests.get(rid)
        if mine is None:
            out.append(f"authority request {rid}: in table ({theirs}), not in record")
        elif theirs is None:
            out.append(f"authority request {rid}: in record ({mine[0]} at position "
                       f"{mine[1]}), not in table")
        elif mine[0] != theirs:
            out.append(f"authority request {rid}: state in table {theirs}, in record "
                       f"{mine[0]} (position {mine[1]})")
    for hold in sorted(rebuilt.holds.keys() | tables.holds.keys()):
        if rebuilt.holds[hold] != tables.holds[hold]:
            out.append(f"legal hold on {hold[0]} until {hold[1]} (basis {_quoted(hold[2])}): "
                       f"{tables.holds[hold]} in table, {rebuilt.holds[hold]} in record")
    out += _pending(rebuilt, tables)
    out += _keys(rebuilt, tables)
    erased = sum(1 for has, _ in rebuilt.keys.values() if not has)
    counted = (f"{len(rebuilt.staff)} staff accounts, {len(rebuilt.requests)} authority "
               f"requests, {sum(rebuilt.holds.values())} legal holds, {len(rebuilt.pending)} "
               f"deferred erasures, {erased} erased customers")
    return AuditReport(entries=rebuilt.entries, differences=tuple(out), counted=counted)


def _staff(rebuilt: Rebuilt, tables: Tables) -> Iterator[str]:
    for name in sorted(rebuilt.staff.keys() | tables.staff.keys()):
        mine, theirs = rebuilt.staff.get(name), tables.staff.get(name)
        if mine is None:
            yield f"staff {_name(name)}: in table, not in record"
        elif theirs is None:
            yield f"staff {_name(name)}: in record (position {mine[2]}), not in table"
        else:
            if mine[0] != theirs[0]:
                yield (f"staff {_name(name)}: roles in table [{', '.join(theirs[0])}], in "
                       f"record [{', '.join(mine[0])}]")
            if mine[1] != theirs[1]:
                yield (f"staff {_name(name)}: {_enabled(theirs[1])} in table, "
                       f"{_enabled(mine[1])} in record (position {mine[2]})")


def _enabled(flag: bool) -> str:  # noqa: FBT001
    return "enabled" if flag else "disabled"


def _pending(rebuilt: Rebuilt, tables: Tables) -> Iterator[str]:
    for subject in sorted(rebuilt.pending.keys() | tables.pending.keys()):
        mine, theirs = rebuilt.pending.get(subject), tables.pending.get(subject)
        if mine is None:
            yield f"deferred erasure of {subject}: in table, not in record"
        elif theirs is None:
            yield f"deferred erasure of {subject}: in record, not in table"
        else:
            if mine[0] is not None and mine[0] != theirs[0]:
                yield (f"deferred erasure of {subject}: due in table {_quoted(theirs[0])}, "
                       f"in record {mine[0]}")
            if mine[1] != theirs[1]:
                yield (f"deferred erasure of {subject}: basis in table {_quoted(theirs[1])}, "
                       f"in record {_quoted(mine[1])}")


def _keys(rebuilt: Rebuilt, tables: Tables) -> Iterator[str]:
    for subject in sorted(rebuilt.keys.keys() | tables.keys):
        mine = rebuilt.keys.get(subject)
        if mine is None:
            yield (f"customer {subject}: key in table, but the record holds no value sealed "
                   "for them")
        elif mine[0] and subject not in tables.keys:
            yield (f"customer {subject}: no key in table, but not erased in record (last "
                   f"sealed value at position {mine[1]})")
        elif not mine[0] and subject in tables.keys:
            yield f"customer {subject}: key in table, but erased in record at position {mine[1]}"


def audit_rows(entries: Iterable[tuple[int, bytes]], tables: Callable[[], Tables],
               progress: Callable[[int], None] | None = None) -> AuditReport:
    """Rebuild from ``entries`` (position, body), then compare with ``tables()``."""
    rebuilt = Rebuilt()
    for seq, body in entries:
        rebuilt.add(seq, body)
        if progress is not None and rebuilt.entries % 100_000 == 0:
            progress(rebuilt.entries)
    return compare(rebuilt, tables())


def audit_sqlite(path: Path, progress: Callable[[int], None] | None = None) -> AuditReport:
    """Audit a SQLite record file, read-only, in one read transaction (one snapshot);
    RecordError if it cannot be read."""
    if not path.exists():
        raise RecordError(f"no record at {path}")
    try:
        return _audit_sqlite(path, progress)
    except sqlite3.Error as exc:
        raise RecordError(f"the record at {path} cannot be read: {exc}") from None


def _audit_sqlite(path: Path, progress: Callable[[int], None] | None) -> AuditReport:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("BEGIN")

        def entries(batch: int = 8192) -> Iterator[tuple[int, bytes]]:
            seq = -1
            while chunk := db.execute(
                    "SELECT seq, body FROM entries WHERE seq > ? ORDER BY seq LIMIT ?",
                    (seq, batch)).fetchall():
                for s, body in chunk:
                    yield s, body if isinstance(body, bytes) else str(body).encode()
                seq = chunk[-1][0]

        def tables() -> Tables:
            return Tables.from_rows(
                staff=db.execute(STAFF_SQL), requests=db.execute(REQUESTS_SQL),
                holds=db.execute(HOLDS_SQL), pending=db.execute(PENDING_SQL),
                keys=db.execute(KEYS_SQL))

        return audit_rows(entries(), tables, progress)
    finally:
        db.close()
