"""Opening a record takes up its Merkle tree from the stored subtree hashes, checked against the
newest signed checkpoint, instead of reading every leaf; on either store. Someone holding the
database (not the signing key) who changes those hashes never gets the writer to sign over them,
nor a proof served from them; changed entries the checkpoint covers refuse the record."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.errors import RecordCorrupt
from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Checkpoint, Signer, parse_and_verify, sign_checkpoint
from gateway.record.merkle import (
    SUBTREE_MIN,
    CompactRange,
    inclusion_proof,
    root,
    subtree_hash,
    verify_inclusion,
)
from gateway.record.proof import Prover, check_inclusion
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from gateway.transparency.receipt import parse_receipt, receipts_for, verify_receipt
from tests.cli import run
from tests.conftest import run_gateway, write_config
from tests.review.conftest import ship
from tests.stores import PG_URL, Backend

ORIGIN = "test.invalid/resume"
#: Enough entries for stored subtrees of 1024, 256 and 256 leaves, and a tail of 88.
ENTRIES = 1624


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)[0]


def make(backend: Backend, signer: Signer) -> Record:
    return Record(store=backend.make(), kek=os.urandom(32), signer=signer, origin=ORIGIN,
                  checkpoint_every=10_000)


@pytest.fixture
async def written(backend: Backend, signer: Signer) -> Backend:
    """A record of ``ENTRIES`` entries whose newest checkpoint covers them all, closed."""
    await fill(make(backend, signer))
    return backend


async def fill(record: Record) -> None:
    """``ENTRIES`` entries into ``record``, a checkpoint over them all, and the record closed."""
    await record.open()
    try:
        await asyncio.gather(*(record.append(Draft(kind=Kind.INTENT, disclosure=f"d_{i}"))
                               for i in range(ENTRIES)))
        await record.checkpoint()
    finally:
        await record.close()


async def tamper(backend: Backend, *statements: str) -> None:
    """Run ``statements`` on the database past its append-only triggers, as someone holding the
    file (SQLite: the triggers dropped through sqlite3) or the owner's login would."""
    if backend.name == "postgres":
        conn = await asyncpg.connect(PG_URL, server_settings={
            "search_path": backend.make().schema})  # type: ignore[attr-defined]
        try:
            await conn.execute("SET session_replication_role = replica")
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()
        return
    db = sqlite3.connect(backend.make().sync.path, isolation_level=None)  # type: ignore[attr-defined]
    try:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            db.execute(f'DROP TRIGGER "{name}"')
        for statement in statements:
            db.execute(statement)
    finally:
        db.close()


async def all_leaves(backend: Backend) -> list[bytes]:
    return [bytes(r[0]) for r in await backend.sql("SELECT leaf FROM entries ORDER BY seq")]


async def signed(record: Record, signer: Signer) -> Checkpoint:
    latest = await record.latest_checkpoint()
    assert latest is not None
    return parse_and_verify(latest, [signer.verifier()])


async def prove(record: Record, signer: Signer, seq: int) -> tuple[bool, list[bytes]]:
    row = await record.entry(seq)
    assert row is not None
    inclusion = await check_inclusion(record, [signer.verifier()], row, Prover())
    return inclusion.verified, [bytes.fromhex(p) for p in inclusion.path]


