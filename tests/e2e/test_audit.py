"""State changes and their entries, on SQLite and PostgreSQL: each change the record vouches for
(staff accounts, authority steps, legal holds, deferred erasures, key erasures) commits in the
transaction of the entry recording it, or not at all; and `gateway log audit` rebuilds that
state from the entries alone and names every way the tables differ from it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from gateway.actor import Actor
from gateway.authority import preservation as authority_preservation
from gateway.erasure.requests import ErasureRules, place_hold, release, request_erasure
from gateway.errors import GatewayError
from gateway.http.app import RECORD
from gateway.http.authority_api import DESK
from gateway.record import Record
from gateway.record.sealing import subject_ref
from gateway.staff.accounts import Staff
from tests.authority.test_http import BASE, json_call, take_in
from tests.cli import Ran
from tests.cli import run as run_command
from tests.conftest import CANARY_CUSTOMER, ROOT, STAFF_PASSWORD, Harness, run_gateway
from tests.e2e.test_verify_tamper import Target, target_of
from tests.review.conftest import ship
from tests.stores import PG_URL, Backend

pytestmark = pytest.mark.usefixtures("carrier_env")

DPO = Actor("dpo", "api")
NOW = datetime.now(UTC)
#: The customers of the run: one kept (held), one erased, one whose erasure waits on a hold.
KEPT, ERASED, WAITING = CANARY_CUSTOMER["id"], "CUST-AUDIT-ERASED", "CUST-AUDIT-WAITING"


def audit(target: Target) -> Ran:
    """`gateway log audit` as an auditor runs it, on the record file or the PostgreSQL URL."""
    where = (["--db", str(target.path)] if target.store == "sqlite"
             else ["--url", PG_URL, "--schema", str(target.schema)])
    return run_command("log", "audit", *where, "--quiet", cwd=ROOT)


def on_store(target: Target) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        if target.store == "postgres":
            raw["record"].update({"store": "postgres", "url": PG_URL, "schema": target.schema})
    return change


@attrs.frozen
class Run:
    gateway: Harness
    target: Target
    record: Record
    #: The closed authority request, and the customers' record references.
    closed: str
    kept: str
    erased: str
    waiting: str


@pytest.fixture
async def run(backend: Backend, tmp_path: Path) -> AsyncIterator[Run]:
    """A gateway on the backend's store, with staff, authority steps, holds and erasures made
    through the gateway's own code."""
    target = target_of(backend, tmp_path / "secrets" / "checkpoint.pub")
    async with run_gateway(tmp_path, on_store(target)) as gateway:
        record = gateway.app[RECORD]
        key = gateway.config.keys.subject_hmac
        for name, roles in (("olli", ["intake_officer"]), ("ada", ["approver", "reviewer"]),
                            ("dora", ["reviewer"])):
            await gateway.add_staff(name, *roles)
        await Staff(record=record).disable("dora", actor=Actor.on_cli(None))
        for order, customer in (("A-1", KEPT), ("A-2", ERASED), ("A-3", WAITING)):
            await ship(gateway, order_id=order, customer=customer)
        olli, ada = await gateway.login("olli"), await gateway.login("ada")
        rid = (await take_in(gateway, olli, _form()))["id"]
        for step in ("approve", "disclose", "close"):
            assert (await json_call(gateway, "POST", f"{BASE}/{rid}/{step}", ada))[0] < 300
        rejected = (await take_in(gateway, olli, _form(reference="REJ-1")))["id"]
        await json_call(gateway, "POST", f"{BASE}/{rejected}/reject", ada,
                        {"reason": "no legal basis given"})
        await take_in(gateway, olli, _form(reference="OPEN-1"))  # stays received
        await _hold(record, key, KEPT, days=30)
        await _hold(record, key, KEPT, days=60)
        await release(record, customer_id=KEPT, hmac_key=key, what="hold",
                      reason="matter settled", now=NOW, actor=DPO)
        await _hold(record, key, KEPT, days=90)
        await request_erasure(record, customer_id=ERASED, hmac_key=key, rules=ErasureRules(),
                              now=NOW, actor=DPO)
        await _hold(record, key, WAITING, days=10)
        deferred = await request_erasure(record, customer_id=WAITING, hmac_key=key,
                                         rules=ErasureRules(), now=NOW, actor=DPO)
        assert deferred.status == "deferred"
        # a preservation order, approved (its hold placed) and extended (a longer one)
        preserved = (await take_in(gateway, olli, _form(kind="preservation",
                                                        reference="PRES-1")))["id"]
        for who, step, body in ((ada, "approve", None),
                                (olli, "extend", {"reason": "the authority asked again"})):
            assert (await json_call(gateway, "POST", f"{BASE}/{preserved}/{step}", who,
                                    body))[0] < 300
        yield Run(gateway, target, record, rid, *(subject_ref(key, c)
                                                  for c in (KEPT, ERASED, WAITING)))


