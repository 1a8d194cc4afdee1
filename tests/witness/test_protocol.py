"""The witness's add-checkpoint API (c2sp.org/tlog-witness), through a real witness on
127.0.0.1:0: what it cosigns, what it refuses and with which status, and that its state never
rolls back, across concurrent submissions and restarts."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from gateway.record.checkpoint import Signer
from gateway.witness import CosignerKey
from gateway.witness.cosignature import note_text, valid_cosignatures
from tests.witness.conftest import ORIGIN, Log, Witness, start_witness

SIZE_TYPE = "text/x.tlog.size"


def cosigned_by(witness: Witness, note: str, answer: str) -> bool:
    key = witness.cosigner.public()
    return key in valid_cosignatures(note_text(note), answer, [key])


class TestCosigns:
    async def test_a_first_checkpoint_from_size_zero(self, witness: Witness, log: Log) -> None:
        """old 0 with no proof: the witness answers one cosignature line over the checkpoint."""
        log.grow(5)
        status, _, answer = await witness.add(0, [], log.note())
        assert status == 200
        assert answer.startswith(f"\u2014 {witness.cosigner.name} ")
        assert answer.endswith("\n")
        assert answer.count("\n") == 1
        assert cosigned_by(witness, log.note(), answer)

    async def test_a_grown_tree_with_its_consistency_proof(self, witness: Witness,
                                                           log: Log) -> None:
        """From the size it holds, with the RFC 6962/9162 proof, a bigger tree is cosigned."""
        log.grow(5)
        assert (await witness.add(0, [], log.note()))[0] == 200
        for grow in (1, 6, 17, 64):
            old = len(log.leaves)
            log.grow(grow)
            status, _, answer = await witness.add(old, log.proof(old), log.note())
            assert status == 200, answer
            assert cosigned_by(witness, log.note(), answer)

    async def test_the_same_checkpoint_again(self, witness: Witness, log: Log) -> None:
        """Old size equal to the checkpoint's, same root: cosigned again."""
        log.grow(3)
        await witness.add(0, [], log.note())
        status, _, answer = await witness.add(3, [], log.note())
        assert status == 200
        assert cosigned_by(witness, log.note(), answer)

    async def test_other_signatures_on_the_note_are_ignored(self, witness: Witness,
                                                            log: Log) -> None:
        """A checkpoint carrying another key's signature besides the log's is still taken."""
        log.grow(4)
        stranger, _ = Signer.generate("someone.else/key")
        note = log.note()
        text = note_text(note)
        note = note + stranger.signature_line(text)
        assert (await witness.add(0, [], note))[0] == 200


class TestRefuses:
    async def test_a_stale_old_size_gets_409_with_the_size_held(self, witness: Witness,
                                                                log: Log) -> None:
        log.grow(5)
        await witness.add(0, [], log.note())
        log.grow(4)
        for old in (0, 3):
            status, content_type, answer = await witness.add(old, log.proof(old), log.note())
            assert status == 409
            assert content_type == SIZE_TYPE
            assert answer == "5\n"

    async def test_an_inconsistent_tree_gets_422(self, witness: Witness, log: Log) -> None:
        """The same log key, a tail rewritten after the witness saw it: refused, and the state
        stays where it was."""
        log.grow(8)
        await witness.add(0, [], log.note())
        forked = log.fork(keep=5)
        forked.grow(4)
        # The proof from the rewritten tree's own size-8 prefix: it leads to its own root
        # at 8, which is not the root the witness holds.
        status, _, _ = await witness.add(8, forked.proof(8), forked.note())
        assert status == 422
        log.grow(2)
        status, _, answer = await witness.add(8, log.proof(8), log.note())
        assert status == 200
        assert cosigned_by(witness, log.note(), answer)

    async def test_a_garbage_proof_gets_422(self, witness: Witness, log: Log) -> None:
        log.grow(6)
        await witness.add(0, [], log.note())
        log.grow(3)
        proof = [bytes(32)] * len(log.proof(6))
        assert (await witness.add(6, proof, log.note()))[0] == 422

    async def test_the_same_size_with_another_root_gets_409(self, witness: Witness,
                                                            log: Log) -> None:
        log.grow(6)
        await witness.add(0, [], log.note())
        forked = log.fork(keep=2)
        status, content_type, answer = await witness.add(6, [], forked.note())
        assert (status, content_type, answer) == (409, SIZE_TYPE, "6\n")

    async def test_a_note_signed_by_another_key_gets_403(self, witness: Witness,
                                                         log: Log) -> None:
        """Same origin and key name, another key: no trusted signature verifies."""
        log.grow(3)
        impostor, _ = Signer.generate(ORIGIN)
        assert (await witness.add(0, [], log.note(signer=impostor)))[0] == 403

    async def test_a_changed_root_under_the_logs_signature_gets_403(self, witness: Witness,
                                                                    log: Log) -> None:
        log.grow(3)
        note = log.note()
        lines = note.split("\n")
        lines[2] = base64.b64encode(bytes(32)).decode()
        assert (await witness.add(0, [], "\n".join(lines)))[0] == 403

    async def test_an_unknown_log_gets_404(self, witness: Witness) -> None:
        """The spec answers an unknown origin 404 Not Found (403 is for bad signatures)."""
        other = Log(Signer.generate("other.invalid/log")[0])
        other.grow(2)
        status, content_type, _ = await witness.add(0, [], other.note().replace(
            ORIGIN, "other.invalid/log"))
        assert status == 404
        assert content_type == "application/problem+json"

    @pytest.mark.parametrize("data", [
        b"", b"old 0\n", b"old -1\n\nx\n", b"old 01\n\n", b"new 0\n\n",
        b"old 0\nnot base64!\n\n", b"\xff\xfe",
    ])
    async def test_malformed_requests_get_400(self, witness: Witness, log: Log,
                                              data: bytes) -> None:
        log.grow(2)
        tail = log.note().encode() if data.endswith(b"\n\n") else b""
        assert (await witness.post(data + tail))[0] == 400

    async def test_an_old_size_above_the_checkpoints_gets_400(self, witness: Witness,
                                                              log: Log) -> None:
        log.grow(4)
        assert (await witness.add(5, [], log.note()))[0] == 400

    async def test_more_than_63_proof_lines_get_400(self, witness: Witness, log: Log) -> None:
        log.grow(4)
        await witness.add(0, [], log.note())
        log.grow(1)
        assert (await witness.add(4, [bytes(32)] * 64, log.note()))[0] == 400


    @pytest.mark.parametrize("size", [64 * 1024 + 1, 1_000_000])
    async def test_a_body_over_64_kib_gets_413_as_a_problem(self, witness: Witness, log: Log,
                                                           size: int) -> None:
        """Refused before it is read in full, in the problem+json every other refusal uses;
        the witness keeps answering."""
        log.grow(2)
        status, content_type, text = await witness.post(b"old 0\n\n" + b"x" * size)
        assert (status, content_type) == (413, "application/problem+json")
        assert '"status":413' in text
        assert (await witness.add(0, [], log.note()))[0] == 200

    async def test_another_path_or_method_gets_a_problem(self, witness: Witness) -> None:
        async with witness.http.get(witness.url + "/add-checkpoint") as resp:
            assert (resp.status, resp.content_type) == (405, "application/problem+json")
        async with witness.http.post(witness.url + "/checkpoint", data=b"") as resp:
            assert (resp.status, resp.content_type) == (404, "application/problem+json")


