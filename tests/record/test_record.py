"""The record's group-commit writer, subject keys and checkpoints, on either store."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.errors import KeyTaken, RecordCorrupt, RecordError
from gateway.record import Draft, Kind, Record, sealing
from gateway.record.checkpoint import Signer, parse_and_verify
from gateway.record.entry import Appended
from gateway.record.stores.postgres.verify import verify_postgres
from gateway.record.verify import verify_sqlite
from gateway.record.verify_range import Report
from tests.stores import PG_URL, Backend

ORIGIN = "test.invalid/record"


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)[0]


async def verify(backend: Backend, signer: Signer) -> Report:
    """Verify the backend's record offline, as `gateway log verify` does."""
    store = backend.make()
    if backend.name == "sqlite":
        return verify_sqlite(store.sync.path, [signer.verifier()], origin=ORIGIN)  # type: ignore[attr-defined]
    return await verify_postgres(PG_URL, store.schema, [signer.verifier()], origin=ORIGIN)  # type: ignore[attr-defined]


#: A statement making every insert into entries fail, and the one removing it again.
FAIL_INSERTS = {
    "sqlite": (("CREATE TRIGGER fail BEFORE INSERT ON entries "
               "BEGIN SELECT RAISE(ABORT, 'disk full'); END"), "DROP TRIGGER fail"),
    "postgres": (("CREATE TRIGGER fail BEFORE INSERT ON entries FOR EACH ROW "
                 "EXECUTE FUNCTION append_only()"), "DROP TRIGGER fail ON entries"),
}


@pytest.fixture
async def record(backend: Backend, signer: Signer) -> AsyncIterator[Record]:
    record = Record(store=backend.make(), kek=os.urandom(32), signer=signer,
                    origin=ORIGIN, checkpoint_every=50)
    await record.open()
    yield record
    await record.close()


class TestAppend:
    async def test_acknowledged_entries_are_on_disk(self, record: Record,
                                                    backend: Backend) -> None:
        """Once append returns, another connection sees the entry."""
        appended = await record.append(Draft(kind=Kind.INTENT, disclosure="d_1"))
        rows = await backend.sql("SELECT seq FROM entries")
        assert [r[0] for r in rows] == [appended.seq]

    async def test_concurrent_appends_share_commits(self, record: Record) -> None:
        """Many concurrent appends are committed in fewer transactions than entries, each
        entry at its own position."""
        results = await asyncio.gather(*(record.append(Draft(kind=Kind.INTENT, disclosure=str(i)))
                                         for i in range(300)))
        assert sorted(r.seq for r in results) == list(range(300))
        assert record.batches < 300

    async def test_a_store_failure_is_reported_to_every_waiter(self, record: Record,
                                                               backend: Backend) -> None:
        """When the store cannot write, each waiting append raises RecordError; later appends
        work once the store can write again."""
        fail, heal = FAIL_INSERTS[backend.name]
        await backend.sql(fail)
        results = await asyncio.gather(
            *(record.append(Draft(kind=Kind.INTENT)) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, RecordError) for r in results)
        await backend.sql(heal)
        assert (await record.append(Draft(kind=Kind.INTENT))).seq == 0

    async def test_each_waiter_hears_only_once_its_own_batch_is_committed(
        self, backend: Backend, signer: Signer
    ) -> None:
        """With a batch committing while the next is handed over, every append still returns
        only once another connection sees its entry."""
        record = Record(store=backend.make(), kek=os.urandom(32), signer=signer,
                        origin=ORIGIN, batch_max=20)
        await record.open()
        seen: list[bool] = []
        connections = asyncio.Semaphore(4)  # each PostgreSQL look-up opens a connection

        async def append(i: int) -> None:
            appended = await record.append(Draft(kind=Kind.INTENT, disclosure=str(i)))
            async with connections:
                rows = await backend.sql(f"SELECT seq FROM entries WHERE seq = {appended.seq}")
            seen.append(len(rows) == 1)

        try:
            await asyncio.gather(*(append(i) for i in range(200)))
        finally:
            await record.close()
        assert seen == [True] * 200
        assert record.batches >= 10  # batches of at most batch_max

    async def test_a_store_failure_reaches_the_waiters_of_every_batch_in_flight(
        self, record: Record, backend: Backend
    ) -> None:
        """A queue longer than a batch (two go in flight): when the store cannot write, each
        waiter raises RecordError, and the writer goes on once the store can write again."""
        fail, heal = FAIL_INSERTS[backend.name]
        await backend.sql(fail)
        results = await asyncio.gather(
            *(record.append(Draft(kind=Kind.INTENT)) for _ in range(1200)),
            return_exceptions=True)
        assert all(isinstance(r, RecordError) for r in results)
        await backend.sql(heal)
        assert (await record.append(Draft(kind=Kind.INTENT))).seq == 0
        assert record.writing

    async def test_checkpoints_are_signed_as_the_record_grows(
        self, record: Record, signer: Signer
    ) -> None:
        """Every checkpoint_every entries a signed checkpoint of the current tree is stored."""
        for _ in range(3):
            await asyncio.gather(*(record.append(Draft(kind=Kind.INTENT)) for _ in range(50)))
        note = await record.latest_checkpoint()
        assert note is not None
        cp = parse_and_verify(note, [signer.verifier()])
        assert cp.origin == ORIGIN
        assert cp.size >= 50


