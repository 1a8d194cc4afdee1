"""The record stores, SQLite and PostgreSQL, through the one Store interface: durable batches,
one tree across processes or instances, append-only enforced by the database itself, and the
side tables (hooks, keys, requests, erasure, staff) kept the same way."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from gateway.errors import Conflict, HookTaken, NotFound, RecordError, SideOpRefused
from gateway.record.entry import GENESIS, Draft, Kind, document
from gateway.record.merkle import leaf_hash, root
from gateway.record.queries import Search
from gateway.record.rows import (
    AddHold,
    AddStaff,
    CancelErasure,
    ChangeStaff,
    DeferErasure,
    DisableStaff,
    EndHolds,
    HookOp,
    KeyErasure,
    NewKey,
    PutRequest,
    ReleaseHolds,
    SideOp,
    SideOps,
)
from gateway.record.stores.contract import Store
from gateway.record.stores.postgres.schema import MIGRATIONS
from gateway.record.stores.postgres.store import PostgresStore
from gateway.record.stores.sqlite.store import SqliteStore
from tests.stores import PG_URL, Backend, pg_sql

T = "2026-11-22T10:00:00.000Z"


def drafts(n: int, subject: str = "s") -> list[Draft]:
    return [Draft(kind=Kind.INTENT, disclosure=f"d_{i}", subject=subject, sealed=b"x" * i)
            for i in range(n)]


def sign(size: int, tree_root: bytes) -> str:
    return f"{size} {tree_root.hex()}"


async def append(store: Store, n: int, subject: str = "s") -> list[int]:
    return [a.seq for a in await store.append_batch(drafts(n, subject), [None] * n, T, sign)]


async def change(store: Store, *ops: SideOp) -> None:
    """State changes, each committed with an entry recording it, in one batch."""
    await store.append_batch([Draft(kind=Kind.STAFF) for _ in ops], list(ops), T)


async def chain_holds(store: Store) -> bool:
    """Every entry names the leaf before it and states its own position."""
    size, _ = await store.head()
    prev = GENESIS
    for seq in range(size):
        row = await store.entry(seq)
        assert row is not None
        doc = document(row.body)
        if (doc["seq"], doc["prev"], row.leaf) != (seq, prev.hex(), leaf_hash(row.body)):
            return False
        prev = row.leaf
    return True


class TestAppendBatch:
    async def test_assigns_consecutive_positions_and_chains_leaves(self, store: Store) -> None:
        """Entries get positions 0.. in order, each naming the previous leaf."""
        assert await append(store, 3) == [0, 1, 2]
        first, second, third = [await store.entry(i) for i in range(3)]
        assert first is not None
        assert second is not None
        assert third is not None
        assert document(first.body)["prev"] == GENESIS.hex()
        assert document(third.body)["prev"] == second.leaf.hex()
        assert second.leaf == leaf_hash(second.body)

    async def test_tracks_the_rfc9162_root(self, store: Store) -> None:
        """The store's head is the Merkle tree hash over its leaves, and root_at any size too."""
        await append(store, 5)
        await append(store, 2)
        size, head_root = await store.head()
        assert size == 7
        assert head_root == root(await store.leaves(0, 7))
        assert await store.root_at(3) == root(await store.leaves(0, 3))

    async def test_signs_the_head_in_the_batch(self, store: Store, backend: Backend) -> None:
        """The signed tree head is replaced in each batch's own transaction."""
        await append(store, 4)
        _, head_root = await store.head()
        rows = await backend.sql("SELECT size, note FROM head")
        assert (rows[0][0], rows[0][1]) == (4, sign(4, head_root))

    async def test_reopening_resumes_the_tree(self, backend: Backend) -> None:
        """After reopening, the size, root and chain carry on where they were."""
        first = backend.make()
        await first.open()
        await append(first, 4)
        expected = await first.head()
        await first.close()
        second = backend.make()
        await second.open()
        assert await second.head() == expected
        await append(second, 1)
        assert await chain_holds(second)
        await second.close()

    async def test_a_failed_batch_leaves_nothing_behind(self, store: Store,
                                                        backend: Backend) -> None:
        """If one entry of a batch fails, none of the batch is kept and the tree is as before."""
        await append(store, 1)
        before = await store.head()
        bad = [*drafts(1), Draft(kind=Kind.INTENT, data={"x": object()})]
        with pytest.raises(RecordError):
            await store.append_batch(bad, [None, None], T, sign)
        assert await store.head() == before
        assert (await backend.sql("SELECT COUNT(*) FROM entries"))[0][0] == 1
        assert await append(store, 1) == [1]


