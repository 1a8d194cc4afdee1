"""The SQLite store's own reads for review: searches and disclosure counts (single entries,
leaves and checkpoints are the shared reads of ``stores.reads``).

A search is a keyset page on ``seq`` through one index: (subject, seq), (order_ref, seq),
(recipient, seq) or (kind, seq). Unless a customer or an order narrows it already, a period is
first turned into the range of positions its entries hold (times never step back along the
record, so a binary search over positions finds each end), so a period search is an index range
too, whichever filter comes with it; the exact time condition is still applied to each row.
"""

from __future__ import annotations

import sqlite3

from gateway.record.queries import CountRow, Search
from gateway.record.rows import Row
from gateway.record.stores.reads import COUNTED_KINDS, count_of, rows_of

#: Indexes the review searches need beyond those of the base schema.
SEARCH_SCHEMA = """
CREATE INDEX IF NOT EXISTS entries_kind ON entries (kind, seq);
CREATE INDEX IF NOT EXISTS entries_recipient_seq ON entries (recipient, seq)
    WHERE recipient IS NOT NULL;
"""


class SqliteSearch:
    """Mixed into SqliteStore; every method runs on the store's database thread."""

    #: Whether the record keeps an index on time (see ``_positions``); set by SqliteStore.
    _time_index: bool

    @property
    def db(self) -> sqlite3.Connection:  # pragma: no cover - provided by SqliteStore
        raise NotImplementedError

    def search(self, query: Search) -> list[Row]:
        """One page of entries matching ``query``, newest or oldest first, at most
        ``query.limit`` of them."""
        conditions: list[str] = []
        params: list[str | int] = []
        for column, value in (("subject", query.subject), ("order_ref", query.order),
                              ("recipient", query.recipient), ("kind", query.kind)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        # A customer or an order has few entries: its index finds them and the time is checked
        # on each. Otherwise the period becomes a position range first.
        selective = query.subject is not None or query.order is not None
        low, high = (0, 2**63 - 1) if selective else self._positions(query.since, query.until)
        if low is None or high is None:
            return []
        if query.cursor is not None:
            if query.newest_first:
                high = min(high, query.cursor - 1)
            else:
                low = max(low, query.cursor + 1)
        conditions.append("seq BETWEEN ? AND ?")
        params += [low, high]
        # The exact period check; '+' keeps the planner on the position range, not the time
        # index.
        if query.since is not None:
            conditions.append("+time >= ?")
            params.append(query.since)
        if query.until is not None:
            conditions.append("+time < ?")
            params.append(query.until)
        sql = (f"SELECT seq, body, leaf, sealed FROM entries WHERE {' AND '.join(conditions)} "  # noqa: S608 - column names are fixed
               f"ORDER BY {query.order_by} LIMIT ?")
        return rows_of(self.db.execute(sql, [*params, query.limit]))

    def _positions(self, since: str | None, until: str | None) -> tuple[int | None, int | None]:
        """The smallest and largest positions of the entries in the period (None, None when
        it holds none). Times never step back along the record, so each end is a binary search
        over positions (a few primary-key reads); a record whose times once did (schema 1)
        scans the period's stretch of its time index instead."""
        if since is None and until is None:
            return 0, 2**63 - 1
        if self._time_index:
            conditions = [c for c, v in (("time >= ?", since), ("time < ?", until))
                          if v is not None]
            low, high = self.db.execute(
                f"SELECT MIN(seq), MAX(seq) FROM entries WHERE {' AND '.join(conditions)}",  # noqa: S608
                [v for v in (since, until) if v is not None]).fetchone()
            return low, high
        (last,) = self.db.execute("SELECT MAX(seq) FROM entries").fetchone()
        size = 0 if last is None else last + 1
        low = 0 if since is None else self._first_at(since, size)
        high = size - 1 if until is None else self._first_at(until, size) - 1
        return (low, high) if low <= high else (None, None)

    def _first_at(self, time: str, size: int) -> int:
        """The first position whose entry is at ``time`` or later (``size`` if none is)."""
        low, high = 0, size
        probe = self.db.execute
        while low < high:
            middle = (low + high) // 2
            if probe("SELECT time FROM entries WHERE seq = ?", (middle,)).fetchone()[0] < time:
                low = middle + 1
            else:
                high = middle
        return low

    def disclosure_counts_by(self, since: str | None, until: str | None) -> list[CountRow]:
        """Carrier outcomes and authority disclosures in the period, counted per recipient,
        month, result, legal basis and authority request: the period's range of the index of
        counted entries (their stored tallies, which verify checks against the bodies)."""
        low, high = self._positions(since, until)
        if low is None or high is None:
            return []
        rows = self.db.execute(
            "SELECT kind, recipient, substr(time, 1, 7), tally, COUNT(*) "
            "FROM entries INDEXED BY entries_tally WHERE tally IS NOT NULL AND kind IN (?, ?) "
            "AND seq BETWEEN ? AND ? AND time >= ? AND time < ? GROUP BY 1, 2, 3, 4",
            (*COUNTED_KINDS, low, high, since or "", until or "\U0010ffff"))
        return [count_of(r) for r in rows]

