"""Preservation orders end only through the authority workflow: a production request that
follows one ends it in the production's intake transaction (or neither is kept), a legal-hold
release on the erasure desk leaves its holds alone, and a running gateway ends an expired one
on its own schedule."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from gateway.config import Config
from gateway.record.audit import audit_sqlite
from tests.authority.conftest import Clock, authority_trail, form, record_entries
from tests.authority.test_authority_cli import CUSTOMER, config, day, ok, refused  # noqa: F401
from tests.authority.test_authority_cli import take_in as cli_take_in
from tests.authority.test_http import BASE, json_call, staff, take_in  # noqa: F401
from tests.conftest import Harness, run_gateway
from tests.review.conftest import ship

#: Fails the transaction committing an entry of the kind given (the head row is written last).
FAIL = ("CREATE TRIGGER fail_marked BEFORE INSERT ON head "
        "WHEN (SELECT kind FROM entries ORDER BY seq DESC LIMIT 1) = '{kind}' "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")


def sql(db: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(query, args))


async def preserving(gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock,
                     order: str) -> str:
    """A running preservation order over the canary customer (who has a delivery)."""
    await ship(gateway, order_id=order)
    rid = str((await take_in(gateway, staff["olli"], form(clock, kind="preservation")))["id"])
    status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"], {})
    assert (status, view["state"]) == (200, "preserving")
    return rid


class TestProductionFollows:
    async def test_the_preservation_ends_with_the_productions_intake_or_not_at_all(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """The production's intake fails in its transaction: no production request, and the
        preservation still runs with its holds. Taken in again: the preservation is closed and
        its holds ended by the same entry (no second one, which could fail after the intake
        was kept), and the record audits clean."""
        db = gateway.config.record.path
        rid = await preserving(gateway, staff, clock, "J-PF1")
        holds = "SELECT until FROM legal_holds WHERE basis LIKE ?"
        assert len(sql(db, holds, f"%{rid}%")) == 1
        sql(db, FAIL.format(kind="authority.received"))
        try:
            status, _ = await json_call(gateway, "POST", BASE, staff["olli"],
                                        form(clock, follows=rid))
        finally:
            sql(db, "DROP TRIGGER fail_marked")
        assert status == 503
        assert sql(db, "SELECT id, state FROM authority_requests") == [(rid, "preserving")]
        assert len(sql(db, holds, f"%{rid}%")) == 1
        assert [k for k, _ in authority_trail(db, rid)] == ["authority.received",
                                                            "authority.approved"]

        # Where a second transaction once recorded the end, a failure there changes nothing:
        # there is none.
        sql(db, FAIL.format(kind="authority.preservation_ended"))
        try:
            production = await take_in(gateway, staff["olli"], form(clock, follows=rid))
        finally:
            sql(db, "DROP TRIGGER fail_marked")
        assert sorted(sql(db, "SELECT id, state FROM authority_requests")) == sorted(
            [(rid, "closed"), (production["id"], "received")])
        # The holds ended at once: none runs any more.
        assert sql(db, f"SELECT until FROM legal_holds WHERE basis LIKE ? AND until > "
                       f"'{clock.iso()}'", f"%{rid}%") == []
        entries = record_entries(db)
        (intake,) = [e for e in entries if e["disclosure"] == production["id"]]
        assert intake["data"]["preservation_ended"] == {
            "request": rid, "why": "a production request follows", "state": "closed",
            "at": clock.iso(), "basis": intake["data"]["preservation_ended"]["basis"]}
        assert "authority.preservation_ended" not in [e["kind"] for e in entries]
        report = audit_sqlite(db)
        assert report.ok, report.summary()
        assert "0 legal holds" in report.counted


class TestErasureDesk:
    def test_a_preservation_hold_is_not_released_on_the_erasure_desk(self, config: Path,
                                                                       ) -> None:
        """`gateway erasure release --hold` on a customer a preservation order holds is
        refused in one line naming the request, exit 1, nothing recorded; the hold still
        runs. An ordinary hold on a customer no order preserves is still released."""
        rid = cli_take_in(config, "olli", kind="preservation")
        assert ok(config, "authority", "approve", rid, "--as", "ada")["state"] == "preserving"
        ok(config, "erasure", "hold", "--customer", CUSTOMER, "--until", day(20), "--basis",
           "Accounting Act 1336/1997", "--as", "dpo")
        before = len(record_entries(Config.from_toml(config).record.path))
        line = refused(config, "erasure", "release", "--customer", CUSTOMER, "--hold",
                       "--reason", "the matter is settled", "--as", "dpo")
        assert f"preservation order of authority request {rid}" in line
        assert len(record_entries(Config.from_toml(config).record.path)) == before
        listed = ok(config, "erasure", "list", "--as", "dpo")
        assert f"preservation order {rid}" in listed
        ok(config, "erasure", "hold", "--customer", "CUST-SOMEONE-ELSE", "--until", day(20),
           "--basis", "Accounting Act 1336/1997", "--as", "dpo")
        assert "legal hold lifted" in ok(config, "erasure", "release", "--customer",
                                         "CUST-SOMEONE-ELSE", "--hold", "--reason",
                                         "the matter is settled", "--as", "dpo")


def _often(raw: dict[str, Any]) -> None:
    raw["authorities"]["preservation_check_minutes"] = 0.002  # every 0.12 s


async def staff_sessions(gateway: Harness) -> dict[str, dict[str, str]]:
    """olli (intake officer) and ada (approver), logged in."""
    for name, role in (("olli", "intake_officer"), ("ada", "approver")):
        await gateway.add_staff(name, role)
    return {name: await gateway.login(name) for name in ("olli", "ada")}


class TestExpiry:
    async def test_a_running_gateway_ends_an_expired_preservation_by_itself(
        self, tmp_path: Path, carrier_env: None, clock: Clock
    ) -> None:
        """Nobody lists requests: the server's own schedule ends the preservation once its
        clock passes the period (not before), recorded by nobody on channel ``schedule``,
        its holds gone; the record audits clean."""
        async with run_gateway(tmp_path, _often, clock=clock) as gateway:
            heads = await staff_sessions(gateway)
            rid = await preserving(gateway, heads, clock, "J-PX1")
            db = gateway.config.record.path
            state = "SELECT state FROM authority_requests WHERE id = ?"
            clock.advance(days=59)
            await asyncio.sleep(0.5)  # several runs, none ends it yet
            assert sql(db, state, rid) == [("preserving",)]
            clock.advance(days=2)
            for _ in range(100):
                if sql(db, state, rid) == [("closed",)]:
                    break
                await asyncio.sleep(0.05)
            assert sql(db, state, rid) == [("closed",)]
            (ended,) = [e for e in record_entries(db)
                        if e["kind"] == "authority.preservation_ended"]
            assert (ended["disclosure"], ended["data"]["by"], ended["data"]["channel"],
                    ended["data"]["why"]) == (rid, None, "schedule",
                                              "the preservation period ended")
            # its hold has run out (the row of a past hold stays, as any hold's does)
            assert sql(db, "SELECT subject FROM legal_holds WHERE until > ?", clock.iso()) == []
            report = audit_sqlite(db)
            assert report.ok, report.summary()


#: Fails the batch recording the request's second outcome: the production dies midway.
SECOND_OUTCOME = ("CREATE TRIGGER fail_marked BEFORE INSERT ON head WHEN (SELECT count(*) FROM "
                  "entries WHERE kind = 'authority.disclosure') >= 2 "
                  "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")


class TestResumePartial:
    async def test_a_production_that_died_midway_is_finished_not_produced_again(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Two customers; the second outcome fails after the package file was written and the
        first outcome recorded. Resume is refused while it may be running; after 10 minutes
        it records the missing outcome from the same file (its hash unchanged), the request
        is disclosed, each customer has exactly one outcome and the package downloads."""
        db = gateway.config.record.path
        await ship(gateway, order_id="J-RP1")
        await ship(gateway, order_id="J-RP2", customer="CUST-SECOND")
        rid = (await take_in(gateway, staff["olli"], form(
            clock, customers=[CUSTOMER, "CUST-SECOND"])))["id"]
        await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"], {})
        sql(db, SECOND_OUTCOME)
        try:
            status, _ = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", staff["olli"])
        finally:
            sql(db, "DROP TRIGGER fail_marked")
        assert status == 503
        path = gateway.config.record.path.parent / "authority-packages" / f"{rid}.json"
        written = path.read_bytes()
        status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/resume", staff["olli"])
        assert (status, view.get("state")) == (409, None)
        clock.advance(days=11 / 1440)
        status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/resume", staff["olli"])
        assert (status, view["state"]) == (200, "disclosed"), view
        assert view["package_sha256"] == hashlib.sha256(written).hexdigest()
        assert path.read_bytes() == written
        outcomes = [e for e in record_entries(db) if e["kind"] == "authority.disclosure"]
        assert sorted(e["disclosure"] for e in outcomes) == [f"{rid}:0", f"{rid}:1"]
        assert {e["data"]["package_sha256"] for e in outcomes} == {view["package_sha256"]}
        assert [e["data"].get("resumed") for e in outcomes] == [None, True]
        assert outcomes[0]["fields"] == outcomes[1]["fields"]  # as the package gives them
        assert view["outcome"]["outcome"] == "full"
        status, _ = await json_call(gateway, "GET", f"{BASE}/{rid}/package", staff["olli"])
        assert status == 200
        await json_call(gateway, "POST", f"{BASE}/{rid}/resume", staff["olli"])
        assert len([e for e in record_entries(db)
                    if e["kind"] == "authority.disclosure"]) == 2
        report = audit_sqlite(db)
        assert report.ok, report.summary()