class TestSeveralWriters:
    async def test_two_writers_share_one_tree(self, backend: Backend) -> None:
        """Two stores over one record (two processes or instances) appending in turns build one
        tree: each takes in the other's entries before writing its own."""
        a, b = backend.make(), backend.make()
        await a.open()
        await b.open()
        try:
            assert await append(a, 2) == [0, 1]
            assert await append(b, 3) == [2, 3, 4]
            assert await append(a, 1) == [5]
            assert await a.head() == await b.head()
            assert (await a.head())[1] == root(await a.leaves(0, 6))
            assert await chain_holds(b)
        finally:
            await a.close()
            await b.close()

    async def test_concurrent_writers_never_fork(self, backend: Backend) -> None:
        """Three stores appending at once: every position taken once, no gap, one chain."""
        stores = [backend.make() for _ in range(3)]
        for s in stores:
            await s.open()
        try:
            results = await asyncio.gather(*(append(s, 5) for s in stores for _ in range(8)))
            seqs = sorted(seq for batch in results for seq in batch)
            assert seqs == list(range(120))
            assert all(batch == list(range(batch[0], batch[0] + 5)) for batch in results)
            assert await chain_holds(stores[0])
            heads = {await s.head() for s in stores}
            assert heads == {(120, root(await stores[0].leaves(0, 120)))}
        finally:
            for s in stores:
                await s.close()


class TestAppendOnly:
    async def test_refuses_update_and_delete(self, store: Store, backend: Backend) -> None:
        """The database refuses to change or delete an entry, whoever asks."""
        await append(store, 2)
        for sql in ("UPDATE entries SET body = leaf WHERE seq = 0",
                    "UPDATE entries SET kind = 'x' WHERE seq = 0",
                    "UPDATE entries SET tally = 'x' WHERE seq = 0",
                    "DELETE FROM entries WHERE seq = 1",
                    "UPDATE entries SET sealed = leaf WHERE seq = 1"):
            with pytest.raises(backend.refused, match="append-only"):
                await backend.sql(sql)

    async def test_refuses_gaps_and_rewrites_of_positions(self, store: Store,
                                                          backend: Backend) -> None:
        """An insert must take the next position: no gap, no second entry at a position."""
        await append(store, 1)
        for shift in (0, 5):
            with pytest.raises(backend.refused):
                await backend.sql(
                    f"INSERT INTO entries SELECT seq + {shift}, body, leaf, sealed, kind, "
                    "time, subject, order_ref, recipient, disclosure, tally FROM entries")

    async def test_allows_dropping_a_sealed_value(self, store: Store, backend: Backend) -> None:
        """The one allowed change: an erased entry's ciphertext may be dropped."""
        await append(store, 2)
        await backend.sql("UPDATE entries SET sealed = NULL WHERE seq = 1")
        row = await store.entry(1)
        assert row is not None
        assert row.sealed is None

    async def test_checkpoints_are_append_only(self, store: Store, backend: Backend) -> None:
        """A stored checkpoint cannot be changed or deleted."""
        await append(store, 1)
        assert await store.sign_checkpoint(sign, T) is not None
        assert await store.latest_checkpoint() == (1, sign(1, (await store.head())[1]))
        for sql in ("DELETE FROM checkpoints", "UPDATE checkpoints SET note = 'x'"):
            with pytest.raises(backend.refused):
                await backend.sql(sql)

    async def test_postgres_refuses_truncate(self, pg_schema: str) -> None:
        """PostgreSQL's TRUNCATE, which skips row triggers, is refused as well."""
        store = PostgresStore(PG_URL, schema=pg_schema)
        await store.open()
        await append(store, 1)
        await store.close()
        for table in ("entries", "checkpoints"):
            with pytest.raises(asyncpg.IntegrityConstraintViolationError):
                await pg_sql(pg_schema, f"TRUNCATE {table}")