def _form(**change: str) -> dict[str, Any]:
    return {"authority": "poliisi-sisa-suomi", "officer": "Anna Virtanen",
            "rank": "rikoskomisario", "received_via": "e-mail", "reference": "5500/R/1/26",
            "legal_basis": "Police Act 872/2011, chapter 4, section 3",
            "kind": "production", "customers": [KEPT],
            "categories": ["name", "phone"],
            "deadline": (NOW.date() + timedelta(days=14)).isoformat(), **change}


async def _hold(record: Record, key: bytes, customer: str, *, days: int) -> None:
    await place_hold(record, customer_id=customer, hmac_key=key,
                     until=NOW + timedelta(days=days), basis="Accounting Act 2:10", now=NOW,
                     actor=DPO)


class TestAudit:
    async def test_an_untouched_record_audits_clean(self, run: Run) -> None:
        """Staff, authority steps, a preservation order's holds, holds, a release and erasures
        made by the gateway: the state rebuilt from the entries is the tables' state."""
        done = audit(run.target)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith("OK: the state rebuilt from ")
        assert ("3 staff accounts, 4 authority requests, 4 legal holds, 1 deferred erasures, "
                "1 erased customers") in done.stdout

    async def test_each_edit_of_a_side_table_is_named(self, run: Run) -> None:
        """A role added to an account, a request's state changed, a hold deleted, an erasure
        added, an erased customer's key put back: each is named, and audit fails."""
        sql = run.target.sql
        await sql("UPDATE staff SET roles = 'admin,approver,reviewer' WHERE username = 'ada'")
        await sql(f"UPDATE authority_requests SET state = 'approved' WHERE id = '{run.closed}'")
        ((until,),) = await sql(f"SELECT until FROM legal_holds WHERE subject = '{run.waiting}'")
        await sql(f"DELETE FROM legal_holds WHERE subject = '{run.waiting}'")
        await sql("INSERT INTO pending_erasures VALUES "
                  f"('{run.kept}', '2026-01-01', '2026-02-01', 'forged')")
        await sql("INSERT INTO subject_keys VALUES "
                  f"('{run.erased}', {_blob(run.target)}, '2026-01-01')")
        done = audit(run.target)
        assert done.returncode == 1, done.stdout
        lines = done.stdout.splitlines()
        assert lines[0].startswith("FAILED: 5 difference(s)")
        named = "\n".join(lines[1:])
        assert ("staff ada: roles in table [admin, approver, reviewer], in record "
                "[approver, reviewer]") in named
        assert f"authority request {run.closed}: state in table approved, in record closed" \
            in named
        assert f"legal hold on {run.waiting} until {until} " in named
        assert ": 0 in table, 1 in record" in named
        assert f"deferred erasure of {run.kept}: in table, not in record" in named
        assert f"customer {run.erased}: key in table, but erased in record at position" in named

    async def test_an_account_disabled_in_the_table_only_is_named(self, run: Run) -> None:
        """Enabling a disabled account in the table is a difference too."""
        await run.target.sql("UPDATE staff SET disabled = false WHERE username = 'dora'"
                             if run.target.store == "postgres" else
                             "UPDATE staff SET disabled = 0 WHERE username = 'dora'")
        done = audit(run.target)
        assert done.returncode == 1
        assert "staff dora: enabled in table, disabled in record" in done.stdout


def _blob(target: Target) -> str:
    return "x'00'" if target.store == "sqlite" else "'\\x00'::bytea"


# -- a failure between a state change and its entry ---------------------------------------------

