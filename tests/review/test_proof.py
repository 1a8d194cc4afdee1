"""GET /v1/review/entries/{seq}: the entry with its RFC 9162 inclusion proof against the
latest signed checkpoint, checked; and GET /v1/review/checkpoint."""

from __future__ import annotations

import base64
import sqlite3

import pytest

from gateway.http.app import RECORD
from gateway.record.checkpoint import Checkpoint, Signer, parse_and_verify, sign_checkpoint
from gateway.record.merkle import inclusion_proof, leaf_hash, root, verify_inclusion
from gateway.record.proof import CHUNK, Prover
from tests.conftest import Harness
from tests.review.conftest import call, entries, get_json, ship


@pytest.fixture
async def reviewer(gateway: Harness) -> dict[str, str]:
    for n in range(5):
        await ship(gateway, order_id=f"J-P{n}")
    await gateway.app[RECORD].checkpoint()
    return await gateway.as_staff("reviewer")


def tamper(gateway: Harness, *sql: str) -> None:
    db = sqlite3.connect(gateway.config.record.path)
    db.execute("DROP TRIGGER IF EXISTS entries_no_update")
    for statement in sql:
        db.execute(statement)
    db.commit()


class TestInclusion:
    @pytest.mark.parametrize("seq", [0, 3, 9])
    async def test_the_proof_verifies_against_the_public_checkpoint(
        self, gateway: Harness, reviewer: dict[str, str], seq: int
    ) -> None:
        """The answer's audit path leads from the entry's leaf to the root of the checkpoint
        anyone can fetch, signed by the gateway's key."""
        doc = await get_json(gateway, f"/v1/review/entries/{seq}", reviewer)
        proof = doc["inclusion"]
        assert proof["verified"] is True
        assert proof["index"] == doc["entry"]["seq"] == seq
        status, note, _ = await call(gateway, "GET", "/v1/record/checkpoint")
        assert status == 200
        verifier = Signer.from_key_string(gateway.config.keys.checkpoint_signing).verifier()
        checkpoint = parse_and_verify(note.decode(), [verifier])
        assert checkpoint.size == proof["tree_size"]
        assert verify_inclusion(bytes.fromhex(proof["leaf_hash"]), seq, checkpoint.size,
                                [bytes.fromhex(p) for p in proof["path"]], checkpoint.root)
        assert base64.b64encode(bytes.fromhex(proof["root"])).decode() in note.decode()

    async def test_an_entry_newer_than_the_checkpoint_gets_one(
        self, gateway: Harness, reviewer: dict[str, str]
    ) -> None:
        """Viewing an entry not yet under a checkpoint signs a fresh one and proves under it."""
        await ship(gateway, order_id="J-NEW")
        newest = len(entries(gateway)) - 1
        doc = await get_json(gateway, f"/v1/review/entries/{newest}", reviewer)
        assert doc["inclusion"]["verified"] is True
        assert doc["inclusion"]["tree_size"] > newest

    async def test_a_changed_body_fails_the_check(self, gateway: Harness,
                                                  reviewer: dict[str, str]) -> None:
        """An entry whose body was edited in the database is shown as not verified."""
        tamper(gateway, "UPDATE entries SET body = replace(body, 'J-P1', 'J-X1') WHERE seq = 3")
        doc = await get_json(gateway, "/v1/review/entries/3", reviewer)
        assert doc["inclusion"]["verified"] is False
        assert "leaf" in doc["inclusion"]["problem"]

    async def test_a_changed_neighbour_fails_the_check(self, gateway: Harness,
                                                       reviewer: dict[str, str]) -> None:
        """A leaf changed elsewhere in the tree breaks the proof of an untouched entry, and the
        checkpoint status says the record no longer matches."""
        tamper(gateway, "UPDATE entries SET leaf = zeroblob(32) WHERE seq = 7")
        doc = await get_json(gateway, "/v1/review/entries/1", reviewer)
        assert doc["inclusion"]["verified"] is False
        status = await get_json(gateway, "/v1/review/checkpoint", reviewer)
        assert status["verified"] is True
        assert status["matches_record"] is False

    async def test_an_unknown_position_is_404(self, gateway: Harness,
                                              reviewer: dict[str, str]) -> None:
        """A position past the end answers a 404 problem."""
        status, _, headers = await call(gateway, "GET", "/v1/review/entries/999",
                                        headers=reviewer)
        assert status == 404
        assert headers["content-type"] == "application/problem+json"

    async def test_the_view_is_recorded(self, gateway: Harness,
                                        reviewer: dict[str, str]) -> None:
        """Opening an entry appends a review.read naming the position and the customer."""
        doc = await get_json(gateway, "/v1/review/entries/0", reviewer)
        read = entries(gateway)[doc["read_recorded_at"]]
        assert (read["kind"], read["data"]["what"], read["data"]["seq"]) == (
            "review.read", "entry", 0)
        assert read["subject"] == doc["entry"]["subject"]


class TestCheckpointStatus:
    async def test_the_latest_checkpoint_verifies_and_matches(
        self, gateway: Harness, reviewer: dict[str, str]
    ) -> None:
        """The status names the checkpoint's size and age, verified with the public key, and
        the record's entries still hash to its root."""
        status = await get_json(gateway, "/v1/review/checkpoint", reviewer)
        assert status["verified"] is True
        assert status["matches_record"] is True
        assert status["size"] == 11
        assert 0 <= status["age_seconds"] < 60
        assert status["origin"] == gateway.config.origin

    async def test_a_checkpoint_signed_by_another_key_does_not_verify(
        self, gateway: Harness, reviewer: dict[str, str]
    ) -> None:
        """A checkpoint note replaced by one signed with a foreign key is reported unverified."""
        signer, _ = Signer.generate(gateway.config.origin)
        note = sign_checkpoint(Checkpoint(gateway.config.origin, 11, bytes(32)), signer)
        tamper(gateway, "DROP TRIGGER IF EXISTS checkpoints_no_update",
               f"UPDATE checkpoints SET note = '{note}' WHERE size = 11")
        status = await get_json(gateway, "/v1/review/checkpoint", reviewer)
        assert status["verified"] is False
        assert "checkpoint refused" in status["problem"]


class ListStore:
    """A store's leaves() over a list of leaf hashes."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.list = leaves
        self.read = 0

    async def leaves(self, start: int, end: int) -> list[bytes]:
        self.read += end - start
        return self.list[start:end]


class TestProver:
    @pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 64])
    async def test_paths_equal_the_merkle_modules_for_every_leaf(self, size: int) -> None:
        """The prover's audit paths are exactly merkle.inclusion_proof's."""
        leaves = [leaf_hash(str(i).encode()) for i in range(size)]
        prover = Prover()
        for index in range(size):
            path = await prover.path(ListStore(leaves), index, size)
            assert path == inclusion_proof(index, size, leaves)

    async def test_large_subtrees_are_hashed_once(self) -> None:
        """On a tree of several chunks, a second proof reads only a few chunks of leaves,
        and every path still verifies against the root."""
        size = 5 * CHUNK + 123
        leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
        top = root(leaves)
        prover = Prover()
        first = ListStore(leaves)
        for index in (0, CHUNK + 7, size - 1):
            store = first if index == 0 else ListStore(leaves)
            path = await prover.path(store, index, size)
            assert path == inclusion_proof(index, size, leaves)
            assert verify_inclusion(leaves[index], index, size, path, top)
            if index:
                assert store.read <= 2 * CHUNK + 123
        assert first.read == size - 1  # every leaf but the one proved