class TestDurability:
    def test_sqlite_uses_wal_and_full_sync(self, tmp_path: Path) -> None:
        """The SQLite store runs in WAL mode with synchronous=FULL."""
        store = SqliteStore(tmp_path / "r.sqlite")
        store.open()
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2
        store.close()

    async def test_postgres_commits_synchronously(self, pg_schema: str) -> None:
        """The PostgreSQL store's sessions wait for the commit to reach the WAL on disk."""
        store = PostgresStore(PG_URL, schema=pg_schema)
        await store.open()
        row = await store.fetchrow("SHOW synchronous_commit")
        await store.close()
        assert row is not None
        assert row[0] == "on"

    async def test_postgres_records_its_schema_version(self, pg_schema: str) -> None:
        """Migrations are numbered in schema_version; opening again runs none twice."""
        for _ in range(2):
            store = PostgresStore(PG_URL, schema=pg_schema)
            await store.open()
            await store.close()
        versions = [r[0] for r in await pg_sql(pg_schema, "SELECT version FROM schema_version")]
        assert versions == list(range(1, len(MIGRATIONS) + 1))


class TestHooks:
    async def test_hook_opened_and_closed_with_its_entries(self, store: Store) -> None:
        """A hook is opened with the intent and closed with the outcome, in their batches."""
        await store.append_batch(drafts(1), [HookOp("h1", "d_0", subject="s")], T)
        assert (await store.hook("h1")).status is None  # type: ignore[union-attr]
        await store.append_batch(drafts(1), [HookOp("h1", "d_0", status=201, answer=b"a")], T)
        row = await store.hook("h1")
        assert (row.status, row.answer) == (201, b"a")  # type: ignore[union-attr]

    async def test_only_a_hook_that_sent_nothing_may_be_reopened(self, store: Store) -> None:
        """A hook answered 503 (nothing sent) may start again; a booked one may not, and the
        draft that tried is refused alone, nothing of its batch kept."""
        await store.append_batch(drafts(1), [HookOp("a", "d_1")], T)
        await store.append_batch(drafts(1), [HookOp("a", "d_1", status=503, answer=b"x")], T)
        await store.append_batch(drafts(1), [HookOp("a", "d_2")], T)
        assert (await store.hook("a")).disclosure == "d_2"  # type: ignore[union-attr]
        await store.append_batch(drafts(1), [HookOp("b", "d_3")], T)
        await store.append_batch(drafts(1), [HookOp("b", "d_3", status=201, answer=b"x")], T)
        before = await store.head()
        with pytest.raises(SideOpRefused) as refused:
            await store.append_batch(drafts(2), [None, HookOp("b", "d_4")], T)
        assert refused.value.index == 1
        assert isinstance(refused.value.error, HookTaken)
        assert (await store.hook("b")).disclosure == "d_3"  # type: ignore[union-attr]
        assert await store.head() == before

    async def test_a_full_batch_of_hooks_and_keys_refuses_only_the_held_hook(
        self, store: Store
    ) -> None:
        """A batch of many hooks opened and closed and first keys stored (the hot path's, all
        in one statement each): one hook held by another attempt refuses its own draft, named
        by its position, and nothing of the batch is kept; without it the batch commits."""
        await store.append_batch(drafts(2), [HookOp("held", "d_h"), HookOp("open", "d_o")], T)
        ops: list[SideOp | None] = [
            SideOps((NewKey(f"s{i}", b"k%d" % i, T), HookOp(f"h{i}", f"d_{i}")))
            for i in range(40)]
        ops[25] = SideOps((NewKey("s25", b"k25", T), HookOp("held", "d_other")))
        ops.append(HookOp("open", "d_o", status=201, answer=b"a"))
        before = await store.head()
        with pytest.raises(SideOpRefused) as refused:
            await store.append_batch(drafts(len(ops)), ops, T)
        assert refused.value.index == 25  # the draft opening the held hook
        assert isinstance(refused.value.error, HookTaken)
        assert await store.head() == before
        assert await store.wrapped_key("s0") is None
        assert (await store.hook("open")).status is None  # type: ignore[union-attr]
        del ops[25]
        await store.append_batch(drafts(len(ops)), ops, T)
        assert await store.wrapped_key("s39") == b"k39"
        assert (await store.hook("h39")).disclosure == "d_39"  # type: ignore[union-attr]
        assert (await store.hook("open")).status == 201  # type: ignore[union-attr]
        assert (await store.hook("held")).disclosure == "d_h"  # type: ignore[union-attr]

    async def test_a_hook_held_by_another_writer_is_refused(self, backend: Backend) -> None:
        """The same hook opened by two instances: the second's draft is refused."""
        a, b = backend.make(), backend.make()
        await a.open()
        await b.open()
        try:
            await a.append_batch(drafts(1), [HookOp("h", "d_a", subject="s")], T)
            with pytest.raises(SideOpRefused):
                await b.append_batch(drafts(1), [HookOp("h", "d_b", subject="s")], T)
            assert (await b.hook("h")).disclosure == "d_a"  # type: ignore[union-attr]
        finally:
            await a.close()
            await b.close()