#: A trigger failing the batch's last write (its signed head) when the newest entry is of the
#: marked kind: by then the state change and its entry are both written in the transaction.
SQLITE_FAIL = ("CREATE TRIGGER fail_marked BEFORE INSERT ON head "
               "WHEN (SELECT kind FROM entries ORDER BY seq DESC LIMIT 1) = '{kind}' "
               "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
PG_FAIL_FUNCTION = """
CREATE OR REPLACE FUNCTION fail_marked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT kind FROM entries ORDER BY seq DESC LIMIT 1) = TG_ARGV[0] THEN
        RAISE EXCEPTION 'injected failure';
    END IF;
    RETURN NEW;
END $$"""


async def failing(target: Target, kind: str, step: Callable[[], Awaitable[Any]]) -> None:
    """Run ``step`` while the batch recording an entry of ``kind`` fails; it must fail."""
    if target.store == "sqlite":
        await target.sql(SQLITE_FAIL.format(kind=kind))
    else:
        await target.sql(PG_FAIL_FUNCTION)
        await target.sql("CREATE TRIGGER fail_marked BEFORE INSERT ON head FOR EACH ROW "
                         f"EXECUTE FUNCTION fail_marked('{kind}')")
    try:
        outcome = await step()
    except GatewayError:
        outcome = "raised"
    finally:
        await target.sql("DROP TRIGGER fail_marked" + ("" if target.store == "sqlite"
                                                       else " ON head"))
    # A step through HTTP answers 503; one called in the process raises.
    assert outcome == "raised" or (isinstance(outcome, int) and outcome >= 500), outcome


async def test_no_state_change_outlives_a_failed_entry(backend: Backend, tmp_path: Path,
                                                       ) -> None:
    """Each state change fails with its entry, on either store: after the failure neither the
    change nor the entry is there; done again, both are, and the record audits clean."""
    target = target_of(backend, tmp_path / "secrets" / "checkpoint.pub")
    async with run_gateway(tmp_path, on_store(target)) as gateway:
        record, key = gateway.app[RECORD], gateway.config.keys.subject_hmac
        staff = Staff(record=record, log_n=10)
        sql = target.sql

        async def kinds() -> list[str]:
            return [r[0] for r in await sql("SELECT kind FROM entries ORDER BY seq")]

        async def add() -> None:
            await staff.add("ada", STAFF_PASSWORD, ["approver"],
                            actor=Actor.on_cli(None))

        await failing(target, "staff.changed", add)
        assert await sql("SELECT username FROM staff") == []
        await add()
        await gateway.add_staff("olli", "intake_officer")
        await gateway.add_staff("dora", "reviewer")

        async def disable() -> None:
            await staff.disable("dora", actor=Actor.on_cli(None))

        await failing(target, "staff.changed", disable)
        assert [tuple(r) for r in await sql("SELECT disabled FROM staff WHERE username = 'dora'")
                ] in ([(0,)], [(False,)])
        await disable()
        await ship(gateway, order_id="F-1", customer=KEPT)
        await ship(gateway, order_id="F-2", customer=ERASED)
        olli, ada = await gateway.login("olli"), await gateway.login("ada")

        async def intake() -> int:
            return (await json_call(gateway, "POST", BASE, olli, _form()))[0]

        await failing(target, "authority.received", intake)
        assert await sql("SELECT id FROM authority_requests") == []
        assert "authority.received" not in await kinds()
        rid = (await take_in(gateway, olli, _form()))["id"]
        for step, kind, state in (("approve", "authority.approved", "received"),
                                  ("disclose", "authority.intent", "approved"),
                                  ("close", "authority.closed", "disclosed")):

            async def move(step: str = step) -> int:
                return (await json_call(gateway, "POST", f"{BASE}/{rid}/{step}", ada))[0]

            await failing(target, kind, move)
            assert [tuple(r) for r in await sql(
                f"SELECT state FROM authority_requests WHERE id = '{rid}'")] == [(state,)]
            assert await move() < 300

        # A preservation order: approving places its hold, extending a longer one, ending
        # ends them; each with its entry or not at all.
        pid = (await take_in(gateway, olli, _form(kind="preservation")))["id"]
        holds = f"SELECT until FROM legal_holds WHERE basis LIKE '%{pid}%'"
        for step, kind, state, held in (("approve", "authority.approved", "received", 0),
                                        ("extend", "authority.preserved", "preserving", 1)):

            async def preserve(step: str = step) -> int:
                return (await json_call(gateway, "POST", f"{BASE}/{pid}/{step}",
                                        ada if step == "approve" else olli,
                                        {"reason": "the authority asked again"}))[0]

            await failing(target, kind, preserve)
            assert [tuple(r) for r in await sql(
                f"SELECT state FROM authority_requests WHERE id = '{pid}'")] == [(state,)]
            assert len(await sql(holds)) == held
            assert await preserve() < 300
        assert len(await sql(holds)) == 2
        desk = gateway.app[DESK]

        async def end() -> None:
            await authority_preservation.end(desk.authority, await desk.authority.get(pid),
                                             why="the matter ended", actor=DPO, now=NOW)

        await failing(target, "authority.preservation_ended", end)
        assert len(await sql(holds)) == 2
        await end()
        assert await sql(holds) == []
        assert [tuple(r) for r in await sql(
            f"SELECT state FROM authority_requests WHERE id = '{pid}'")] == [("closed",)]

        async def hold() -> None:
            await _hold(record, key, KEPT, days=30)

        await failing(target, "erasure.hold", hold)
        assert await sql("SELECT subject FROM legal_holds") == []
        await hold()

        async def defer() -> None:
            await request_erasure(record, customer_id=KEPT, hmac_key=key, rules=ErasureRules(),
                                  now=NOW, actor=DPO)

        await failing(target, "erasure.deferred", defer)
        assert await sql("SELECT subject FROM pending_erasures") == []
        await defer()

        async def lift() -> None:
            await release(record, customer_id=KEPT, hmac_key=key, what="hold",
                          reason="matter settled", now=NOW, actor=DPO)

        await failing(target, "erasure.released", lift)
        assert len(await sql("SELECT subject FROM legal_holds")) == 1
        await lift()
        assert [r[0] for r in await sql("SELECT basis FROM pending_erasures")] == [
            "hold released"]

        async def erase() -> None:
            await request_erasure(record, customer_id=ERASED, hmac_key=key,
                                  rules=ErasureRules(), now=NOW, actor=DPO)

        erased = subject_ref(key, ERASED)
        await failing(target, "erasure", erase)
        assert [r[0] for r in await sql(f"SELECT subject FROM subject_keys WHERE subject = "
                                        f"'{erased}'")] == [erased]
        assert "erasure" not in await kinds()
        await erase()
        assert await sql(f"SELECT subject FROM subject_keys WHERE subject = '{erased}'") == []
    done = audit(target)
    assert done.returncode == 0, done.stdout + done.stderr
