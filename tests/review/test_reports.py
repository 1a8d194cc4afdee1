"""The customer access report (GDPR Art. 15(1)(c)) and the transparency report, from real
disclosures made through the gateway to the posti sandbox and real authority requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from carriers.sandbox import CONTROL
from gateway.actor import Actor
from gateway.authority.intake import Intake
from gateway.authority.package import disclose
from gateway.authority.workflow import Authority
from gateway.http.app import RECORD
from gateway.record.sealing import subject_ref
from tests.conftest import AUTHORITIES, CANARY_CUSTOMER, CANARY_FIELDS, Harness, order_event
from tests.review.conftest import call, cookie_of, entries, get_json, ship

DPO = Actor("dpo", "api")

NOW = datetime.now(UTC)
CUSTOMER = CANARY_CUSTOMER["id"]
FORM: dict[str, Any] = {
    "authority": "poliisi-sisa-suomi",
    "officer": "Anna Virtanen", "rank": "rikoskomisario", "received_via": "e-mail",
    "reference": "5500/R/12345/26",
    "legal_basis": "Police Act 872/2011, chapter 4, section 3",
    "kind": "production",
    "customers": [CUSTOMER],
    "categories": ["name", "phone"],
    "deadline": (NOW.date() + timedelta(days=14)).isoformat(),
}


async def authority_disclosure(gateway: Harness, tmp_path: Path,
    **change: Any) -> str:  # noqa: ANN401
    """An authority request taken in, approved by a second person and disclosed."""
    authority = Authority(record=gateway.app[RECORD], hmac_key=gateway.config.keys.subject_hmac)
    request = await authority.intake(Intake.from_json({**FORM, **change}, settings=AUTHORITIES),
        actor=Actor("ilona", "api"),
                                     now=NOW)
    await authority.approve(request.id, actor=Actor("aapo", "api"), now=NOW)
    await disclose(authority, request.id, actor=Actor("aapo", "api"), now=NOW,
                   out_dir=tmp_path / "packages" / request.id)
    return request.id


@pytest.fixture
async def history(gateway: Harness, tmp_path: Path) -> dict[str, str]:
    """Two bookings for the canary customer (home delivery, pickup point), one refused by a
    carrier outage (nothing sent), one booking for another customer; an authority disclosure
    told at once and one whose notification is deferred."""
    await ship(gateway, order_id="J-HOME")
    await ship(gateway, order_id="J-LOCKER", service="pickup_point", pickup_point_id="PP-7")
    gateway.sandboxes["posti"][CONTROL].fail_status = 503
    status, _, _ = await gateway.post(order_event("posti", "home_delivery", order_id="J-DOWN"))
    assert status == 503
    gateway.sandboxes["posti"][CONTROL].fail_status = None
    await ship(gateway, order_id="J-ELSE", customer="CUST-ELSE")
    told = await authority_disclosure(gateway, tmp_path)
    deferred = await authority_disclosure(
        gateway, tmp_path, reference="5500/R/999/26", officer="Covert Unit Lead",
        legal_basis="Coercive Measures Act 806/2011, chapter 10",
        defer_until=(NOW.date() + timedelta(days=90)).isoformat())
    return {"told": told, "deferred": deferred}


class TestAccessReport:
    async def test_lists_each_recipient_with_the_fields_it_received(
        self, gateway: Harness, history: dict[str, str]
    ) -> None:
        """posti received the fields of each booking; the order whose carrier was down is not
        a disclosure; another customer's orders are not in it."""
        headers = await gateway.as_staff("reviewer")
        report = await get_json(gateway, f"/v1/reports/access?customer={CUSTOMER}", headers)
        assert report["view"] == "customer"
        carrier = [d for d in report["disclosures"] if d["kind"] == "carrier"]
        assert [(d["order"], d["result"]) for d in carrier] == [("J-HOME", "booked"),
                                                                ("J-LOCKER", "booked")]
        home, locker = carrier
        assert home["fields"] == ["name", "street", "postal_code", "town", "country", "phone"]
        assert "street" not in locker["fields"]
        assert home["purpose"] == "Delivery of order J-HOME by posti (home_delivery)"
        (posti,) = [r for r in report["recipients"] if r["recipient"] == "posti"]
        assert posti["fields"] == home["fields"]
        assert posti["disclosures"] == 2
        for value in (*CANARY_FIELDS.values(), "J-ELSE", "J-DOWN"):
            assert value not in orjson.dumps(report).decode()

    async def test_a_told_authority_disclosure_is_listed_with_its_legal_basis(
        self, gateway: Harness, history: dict[str, str]
    ) -> None:
        """An authority disclosure without a deferral shows the authority, fields, legal basis
        and reference."""
        headers = await gateway.as_staff("reviewer")
        report = await get_json(gateway, f"/v1/reports/access?customer={CUSTOMER}", headers)
        (told,) = [d for d in report["disclosures"] if d["kind"] == "authority"]
        assert told["recipient"] == "Sisä-Suomen poliisilaitos"
        assert told["fields"] == ["name", "phone"]
        assert told["legal_basis"] == FORM["legal_basis"]
        assert told["reference"] == FORM["reference"]

    async def test_an_authority_given_orders_and_deliveries_is_listed_with_them(
        self, gateway: Harness, history: dict[str, str], tmp_path: Path
    ) -> None:
        """A package holding only the customer's orders and deliveries names no value field,
        yet the report lists both categories for that authority, not an empty list."""
        await authority_disclosure(gateway, tmp_path, authority="Tulli",
                                   categories=["orders", "deliveries", "email"])
        headers = await gateway.as_staff("reviewer")
        report = await get_json(gateway, f"/v1/reports/access?customer={CUSTOMER}", headers)
        (customs,) = [d for d in report["disclosures"] if d["recipient"] == "Tulli"]
        assert customs["fields"] == ["orders", "deliveries"]  # no e-mail was held to give
        (listed,) = [r for r in report["recipients"] if r["recipient"] == "Tulli"]
        assert listed["fields"] == ["orders", "deliveries"]
        status, body, _ = await call(gateway, "GET",
                                     f"/review/access?customer={CUSTOMER}&lang=en",
                                     headers=cookie_of(headers))
        assert status == 200
        assert "your orders, your deliveries" in body.decode()

    async def test_a_deferred_disclosure_is_hidden_from_the_customer_view(
        self, gateway: Harness, history: dict[str, str]
    ) -> None:
        """While its notification is deferred, an authority disclosure is left out of the
        customer's report (reviewer's view, and the admin's customer view), with no hint."""
        reviewer = await gateway.as_staff("reviewer")
        admin = await gateway.as_staff("admin")
        for headers, query in ((reviewer, ""), (admin, "&view=customer")):
            status, body, _ = await call(
                gateway, "GET", f"/v1/reports/access?customer={CUSTOMER}{query}",
                headers=headers)
            assert status == 200
            assert b"Coercive" not in body
            assert b"5500/R/999/26" not in body
            assert b'deferred":true' not in body

    async def test_the_admin_full_view_shows_it_marked(
        self, gateway: Harness, history: dict[str, str]
    ) -> None:
        """The data protection officer's full view includes the deferred disclosure, marked
        with its deferral date; a reviewer cannot ask for that view."""
        admin = await gateway.as_staff("admin")
        report = await get_json(gateway, f"/v1/reports/access?customer={CUSTOMER}", admin)
        assert report["view"] == "full"
        (deferred,) = [d for d in report["disclosures"] if d.get("deferred")]
        assert deferred["reference"] == "5500/R/999/26"
        assert deferred["defer_until"] == (NOW.date() + timedelta(days=90)).isoformat()
        reviewer = await gateway.as_staff("reviewer")
        status, _, _ = await call(gateway, "GET",
                                  f"/v1/reports/access?customer={CUSTOMER}&view=full",
                                  headers=reviewer)
        assert status == 403

    async def test_the_report_is_recorded_under_the_customer(
        self, gateway: Harness, history: dict[str, str]
    ) -> None:
        """Producing the report appends a review.read with the customer's reference."""
        headers = await gateway.as_staff("reviewer")
        report = await get_json(gateway, f"/v1/reports/access?customer={CUSTOMER}", headers)
        read = entries(gateway)[report["read_recorded_at"]]
        assert read["data"]["what"] == "access_report"
        assert read["subject"] == subject_ref(gateway.config.keys.subject_hmac, CUSTOMER)

    async def test_the_printable_page_shows_the_recipients(
        self, gateway: Harness, history: dict[str, str]
    ) -> None:
        """GET /review/access renders the same report as a printable page."""
        headers = cookie_of(await gateway.as_staff("reviewer"))
        status, body, answer = await call(gateway, "GET",
                                          f"/review/access?customer={CUSTOMER}&lang=en",
                                          headers=headers)
        assert status == 200
        assert answer["content-type"].startswith("text/html")
        assert answer["Cache-Control"] == "no-store"
        page = body.decode()
        assert "Delivery of order J-HOME: home delivery" in page
        assert "name, street address, postal code, town, country, phone number" in page
        assert FORM["legal_basis"] in page
        assert "5500/R/999/26" not in page
        assert "@media print" in page


