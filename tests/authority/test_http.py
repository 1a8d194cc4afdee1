"""Authority requests over HTTP, against a running gateway whose disclosures were made through
the posti sandbox: every path, the record's entries, and the exact package."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web

from gateway.actor import Actor
from gateway.authority.package import ERASED, NO_DATA, NONE_HELD, NOT_HELD, VALUES_ERASED, claim
from gateway.erasure.requests import ErasureRules, request_erasure
from gateway.http.app import RECORD, create_app
from gateway.http.authority_api import DESK
from gateway.record.entry import document
from gateway.record.sealing import subject_ref
from gateway.record.stores.postgres.schema import quoted
from gateway.staff.accounts import csrf_token
from tests.authority.conftest import Clock, authority_trail, form, record_entries
from tests.conftest import CANARY_CUSTOMER, CANARY_FIELDS, Harness, order_event, run_gateway
from tests.review.conftest import call, cookie_of, ship
from tests.stores import PG_URL

DPO = Actor("dpo", "api")

BASE = "/v1/authority/requests"
CUSTOMER = CANARY_CUSTOMER["id"]


async def json_call(gateway: Harness, method: str, path: str, headers: Mapping[str, str],
                    body: Any = None) -> tuple[int, dict[str, Any]]:  # noqa: ANN401
    kwargs: dict[str, Any] = {} if body is None else {"data": orjson.dumps(body),
                                      "headers": {**headers, "Content-Type": "application/json"}}
    status, text, answer = await call(gateway, method, path, **({"headers": headers} | kwargs))
    if path.startswith(BASE) and not path.endswith("/package"):  # views name no customer
        assert CUSTOMER.encode() not in text
    if status >= 400:
        assert answer["Content-Type"] == "application/problem+json"
        for value in (*CANARY_FIELDS.values(), CUSTOMER):
            assert value.encode() not in text
    return status, orjson.loads(text) if text else {}


@pytest.fixture
async def staff(gateway: Harness) -> dict[str, dict[str, str]]:
    """Sessions of olli (intake officer), ada (approver), pia (both), rea (reviewer) and dpo
    (admin)."""
    for name, roles in (("olli", ["intake_officer"]), ("ada", ["approver"]),
                        ("pia", ["intake_officer", "approver"]), ("rea", ["reviewer"]),
                        ("dpo", ["admin"])):
        await gateway.add_staff(name, *roles)
    return {name: await gateway.login(name) for name in ("olli", "ada", "pia", "rea", "dpo")}


async def take_in(gateway: Harness, headers: Mapping[str, str], doc: dict[str, Any],
                  ) -> dict[str, Any]:
    status, view = await json_call(gateway, "POST", BASE, headers, doc)
    assert status == 201, view
    return view


class TestApproved:
    async def test_intake_approval_disclosure_and_close(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Taken in by one person, approved by a second, disclosed once as a package holding
        exactly the requested categories of the named customer, closed; each step recorded
        with who and when."""
        answer = await ship(gateway, order_id="J-1")
        await ship(gateway, order_id="J-OTHER", customer="CUST-SOMEONE-ELSE")
        olli, ada = staff["olli"], staff["ada"]
        view = await take_in(gateway, olli, form(clock))
        assert (view["state"], view["received_by"], view["customers"]) == ("received", "olli", 1)
        assert (view["due"], view["days_left"]) == ("open", 14)
        rid = view["id"]

        status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/approve", ada)
        assert (status, view["state"], view["decided_by"]) == (200, "approved", "ada")
        status, done = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", olli)
        assert status == 201, done
        digest = done["package_sha256"]
        subject = subject_ref(gateway.config.keys.subject_hmac, CUSTOMER)
        assert done["package"]["customers"] == [
            {"reference": subject[:16], "status": "held", "note": None}]

        status, content, headers = await call(gateway, "GET", f"{BASE}/{rid}/package",
                                              headers=ada)
        assert status == 200
        assert hashlib.sha256(content).hexdigest() == digest
        assert headers["Repr-Digest"] == (
            f"sha-256=:{base64.b64encode(hashlib.sha256(content).digest()).decode()}:")
        intent, outcome = (next(e for e in record_entries(gateway.config.record.path)
                                if e["kind"] == kind and e["order"] == "J-1")
                           for kind in ("disclosure.intent", "disclosure.outcome"))
        used = [{"order": "J-1", "time": intent["time"]}]
        assert orjson.loads(content) == {
            "request": {"id": rid, "authority": "Sisä-Suomen poliisilaitos",
                        "reference": "5500/R/12345/26",
                        "legal_basis": "Police Act 872/2011, chapter 4, section 3",
                        "kind": "production",
                        "categories": ["name", "phone", "deliveries"],
                        "deadline": clock.day(14), "customers_named": 1, "orders_named": []},
            "produced_at": clock.iso(),
            "customers": [{
                "customer_id": CUSTOMER, "answers": {"customer_no": 1, "orders": []},
                "reference": subject[:16], "status": "held",
                "data": {"name": [{"value": CANARY_FIELDS["name"], "used": used}],
                         "phone": [{"value": CANARY_FIELDS["phone"], "used": used}],
                         "deliveries": [{"order": "J-1", "carrier": "posti",
                                         "service": "home_delivery", "time": outcome["time"],
                                         "result": "booked",
                                         "tracking_number": answer["tracking_number"]}]},
            }],
            "unresolved_orders": [],
        }

        status, again = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", ada)
        assert (status, again["package_sha256"]) == (409, digest)
        package_file = gateway.config.record.path.parent / "authority-packages" / f"{rid}.json"
        assert package_file.exists()
        status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/close", olli)
        assert (status, view["state"], view["due"]) == (200, "closed", None)
        assert not package_file.exists()  # handed over; the record keeps the hash
        status, gone = await json_call(gateway, "GET", f"{BASE}/{rid}/package", ada)
        assert (status, gone["type"].endswith("/conflict")) == (409, True)

        assert authority_trail(gateway.config.record.path, rid) == [
            ("authority.received", "olli"), ("authority.approved", "ada"),
            ("authority.intent", "olli"), ("authority.disclosure", "olli"),
            ("review.read:authority_package", "ada"), ("authority.closed", "olli")]
        entries = [e for e in record_entries(gateway.config.record.path)
                   if (e["disclosure"] or "").startswith(rid)]
        assert {e["data"].get("at", e["data"].get("received_at")) for e in entries
                if e["kind"] != "authority.intent" and e["kind"] != "authority.disclosure"} \
            == {clock.iso()}
        disclosure = next(e for e in entries if e["kind"] == "authority.disclosure")
        assert disclosure["subject"] == subject
        assert disclosure["fields"] == ["name", "phone"]
        assert disclosure["data"]["package_sha256"] == digest

    async def test_the_package_is_only_for_the_people_on_the_case(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A reviewer and the admin may not download the package; before disclosure there is
        none."""
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        status, _ = await json_call(gateway, "GET", f"{BASE}/{rid}/package", staff["olli"])
        assert status == 409
        await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
        await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", staff["olli"])
        for who in ("rea", "dpo"):
            assert (await call(gateway, "GET", f"{BASE}/{rid}/package",
                               headers=staff[who]))[0] == 403


class TestChannels:
    async def test_each_step_records_who_and_through_which_door(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Steps taken through the API record channel api, those through the pages channel
        page; neither names an OS user (a password proved who acted)."""
        await ship(gateway, order_id="J-1")
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        for who, step in (("ada", "approve"), ("olli", "disclose")):
            token = staff[who]["Authorization"].removeprefix("Bearer ")
            status, body, _ = await call(gateway, "POST", f"/review/authority/{rid}/{step}",
                                         headers=cookie_of(staff[who]),
                                         data={"csrf": csrf_token(token)})
            assert status == 303, body
        status, _ = await json_call(gateway, "POST", f"{BASE}/{rid}/close", staff["olli"])
        assert status == 200
        steps = [e for e in record_entries(gateway.config.record.path)
                 if (e["disclosure"] or "").split(":")[0] == rid]
        assert [(e["kind"], e["data"]["by"], e["data"]["channel"], e["data"]["os_user"])
                for e in steps] == [
            ("authority.received", "olli", "api", None),
            ("authority.approved", "ada", "page", None),
            ("authority.intent", "olli", "page", None),
            ("authority.disclosure", "olli", "page", None),
            ("authority.closed", "olli", "api", None)]


class TestRefused:
    async def test_rejection_needs_a_reason_and_ends_the_path_to_disclosure(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A rejection without its reason answers 422 naming the field; with one the request
        is rejected, cannot be disclosed, and can be closed."""
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        status, problem = await json_call(gateway, "POST", f"{BASE}/{rid}/reject",
                                          staff["ada"], {"reason": " "})
        assert (status, problem["field"]) == (422, "reason")
        reason = "The cited section does not cover delivery data"
        status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/reject", staff["ada"],
                                       {"reason": reason})
        assert (status, view["state"], view["reason"]) == (200, "rejected", reason)
        status, _ = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", staff["olli"])
        assert status == 409
        status, _ = await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
        assert status == 409
        status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/close", staff["olli"])
        assert view["state"] == "closed"
        assert authority_trail(gateway.config.record.path, rid) == [
            ("authority.received", "olli"), ("authority.rejected", "ada"),
            ("authority.closed", "olli")]
        rejected = [e for e in record_entries(gateway.config.record.path)
                    if e["kind"] == "authority.rejected"]
        assert rejected[0]["data"]["reason"] == reason

    async def test_the_person_who_took_it_in_cannot_decide_it(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """pia holds both roles: she takes a request in and is refused (403) approving or
        rejecting it; an intake officer may not decide at all; ada then approves."""
        rid = (await take_in(gateway, staff["pia"], form(clock)))["id"]
        for step, body in (("approve", None), ("reject", {"reason": "changed my mind"})):
            status, problem = await json_call(gateway, "POST", f"{BASE}/{rid}/{step}",
                                              staff["pia"], body)
            assert status == 403
            assert "second person" in problem["detail"]
        status, _ = await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["olli"])
        assert status == 403
        status, view = await json_call(gateway, "GET", f"{BASE}/{rid}", staff["olli"])
        assert view["state"] == "received"
        status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
        assert view["decided_by"] == "ada"
        assert authority_trail(gateway.config.record.path, rid) == [
            ("authority.received", "pia"), ("authority.approved", "ada")]

    @pytest.mark.parametrize(("change", "field"), [
        ({"legal_basis": None}, "legal_basis"),
        ({"legal_basis": ""}, "legal_basis"),
        ({"legal_basis": "§ 3"}, "legal_basis"),
        ({"categories": ["shoe_size"]}, "categories"),
        ({"customers": []}, "customers"),
        ({"orders": [f"J-{i}" for i in range(101)]}, "orders"),
        ({"deadline": "next week"}, "deadline"),
        ({"defer_until": "2027-13-01"}, "defer_until"),
    ])
    async def test_an_incomplete_request_is_refused_naming_the_field(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock,
        change: dict[str, Any], field: str,
    ) -> None:
        """Without its legal basis (or with another field missing or wrong) the intake answers
        422 naming the field, echoes no value, and records nothing."""
        doc = {k: v for k, v in {**form(clock), **change}.items() if v is not None}
        before = len(record_entries(gateway.config.record.path))
        status, problem = await json_call(gateway, "POST", BASE, staff["olli"], doc)
        assert (status, problem["field"]) == (422, field)
        assert problem["type"].endswith("/invalid-field")
        assert len(record_entries(gateway.config.record.path)) == before
        assert (await json_call(gateway, "GET", BASE, staff["olli"]))[1]["requests"] == []

    async def test_bad_bodies_and_ids(self, gateway: Harness,
                                      staff: dict[str, dict[str, str]]) -> None:
        """Not JSON, not an object: 400; an unknown request: 404."""
        status, _, _ = await call(gateway, "POST", BASE, headers=staff["olli"], data=b"{nope")
        assert status == 400
        assert (await json_call(gateway, "POST", BASE, staff["olli"], ["a"]))[0] == 400
        assert (await json_call(gateway, "GET", f"{BASE}/ar_{'0' * 16}", staff["olli"]))[0] \
            == 404
        assert (await json_call(gateway, "GET", f"{BASE}/../x", staff["olli"]))[0] == 404


class TestDeadlines:
    async def test_open_requests_nearing_or_past_their_deadline_are_listed(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """due_within lists open requests due within that many days; when the clock passes a
        deadline the request is listed overdue; decided requests are not due."""
        olli = staff["olli"]
        soon = (await take_in(gateway, olli, form(clock, deadline=clock.day(2))))["id"]
        later = (await take_in(gateway, olli, form(clock, deadline=clock.day(20))))["id"]
        decided = (await take_in(gateway, olli, form(clock, deadline=clock.day(1))))["id"]
        await json_call(gateway, "POST", f"{BASE}/{decided}/reject", staff["ada"],
                        {"reason": "not a customer of ours"})

        _, listing = await json_call(gateway, "GET", f"{BASE}?due_within=3", olli)
        assert [(r["id"], r["due"], r["days_left"]) for r in listing["requests"]] == [
            (soon, "due soon", 2)]
        clock.advance(days=5)
        olli = await gateway.login("olli")  # the old session expired with the clock
        _, listing = await json_call(gateway, "GET", f"{BASE}?due_within=3", olli)
        assert [(r["id"], r["due"], r["days_left"]) for r in listing["requests"]] == [
            (soon, "overdue", -3)]
        _, listing = await json_call(gateway, "GET", f"{BASE}?state=received", olli)
        assert [r["id"] for r in listing["requests"]] == [soon, later]
        _, listing = await json_call(gateway, "GET", f"{BASE}?state=rejected", olli)
        assert [(r["id"], r["due"]) for r in listing["requests"]] == [(decided, None)]
        assert (await json_call(gateway, "GET", f"{BASE}?state=lost", olli))[0] == 400
        assert (await json_call(gateway, "GET", f"{BASE}?due_within=-1", olli))[0] == 400

    async def test_the_list_page_shows_an_emergency_in_hours_then_minutes(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """An emergency (8 hours) reads "+8 h" on the list page, "+30 min" half an hour before
        its time and "-2 h" two hours past it; a production due in 20 days, "+20 d"."""
        emergency = (await take_in(gateway, staff["olli"],
                                   form(clock, kind="emergency", deadline="")))["id"]
        later = (await take_in(gateway, staff["olli"],
                               form(clock, deadline=clock.day(20))))["id"]

        async def due_cell(request_id: str) -> str:
            olli = await gateway.login("olli")  # the clock moves past sessions
            status, body, _ = await call(gateway, "GET", "/review/authority",
                                         headers=cookie_of(olli))
            assert status == 200
            row = body.decode().split(f">{request_id}</a>", 1)[1].split("</tr>", 1)[0]
            return row.split('class="nowrap">', 1)[1].split("</td>", 1)[0]

        assert '<span class="muted">+8 h</span>' in await due_cell(emergency)
        assert '<span class="muted">+20 d</span>' in await due_cell(later)
        clock.advance(days=7.5 / 24)
        assert '<span class="muted">+30 min</span>' in await due_cell(emergency)
        clock.advance(days=2.5 / 24)
        assert '<span class="muted">-2 h</span>' in await due_cell(emergency)


class TestDeferral:
    async def test_a_deferred_disclosure_appears_in_the_access_report_after_its_end_date(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """While the deferral runs, the customer's access report does not show the authority
        disclosure (the admin's full view shows it marked); after the end date it is there,
        with nothing done but time passing."""
        await ship(gateway, order_id="J-DEF")
        doc = form(clock, defer_until=clock.day(30), categories=["name"])
        rid = (await take_in(gateway, staff["olli"], doc))["id"]
        await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
        await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", staff["olli"])

        async def authority_rows(who: str, view: str = "") -> list[dict[str, Any]]:
            headers = await gateway.login(who)
            status, report = await json_call(
                gateway, "GET", f"/v1/reports/access?customer={CUSTOMER}{view}", headers)
            assert status == 200
            return [d for d in report["disclosures"] if d["kind"] == "authority"]

        assert await authority_rows("rea") == []
        (marked,) = await authority_rows("dpo", "&view=full")
        assert (marked["deferred"], marked["defer_until"]) == (True, clock.day(30))
        clock.advance(days=29)
        assert await authority_rows("rea") == []
        clock.advance(days=1)
        (shown,) = await authority_rows("rea")
        assert (shown["recipient"], shown["fields"], shown["reference"]) == (
            "Sisä-Suomen poliisilaitos", ["name"], doc["reference"])
        assert "deferred" not in shown


class TestErased:
    async def test_an_erased_customer_is_answered_from_metadata_and_says_so(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A request naming an erased customer's order gets the orders and deliveries the
        record still holds, no value, and the note that the values were erased."""
        await ship(gateway, order_id="J-ERASED")
        await request_erasure(gateway.app[RECORD], actor=DPO, customer_id=CUSTOMER,
                              hmac_key=gateway.config.keys.subject_hmac, rules=ErasureRules(),
                              now=datetime.fromtimestamp(clock(), UTC))
        doc = form(clock, customers=[], orders=["J-ERASED", "J-NEVER"],
                   categories=["name", "address", "orders", "deliveries", "marketing_consent"])
        rid = (await take_in(gateway, staff["olli"], doc))["id"]
        await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
        status, done = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose",
                                       staff["olli"])
        assert status == 201
        subject = subject_ref(gateway.config.keys.subject_hmac, CUSTOMER)
        assert done["package"]["customers"] == [
            {"reference": subject[:16], "status": "erased", "note": ERASED}]
        assert done["package"]["unresolved_orders"] == 1
        _, content, _ = await call(gateway, "GET", f"{BASE}/{rid}/package",
                                   headers=staff["olli"])
        outcome = next(e for e in record_entries(gateway.config.record.path)
                       if e["kind"] == "disclosure.outcome")
        package = orjson.loads(content)
        assert package["customers"] == [{
            "customer_id": None, "answers": {"customer_no": None, "orders": ["J-ERASED"]},
            "reference": subject[:16], "status": "erased", "note": ERASED,
            "data": {"name": VALUES_ERASED, "address": VALUES_ERASED,
                     "orders": ["J-ERASED"], "marketing_consent": NOT_HELD,
                     "deliveries": [{"order": "J-ERASED", "carrier": "posti",
                                     "service": "home_delivery", "time": outcome["time"],
                                     "result": "booked"}]},
        }]
        assert package["unresolved_orders"] == [
            {"order": "J-NEVER", "note": "the record holds no disclosure for this order"}]
        disclosure = next(e for e in record_entries(gateway.config.record.path)
                          if e["kind"] == "authority.disclosure")
        assert (disclosure["fields"], disclosure["data"]["status"]) == ([], "erased")


async def ship_to(gateway: Harness, order_id: str, service: str, *, street: str | None,
                  postal_code: str, town: str, **delivery: Any) -> None:  # noqa: ANN401
    """One canary order to the posti sandbox, the customer living at the given address."""
    event = order_event("posti", service, order_id=order_id, **delivery)
    event["data"]["customer"].update(postal_code=postal_code, town=town)
    if street is not None:
        event["data"]["customer"]["street"] = street
    status, answer, _ = await gateway.post(event)
    assert status == 201, answer


async def package_of(gateway: Harness, staff: dict[str, dict[str, str]],
                     doc: dict[str, Any]) -> dict[str, Any]:
    """Take ``doc`` in (olli), approve it (ada), produce its package (olli) and download it."""
    rid = (await take_in(gateway, staff["olli"], doc))["id"]
    await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
    status, done = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", staff["olli"])
    assert status == 201, done
    status, content, _ = await call(gateway, "GET", f"{BASE}/{rid}/package",
                                    headers=staff["olli"])
    assert status == 200
    package: dict[str, Any] = orjson.loads(content)
    return package


def intent_times(gateway: Harness) -> dict[str, str]:
    return {e["order"]: e["time"] for e in record_entries(gateway.config.record.path)
            if e["kind"] == "disclosure.intent"}


class TestValuesPerOrder:
    async def test_each_address_is_given_whole_with_the_order_that_used_it(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A home delivery in Helsinki, then a pickup-point order in Tampere (no street): the
        package gives two whole addresses, each with its order and time, never a Helsinki
        street with a Tampere town; the phone both used is one value used twice."""
        await ship_to(gateway, "J-HKI", "home_delivery", street="Mannerheimintie 1 A 2",
                      postal_code="00100", town="Helsinki")
        await ship_to(gateway, "J-TRE", "pickup_point", street=None, postal_code="33210",
                      town="Tampere", pickup_point_id="PP-7")
        package = await package_of(gateway, staff, form(clock, categories=["address", "phone"]))
        at = intent_times(gateway)
        (customer,) = package["customers"]
        assert customer["data"]["address"] == [
            {"value": {"street": "Mannerheimintie 1 A 2", "postal_code": "00100",
                       "town": "Helsinki", "country": "FI"},
             "used": [{"order": "J-HKI", "time": at["J-HKI"]}]},
            {"value": {"postal_code": "33210", "town": "Tampere", "country": "FI"},
             "used": [{"order": "J-TRE", "time": at["J-TRE"]}]},
        ]
        assert customer["data"]["phone"] == [
            {"value": CANARY_FIELDS["phone"],
             "used": [{"order": "J-HKI", "time": at["J-HKI"]},
                      {"order": "J-TRE", "time": at["J-TRE"]}]}]

    async def test_a_changed_phone_is_listed_as_two_values(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A customer who changed their phone between orders: both numbers, each with the
        order it was given for, not only the last one."""
        await ship(gateway, order_id="J-OLD-PHONE", phone="+358401111111")
        await ship(gateway, order_id="J-NEW-PHONE", phone="+358402222222")
        package = await package_of(gateway, staff, form(clock, categories=["phone"]))
        at = intent_times(gateway)
        assert package["customers"][0]["data"]["phone"] == [
            {"value": "+358401111111", "used": [{"order": "J-OLD-PHONE",
                                                 "time": at["J-OLD-PHONE"]}]},
            {"value": "+358402222222", "used": [{"order": "J-NEW-PHONE",
                                                 "time": at["J-NEW-PHONE"]}]}]


class TestWhatWasAsked:
    async def test_every_asked_category_is_answered_even_when_nothing_is_held(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Asked for e-mail, which no posti home delivery carried: the category is there,
        saying the record holds none, beside the orders it does hold."""
        await ship(gateway, order_id="J-NOMAIL")
        package = await package_of(gateway, staff,
                                   form(clock, categories=["email", "orders"]))
        assert package["customers"][0]["data"] == {"email": NONE_HELD,
                                                   "orders": ["J-NOMAIL"]}

    async def test_naming_one_order_gives_that_order_only(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Named by one of their two orders, the customer's part holds that order, its
        delivery and the address it used, and says it answers that order; named by customer
        id as well, it holds both orders and says it answers the first customer id."""
        await ship_to(gateway, "J-ASKED", "home_delivery", street="Hämeenkatu 1",
                      postal_code="33100", town="Tampere")
        await ship_to(gateway, "J-NOT-ASKED", "home_delivery", street="Aleksanterinkatu 9",
                      postal_code="00100", town="Helsinki")
        by_order = await package_of(gateway, staff, form(
            clock, customers=[], orders=["J-ASKED"],
            categories=["address", "orders", "deliveries"]))
        (part,) = by_order["customers"]
        assert (part["customer_id"], part["answers"]) == (
            None, {"customer_no": None, "orders": ["J-ASKED"]})
        assert part["data"]["orders"] == ["J-ASKED"]
        assert [d["order"] for d in part["data"]["deliveries"]] == ["J-ASKED"]
        assert [a["value"]["town"] for a in part["data"]["address"]] == ["Tampere"]
        assert "J-NOT-ASKED" not in orjson.dumps(by_order).decode()
        assert "Helsinki" not in orjson.dumps(by_order).decode()
        assert by_order["request"]["orders_named"] == ["J-ASKED"]

        both = await package_of(gateway, staff, form(
            clock, orders=["J-ASKED"], categories=["orders"]))
        (part,) = both["customers"]
        assert (part["customer_id"], part["answers"]) == (
            CUSTOMER, {"customer_no": 1, "orders": ["J-ASKED"]})
        assert part["data"]["orders"] == ["J-ASKED", "J-NOT-ASKED"]

    async def test_a_customer_the_record_never_saw_is_answered_no_data_held(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A customer id with no disclosure: the part says no data is held for this id (not
        "held"), each category says the record holds none, and the outcome entry records
        "not held" with no field."""
        await ship(gateway, order_id="J-SOMEONE")
        package = await package_of(gateway, staff, form(
            clock, customers=["C-NEVER-SEEN"], categories=["name", "orders"]))
        (part,) = package["customers"]
        assert (part["status"], part["note"]) == ("not held", NO_DATA)
        assert part["data"] == {"name": NONE_HELD, "orders": NONE_HELD}
        assert part["customer_id"] == "C-NEVER-SEEN"
        disclosure = [e for e in record_entries(gateway.config.record.path)
                      if e["kind"] == "authority.disclosure"][-1]
        assert (disclosure["data"]["status"], disclosure["fields"],
                disclosure["data"]["disclosed"]) == ("not held", [], [])


class TestOnTheCase:
    async def test_only_the_people_on_the_case_produce_and_download_the_package(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """pia holds both handler roles but never touched the request: producing it and
        downloading its package answer 403 problems (API and page) and record no read; olli
        (took it in) produces it, ada (decided it) downloads it."""
        await ship(gateway, order_id="J-CASE")
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
        status, problem = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose",
                                          staff["pia"])
        assert (status, problem["type"].endswith("/forbidden")) == (403, True)
        assert "on the case" in problem["detail"]
        assert (await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", staff["olli"]))[0] \
            == 201
        status, problem = await json_call(gateway, "GET", f"{BASE}/{rid}/package",
                                          staff["pia"])
        assert (status, problem["type"].endswith("/forbidden")) == (403, True)
        status, body, _ = await call(gateway, "GET", f"/review/authority/{rid}/package",
                                     headers=cookie_of(staff["pia"]))
        assert status == 403
        assert CANARY_FIELDS["name"].encode() not in body
        status, page, _ = await call(gateway, "GET", f"/review/authority/{rid}",
                                     headers=cookie_of(staff["pia"]))
        assert (status, b'id="package"' in page, b'id="not-on-case"' in page) == (
            200, False, True)
        assert (await call(gateway, "GET", f"{BASE}/{rid}/package", headers=staff["ada"]))[0] \
            == 200
        assert authority_trail(gateway.config.record.path, rid) == [
            ("authority.received", "olli"), ("authority.approved", "ada"),
            ("authority.intent", "olli"), ("authority.disclosure", "olli"),
            ("review.read:authority_package", "ada")]


@contextlib.asynccontextmanager
async def another_instance(gateway: Harness, clock: Clock) -> AsyncIterator[str]:
    """A second gateway instance over the same record and config (as a second process or
    --workers would run), on its own port; its URL."""
    runner = web.AppRunner(create_app(gateway.config, clock=clock))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture(params=["sqlite", "postgres"])
async def record_store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """How run_gateway's config is changed to put the record in each store: None for the
    shipped SQLite file; for PostgreSQL a fresh schema, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"

    def change(raw: dict[str, Any]) -> None:
        raw["record"].update({"store": "postgres", "url": PG_URL, "schema": schema})

    yield change
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")
    finally:
        await conn.close()


class TestDisclosingOnce:
    async def test_two_instances_disclosing_at_once_record_one_intent(
        self, tmp_path: Path, carrier_env: None, clock: Clock, record_store: Any,  # noqa: ANN401
    ) -> None:
        """Two gateway instances on one record, each asked twice at the same moment to produce
        the same package: one answers 201; every other answers 409, naming the package's hash
        once it is known, else saying it is being produced; the record holds one
        authority.intent and one authority.disclosure."""
        async with run_gateway(tmp_path, record_store, clock=clock) as gateway:
            await ship(gateway, order_id="J-RACE")
            await gateway.add_staff("olli", "intake_officer")
            await gateway.add_staff("ada", "approver")
            olli, ada = await gateway.login("olli"), await gateway.login("ada")
            rid = (await take_in(gateway, olli, form(clock)))["id"]
            await json_call(gateway, "POST", f"{BASE}/{rid}/approve", ada)
            async with another_instance(gateway, clock) as other:

                async def disclose(url: str) -> tuple[int, dict[str, Any]]:
                    async with gateway.http.post(f"{url}{BASE}/{rid}/disclose",
                                                 headers=olli) as resp:
                        return resp.status, orjson.loads(await resp.read())

                answers = await asyncio.gather(*(disclose(url) for url in (
                    gateway.url, other, gateway.url, other)))
            statuses = sorted(status for status, _ in answers)
            assert statuses == [201, 409, 409, 409]
            (won,) = [doc for status, doc in answers if status == 201]
            for status, doc in answers:
                if status == 409:
                    assert doc.get("package_sha256") == won["package_sha256"] or \
                        doc["type"].endswith("/being-produced"), doc
            kinds = [e["kind"] for e in await all_entries(gateway)
                     if (e["disclosure"] or "").split(":")[0] == rid]
            assert kinds.count("authority.intent") == 1
            assert kinds.count("authority.disclosure") == 1
            status, again = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", olli)
            assert (status, again["package_sha256"]) == (409, won["package_sha256"])


    async def test_while_another_caller_produces_it_the_answer_says_so(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A request another caller has claimed and not finished: producing it answers 409
        `being-produced` (no hash is known yet), records nothing, and the request shows its
        state `disclosing`."""
        await ship(gateway, order_id="J-CLAIMED")
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
        await claim(gateway.app[DESK].authority, rid, actor=Actor("ada", "api"))
        before = len(record_entries(gateway.config.record.path))
        status, problem = await json_call(gateway, "POST", f"{BASE}/{rid}/disclose",
                                          staff["olli"])
        assert (status, problem["type"].endswith("/being-produced")) == (409, True)
        assert "package_sha256" not in problem
        assert len(record_entries(gateway.config.record.path)) == before
        status, view = await json_call(gateway, "GET", f"{BASE}/{rid}", staff["olli"])
        assert (view["state"], view["disclosed_by"], view["due"]) == ("disclosing", "ada", "open")


async def all_entries(gateway: Harness) -> list[dict[str, Any]]:
    """Every entry of the record, whichever store holds it."""
    store = gateway.app[RECORD]
    size, _ = await store.head()
    rows = [await store.entry(seq) for seq in range(size)]
    return [document(row.body) for row in rows if row is not None]
