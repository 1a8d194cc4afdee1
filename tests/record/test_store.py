"""The SQLite store: durable batches, and append-only enforced by the database itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.errors import RecordError
from gateway.record.entry import GENESIS, Draft, Kind, decode
from gateway.record.merkle import leaf_hash, root
from gateway.record.sqlite import HookOp, SqliteStore

T = "2026-11-22T10:00:00.000Z"


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "record.sqlite")
    store.open()
    yield store
    store.close()


def drafts(n: int) -> list[Draft]:
    return [Draft(kind=Kind.INTENT, disclosure=f"d_{i}", subject="s", sealed=b"x" * i)
            for i in range(n)]


class TestAppendBatch:
    def test_assigns_consecutive_positions_and_chains_leaves(self, store: SqliteStore) -> None:
        """Entries get positions 0.. in order, each naming the previous leaf."""
        out = store.append_batch(drafts(3), [None] * 3, T)
        assert [a.seq for a in out] == [0, 1, 2]
        rows = list(store.rows())
        assert decode(rows[0].body)["prev"] == GENESIS.hex()
        assert decode(rows[2].body)["prev"] == rows[1].leaf.hex()
        assert rows[1].leaf == leaf_hash(rows[1].body)

    def test_tracks_the_rfc9162_root(self, store: SqliteStore) -> None:
        """The store's root equals the Merkle tree hash over its leaves."""
        store.append_batch(drafts(5), [None] * 5, T)
        store.append_batch(drafts(2), [None] * 2, T)
        assert store.root() == root([r.leaf for r in store.rows()])

    def test_reopening_resumes_the_tree(self, tmp_path: Path) -> None:
        """After reopening, the size, root and chain carry on where they were."""
        path = tmp_path / "r.sqlite"
        first = SqliteStore(path)
        first.open()
        first.append_batch(drafts(4), [None] * 4, T)
        expected = first.root()
        first.close()
        second = SqliteStore(path)
        second.open()
        assert (second.size, second.root()) == (4, expected)
        second.append_batch(drafts(1), [None], T)
        assert decode(list(second.rows(4))[0].body)["prev"] == list(second.rows(3))[0].leaf.hex()
        second.close()

    def test_a_failed_batch_leaves_nothing_behind(self, store: SqliteStore) -> None:
        """If one entry of a batch fails, none of the batch is kept and the tree is as before."""
        store.append_batch(drafts(1), [None], T)
        before = (store.size, store.root())
        bad = [*drafts(1), Draft(kind=Kind.INTENT, data={"x": object()})]
        with pytest.raises(RecordError):
            store.append_batch(bad, [None, None], T)
        assert (store.size, store.root()) == before
        assert store.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 1
        store.append_batch(drafts(1), [None], T)
        assert store.size == 2  # noqa: PLR2004


class TestAppendOnly:
    def test_refuses_update_and_delete(self, store: SqliteStore) -> None:
        """The database refuses to change or delete an entry, whoever asks."""
        store.append_batch(drafts(2), [None] * 2, T)
        for sql in ("UPDATE entries SET body = x'00' WHERE seq = 0",
                    "UPDATE entries SET kind = 'x' WHERE seq = 0",
                    "DELETE FROM entries WHERE seq = 1",
                    "UPDATE entries SET sealed = x'01' WHERE seq = 1"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                store.db.execute(sql)

    def test_refuses_gaps_and_rewrites_of_positions(self, store: SqliteStore) -> None:
        """An insert must take the next position: no gap, no second entry at a position."""
        store.append_batch(drafts(1), [None], T)
        for seq in (0, 5):
            with pytest.raises(sqlite3.IntegrityError):
                store.db.execute(
                    "INSERT INTO entries VALUES (?, x'00', x'00', NULL, 'k', 't', NULL, NULL, "
                    "NULL, NULL)", (seq,))

    def test_allows_dropping_a_sealed_value(self, store: SqliteStore) -> None:
        """The one allowed change: an erased entry's ciphertext may be dropped."""
        store.append_batch(drafts(2), [None] * 2, T)
        store.db.execute("UPDATE entries SET sealed = NULL WHERE seq = 1")
        assert list(store.rows(1))[0].sealed is None

    def test_checkpoints_are_append_only(self, store: SqliteStore) -> None:
        """A stored checkpoint cannot be changed or deleted."""
        store.add_checkpoint(1, T, "note")
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("DELETE FROM checkpoints")
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("UPDATE checkpoints SET note = 'x'")

    def test_uses_wal_and_full_sync(self, store: SqliteStore) -> None:
        """The store runs in WAL mode with synchronous=FULL."""
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # noqa: PLR2004


class TestHooks:
    def test_hook_opened_and_closed_with_its_entries(self, store: SqliteStore) -> None:
        """A hook is opened with the intent and closed with the outcome, in their batches."""
        store.append_batch(drafts(1), [HookOp("h1", "d_0", subject="s")], T)
        assert store.hook("h1").status is None  # type: ignore[union-attr]
        store.append_batch(drafts(1), [HookOp("h1", "d_0", status=201, answer=b"a")], T)
        row = store.hook("h1")
        assert (row.status, row.answer) == (201, b"a")  # type: ignore[union-attr]

    def test_only_a_hook_that_sent_nothing_may_be_reopened(self, store: SqliteStore) -> None:
        """A hook answered 503 (nothing sent) may start again; a booked one may not."""
        store.append_batch(drafts(1), [HookOp("a", "d_1")], T)
        store.append_batch(drafts(1), [HookOp("a", "d_1", status=503, answer=b"x")], T)
        store.append_batch(drafts(1), [HookOp("a", "d_2")], T)
        assert store.hook("a").disclosure == "d_2"  # type: ignore[union-attr]
        store.append_batch(drafts(1), [HookOp("b", "d_3")], T)
        store.append_batch(drafts(1), [HookOp("b", "d_3", status=201, answer=b"x")], T)
        store.append_batch(drafts(1), [HookOp("b", "d_4")], T)
        assert store.hook("b").disclosure == "d_3"  # type: ignore[union-attr]
