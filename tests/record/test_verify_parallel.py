"""`gateway log verify` split over worker processes (``verify_sqlite_split``) reaches the same
verdict as one process, naming the same first bad position, when the record spans many ranges:
checkpoints, the hash chain, dropped values and erasures, and policy versions across ranges."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from gateway.record.verify import verify_sqlite
from gateway.record.verify_parallel import verify_sqlite_split
from gateway.record.verify_policy import digest

ORIGIN = "test.invalid/record"
RULES = [{"recipient": "posti", "fields": ["name"]}, {"recipient": "budbee", "fields": ["name"]}]
CHUNK = 8


async def _write(path: Path, signer: Signer, *, forged: bool) -> dict[str, int]:
    """About eight ranges of entries: a policy version, intents naming it (and none), customer
    A's values before their erasure, B's never erased, a second version and intents naming
    the first. Returns positions by name."""
    record = Record(store=ThreadedStore(SqliteStore(path)), kek=os.urandom(32), signer=signer,
                    origin=ORIGIN, checkpoint_every=5)
    await record.open()
    at: dict[str, int] = {}

    async def add(name: str, draft: Draft) -> None:
        at[name] = (await record.append(draft)).seq

    doc = {"origin": ORIGIN, "rules": RULES}
    await add("v1", Draft(kind=Kind.POLICY, policy=digest(doc), data={"document": doc}))
    for i in range(20):
        subject = ("a" if i % 2 else "b") * 64
        await add(f"intent{i}", Draft(
            kind=Kind.INTENT, disclosure=f"d_{i}", subject=subject, order=f"J-{i}",
            recipient="posti", policy=digest(RULES[0]), sealed=os.urandom(20),
            data={"webhook_id": f"msg_{i}", "policy_version": at["v1"] if i % 3 else None}))
    await add("erasure", Draft(kind=Kind.ERASURE, subject="a" * 64, data={"reason": "asked"}))
    for i in range(20, 30):
        await add(f"intent{i}", Draft(
            kind=Kind.INTENT, disclosure=f"d_{i}", subject="b" * 64, recipient="budbee",
            policy=digest(RULES[1]), data={"webhook_id": f"msg_{i}", "policy_version": at["v1"]}))
    doc2 = {"origin": ORIGIN, "rules": RULES[:1]}
    await add("v2", Draft(kind=Kind.POLICY, policy=digest(doc2), data={"document": doc2}))
    for i in range(30, 60):
        await add(f"intent{i}", Draft(
            kind=Kind.INTENT, disclosure=f"d_{i}", recipient="posti", policy=digest(RULES[0]),
            data={"webhook_id": f"msg_{i}", "policy_version": at["v1"] if i % 4 else None}))
    # A rule the version in force (the second) no longer holds.
    await add("forged", Draft(
        kind=Kind.INTENT, disclosure="d_forged", recipient="budbee",
        policy=digest(RULES[1]) if forged else digest(RULES[0]),
        data={"webhook_id": "msg_forged"}))
    for i in range(61, 70):
        await add(f"intent{i}", Draft(kind=Kind.OUTCOME, disclosure=f"d_{i}",
                                      data={"result": "booked"}))
    await record.close()
    return at


def _sql(path: Path, statement: str) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for name in ("entries_no_update", "entries_no_delete", "entries_in_order",
                     "entries_only_drop_sealed"):
            db.execute(f"DROP TRIGGER IF EXISTS {name}")
        db.execute(statement)
    finally:
        db.close()


@pytest.mark.parametrize("tamper", [
    None, "forged", "drop erased", "drop kept", "column at a range start", "column mid-range",
    "delete at a range end", "leaf at a range end", "leaf as bad text at a range end",
    "truncate"])
async def test_split_verdict_is_one_process_verdict(tmp_path: Path, tamper: str | None) -> None:
    """Each tamper is named at the same position, with the same words, by both."""
    path = tmp_path / "record.sqlite"
    signer = Signer.generate(ORIGIN)[0]
    at = await _write(path, signer, forged=tamper == "forged")
    statements = {
        "drop erased": f"UPDATE entries SET sealed = NULL WHERE seq = {at['intent3']}",
        "drop kept": f"UPDATE entries SET sealed = NULL WHERE seq = {at['intent4']}",
        "column at a range start": f"UPDATE entries SET recipient = 'x' WHERE seq = {4 * CHUNK}",
        "column mid-range": f"UPDATE entries SET time = 'x' WHERE seq = {5 * CHUNK + 3}",
        "delete at a range end": f"DELETE FROM entries WHERE seq = {3 * CHUNK - 1}",
        "leaf at a range end":
            f"UPDATE entries SET leaf = zeroblob(32) WHERE seq = {2 * CHUNK - 1}",
        "leaf as bad text at a range end":
            f"UPDATE entries SET leaf = CAST(x'ff00fe' AS TEXT) WHERE seq = {2 * CHUNK - 1}",
        "truncate": f"DELETE FROM entries WHERE seq > {6 * CHUNK + 2}",
    }
    if tamper in statements:
        _sql(path, statements[tamper])
    keys = [signer.verifier()]
    one = verify_sqlite(path, keys, origin=ORIGIN)
    split = verify_sqlite_split(path, keys, origin=ORIGIN, workers=2, chunk=CHUNK)
    assert split.summary() == one.summary()
    assert (split.ok, split.first_bad) == (one.ok, one.first_bad)
    if tamper in {None, "drop erased"}:
        assert one.ok, one.summary()
        assert split == one
    else:
        assert not one.ok
    if tamper == "forged":
        assert one.first_bad == at["forged"]
