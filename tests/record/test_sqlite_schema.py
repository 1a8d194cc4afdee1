"""The SQLite record's schema 2: subtree hashes kept with the batches that complete them, times
that never step back, and the upgrade of a schema-1 record."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from gateway.record import Draft, Kind
from gateway.record.merkle import SUBTREE_MIN, CompactRange, subtree_hash
from gateway.record.queries import Search
from gateway.record.stores.sqlite.store import SqliteStore


def _drafts(n: int) -> list[Draft]:
    return [Draft(kind=Kind.REVIEW, subject=f"s{i % 7}", data={"i": i}) for i in range(n)]


def _filled(path: Path, sizes: list[int], times: list[str]) -> SqliteStore:
    store = SqliteStore(path)
    store.open()
    for size, time in zip(sizes, times, strict=True):
        store.append_batch(_drafts(size), [None] * size, time)
    return store


def _subtrees(db: sqlite3.Connection) -> dict[tuple[int, int], bytes]:
    rows = db.execute("SELECT start, size, hash FROM subtrees")
    return {(s, s + n): bytes(h) for s, n, h in rows}


def _expected(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    out = {}
    width = SUBTREE_MIN
    while width <= len(leaves):
        for start in range(0, len(leaves) - width + 1, width):
            out[(start, start + width)] = subtree_hash(start, start + width, leaves)
        width *= 2
    return out


def test_every_complete_subtree_is_kept_with_its_batch(tmp_path: Path) -> None:
    store = _filled(tmp_path / "r.sqlite", [300, 500, 1300],
                    ["2026-01-01T00:00:00.000Z"] * 3)
    leaves = store.leaves(0, store.size)
    assert _subtrees(store.db) == _expected(leaves)
    assert len(_expected(leaves)) == 2100 // 256 + 2100 // 512 + 2100 // 1024 + 2100 // 2048
    store.close()


def test_a_clock_stepping_back_does_not_move_time_back(tmp_path: Path) -> None:
    store = _filled(tmp_path / "r.sqlite", [3, 3],
                    ["2026-02-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"])
    times = [t for (t,) in store.db.execute("SELECT time FROM entries ORDER BY seq")]
    assert times == ["2026-02-01T00:00:00.000Z"] * 6
    found = store.search(Search(since="2026-02-01T00:00:00.000Z",
                                until="2026-02-02T00:00:00.000Z"))
    assert sorted(r.seq for r in found) == list(range(6))
    assert store.search(Search(since="2026-01-01T00:00:00.000Z",
                               until="2026-01-31T00:00:00.000Z")) == []
    store.close()


def test_a_later_time_another_writer_appended_is_not_stepped_back_from(tmp_path: Path) -> None:
    """The writer keeps its last entry's time, but reads it again once another process has
    appended: an entry after another writer's later one does not take an earlier time."""
    path = tmp_path / "r.sqlite"
    first = _filled(path, [2], ["2026-01-01T00:00:00.000Z"])
    other = _filled(path, [2], ["2026-03-01T00:00:00.000Z"])
    first.append_batch(_drafts(2), [None] * 2, "2026-02-01T00:00:00.000Z")
    times = [t for (t,) in first.db.execute("SELECT time FROM entries ORDER BY seq")]
    assert times == ["2026-01-01T00:00:00.000Z"] * 2 + ["2026-03-01T00:00:00.000Z"] * 4
    other.close()
    first.close()


def test_a_batch_longer_than_one_insert_statement_keeps_its_order(tmp_path: Path) -> None:
    """A batch goes in as several multi-row inserts: every entry at its position, chained to
    the one before, none refused by the triggers that keep positions in order."""
    store = _filled(tmp_path / "r.sqlite", [1, 451], ["2026-01-01T00:00:00.000Z"] * 2)
    rows = store.db.execute("SELECT seq, body, kind FROM entries ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == list(range(452))
    assert [orjson.loads(r[1])["data"]["i"] for r in rows[1:]] == list(range(451))
    assert {r[2] for r in rows} == {"review.read"}
    tree = CompactRange()
    for leaf in store.leaves(0, store.size):
        tree.append(leaf)
    assert tree.root() == store.root()
    store.close()


def _downgrade(path: Path) -> None:
    """Make the record look as schema 1 left it."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("""
        DROP TRIGGER subtrees_no_delete; DELETE FROM subtrees;
        CREATE INDEX entries_recipient ON entries (recipient, time);
        CREATE INDEX entries_time ON entries (time);
        UPDATE meta SET value = '1' WHERE key = 'schema';""")
    db.close()


def test_a_schema_1_record_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    store = _filled(path, [700, 400], ["2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"])
    store.close()
    _downgrade(path)
    store = SqliteStore(path)
    store.open()
    leaves = store.leaves(0, store.size)
    assert _subtrees(store.db) == _expected(leaves)
    indexes = {n for (n,) in store.db.execute("SELECT name FROM sqlite_master")}
    assert "entries_time" not in indexes
    assert "entries_recipient" not in indexes
    assert store.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("3",)
    tree = CompactRange()
    tree.extend(leaves)
    assert store.root() == tree.root()
    day2 = store.search(Search(since="2026-01-02T00:00:00.000Z", limit=1000))
    assert sorted(r.seq for r in day2) == list(range(700, 1100))
    store.close()


def test_a_schema_1_record_whose_time_stepped_back_keeps_its_time_index(
        tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    store = _filled(path, [5], ["2026-01-02T00:00:00.000Z"])
    store.close()
    _downgrade(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER entries_no_update")
    db.execute("UPDATE entries SET time = '2026-01-01T00:00:00.000Z' WHERE seq = 3")
    db.close()
    store = SqliteStore(path)
    store.open()
    indexes = {n for (n,) in store.db.execute("SELECT name FROM sqlite_master")}
    assert "entries_time" in indexes
    found = store.search(Search(since="2026-01-01T00:00:00.000Z",
                                until="2026-01-02T00:00:00.000Z"))
    assert [r.seq for r in found] == [3]
    store.close()