class TestSubjectKeys:
    async def test_the_first_key_stored_stays(self, store: Store) -> None:
        """add_key keeps the first key for a subject and answers it to later callers."""
        assert await store.add_key("s", b"first", T) == b"first"
        assert await store.add_key("s", b"second", T) == b"first"
        assert await store.wrapped_key("s") == b"first"
        assert await store.wrapped_key("other") is None

    async def test_rewrap_and_erase(self, store: Store) -> None:
        """Keys are replaced in one go; an erasure entry deletes the key in its own batch."""
        await store.add_key("a", b"ka", T)
        await store.add_key("b", b"kb", T)
        await store.replace_keys([("a", b"ka2"), ("b", b"kb2")])
        assert sorted(await store.wrapped_keys()) == [("a", b"ka2"), ("b", b"kb2")]
        await change(store, DeferErasure("a", T, T, "basis"))
        await store.append_batch([Draft(kind=Kind.ERASURE, subject="a")], [KeyErasure("a")], T)
        assert await store.wrapped_key("a") is None
        assert await store.due_erasures("9999") == []


class TestSideTables:
    async def test_authority_requests_move_only_from_the_expected_state(self,
                                                                        store: Store) -> None:
        """A request moves from the state it was read in; a second mover is refused, and
        its entry with it."""
        await change(store, PutRequest("r1", "received", "2026-12-01", b"{}"),
                     PutRequest("r2", "approved", "2026-11-30", b"[]"))
        await change(store, PutRequest("r1", "approved", "2026-12-01", b"{1}", "received"))
        with pytest.raises(SideOpRefused) as refused:
            await change(store, PutRequest("r1", "rejected", "2026-12-01", b"{}", "received"))
        assert isinstance(refused.value.error, RecordError)
        assert (await store.head())[0] == 3
        assert await store.get_request("r1") == ("approved", b"{1}")
        assert await store.get_request("nope") is None
        assert await store.list_requests(["approved"]) == [
            ("r2", "approved", b"[]"), ("r1", "approved", b"{1}")]

    async def test_a_preservation_holds_with_its_request_or_not_at_all(self,
                                                                       store: Store) -> None:
        """Approving a preservation moves the request and places its holds with one entry: if
        the move is refused (another approver decided first), no hold is kept either. Ending
        it ends that order's holds still running, leaving another basis's."""
        await change(store, PutRequest("p1", "received", "2026-12-01", b"{}"))
        approve = SideOps((PutRequest("p1", "preserving", "2026-12-01", b"{1}", "received"),
                           AddHold("a", "2027-01-01", "order p1", T),
                           AddHold("b", "2027-01-01", "order p1", T)))
        await store.append_batch([Draft(kind=Kind.AUTHORITY_APPROVED)], [approve], T)
        assert await store.hold_until("b", T) == ("2027-01-01", "order p1")
        with pytest.raises(SideOpRefused):  # a second approval: refused, with its holds
            await store.append_batch([Draft(kind=Kind.AUTHORITY_APPROVED)], [SideOps((
                PutRequest("p1", "preserving", "2026-12-01", b"{2}", "received"),
                AddHold("c", "2027-01-01", "order p1", T)))], T)
        assert await store.hold_until("c", T) is None
        assert await store.get_request("p1") == ("preserving", b"{1}")
        await change(store, AddHold("a", "2028-01-01", "another order", T))
        await store.append_batch([Draft(kind=Kind.AUTHORITY_PRESERVATION_ENDED)], [SideOps((
            PutRequest("p1", "closed", "2026-12-01", b"{3}", "preserving"),
            EndHolds("a", "order p1", T), EndHolds("b", "order p1", T),
            EndHolds("nobody", "order p1", T)))], T)
        assert await store.hold_until("a", T) == ("2028-01-01", "another order")
        assert await store.hold_until("b", T) is None
        assert await store.get_request("p1") == ("closed", b"{3}")

    async def test_erasure_holds_and_deadlines(self, store: Store) -> None:
        """Deferred erasures fall due, the latest running hold wins, and stale subjects are
        those with a key and no disclosure since the cut-off."""
        await change(store, DeferErasure("s", T, "2026-12-01", "b1"))
        await change(store, DeferErasure("s", T, "2026-12-05", "b2"))
        assert await store.due_erasures("2026-12-02") == []
        assert await store.due_erasures("2026-12-06") == ["s"]
        await change(store, AddHold("s", "2027-01-01", "law", T),
                     AddHold("s", "2028-01-01", "longer", T))
        assert await store.hold_until("s", "2026-12-01") == ("2028-01-01", "longer")
        assert await store.hold_until("s", "2029-01-01") is None
        await store.add_key("s", b"k", T)
        await store.add_key("old", b"k", T)
        await append(store, 2, subject="s")
        assert await store.last_disclosure("s") == T
        assert await store.last_disclosure("nobody") is None
        assert await store.stale_subjects("2026-01-01") == ["old"]

    async def test_holds_and_deferred_erasures_are_listed_and_released(self, store: Store
                                                                       ) -> None:
        """Running holds and deferred erasures are listed soonest first; releasing ends only
        the running holds of one subject (a deferred erasure waiting on them falls due),
        cancelling drops one deferred erasure; either is refused when there is nothing to
        lift."""
        await change(store, AddHold("s", "2027-01-01", "law", T),
                     AddHold("s", "2026-01-01", "ended", T),
                     AddHold("t", "2026-12-01", "matter", T),
                     DeferErasure("s", T, "2027-01-01", "law"))
        now = "2026-06-01"
        assert await store.legal_holds(now) == [("t", "2026-12-01", "matter", T),
                                                ("s", "2027-01-01", "law", T)]
        assert await store.pending_erasures() == [("s", T, "2027-01-01", "law")]
        await change(store, ReleaseHolds("s", now))
        with pytest.raises(SideOpRefused) as refused:
            await change(store, ReleaseHolds("s", now))
        assert isinstance(refused.value.error, NotFound)
        assert await store.legal_holds(now) == [("t", "2026-12-01", "matter", T)]
        assert await store.pending_erasures() == [("s", T, now, "hold released")]
        await change(store, CancelErasure("s"))
        with pytest.raises(SideOpRefused) as refused:
            await change(store, CancelErasure("s"))
        assert isinstance(refused.value.error, NotFound)
        assert await store.pending_erasures() == []

    async def test_a_release_is_refused_in_its_transaction_while_a_kept_hold_runs(
            self, store: Store) -> None:
        """A hold whose basis the release keeps (a preservation order's), placed before the
        release commits, refuses the release inside its own transaction: nothing ended, no
        entry; once that hold has run out, the other holds are released."""
        await change(store, AddHold("s", "2027-01-01", "law", T),
                     AddHold("s", "2026-09-01", "preservation order R-1 (poliisi)", T))
        size, _ = await store.head()
        now = "2026-06-01"
        with pytest.raises(SideOpRefused) as refused:
            await change(store, ReleaseHolds("s", now, kept="preservation order "))
        assert isinstance(refused.value.error, Conflict)
        assert (await store.head())[0] == size
        assert len(await store.legal_holds(now)) == 2
        later = "2026-10-01"
        await change(store, ReleaseHolds("s", later, kept="preservation order "))
        assert await store.legal_holds(later) == []

    async def test_entries_by_subject_and_order(self, store: Store) -> None:
        """A subject's entries come in position order; an order names its subject."""
        await store.append_batch(
            [Draft(kind=Kind.INTENT, subject="s1", order="O-1"),
             Draft(kind=Kind.INTENT, subject="s2", order="O-2"),
             Draft(kind=Kind.OUTCOME, subject="s1", order="O-1", recipient="posti",
                   service="home", data={"result": "booked"})], [None] * 3, T)
        assert [r.seq for r in await store.subject_rows("s1")] == [0, 2]
        assert await store.subject_of_order("O-2") == "s2"
        assert await store.subject_of_order("O-3") is None
        assert await store.disclosure_counts() == {("posti", "home"): 1}


