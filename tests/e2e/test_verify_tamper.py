"""`gateway log verify` against someone with the database: every column stored beside an
entry's body that searches, reports and recovery read is held to the signed body, and a sealed
value may be missing only for a customer the record erased after it. On SQLite and PostgreSQL,
through the command as an auditor runs it."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import attrs
import pytest

from gateway.actor import Actor
from gateway.authority.intake import Intake
from gateway.authority.package import disclose
from gateway.authority.workflow import Authority
from gateway.erasure.requests import ErasureRules, request_erasure
from gateway.http.app import RECORD
from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.record.sealing import subject_ref
from tests.cli import Ran, run
from tests.conftest import AUTHORITIES, CANARY_CUSTOMER, ROOT, Harness, order_event, run_gateway
from tests.review.conftest import get_json
from tests.stores import PG_URL, Backend

ORIGIN = "test.invalid/record"
HMAC_KEY = b"h" * 32
NOW = datetime.now(UTC)

#: Each column stored beside an entry's body, and a value it is changed to.
TAMPERED = {
    "kind": "'review.read'",
    "time": "'2020-01-01T00:00:00.000Z'",
    "subject": "'" + "0" * 64 + "'",
    "order_ref": "'J-OTHER'",
    "recipient": "'budbee'",
    "disclosure": "'d_other'",
    # What the transparency report counts the entry by: another carrier result.
    "tally": "'[\"failed\",null,null,[\"name\"]]'",
}
SQLITE_TRIGGERS = ("entries_no_update", "entries_no_delete", "entries_in_order",
                   "entries_only_drop_sealed")


@attrs.frozen
class Target:
    """Where a record is kept: what `gateway log verify` is pointed at, and how someone with
    the database changes it."""

    store: str
    public_key: Path
    path: Path | None = None
    schema: str | None = None

    def verify(self) -> Ran:
        where = (["--db", str(self.path)] if self.store == "sqlite"
                 else ["--url", PG_URL, "--schema", str(self.schema)])
        return run("log", "verify", *where, "--public-key", str(self.public_key), "--quiet",
                   cwd=ROOT)

    async def sql(self, statement: str, *, past_triggers: bool = False) -> list[Any]:
        """Run ``statement`` as the database's owner; ``past_triggers`` switches the record's
        append-only triggers off first (on PostgreSQL as a superuser does)."""
        if self.store == "sqlite":
            db = sqlite3.connect(str(self.path), isolation_level=None)
            try:
                if past_triggers:
                    for name in SQLITE_TRIGGERS:
                        db.execute(f"DROP TRIGGER IF EXISTS {name}")
                return db.execute(statement).fetchall()
            finally:
                db.close()
        conn = await asyncpg.connect(PG_URL, server_settings={"search_path": str(self.schema)})
        try:
            if past_triggers:
                await conn.execute("SET session_replication_role = replica")
            return list(await conn.fetch(statement))
        finally:
            await conn.close()


def target_of(backend: Backend, public_key: Path) -> Target:
    store = backend.make()
    if backend.name == "sqlite":
        return Target("sqlite", public_key, path=store.sync.path)  # type: ignore[attr-defined]
    return Target("postgres", public_key, schema=store.schema)  # type: ignore[attr-defined]


@attrs.frozen
class Written:
    target: Target
    #: Positions: a customer's value before their erasure, a never erased customer's, the
    #: erased customer's after they came back, one naming no customer, and an outcome with
    #: every column set.
    erased_before: int
    kept: int
    came_back: int
    no_customer: int
    outcome: int


async def _sealed(record: Record, customer: str | None, order: str, kind: str = Kind.INTENT,
                  ) -> int:
    subject = None if customer is None else subject_ref(HMAC_KEY, customer)
    disclosure = f"d_{order}"
    sealed = (os.urandom(40) if subject is None
              else await record.seal(subject, f"{kind}:{disclosure}", {"name": "Canary"}))
    appended = await record.append(Draft(kind=kind, disclosure=disclosure, subject=subject,
                                         order=order, recipient="posti", sealed=sealed))
    return appended.seq


@pytest.fixture
async def written(backend: Backend, tmp_path: Path) -> Written:
    """A record where customer A is disclosed to, then erased, then disclosed to again;
    customer B is never erased."""
    signer, verifier = Signer.generate(ORIGIN)
    key = tmp_path / "checkpoint.pub"
    key.write_text(verifier + "\n")
    record = Record(store=backend.make(), kek=os.urandom(32), signer=signer, origin=ORIGIN,
                    checkpoint_every=4)
    await record.open()
    erased_before = await _sealed(record, "A", "J-1")
    outcome = await _sealed(record, "A", "J-1", Kind.OUTCOME)
    kept = await _sealed(record, "B", "J-2")
    erasure = await request_erasure(record, customer_id="A", hmac_key=HMAC_KEY,
                                    rules=ErasureRules(), now=NOW, actor=Actor("dpo", "cli"))
    assert erasure.status == "erased"
    came_back = await _sealed(record, "A", "J-3")
    no_customer = await _sealed(record, None, "J-4", Kind.OUTCOME)
    await _sealed(record, "B", "J-5")
    await record.close()
    return Written(target_of(backend, key), erased_before=erased_before, kept=kept,
                   came_back=came_back, no_customer=no_customer, outcome=outcome)


class TestStoredColumns:
    async def test_an_untouched_record_verifies(self, written: Written) -> None:
        """The record as the gateway wrote it checks out."""
        done = written.target.verify()
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith("OK: 7 entries")

    @pytest.mark.parametrize("column", list(TAMPERED))
    async def test_a_changed_column_fails_at_its_position(self, written: Written,
                                                          column: str) -> None:
        """A column a search, report or recovery reads, changed in the database, fails verify
        naming the entry's position and the column."""
        await written.target.sql(f"UPDATE entries SET {column} = {TAMPERED[column]} "
                                 f"WHERE seq = {written.outcome}", past_triggers=True)
        done = written.target.verify()
        assert done.returncode == 1
        assert f"FAILED at position {written.outcome}: the stored column {column} " in (
            done.stdout)

    async def test_a_column_emptied_fails(self, written: Written) -> None:
        """A column set to NULL (out of every search by it) fails verify."""
        await written.target.sql(f"UPDATE entries SET recipient = NULL WHERE seq = "
                                 f"{written.kept}", past_triggers=True)
        done = written.target.verify()
        assert done.returncode == 1
        assert f"FAILED at position {written.kept}: the stored column recipient" in done.stdout


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
class TestStoredTypes:
    """SQLite keeps any type in any column: a value of the right bytes but the wrong type no
    longer matches the searches' comparisons, and verify says so."""

    @pytest.mark.parametrize(("column", "value"), [
        ("kind", "CAST(kind AS BLOB)"),
        ("recipient", "CAST(x'ff706f737469' AS TEXT)"),
        ("order_ref", "42"),
    ], ids=["blob", "not-utf8", "number"])
    async def test_a_column_of_another_type_fails(self, written: Written, column: str,
                                                  value: str) -> None:
        """A column stored as a BLOB, as text that is not UTF-8, or as a number, fails at its
        position naming the column."""
        await written.target.sql(f"UPDATE entries SET {column} = {value} "
                                 f"WHERE seq = {written.outcome}", past_triggers=True)
        done = written.target.verify()
        assert done.returncode == 1
        assert f"FAILED at position {written.outcome}: the stored column {column} " in (
            done.stdout)