class TestResume:
    async def test_the_resumed_tree_is_the_tree_of_the_leaves(
        self, written: Backend, signer: Signer
    ) -> None:
        """After reopening, the head, the next signed checkpoint and a proof are those of the
        tree over every leaf."""
        record = make(written, signer)
        await record.open()
        try:
            assert await record.head() == (ENTRIES, root(await all_leaves(written)))
            await record.append(Draft(kind=Kind.INTENT, disclosure="d_after"))
            await record.checkpoint()
            leaves = await all_leaves(written)
            checkpoint = await signed(record, signer)
            assert (checkpoint.size, checkpoint.root) == (ENTRIES + 1, root(leaves))
            ok, path = await prove(record, signer, 700)
            assert ok
            assert path == inclusion_proof(700, ENTRIES + 1, leaves)
        finally:
            await record.close()

    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    async def test_opening_reads_a_few_hundred_leaves(self, written: Backend,
                                                      signer: Signer) -> None:
        """Opening reads the stored subtree hashes and the last leaves, not every leaf."""
        store = Counting(CatchingUp(written.make().sync.path))  # type: ignore[attr-defined]
        record = Record(store=store, kek=os.urandom(32), signer=signer, origin=ORIGIN)
        await record.open()
        try:
            assert store.rows <= SUBTREE_MIN + 8
            assert await record.head() == (ENTRIES, root(await all_leaves(written)))
            # Every catch-up from the leaves started past the entries already in.
            assert set(store.sync.caught_up_from) == {ENTRIES}  # type: ignore[attr-defined]
        finally:
            await record.close()


    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    async def test_opening_beside_a_checkpoint_file_reads_a_few_hundred_leaves(
        self, written: Backend, signer: Signer, tmp_path: Path
    ) -> None:
        """The checkpoint file beside the record is checked as the stored checkpoint is, from
        the stored subtree hashes: opening still reads no more than a few hundred leaves."""
        (note,) = (str(r[0]) for r in await written.sql(
            f"SELECT note FROM checkpoints WHERE size = {ENTRIES}"))
        witness = tmp_path / "record.checkpoint"
        witness.write_text(note, encoding="utf-8")
        store = Counting(CatchingUp(written.make().sync.path))  # type: ignore[attr-defined]
        record = Record(store=store, kek=os.urandom(32), signer=signer, origin=ORIGIN,
                        witness=witness)
        await record.open()
        try:
            assert store.rows <= 2 * (SUBTREE_MIN + 8)
            assert set(store.sync.caught_up_from) == {ENTRIES}  # type: ignore[attr-defined]
            assert await record.head() == (ENTRIES, root(await all_leaves(written)))
        finally:
            await record.close()


class CatchingUp(SqliteStore):
    """The SQLite store, noting the position each catch-up from the leaves starts at."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.caught_up_from: list[int] = []

    def _catch_up(self, tree: CompactRange, prev: bytes) -> bytes:
        self.caught_up_from.append(tree.size)
        return super()._catch_up(tree, prev)


class Counting(ThreadedStore):
    """The SQLite store on its thread, counting the rows its shared reads return."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store)
        self.rows = 0

    async def select(self, sql: str, *args: Any) -> list[Sequence[Any]]:  # noqa: ANN401
        rows = await super().select(sql, *args)
        self.rows += len(rows)
        return rows