class TestReviewReads:
    async def test_search_pages_by_position(self, store: Store) -> None:
        """Filters combine; pages follow the cursor newest or oldest first; periods are
        half-open."""
        for day in ("2026-11-20", "2026-11-21", "2026-11-22"):
            await store.append_batch(
                [Draft(kind=Kind.INTENT, subject="s", recipient="posti"),
                 Draft(kind=Kind.OUTCOME, subject="s", recipient="posti",
                       data={"result": "booked"})], [None] * 2, f"{day}T10:00:00.000Z")
        seqs = [r.seq for r in await store.search(Search(subject="s", limit=4))]
        assert seqs == [5, 4, 3, 2]
        page = await store.search(Search(subject="s", cursor=2, limit=4))
        assert [r.seq for r in page] == [1, 0]
        oldest = await store.search(Search(kind=Kind.OUTCOME, newest_first=False, cursor=1))
        assert [r.seq for r in oldest] == [3, 5]
        period = await store.search(Search(recipient="posti", since="2026-11-21",
                                           until="2026-11-22"))
        assert [r.seq for r in period] == [3, 2]
        assert await store.search(Search(order="nope")) == []
        counts = await store.disclosure_counts_by("2026-11-21", None)
        assert [(c.kind, c.month, c.result, c.count) for c in counts] == [
            (Kind.OUTCOME, "2026-11", "booked", 2)]

    async def test_checkpoint_row(self, store: Store) -> None:
        """The latest checkpoint comes with the time it was signed."""
        assert await store.checkpoint_row() is None
        assert await store.sign_checkpoint(sign, T) is None  # an empty record has none
        await append(store, 2)
        await store.sign_checkpoint(sign, T)
        row = await store.checkpoint_row()
        assert row is not None
        assert (row.size, row.time) == (2, T)