class TestDroppedValues:
    async def test_an_erased_customers_value_may_be_dropped(self, written: Written) -> None:
        """Dropping the ciphertext of a customer erased later in the record (what erasure
        allows) still verifies."""
        await written.target.sql(
            f"UPDATE entries SET sealed = NULL WHERE seq = {written.erased_before}")
        done = written.target.verify()
        assert done.returncode == 0, done.stdout

    @pytest.mark.parametrize("which", ["kept", "came_back", "no_customer"])
    async def test_a_value_no_erasure_allows_fails(self, written: Written, which: str) -> None:
        """A value dropped for a customer never erased, for one erased only before the entry
        (they came back under a new key), or from an entry naming no customer, fails at its
        position."""
        seq = getattr(written, which)
        await written.target.sql(f"UPDATE entries SET sealed = NULL WHERE seq = {seq}")
        done = written.target.verify()
        assert done.returncode == 1
        assert f"FAILED at position {seq}: the entry's sealed value was dropped" in done.stdout

    async def test_the_first_unallowed_drop_is_named(self, written: Written) -> None:
        """With several values dropped, allowed and not, the first not allowed is named."""
        for seq in (written.erased_before, written.came_back, written.kept):
            await written.target.sql(f"UPDATE entries SET sealed = NULL WHERE seq = {seq}")
        done = written.target.verify()
        assert done.returncode == 1
        assert f"FAILED at position {written.kept}: " in done.stdout