class TestTamperedSubtrees:
    async def test_a_changed_frontier_hash_is_never_signed_over(
        self, written: Backend, signer: Signer
    ) -> None:
        """A stored hash the tree is resumed from, changed, disagrees with the signed checkpoint:
        the tree is taken from the leaves instead, and what is signed next is their tree."""
        await tamper(written, f"UPDATE subtrees SET hash = {hex_literal(written, bytes(32))} "
                              "WHERE start = 0 AND size = 1024")
        record = make(written, signer)
        await record.open()
        try:
            await record.append(Draft(kind=Kind.INTENT, disclosure="d_after"))
            await record.checkpoint()
            leaves = await all_leaves(written)
            assert (await signed(record, signer)).root == root(leaves)
            ok, path = await prove(record, signer, 5)
            assert ok
            assert path == inclusion_proof(5, ENTRIES + 1, leaves)
        finally:
            await record.close()

    async def test_a_changed_inner_hash_never_makes_a_proof(
        self, written: Backend, signer: Signer
    ) -> None:
        """A stored hash inside the tree (not one it is resumed from), changed, makes the proof
        built from it fail; the proof served is the one from the leaves, which verifies."""
        await tamper(written, f"UPDATE subtrees SET hash = {hex_literal(written, bytes(32))} "
                              "WHERE start = 256 AND size = 256")
        record = make(written, signer)
        await record.open()
        try:
            checkpoint = await signed(record, signer)
            leaves = await all_leaves(written)
            from_stored = await Prover().path(record, 5, checkpoint.size)
            assert not verify_inclusion(leaves[5], 5, checkpoint.size, from_stored,
                                        checkpoint.root)
            ok, path = await prove(record, signer, 5)
            assert ok
            assert path == inclusion_proof(5, checkpoint.size, leaves)
        finally:
            await record.close()

    async def test_a_receipt_is_never_made_from_a_changed_hash(
        self, written: Backend, signer: Signer
    ) -> None:
        """The customer's receipt (what the access report hands out) for an entry under a
        changed stored hash carries the path from the leaves, and verifies offline; a receipt
        for a changed entry is not made at all."""
        await tamper(written, f"UPDATE subtrees SET hash = {hex_literal(written, bytes(32))} "
                              "WHERE start = 256 AND size = 256")
        record = make(written, signer)
        await record.open()
        try:
            row = await record.entry(5)
            assert row is not None
            made = await receipts_for(record, {5: row.body}, prover=Prover())
            verify_receipt(made[5], [signer.verifier()])
            leaves = await all_leaves(written)
            assert parse_receipt(made[5]).proof == tuple(
                inclusion_proof(5, ENTRIES, leaves))
            assert await receipts_for(record, {5: row.body + b" "}, prover=Prover()) == {}
        finally:
            await record.close()

    async def test_a_malformed_stored_note_gives_no_receipt_and_no_error(
        self, written: Backend, signer: Signer
    ) -> None:
        """The newest stored checkpoint note is not a checkpoint: no receipt is made under it,
        and the access report that asks is not failed by it."""
        await tamper(written, "UPDATE checkpoints SET note = 'not a checkpoint' "
                              f"WHERE size = {ENTRIES}")
        record = make(written, signer)
        await record.open()
        try:
            row = await record.entry(5)
            assert row is not None
            assert await receipts_for(record, {5: row.body}, prover=Prover()) == {}
        finally:
            await record.close()

    async def test_changed_entries_with_matching_hashes_are_refused(
        self, written: Backend, signer: Signer
    ) -> None:
        """Entries changed and every stored hash recomputed to match them still disagree with
        the signed checkpoint: the record is refused for writing."""
        leaves = await all_leaves(written)
        leaves[5] = bytes(32)
        rows = await written.sql("SELECT start, size FROM subtrees")
        await tamper(written, f"UPDATE entries SET leaf = {hex_literal(written, bytes(32))} "
                              "WHERE seq = 5",
                     *(f"UPDATE subtrees SET hash = "
                       f"{hex_literal(written, subtree_hash(s, s + n, leaves))} "
                       f"WHERE start = {s} AND size = {n}" for s, n in rows))
        record = make(written, signer)
        with pytest.raises(RecordCorrupt, match="do not match its latest signed checkpoint"):
            await record.open()

    async def test_a_truncated_record_is_refused(self, written: Backend,
                                                 signer: Signer) -> None:
        """Entries the newest signed checkpoint covers, deleted, refuse the record."""
        await tamper(written, f"DELETE FROM entries WHERE seq >= {ENTRIES - 10}")
        with pytest.raises(RecordCorrupt, match="truncated or rolled back"):
            await make(written, signer).open()

    async def test_an_unverified_checkpoint_trusts_nothing_stored(
        self, written: Backend, signer: Signer
    ) -> None:
        """A newest checkpoint the log's key did not sign is not used: the tree comes from the
        leaves, whatever the stored hashes say."""
        other = Signer.generate(ORIGIN)[0]
        note = sign_checkpoint(Checkpoint(ORIGIN, ENTRIES, bytes(32)), other)
        await tamper(written, f"UPDATE checkpoints SET note = '{note}' WHERE size = {ENTRIES}",
                     f"UPDATE subtrees SET hash = {hex_literal(written, bytes(32))} "
                     "WHERE start = 0 AND size = 1024")
        record = make(written, signer)
        await record.open()
        try:
            assert await record.head() == (ENTRIES, root(await all_leaves(written)))
        finally:
            await record.close()