class TestStaff:
    async def test_accounts_and_sessions(self, store: Store) -> None:
        """Names are unique; roles are replaced; disabling ends sessions; expired sessions
        do not count."""
        await change(store, AddStaff("rea", "kdf", ("reviewer",), T))
        with pytest.raises(SideOpRefused) as refused:
            await change(store, AddStaff("rea", "kdf2", ("admin",), T))
        assert isinstance(refused.value.error, Conflict)
        await change(store, ChangeStaff("rea", roles=("reviewer", "admin")))
        member = await store.staff_member("rea")
        assert member is not None
        assert (member.roles, member.disabled, member.password) == (
            ("reviewer", "admin"), False, "kdf")
        await store.add_session("tok", "rea", "2026-01-01", "2026-01-02")
        assert await store.session_user("tok", "2026-01-01T12") == "rea"
        assert await store.session_user("tok", "2026-01-03") is None
        await store.add_session("tok2", "rea", "2026-01-01", "2026-01-02")
        await store.end_session("tok2")
        assert await store.session_user("tok2", "2026-01-01T12") is None
        await store.add_session("tok3", "rea", "2026-01-01", "2026-01-02")
        await change(store, DisableStaff("rea"))
        await change(store, ChangeStaff("rea", enable=True))
        member = await store.staff_member("rea")
        assert member is not None
        assert not member.disabled
        await store.add_session("tok4", "rea", "2026-01-01", "2026-01-02")
        await change(store, ChangeStaff("rea", password="kdf3"))
        member = await store.staff_member("rea")
        assert member is not None
        assert (member.password, member.roles) == ("kdf3", ("reviewer", "admin"))
        assert await store.session_user("tok4", "2026-01-01T12") is None  # a new password ends them
        await change(store, DisableStaff("rea"))
        for unknown in (DisableStaff("nobody"), ChangeStaff("nobody", roles=("admin",)),
                        ChangeStaff("nobody", enable=True)):
            with pytest.raises(SideOpRefused) as refused:
                await change(store, unknown)
            assert isinstance(refused.value.error, NotFound)
        assert await store.session_user("tok3", "2026-01-01T12") is None
        assert [m.username for m in await store.list_staff()] == ["rea"]
        assert (await store.list_staff())[0].disabled