class TestState:
    async def test_concurrent_submissions_of_one_size(self, witness: Witness,
                                                      log: Log) -> None:
        """Twelve submitters send the same checkpoint from the same old size at once: one is
        cosigned, every other is told the new size; the witness holds that size."""
        log.grow(5)
        await witness.add(0, [], log.note())
        log.grow(7)
        answers = await asyncio.gather(*(witness.add(5, log.proof(5), log.note())
                                         for _ in range(12)))
        assert sorted(a[0] for a in answers) == [200] + [409] * 11
        assert {a[2] for a in answers if a[0] == 409} == {"12\n"}
        assert (await witness.add(0, [], log.note()))[2] == "12\n"

    async def test_concurrent_submissions_never_roll_back(self, witness: Witness,
                                                          log: Log) -> None:
        """Checkpoints of different sizes from one old size at once: one wins and the held size
        is the winner's, never an older one written after it."""
        log.grow(4)
        await witness.add(0, [], log.note())
        log.grow(40)
        sizes = list(range(5, 45, 3))
        answers = await asyncio.gather(*(witness.add(4, log.proof(4, n), log.note(n))
                                         for n in sizes))
        won = [n for n, a in zip(sizes, answers, strict=True) if a[0] == 200]
        assert len(won) == 1
        assert (await witness.add(0, [], log.note()))[2] == f"{won[0]}\n"

    async def test_the_state_survives_a_restart(self, witness: Witness, log: Log,
                                                tmp_path: Path) -> None:
        log.grow(9)
        await witness.add(0, [], log.note())
        await witness.runner.cleanup()
        async with aiohttp.ClientSession() as http:
            again = await start_witness(witness.settings, http)
            try:
                assert (await again.add(0, [], log.note()))[2] == "9\n"
                log.grow(2)
                assert (await again.add(9, log.proof(9), log.note()))[0] == 200
            finally:
                await again.runner.cleanup()

    async def test_a_refused_tree_is_kept_as_evidence(self, witness: Witness,
                                                      log: Log) -> None:
        log.grow(8)
        await witness.add(0, [], log.note())
        forked = log.fork(keep=3)
        forked.grow(2)
        assert (await witness.add(8, forked.proof(8), forked.note()))[0] == 422
        db = sqlite3.connect(witness.settings.state)
        rows = db.execute("SELECT old_size, note FROM evidence").fetchall()
        db.close()
        assert rows == [(8, forked.note())]


async def test_witness_keys_round_trip(witness: Witness) -> None:
    """The vkey the witness publishes parses back to its key."""
    key = witness.cosigner.public()
    assert CosignerKey.from_vkey(key.vkey()) == key