class TestClose:
    async def test_close_flushes_and_signs_a_final_checkpoint(
        self, backend: Backend, signer: Signer
    ) -> None:
        """Closing the record commits what is queued and signs a checkpoint of everything."""
        record = Record(store=backend.make(), kek=os.urandom(32),
                        signer=signer, origin=ORIGIN, checkpoint_every=10_000)
        await record.open()
        pending = [asyncio.create_task(record.append(Draft(kind=Kind.INTENT)))
                   for _ in range(1200)]
        await asyncio.sleep(0)
        await record.close()
        assert all(t.done() and not t.exception() for t in pending)
        report = await verify(backend, signer)
        assert report.ok, report.summary()
        assert (report.entries, report.unsigned_tail) == (1200, 0)


class TestSubjectKeys:
    async def test_sealed_values_open_with_the_subject_key(self, record: Record) -> None:
        """A value sealed for a subject opens again for that subject and context only."""
        sealed = await record.seal("s1", "ctx", {"name": "Canary"})
        assert b"Canary" not in sealed
        assert await record.unseal("s1", "ctx", sealed) == {"name": "Canary"}

    async def test_subjects_have_distinct_keys(self, record: Record) -> None:
        """Each subject gets its own random key."""
        a = await record.subject_key("a", create=True)
        b = await record.subject_key("b", create=True)
        assert a != b
        assert a is not None
        assert len(a) == 32

    async def test_keys_are_stored_wrapped(self, record: Record) -> None:
        """The stored key is not the key itself."""
        key = await record.subject_key("a", create=True)
        assert key is not None
        wrapped = await record._store.wrapped_key("a")  # noqa: SLF001 - the stored form
        assert wrapped is not None
        assert key not in wrapped

    async def test_an_unknown_subject_has_no_key(self, record: Record) -> None:
        """Without create, a subject with no key reads as None (erased or never seen)."""
        assert await record.subject_key("nobody", create=False) is None


class TestNewKeysTravelWithTheirEntry:
    async def test_a_new_key_is_stored_by_the_entry_sealed_with_it(self, record: Record) -> None:
        """key_for hands out a new key without storing it; the append that carries its side
        operation stores it in the entry's transaction, and later calls read the stored key."""
        key, op = await record.key_for("s1")
        assert op is not None
        assert await record.subject_key("s1", create=False) is None
        await record.append(Draft(kind=Kind.INTENT, subject="s1"), op)
        assert await record.subject_key("s1", create=False) == key
        assert await record.key_for("s1") == (key, None)

    async def test_concurrent_first_entries_share_one_key(self, record: Record) -> None:
        """Entries of a new subject sealed before the first one commits use the same key."""
        firsts = [await record.key_for("s1") for _ in range(3)]
        assert len({k for k, _ in firsts}) == 1
        await asyncio.gather(*(record.append(Draft(kind=Kind.INTENT, subject="s1"), op)
                               for _, op in firsts))
        assert await record.subject_key("s1", create=False) == firsts[0][0]

    async def test_a_key_stored_meanwhile_by_another_writer_fails_the_entry(
        self, backend: Backend, signer: Signer
    ) -> None:
        """If another process stored a different key for the subject first, the entries sealed
        with the lost key are refused (nothing unreadable is committed) while the other entries
        of the batch commit, and the next attempt uses the stored key."""
        kek = os.urandom(32)
        record = Record(store=backend.make(), kek=kek, signer=signer, origin=ORIGIN)
        await record.open()
        try:
            lost, op = await record.key_for("s1")
            _, other_op = await record.key_for("s2")
            kept = os.urandom(32)
            other = backend.make()
            await other.open()
            try:
                await other.add_key("s1", sealing.wrap(kek, "s1", kept), "2026-01-01T00:00:00Z")
            finally:
                await other.close()
            results = await asyncio.gather(
                record.append(Draft(kind=Kind.INTENT, subject="s1"), op),
                record.append(Draft(kind=Kind.INTENT, subject="s2"), other_op),
                record.append(Draft(kind=Kind.OUTCOME, subject="s1"), op),
                return_exceptions=True)
            assert isinstance(results[0], KeyTaken)
            assert isinstance(results[2], KeyTaken)
            assert isinstance(results[1], Appended)
            assert isinstance(results[0], RecordError)  # a 503 at the edge: nothing was sent
            assert await record.key_for("s1") == (kept, None)
            assert lost != kept
            assert (await record.head())[0] == 1
        finally:
            await record.close()