class TestWitnessFile:
    """The checkpoint kept in a file beside the record (``witness``) vouches for the tree as
    the newest signed checkpoint in the database does: the writer's tree is the one it checked,
    whatever the database holds instead."""

    async def test_changed_entries_are_never_signed_over_when_the_database_loses_its_checkpoints(
        self, backend: Backend, signer: Signer, tmp_path: Path
    ) -> None:
        """Someone holding the database changes an entry its last checkpoint covered and
        deletes the stored checkpoints (so the database vouches for nothing): the checkpoint
        file still does, and what the writer signs next extends the tree it vouched for, not
        the changed leaves."""
        witness = tmp_path / "record.checkpoint"
        await fill(beside_file(backend, signer, witness))
        original = await all_leaves(backend)
        await tamper(backend, f"UPDATE entries SET leaf = {hex_literal(backend, bytes(32))} "
                              "WHERE seq = 5", "DELETE FROM checkpoints")
        await assert_next_checkpoint_extends(backend, signer, witness, original)

    async def test_changed_entries_past_an_older_stored_checkpoint_are_never_signed_over(
        self, backend: Backend, signer: Signer, tmp_path: Path
    ) -> None:
        """The database's checkpoints rolled back to an older one and an entry after it
        changed: the checkpoint file covers that entry, and the writer's tree keeps it as it
        was."""
        witness = tmp_path / "record.checkpoint"
        record = beside_file(backend, signer, witness)
        await record.open()
        try:
            await asyncio.gather(*(record.append(Draft(kind=Kind.INTENT, disclosure=f"d_{i}"))
                                   for i in range(300)))
            await record.checkpoint()
            await asyncio.gather(*(record.append(Draft(kind=Kind.INTENT, disclosure=f"e_{i}"))
                                   for i in range(ENTRIES - 300)))
            await record.checkpoint()
        finally:
            await record.close()
        original = await all_leaves(backend)
        await tamper(backend, f"UPDATE entries SET leaf = {hex_literal(backend, bytes(32))} "
                              "WHERE seq = 700", f"DELETE FROM checkpoints WHERE size = {ENTRIES}")
        await assert_next_checkpoint_extends(backend, signer, witness, original)


def beside_file(backend: Backend, signer: Signer, witness: Path) -> Record:
    """A record that keeps its checkpoint in the file ``witness`` too."""
    return Record(store=backend.make(), kek=os.urandom(32), signer=signer, origin=ORIGIN,
                  checkpoint_every=10_000, witness=witness)


async def assert_next_checkpoint_extends(backend: Backend, signer: Signer, witness: Path,
                                         original: list[bytes]) -> None:
    """Reopened beside ``witness``, the record's next signed checkpoint is over the leaves
    ``original`` (as they were before any change) and one entry more."""
    record = beside_file(backend, signer, witness)
    await record.open()
    try:
        await record.append(Draft(kind=Kind.INTENT, disclosure="d_after"))
        await record.checkpoint()
        after = await all_leaves(backend)
        assert (await signed(record, signer)).root == root([*original, after[-1]])
    finally:
        await record.close()


def hex_literal(backend: Backend, value: bytes) -> str:
    return (f"'\\x{value.hex()}'::bytea" if backend.name == "postgres"
            else f"x'{value.hex()}'")


@pytest.fixture
async def config(tmp_path: Path, carrier_env: None) -> Path:
    """A record a disclosure was made into through the gateway, and its config file."""
    async with run_gateway(tmp_path) as harness:
        await ship(harness, order_id="J-RESUME-1")
    return write_config(tmp_path, {})


def test_the_cli_refuses_a_changed_record_in_one_line(config: Path) -> None:
    """A command that opens a record whose entries no longer match its signed checkpoint
    refuses it, saying why on one line, without a traceback."""
    db = sqlite3.connect(config.parent / "record.sqlite", isolation_level=None)
    db.execute("DROP TRIGGER entries_no_update")
    db.execute("UPDATE entries SET leaf = zeroblob(32) WHERE seq = 1")
    db.close()
    refused = run("--config", str(config), "staff", "list")
    assert refused.returncode != 0
    assert "do not match its latest signed checkpoint" in refused.line
    assert "Traceback" not in refused.stderr