# -- the DPO's case: an authority disclosure hidden from the transparency report -------------


FORM: dict[str, Any] = {
    "authority": "poliisi-sisa-suomi",
    "officer": "Anna Virtanen", "rank": "rikoskomisario", "received_via": "e-mail",
    "reference": "5500/R/12345/26",
    "legal_basis": "Police Act 872/2011, chapter 4, section 3",
    "kind": "production",
    "customers": [CANARY_CUSTOMER["id"]],
    "categories": ["name", "phone"],
    "deadline": (NOW.date() + timedelta(days=14)).isoformat(),
}


async def _authority_disclosure(gateway: Harness, tmp_path: Path) -> None:
    """An order booked for the canary customer, then an authority request for their data taken
    in, approved by a second person and disclosed."""
    assert (await gateway.post(order_event("posti", "home_delivery")))[0] == 201
    authority = Authority(record=gateway.app[RECORD], hmac_key=gateway.config.keys.subject_hmac)
    request = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES),
        actor=Actor("ilona", "api"), now=NOW)
    await authority.approve(request.id, actor=Actor("aapo", "api"), now=NOW)
    await disclose(authority, request.id, actor=Actor("aapo", "api"), now=NOW,
                   out_dir=tmp_path / "packages" / request.id)


@pytest.mark.usefixtures("carrier_env")
@pytest.mark.parametrize("column", ["kind", "recipient"])
async def test_an_authority_disclosure_hidden_from_the_report_fails_verify(
    backend: Backend, tmp_path: Path, column: str
) -> None:
    """The DPO's case: an authority disclosure's kind or recipient column changed in the
    database changes what the transparency report shows, and verify fails at its position."""
    target = target_of(backend, tmp_path / "secrets" / "checkpoint.pub")

    def store(raw: dict[str, Any]) -> None:
        if target.store == "postgres":
            raw["record"].update({"store": "postgres", "url": PG_URL, "schema": target.schema})

    async with run_gateway(tmp_path, store) as gateway:
        await _authority_disclosure(gateway, tmp_path)
        headers = await gateway.as_staff("approver")
        before = await get_json(gateway, "/v1/reports/transparency", headers)
        assert before["totals"]["authority_disclosures"] == 1
        ((seq,),) = await target.sql(
            f"SELECT seq FROM entries WHERE kind = '{Kind.AUTHORITY_DISCLOSURE}'")
        await target.sql(f"UPDATE entries SET {column} = {TAMPERED[column]} "
                         f"WHERE seq = {seq}", past_triggers=True)
        after = await get_json(gateway, "/v1/reports/transparency", headers)
        assert (after["totals"], after["per_recipient"]) != (
            before["totals"], before["per_recipient"])
    done = target.verify()
    assert done.returncode == 1
    assert f"FAILED at position {seq}: the stored column {column} " in done.stdout


@pytest.mark.usefixtures("carrier_env")
async def test_an_authority_disclosure_whose_tally_is_emptied_fails_verify(
        backend: Backend, tmp_path: Path) -> None:
    """The report counts an entry by its stored tally: emptied in the database, the disclosure
    leaves the report, and verify fails at its position naming the column."""
    target = target_of(backend, tmp_path / "secrets" / "checkpoint.pub")

    def store(raw: dict[str, Any]) -> None:
        if target.store == "postgres":
            raw["record"].update({"store": "postgres", "url": PG_URL, "schema": target.schema})

    async with run_gateway(tmp_path, store) as gateway:
        await _authority_disclosure(gateway, tmp_path)
        headers = await gateway.as_staff("approver")
        before = await get_json(gateway, "/v1/reports/transparency", headers)
        assert before["totals"]["authority_disclosures"] == 1
        ((seq,),) = await target.sql(
            f"SELECT seq FROM entries WHERE kind = '{Kind.AUTHORITY_DISCLOSURE}'")
        await target.sql(f"UPDATE entries SET tally = NULL WHERE seq = {seq}",
                         past_triggers=True)
        after = await get_json(gateway, "/v1/reports/transparency", headers)
        assert after["totals"]["authority_disclosures"] == 0
    done = target.verify()
    assert done.returncode == 1
    assert f"FAILED at position {seq}: the stored column tally " in done.stdout
