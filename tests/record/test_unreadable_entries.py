"""Entries whose data does not fit their kind (written by hand into a record, or by a key
holder): verify refuses a malformed policy version, and the audit names a side-state entry it
cannot read, instead of passing either by."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gateway.record import Draft, Kind, Record
from gateway.record.audit import audit_sqlite
from gateway.record.checkpoint import Signer
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from gateway.record.verify import verify_sqlite

ORIGIN = "test.invalid/record"


async def _record(path: Path, signer: Signer, *drafts: Draft) -> None:
    record = Record(store=ThreadedStore(SqliteStore(path)), kek=os.urandom(32), signer=signer,
                    origin=ORIGIN)
    await record.open()
    for draft in drafts:
        await record.append(draft)
    await record.checkpoint()
    await record.close()


async def test_a_policy_version_without_its_document_fails_verify(tmp_path: Path) -> None:
    signer = Signer.generate(ORIGIN)[0]
    path = tmp_path / "record.sqlite"
    await _record(path, signer, Draft(kind=Kind.POLICY, policy="0" * 64,
                                      data={"not_a_document": 1}))
    report = verify_sqlite(path, [signer.verifier()], origin=ORIGIN)
    assert not report.ok
    assert "FAILED at position 0: the entry's policy version is malformed" in report.summary()


async def test_side_state_entries_that_cannot_be_read_are_named_by_the_audit(
        tmp_path: Path) -> None:
    signer = Signer.generate(ORIGIN)[0]
    path = tmp_path / "record.sqlite"
    unreadable: list[dict[str, Any]] = [{"action": "added"}, {"basis": "kirjanpitolaki"}]
    await _record(path, signer,
                  Draft(kind=Kind.STAFF, data=unreadable[0]),
                  Draft(kind=Kind.LEGAL_HOLD, subject="a" * 64, data=unreadable[1]))
    report = audit_sqlite(path)
    assert not report.ok
    text = "\n".join(report.differences)
    assert "position 0" in text
    assert "position 1" in text
