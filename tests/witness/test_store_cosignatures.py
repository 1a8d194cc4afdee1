"""Cosignatures kept beside the checkpoints, on both stores: appended once per witness and size,
read back with their checkpoint, append-only in the database; and verify, on both stores,
fails a newest checkpoint whose kept cosignatures miss the quorum."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.record.checkpoint import Checkpoint, Signer, sign_checkpoint
from gateway.record.entry import Draft, Kind
from gateway.record.stores.contract import Store
from gateway.record.stores.postgres.verify import verify_postgres
from gateway.record.verify import verify_sqlite
from gateway.witness import Cosigner, WitnessPolicy, WitnessRef
from gateway.witness.cosignature import note_text
from tests.stores import PG_URL, Backend

T = "2026-11-22T10:00:00.000Z"
ORIGIN = "test.invalid/record"


async def signed_record(store: Store, signer: Signer, n: int) -> str:
    drafts = [Draft(kind=Kind.INTENT, disclosure=f"d_{i}") for i in range(n)]
    await store.append_batch(drafts, [None] * n, T)

    def sign(size: int, root: bytes) -> str:
        return sign_checkpoint(Checkpoint(ORIGIN, size, root), signer)

    note = await store.sign_checkpoint(sign, T)
    assert note is not None
    return note


class TestKept:
    async def test_a_witnesses_first_cosignature_of_a_size_is_kept(self, store: Store) -> None:
        signer, _ = Signer.generate(ORIGIN)
        note = await signed_record(store, signer, 4)
        a, b = Cosigner.generate("a.invalid/w"), Cosigner.generate("b.invalid/w")
        line_a = a.cosign(note_text(note), 1000)
        await store.add_cosignatures(4, [(a.public().label, line_a)], T)
        await store.add_cosignatures(4, [(a.public().label, a.cosign(note_text(note), 2000))], T)
        await store.add_cosignatures(4, [(b.public().label, b.cosign(note_text(note), 1000))], T)
        rows = await store.cosigned(8)
        assert [(r.size, r.note) for r in rows] == [(4, note)]
        assert line_a in rows[0].lines
        assert rows[0].lines.count("\n") == 2

    async def test_cosignatures_are_append_only(self, store: Store, backend: Backend) -> None:
        signer, _ = Signer.generate(ORIGIN)
        note = await signed_record(store, signer, 2)
        a = Cosigner.generate("a.invalid/w")
        await store.add_cosignatures(2, [(a.public().label, a.cosign(note_text(note), 1))], T)
        for statement in ("DELETE FROM cosignatures", "UPDATE cosignatures SET line = 'x'"):
            with pytest.raises(backend.refused):
                await backend.sql(statement)


class TestVerify:
    async def verify(self, backend: Backend, tmp_path: Path, signer: Signer,
                     policy: WitnessPolicy) -> str:
        def check(note: str, lines: str) -> str | None:
            return policy.problem(note_text(note), lines)

        if backend.name == "sqlite":
            report = verify_sqlite(tmp_path / "record.sqlite", [signer.verifier()],
                                   cosigned=check)
        else:
            schema = backend.make().schema  # type: ignore[attr-defined]
            report = await verify_postgres(PG_URL, schema, [signer.verifier()], cosigned=check)
        return report.summary()

    async def test_the_quorum_is_checked_on_the_newest_checkpoint(
            self, store: Store, backend: Backend, tmp_path: Path) -> None:
        signer, _ = Signer.generate(ORIGIN)
        a, b = Cosigner.generate("a.invalid/w"), Cosigner.generate("b.invalid/w")
        policy = WitnessPolicy.k_of_n([WitnessRef("a", a.public()), WitnessRef("b", b.public())],
                                      2)
        first = await signed_record(store, signer, 3)
        for w in (a, b):
            await store.add_cosignatures(3, [(w.public().label, w.cosign(note_text(first), 5))],
                                         T)
        assert (await self.verify(backend, tmp_path, signer, policy)).startswith("OK")
        newest = await signed_record(store, signer, 2)
        await store.add_cosignatures(5, [(a.public().label, a.cosign(note_text(newest), 6))],
                                     T)
        summary = await self.verify(backend, tmp_path, signer, policy)
        assert summary.startswith("FAILED")
        assert "newest checkpoint (size 5) is not witnessed" in summary
        # A cosignature of another checkpoint, copied to this size, does not count.
        await store.add_cosignatures(5, [(b.public().label, b.cosign(note_text(first), 7))], T)
        assert (await self.verify(backend, tmp_path, signer, policy)).startswith("FAILED")