class TestPresence:
    async def test_postgres_takes_its_presence_lock_again_after_losing_it(
        self, pg_schema: str
    ) -> None:
        """When the server drops the connection holding an instance's presence lock, the
        instance takes it again; an instance started afterwards does not think itself alone
        (it would recover hooks still in flight)."""
        first = PostgresStore(PG_URL, schema=pg_schema)
        await first.open()
        second = PostgresStore(PG_URL, schema=pg_schema)
        try:
            await first.append_batch([Draft(kind=Kind.INTENT, disclosure="d1")],
                                     [HookOp("h1", "d1", subject="s")], T)
            killed = await pg_sql(pg_schema, "SELECT pg_terminate_backend(pid) FROM "
                                  "pg_stat_activity WHERE application_name = "
                                  "'disclosure-gateway-presence'")
            assert killed
            assert await first.open_hooks() == []  # lost: not alone, as far as it knows
            for _ in range(100):
                held = await pg_sql(pg_schema, "SELECT count(*) FROM pg_stat_activity WHERE "
                                    "application_name = 'disclosure-gateway-presence'")
                if held[0][0]:
                    break
                await asyncio.sleep(0.05)
            await second.open()
            assert await second.open_hooks() == []
            await first.close()
            assert [h.webhook_id for h in await second.open_hooks()] == ["h1"]
        finally:
            await first.close()
            await second.close()


class TestOpenHooks:
    async def test_open_hooks_and_their_entries(self, store: Store) -> None:
        """Recovery's work list: hooks opened by an intent and not yet answered; the entries
        of a disclosure by its id, in position order."""
        await store.append_batch(
            [Draft(kind=Kind.INTENT, disclosure="d1"), Draft(kind=Kind.INTENT, disclosure="d2"),
             Draft(kind=Kind.OUTCOME, disclosure="d1")],
            [HookOp("h1", "d1", subject="s"), HookOp("h2", "d2", subject="s"),
             HookOp("h1", "d1", subject="s", status=201, answer=b"a")], T)
        assert [(h.webhook_id, h.disclosure) for h in await store.open_hooks()] == [("h2", "d2")]
        assert [r.seq for r in await store.disclosure_rows("d1")] == [0, 2]
        assert await store.disclosure_rows("d9") == []

    async def test_a_recovered_answer_closes_only_an_open_hook(self, store: Store) -> None:
        """A recovery's outcome closes the hook only while it is open: if another process
        answered it meanwhile, the outcome entry is refused (HookTaken) and nothing of it is
        kept."""
        await store.append_batch([Draft(kind=Kind.INTENT, disclosure="d1")],
                                 [HookOp("h1", "d1", subject="s")], T)
        await store.append_batch([Draft(kind=Kind.OUTCOME, disclosure="d1")],
                                 [HookOp("h1", "d1", subject="s", status=201, answer=b"a")], T)
        with pytest.raises(SideOpRefused) as refused:
            await store.append_batch(
                [Draft(kind=Kind.OUTCOME, disclosure="d1")],
                [HookOp("h1", "d1", subject="s", status=503, answer=b"b", if_open=True)], T)
        assert isinstance(refused.value.error, HookTaken)
        assert (await store.head())[0] == 2
        assert (await store.hook("h1")).answer == b"a"  # type: ignore[union-attr]
        assert await store.open_hooks(alone_only=False) == []

    async def test_none_while_another_instance_has_the_record_open(
        self, backend: Backend
    ) -> None:
        """With a second process or instance open on the record, its hooks may be in flight:
        none is handed to recovery until this one is alone."""
        first, second = backend.make(), backend.make()
        await first.open()
        await second.open()
        try:
            await first.append_batch([Draft(kind=Kind.INTENT, disclosure="d1")],
                                     [HookOp("h1", "d1", subject="s")], T)
            assert await first.open_hooks() == []
            assert [h.webhook_id for h in await first.open_hooks(alone_only=False)] == ["h1"]
            await second.close()
            assert [h.webhook_id for h in await first.open_hooks()] == ["h1"]
        finally:
            await first.close()
            await second.close()