class TestTransparencyReport:
    async def test_counts_per_recipient_authority_basis_and_month(
        self, gateway: Harness, history: dict[str, str]
    ) -> None:
        """Booked carrier disclosures (not the one never sent) and authority requests and
        disclosures are counted per recipient, authority, legal basis and month."""
        headers = await gateway.as_staff("approver")
        report = await get_json(gateway, "/v1/reports/transparency", headers)
        assert report["totals"] == {
            "carrier_disclosures": 3, "authority_disclosures": 2, "authority_nothing_held": 0,
            "authority_requests": 2, "authority_requests_answered": 2,
            "authority_requests_rejected": 0, "authority_requests_open": 0}
        assert report["per_recipient"] == [
            {"recipient": "posti", "kind": "carrier", "disclosures": 3},
            {"recipient": "Sisä-Suomen poliisilaitos", "kind": "authority", "disclosures": 2}]
        assert report["per_authority"] == [
            {"authority": "Sisä-Suomen poliisilaitos", "requests": 2, "answered": 2, "rejected": 0,
             "open": 0, "disclosures": 2, "nothing_held": 0}]
        assert {b["legal_basis"]: b["requests"] for b in report["per_legal_basis"]} == {
            FORM["legal_basis"]: 1, "Coercive Measures Act 806/2011, chapter 10": 1}
        # The authority steps are dated NOW (when the module was imported), the carrier
        # disclosures by the clock: one month, or two when the run crossed a month's end.
        months = {NOW.strftime("%Y-%m"), datetime.now(UTC).strftime("%Y-%m")}
        assert {row["month"] for row in report["per_month"]} <= months
        assert sum(row["carrier"] for row in report["per_month"]) == 3
        assert sum(row["authority"] for row in report["per_month"]) == 2
        if len(months) == 1:
            assert report["per_month"] == [{"month": months.pop(), "carrier": 3,
                                            "authority": 2}]

    async def test_rejected_open_and_nothing_held_requests_are_counted_as_such(
        self, gateway: Harness, history: dict[str, str], tmp_path: Path
    ) -> None:
        """Besides the two answered requests: one rejected, one awaiting its decision, one
        approved but not yet produced, and one answered about a customer the record never
        saw. Every request received is counted with its outcome; the never-seen customer is
        counted as nothing held, not as a customer whose data was disclosed."""
        authority = Authority(record=gateway.app[RECORD],
                              hmac_key=gateway.config.keys.subject_hmac)
        customs = {"authority": "Tulli", "legal_basis": "Customs Act 304/2016, s. 105"}
        rejected = await authority.intake(Intake.from_json({**FORM, **customs},
            settings=AUTHORITIES),
                                          actor=Actor("ilona", "api"), now=NOW)
        await authority.reject(rejected.id, actor=Actor("aapo", "api"),
            reason="outside the section",
                               now=NOW)
        await authority.intake(Intake.from_json({**FORM, **customs}, settings=AUTHORITIES),
            actor=Actor("ilona", "api"), now=NOW)
        approved = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES),
            actor=Actor("ilona", "api"), now=NOW)
        await authority.approve(approved.id, actor=Actor("aapo", "api"), now=NOW)
        await authority_disclosure(gateway, tmp_path, customers=["C-NEVER-SEEN"])

        headers = await gateway.as_staff("admin")
        report = await get_json(gateway, "/v1/reports/transparency", headers)
        assert report["totals"] == {
            "carrier_disclosures": 3, "authority_disclosures": 2, "authority_nothing_held": 1,
            "authority_requests": 6, "authority_requests_answered": 3,
            "authority_requests_rejected": 1, "authority_requests_open": 2}
        assert report["per_authority"] == [
            {"authority": "Sisä-Suomen poliisilaitos", "requests": 4, "answered": 3, "rejected": 0,
             "open": 1, "disclosures": 2, "nothing_held": 1},
            {"authority": "Tulli", "requests": 2, "answered": 0, "rejected": 1, "open": 1,
             "disclosures": 0, "nothing_held": 0}]
        assert {b["legal_basis"]: (b["requests"], b["rejected"]) for b in
                report["per_legal_basis"]}[customs["legal_basis"]] == (2, 1)
        assert report["per_recipient"][1] == {
            "recipient": "Sisä-Suomen poliisilaitos", "kind": "authority", "disclosures": 2}
        status, body, _ = await call(gateway, "GET", "/review/transparency",
                                     headers=cookie_of(headers))
        assert status == 200
        assert b'id="requests-rejected">1<' in body
        assert b'id="requests-open">2<' in body

    async def test_a_period_with_nothing_counts_nothing(
        self, gateway: Harness, history: dict[str, str]
    ) -> None:
        """Counting a past year finds nothing."""
        headers = await gateway.as_staff("admin")
        year = NOW.year - 1
        report = await get_json(gateway, f"/v1/reports/transparency?from={year}&to={year}",
                                headers)
        assert report["totals"]["carrier_disclosures"] == 0
        assert report["period"] == {"from": f"{year}-01-01T00:00:00.000Z",
                                    "to": f"{year + 1}-01-01T00:00:00.000Z", "label": None}

    async def test_the_page_draws_bar_charts(self, gateway: Harness,
                                             history: dict[str, str]) -> None:
        """The transparency page has server-drawn SVG bars for recipients and months."""
        headers = cookie_of(await gateway.as_staff("reviewer"))
        status, body, _ = await call(gateway, "GET", "/review/transparency", headers=headers)
        assert status == 200
        page = body.decode()
        assert page.count("<svg") == 2
        assert "<title>posti: 3</title>" in page
        assert NOW.strftime("%Y-%m") in page