class TestSealedValues:
    def test_a_value_sealed_under_another_key_reads_as_gone(self) -> None:
        """A value names the key it was sealed under: under the subject's next key (after an
        erasure) it opens to None, while a tampered value still fails loudly."""
        old, new = os.urandom(32), os.urandom(32)
        sealed = sealing.seal(old, "ctx", {"name": "Canary"})
        assert sealing.unseal(old, "ctx", sealed) == {"name": "Canary"}
        assert sealing.unseal(new, "ctx", sealed) is None
        flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
        with pytest.raises(RecordCorrupt):
            sealing.unseal(old, "ctx", flipped)
        with pytest.raises(RecordCorrupt):
            sealing.unseal(old, "other context", sealed)
        with pytest.raises(RecordCorrupt):
            sealing.unseal(old, "ctx", b"\x02" + sealed[1:])


class TestABrokenCommit:
    async def test_the_writer_stops_when_a_batch_breaks_after_its_commit(
        self, backend: Backend, signer: Signer, tmp_path: Path
    ) -> None:
        """The checkpoint file cannot be written after a batch commits (its temporary name is
        taken by a directory): the record says at once that it is not writing, without waiting
        for another append, and the next append is refused, not committed."""
        witness = tmp_path / "checkpoint.note"
        record = Record(store=backend.make(), kek=os.urandom(32), signer=signer,
                        origin=ORIGIN, checkpoint_every=1, witness=witness)
        await record.open()
        try:
            witness.with_name(f"{witness.name}.{os.getpid()}.tmp").mkdir()
            await record.append(Draft(kind=Kind.INTENT, disclosure="d_1"))
            for _ in range(200):
                if not record.writing:
                    break
                await asyncio.sleep(0.01)
            assert not record.writing
            with pytest.raises(RecordError):
                await record.append(Draft(kind=Kind.INTENT, disclosure="d_2"))
            assert [r[0] for r in await backend.sql("SELECT disclosure FROM entries")] == [
                "d_1"]
        finally:
            with pytest.raises(RecordError, match="writer failed"):
                await record.close()  # the store is closed all the same

    async def test_every_append_is_answered_when_the_writer_breaks_with_a_full_queue(
        self, backend: Backend, signer: Signer, tmp_path: Path
    ) -> None:
        """The writer breaks while appends wait for room in a full queue and close waits to
        be let in: every append is answered (committed, or refused with RecordError), close
        ends (saying the writer failed) and the store is closed."""
        witness = tmp_path / "checkpoint.note"
        record = Record(store=backend.make(), kek=os.urandom(32), signer=signer,
                        origin=ORIGIN, checkpoint_every=1, witness=witness, queue_max=2)
        await record.open()
        witness.with_name(f"{witness.name}.{os.getpid()}.tmp").mkdir()
        appends = twenty_appends(record)
        await asyncio.sleep(0)
        with pytest.raises(RecordError, match="writer failed"):
            await asyncio.wait_for(record.close(), timeout=10)
        await assert_each_answered(appends, backend)


def twenty_appends(record: Record) -> list[asyncio.Task[Appended]]:
    """Twenty appends (d_0 ... d_19) started at once."""
    return [asyncio.create_task(record.append(Draft(kind=Kind.INTENT, disclosure=f"d_{i}")))
            for i in range(20)]


async def assert_each_answered(appends: list[asyncio.Task[Appended]], backend: Backend) -> None:
    """Each append ends (committed, or refused with RecordError) and exactly the committed
    ones are on disk."""
    results = await asyncio.wait_for(asyncio.gather(*appends, return_exceptions=True),
                                     timeout=10)
    assert all(isinstance(r, (Appended, RecordError)) for r in results), results
    stored = {r[0] for r in await backend.sql("SELECT disclosure FROM entries")}
    assert stored == {f"d_{i}" for i, r in enumerate(results) if isinstance(r, Appended)}


class TestCloseWithAFullQueue:
    async def test_appends_queued_behind_close_are_refused_not_left_waiting(
        self, backend: Backend, signer: Signer
    ) -> None:
        """Closing while appends wait for room in a full queue: each is committed or refused
        with RecordError, none waits for ever, and what was acknowledged is on disk."""
        record = Record(store=backend.make(), kek=os.urandom(32), signer=signer,
                        origin=ORIGIN, queue_max=2)
        await record.open()
        appends = twenty_appends(record)
        await asyncio.sleep(0)
        await asyncio.wait_for(record.close(), timeout=10)
        await assert_each_answered(appends, backend)
