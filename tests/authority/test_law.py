"""Authority requests as the law has them, over HTTP against a running gateway: the listed
authority, officer, rank, channel and kind at intake; deadlines by kind and their extension;
preservation orders' holds; objections; outcomes; telling the customer (and the access report
following it); and a production stuck in ``disclosing`` after a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from gateway.actor import Actor
from gateway.authority.package import claim
from gateway.erasure.requests import ErasureRules, request_erasure, waiting
from gateway.http.app import RECORD
from gateway.http.authority_api import DESK
from gateway.record.audit import audit_sqlite
from gateway.staff.accounts import csrf_token
from tests.authority.conftest import Clock, authority_trail, form, record_entries
from tests.authority.test_authority_cli import config, day, ok, refused  # noqa: F401
from tests.authority.test_authority_cli import take_in as cli_take_in
from tests.authority.test_http import BASE, CUSTOMER, json_call, staff, take_in  # noqa: F401
from tests.conftest import Harness
from tests.review.conftest import call, cookie_of, ship


async def step(gateway: Harness, headers: dict[str, str], rid: str, name: str,
               body: Any = None, status: int = 200) -> dict[str, Any]:  # noqa: ANN401
    got, view = await json_call(gateway, "POST", f"{BASE}/{rid}/{name}", headers, body or {})
    assert got == status, view
    return view


class TestIntake:
    async def test_an_authority_not_listed_is_refused(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Free text naming no listed authority answers 422 on ``authority``; a listed one is
        kept by its configured name, id and type."""
        status, problem = await json_call(gateway, "POST", BASE, staff["olli"],
                                          form(clock, authority="Poliisi"))
        assert (status, problem["field"]) == (422, "authority")
        view = await take_in(gateway, staff["olli"], form(clock, authority="Helsingin "
                                                                           "poliisilaitos"))
        assert (view["authority"], view["authority_id"], view["authority_type"]) == (
            "Helsingin poliisilaitos", "poliisi-helsinki", "police")

    async def test_rank_channel_and_kind_are_checked(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A police request without the officer's rank is refused (configured ``refuse``); a
        customs one is taken in with a warning (``warn``); an unknown channel or kind is
        refused naming the field."""
        for change, field in (({"rank": ""}, "rank"), ({"received_via": "fax"}, "received_via"),
                              ({"kind": "covert"}, "kind"), ({"officer": ""}, "officer")):
            status, problem = await json_call(gateway, "POST", BASE, staff["olli"],
                                              form(clock, **change))
            assert (status, problem["field"]) == (422, field), change
        view = await take_in(gateway, staff["olli"], form(clock, authority="tulli", rank=""))
        assert view["rank"] is None
        assert "rank is not given" in view["warnings"][0]
        assert view["officer"] == "Anna Virtanen"
        assert view["received_via"] == "e-mail"

    async def test_deadlines_by_kind(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Without a deadline, a production is due in the configured 10 days; an emergency in
        8 hours, a time, due soon from the start; an emergency with a day given is refused."""
        view = await take_in(gateway, staff["olli"], form(clock, deadline=""))
        assert (view["deadline"], view["due_at"]) == (clock.day(10), None)
        view = await take_in(gateway, staff["olli"], form(clock, kind="emergency", deadline=""))
        due = datetime.fromtimestamp(clock.at, UTC) + timedelta(hours=8)
        assert view["due_at"] == due.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert (view["due"], view["hours_left"]) == ("due soon", 8.0)
        clock.advance(days=0.5)
        olli = await gateway.login("olli")  # a new session: the morning's has expired
        assert (await step_get(gateway, olli, view["id"]))["due"] == "overdue"
        status, problem = await json_call(gateway, "POST", BASE, olli,
                                          form(clock, kind="emergency"))
        assert (status, problem["field"]) == (422, "deadline")


async def get_report(gateway: Harness, headers: dict[str, str], **params: str,
                     ) -> dict[str, Any]:
    """The customer's access report as the API answers it."""
    async with gateway.http.get(gateway.url + "/v1/reports/access", headers=headers,
                                params={"customer": CUSTOMER, **params}) as resp:
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
        return answer


async def step_get(gateway: Harness, headers: dict[str, str], rid: str) -> dict[str, Any]:
    status, view = await json_call(gateway, "GET", f"{BASE}/{rid}", headers)
    assert status == 200
    return view


class TestExtend:
    async def test_an_extension_needs_a_reason_and_is_recorded(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Without a reason: 422; with one the deadline moves, the extension is kept on the
        request and recorded; an earlier day is refused."""
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        await step(gateway, staff["olli"], rid, "extend", {"deadline": clock.day(30)}, 422)
        await step(gateway, staff["olli"], rid, "extend",
                   {"deadline": clock.day(1), "reason": "more time agreed"}, 422)
        view = await step(gateway, staff["olli"], rid, "extend",
                          {"deadline": clock.day(30), "reason": "the authority agreed"})
        assert view["deadline"] == clock.day(30)
        assert view["extensions"][0]["reason"] == "the authority agreed"
        assert ("authority.extended", "olli") in authority_trail(gateway.config.record.path,
                                                                 rid)


class TestPreservation:
    async def test_holds_extension_and_the_production_that_follows(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """An approved preservation holds the customer's values 60 days (an erasure is
        deferred to then), is extended once by 30, and ends when a production request names
        it: its holds go, and the two requests name each other."""
        await ship(gateway, order_id="J-P1")
        rid = (await take_in(gateway, staff["olli"], form(clock, kind="preservation")))["id"]
        view = await step(gateway, staff["ada"], rid, "approve")
        assert view["state"] == "preserving"
        record = gateway.app[RECORD]
        now = datetime.fromtimestamp(clock.at, UTC)
        (hold,) = await waiting(record, now=now)
        assert hold.basis.startswith(f"preservation order {rid}")
        assert hold.until[:10] == clock.day(60)
        view = await step(gateway, staff["olli"], rid, "extend", {"reason": "asked again"})
        assert view["preservation"]["until"][:10] == clock.day(90)
        await step(gateway, staff["olli"], rid, "extend", {"reason": "asked again"}, 409)
        report = audit_sqlite(gateway.config.record.path)  # the holds rebuilt from entries
        assert report.ok, report.summary()
        assert "2 legal holds" in report.counted
        erasure = await request_erasure(record, customer_id=CUSTOMER,
                                        hmac_key=gateway.config.keys.subject_hmac,
                                        rules=ErasureRules(), now=now, actor=Actor("dpo", "cli"))
        assert erasure.due is not None
        assert (erasure.status, erasure.due[:10]) == ("deferred", clock.day(90))
        # The customer's access report does not tip off the investigation: no hold, no order,
        # no authority; the erasure is deferred on "a legal obligation". The admin sees all.
        rea = await gateway.as_staff("reviewer")
        for lang in ("en", "fi"):
            mine = await get_report(gateway, rea, lang=lang)
            shown = orjson.dumps(mine).decode()
            assert rid not in shown
            assert "preservation order" not in shown
            assert form(clock)["authority"] not in shown
            assert [p["kind"] for p in mine["pending"]] == ["erasure"]
        assert "a legal obligation" in (await get_report(gateway, rea, lang="en"))[
            "pending"][0]["statement"]
        admin = await gateway.as_staff("admin")
        full = await get_report(gateway, admin, lang="en", view="full")
        assert {p["kind"] for p in full["pending"]} == {"hold", "erasure"}
        assert all(p["basis"].startswith(f"preservation order {rid}") for p in full["pending"])
        production = await take_in(gateway, staff["olli"], form(clock, follows=rid))
        ended = await step_get(gateway, staff["olli"], rid)
        assert (ended["state"], ended["followed_by"]) == ("closed", production["id"])
        assert ended["preservation"]["ended"]["production"] == production["id"]
        assert [w for w in await waiting(record, now=now) if w.kind == "hold"] == []
        trail = [k for k, _ in authority_trail(gateway.config.record.path, rid)]
        # approving placed the holds, extending the longer ones: each step one entry committed
        # with its state changes; the production's intake entry ended them
        assert trail == ["authority.received", "authority.approved", "authority.preserved"]
        (intake,) = [e for e in record_entries(gateway.config.record.path)
                     if e["disclosure"] == production["id"]]
        assert intake["data"]["preservation_ended"]["request"] == rid
        report = audit_sqlite(gateway.config.record.path)
        assert report.ok, report.summary()
        assert "0 legal holds" in report.counted

    async def test_a_preservation_ends_by_itself(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Past its period a preservation is ended (recorded, by nobody: the gateway) when
        the desk next lists requests."""
        await ship(gateway, order_id="J-P2")
        rid = (await take_in(gateway, staff["olli"], form(clock, kind="preservation")))["id"]
        await step(gateway, staff["ada"], rid, "approve")
        clock.advance(days=61)
        olli = await gateway.login("olli")
        await json_call(gateway, "GET", BASE, olli)
        view = await step_get(gateway, olli, rid)
        assert view["state"] == "closed"
        assert ("authority.preservation_ended", None) in authority_trail(
            gateway.config.record.path, rid)


class TestObjectionAndOutcome:
    async def test_an_upheld_objection_ends_the_request_as_objected(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Only an approver objects; the objection's end is recorded; upheld: rejected, with
        the outcome objected."""
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        await step(gateway, staff["olli"], rid, "object", {"reason": "outside 4:3"}, 403)
        view = await step(gateway, staff["ada"], rid, "object", {"reason": "outside 4:3"})
        assert (view["state"], view["outcome"]["outcome"]) == ("objected", "objected")
        await step(gateway, staff["ada"], rid, "resolve-objection",
                   {"resolution": "maybe", "note": "x" * 10}, 422)
        view = await step(gateway, staff["ada"], rid, "resolve-objection",
                          {"resolution": "upheld", "note": "the court agreed"})
        assert view["state"] == "rejected"
        assert view["outcome"] == {"outcome": "objected", "resolution": "upheld"}
        assert view["objection"]["note"] == "the court agreed"

    async def test_an_overruled_objection_goes_on_to_a_full_outcome(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Overruled: back to approved; produced, the outcome is full with what the customer
        got."""
        await ship(gateway, order_id="J-O1")
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        await step(gateway, staff["ada"], rid, "approve")
        await step(gateway, staff["ada"], rid, "object", {"reason": "too broad a request"})
        view = await step(gateway, staff["ada"], rid, "resolve-objection",
                          {"resolution": "overruled", "note": "the order was confirmed"})
        assert view["state"] == "approved"
        view = await step(gateway, staff["olli"], rid, "disclose", status=201)
        assert view["outcome"]["outcome"] == "full"
        (part,) = view["outcome"]["customers"]
        assert part["given"] == ["name", "phone", "deliveries"]


class TestTellingTheCustomer:
    async def test_the_access_report_follows_the_notification(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Prohibited: the disclosure is hidden from the customer's report; notified: shown.
        A deferral ending soon is listed for the DPO."""
        await ship(gateway, order_id="J-N1")
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        await step(gateway, staff["ada"], rid, "approve")
        await step(gateway, staff["olli"], rid, "disclose", status=201)

        async def shown() -> int:
            status, report = await json_call(
                gateway, "GET", f"/v1/reports/access?customer={CUSTOMER}&view=customer",
                staff["dpo"])
            assert status == 200
            return sum(d["kind"] == "authority" for d in report["disclosures"])

        assert await shown() == 1
        await step(gateway, staff["olli"], rid, "notify", {"status": "prohibited"}, 422)
        view = await step(gateway, staff["olli"], rid, "notify", {
            "status": "prohibited", "prohibited_by": "Helsingin käräjäoikeus",
            "basis": "Coercive Measures Act 806/2011 11:7"})
        assert view["notification"]["status"] == "prohibited"
        assert await shown() == 0
        await step(gateway, staff["dpo"], rid, "notify", {
            "status": "deferred", "until": clock.day(5), "reason": "the investigation runs"})
        assert await shown() == 0
        _, listing = await json_call(gateway, "GET", f"{BASE}?deferrals_ending_within=7",
                                     staff["dpo"])
        assert [r["id"] for r in listing["requests"]] == [rid]
        _, listing = await json_call(gateway, "GET", f"{BASE}?deferrals_ending_within=3",
                                     staff["dpo"])
        assert listing["requests"] == []
        await step(gateway, staff["dpo"], rid, "notify",
                   {"status": "notified", "means": "letter"})
        assert await shown() == 1
        kinds = [k for k, _ in authority_trail(gateway.config.record.path, rid)]
        assert kinds.count("authority.notification") == 3


class TestResume:
    async def test_a_crashed_production_is_given_back_and_produced_again(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A claim left without an outcome (the process died) is refused resuming while it
        may still be running, given back after 10 minutes (recorded), and then produced."""
        await ship(gateway, order_id="J-R1")
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        await step(gateway, staff["ada"], rid, "approve")
        desk = gateway.app[DESK]
        await claim(desk.authority, rid, actor=Actor("olli", "api"), now=desk.now())
        await step(gateway, staff["olli"], rid, "disclose", status=409)
        await step(gateway, staff["olli"], rid, "resume", status=409)
        clock.advance(days=11 / 1440)
        await step(gateway, staff["rea"], rid, "resume", status=403)
        view = await step(gateway, staff["olli"], rid, "resume")
        assert (view["state"], view["disclosed_by"]) == ("approved", None)
        view = await step(gateway, staff["olli"], rid, "disclose", status=201)
        assert view["state"] == "disclosed"
        assert ("authority.released", "olli") in authority_trail(gateway.config.record.path,
                                                                 rid)


class TestPages:
    async def test_steps_from_the_request_page(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """The extend, object and notify forms record their steps through the pages; a
        refused step renders the error page with 422; the list shows the deferral."""
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]

        async def post(who: str, name: str, **fields: str) -> int:
            token = staff[who]["Authorization"].removeprefix("Bearer ")
            status, _, _ = await call(gateway, "POST", f"/review/authority/{rid}/{name}",
                                      headers=cookie_of(staff[who]),
                                      data={"csrf": csrf_token(token), **fields})
            return status

        assert await post("olli", "extend", deadline=clock.day(20)) == 422
        assert await post("olli", "extend", deadline=clock.day(20), reason="agreed by phone") \
            == 303
        assert await post("olli", "notify", status="deferred", until=clock.day(3),
                          reason="ongoing investigation") == 303
        assert await post("ada", "object", reason="no legal basis given") == 303
        status, page, _ = await call(gateway, "GET", f"/review/authority/{rid}",
                                     headers=cookie_of(staff["ada"]))
        assert status == 200
        assert b"agreed by phone" in page
        assert b"deferred until" in page
        assert b'id="resolve"' in page
        status, page, _ = await call(gateway, "GET", "/review/authority",
                                     headers=cookie_of(staff["ada"]))
        assert status == 200, page[-3000:]
        table = page.split(b'id="deferrals"')[1].split(b"</table>")[0]
        assert rid.encode() in table
        kinds = [(k, who) for k, who in authority_trail(gateway.config.record.path, rid)]
        assert kinds[1:] == [("authority.extended", "olli"), ("authority.notification", "olli"),
                             ("authority.objected", "ada")]


class TestCli:
    def test_steps_from_the_command_line(self, config: Path) -> None:
        """extend, object, resolve-objection and notify run as `gateway authority …`; a
        refusal is one line and exit 1; the deferral ending soon is listed."""
        rid = cli_take_in(config, "olli")
        assert "reason is required" in refused(config, "authority", "extend", rid,
                                               "--deadline", day(20), "--reason", "",
                                               "--as", "olli")
        view = ok(config, "authority", "extend", rid, "--deadline", day(20), "--reason",
                  "agreed with the customs officer", "--as", "olli")
        assert view["deadline"] == day(20)
        view = ok(config, "authority", "notify", rid, "--status", "deferred", "--until", day(4),
                  "--reason", "customs investigation runs", "--as", "olli")
        assert view["deferral_ends"] == day(4)
        listed = ok(config, "authority", "list", "--deferrals-ending-within", "5", "--as", "ada")
        assert rid in listed
        assert f"deferred until {day(4)}" in listed
        assert rid not in ok(config, "authority", "list", "--deferrals-ending-within", "2",
                             "--as", "ada")
        view = ok(config, "authority", "object", rid, "--reason", "the order names no basis",
                  "--as", "ada")
        assert view["state"] == "objected"
        view = ok(config, "authority", "resolve-objection", rid, "--resolution", "withdrawn",
                  "--note", "the authority withdrew it", "--as", "ada")
        assert (view["state"], view["outcome"]["resolution"]) == ("rejected", "withdrawn")
        assert "resume" in refused(config, "authority", "resume", rid, "--as", "olli")