class TestReadsAreNotDisclosures:
    async def test_a_searched_customer_without_disclosures_is_one_the_record_never_saw(
        self, gateway: Harness
    ) -> None:
        """Reads recorded under a customer are not disclosures: the report lists no recipient,
        does not call their values erased, and says the record holds nothing for the id."""
        headers = await gateway.as_staff("reviewer")
        await get_json(gateway, "/v1/review/entries?customer=C-NEVER", headers)
        report = await get_json(gateway, "/v1/reports/access?customer=C-NEVER", headers)
        assert (report["recipients"], report["disclosures"]) == ([], [])
        assert report["values_erased"] is False
        assert report["record_holds_nothing"] is True

    async def test_a_read_does_not_postpone_retention(self, gateway: Harness) -> None:
        """A customer whose only recent entries are staff reads is still erased when the
        retention period has passed."""
        from gateway.erasure.requests import ErasureRules, apply_retention  # noqa: PLC0415

        await ship(gateway, order_id="J-OLD")
        headers = await gateway.as_staff("reviewer")
        await asyncio.sleep(0.01)
        read = await get_json(gateway, f"/v1/review/entries?customer={CUSTOMER}", headers)
        read_at = entries(gateway)[read["read_recorded_at"]]["time"]
        # One day after the read: the disclosure is older than a day, the read is not.
        now = datetime.fromisoformat(read_at) + timedelta(days=1)
        done = await apply_retention(gateway.app[RECORD], actor=DPO,
            rules=ErasureRules(retention_days=1),
                                     now=now)
        assert [e.status for e in done] == ["erased"]
