"""GET /v1/review/entries: filters, keyset pages, values opened only for the roles that see
them (and read as erased after an erasure), and every read written to the record."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from gateway.actor import Actor
from gateway.erasure.requests import ErasureRules, request_erasure
from gateway.http.app import RECORD
from gateway.record.checkpoint import Signer
from gateway.record.sealing import subject_ref
from gateway.record.verify import verify_sqlite
from tests.conftest import CANARY_CUSTOMER, CANARY_FIELDS, Harness
from tests.review.conftest import call, entries, get_json, ship

DPO = Actor("dpo", "api")

TODAY = datetime.now(UTC).date()


@pytest.fixture
async def shipped(gateway: Harness) -> dict[str, str]:
    """Three orders for the canary customer and one for another, all to posti; the reviewer's
    headers."""
    for n in (1, 2, 3):
        await ship(gateway, order_id=f"J-{n}", service="home_delivery" if n % 2 else
                   "pickup_point", pickup_point_id="PP-1")
    await ship(gateway, order_id="J-OTHER", customer="CUST-OTHER-2")
    return await gateway.as_staff("reviewer")


class TestFilters:
    async def test_a_customer_search_finds_only_their_entries(
        self, gateway: Harness, shipped: dict[str, str]
    ) -> None:
        """customer=ID finds the intent and outcome of each of their orders, newest first, by
        the record's HMAC reference."""
        doc = await get_json(gateway, "/v1/review/entries?customer=CUST-CANARY-1", shipped)
        found = doc["entries"]
        assert [(e["order"], e["kind"]) for e in found] == [
            (f"J-{n}", kind) for n in (3, 2, 1)
            for kind in ("disclosure.outcome", "disclosure.intent")]
        ref = subject_ref(gateway.config.keys.subject_hmac, CANARY_CUSTOMER["id"])
        assert {e["subject"] for e in found} == {ref}
        assert [e["seq"] for e in found] == sorted((e["seq"] for e in found), reverse=True)

    @pytest.mark.parametrize(("query", "expected"), [
        ("order=J-2", {("J-2", "disclosure.intent"), ("J-2", "disclosure.outcome")}),
        ("kind=disclosure.intent&recipient=posti&customer=CUST-OTHER-2",
         {("J-OTHER", "disclosure.intent")}),
        ("recipient=matkahuolto", set()),
        ("order=J-1&kind=disclosure.outcome", {("J-1", "disclosure.outcome")}),
    ])
    async def test_filters_combine(self, gateway: Harness, shipped: dict[str, str], query: str,
                                   expected: set[tuple[str, str]]) -> None:
        """Every filter given must hold."""
        doc = await get_json(gateway, f"/v1/review/entries?{query}", shipped)
        assert {(e["order"], e["kind"]) for e in doc["entries"]} == expected

    async def test_a_period_bounds_by_time(self, gateway: Harness,
                                           shipped: dict[str, str]) -> None:
        """from and to take days (to includes the whole day); outside the period nothing is
        found. The day is the one the record wrote (not the one the module was imported on, so
        a run crossing midnight still reads the right day)."""
        base = "/v1/review/entries?kind=disclosure.outcome"
        written = {e["time"][:10] for e in (await get_json(gateway, base, shipped))["entries"]}
        assert len(written) == 1, written
        day = date.fromisoformat(written.pop())
        tomorrow = (day + timedelta(days=1)).isoformat()
        yesterday = (day - timedelta(days=1)).isoformat()
        today = await get_json(gateway, f"{base}&from={day}&to={day}", shipped)
        assert len(today["entries"]) == 4
        assert (await get_json(gateway, f"{base}&from={tomorrow}", shipped))["entries"] == []
        assert (await get_json(gateway, f"{base}&to={yesterday}", shipped))["entries"] == []
        mine = "/v1/review/entries?customer=CUST-CANARY-1"
        assert len((await get_json(gateway, f"{mine}&from={day}", shipped))["entries"]) == 6
        assert (await get_json(gateway, f"{mine}&from={tomorrow}", shipped))["entries"] == []
        month = day.isoformat()[:7]
        assert len((await get_json(gateway, f"{base}&from={month}&to={month}",
                                   shipped))["entries"]) == 4

    @pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "sort=sideways",
                                       "from=yesterday", "cursor=-1",
                                       f"from={TODAY}&to={TODAY - timedelta(days=3)}"])
    async def test_bad_parameters_answer_400(self, gateway: Harness, shipped: dict[str, str],
                                             query: str) -> None:
        """A malformed parameter is a 400 problem naming the parameter."""
        status, body, headers = await call(gateway, "GET", f"/v1/review/entries?{query}",
                                           headers=shipped)
        assert status == 400
        assert headers["content-type"] == "application/problem+json"
        assert orjson.loads(body)["status"] == 400


class TestPages:
    @pytest.mark.parametrize("sort", ["newest", "oldest"])
    async def test_keyset_pages_cover_everything_once(
        self, gateway: Harness, shipped: dict[str, str], sort: str
    ) -> None:
        """Following next_cursor with limit=3 visits every entry once, in order, and ends."""
        seen: list[int] = []
        cursor = ""
        pages = 0
        while True:
            doc = await get_json(gateway, f"/v1/review/entries?kind=disclosure.intent&limit=3"
                                 f"&sort={sort}{cursor}", shipped)
            seen += [e["seq"] for e in doc["entries"]]
            pages += 1
            if doc["next_cursor"] is None:
                break
            cursor = f"&cursor={doc['next_cursor']}"
        intents = [e["seq"] for e in entries(gateway) if e["kind"] == "disclosure.intent"]
        assert seen == (sorted(intents, reverse=True) if sort == "newest" else sorted(intents))
        assert pages == 2


class TestValues:
    async def test_a_reviewer_sees_the_values_sent(self, gateway: Harness,
                                                   shipped: dict[str, str]) -> None:
        """The intent's sealed receiver opens to exactly the values that went to the carrier;
        the outcome's to the tracking number."""
        doc = await get_json(gateway, "/v1/review/entries?order=J-1", shipped)
        outcome, intent = doc["entries"]
        receiver = intent["values"]["receiver"]
        assert receiver["name"] == CANARY_FIELDS["name"]
        assert receiver["street"] == CANARY_FIELDS["street"]
        assert "email" not in receiver
        assert outcome["values"]["tracking_number"]

    @pytest.mark.parametrize("role", ["intake_officer", "approver"])
    async def test_other_roles_see_metadata_with_values_withheld(
        self, gateway: Harness, shipped: dict[str, str], role: str
    ) -> None:
        """Roles that may search but not see values get fields and recipients, not values."""
        headers = await gateway.as_staff(role)
        status, body, _ = await call(gateway, "GET", "/v1/review/entries?order=J-1",
                                     headers=headers)
        assert status == 200
        doc = orjson.loads(body)
        assert {e["values"] for e in doc["entries"]} == {"withheld"}
        assert doc["entries"][1]["fields"]
        for value in CANARY_FIELDS.values():
            assert value.encode() not in body

    async def test_an_erased_customer_reads_as_erased(self, gateway: Harness,
                                                      shipped: dict[str, str]) -> None:
        """After erasure the same search shows the entries with their values erased, while
        another customer's values still open."""
        await request_erasure(gateway.app[RECORD], actor=DPO, customer_id=CANARY_CUSTOMER["id"],
                              hmac_key=gateway.config.keys.subject_hmac, rules=ErasureRules(),
                              now=datetime.now(UTC))
        status, body, _ = await call(gateway, "GET", "/v1/review/entries?recipient=posti"
                                     "&kind=disclosure.intent", headers=shipped)
        assert status == 200
        doc = orjson.loads(body)
        by_order = {e["order"]: e["values"] for e in doc["entries"]}
        assert by_order["J-1"] == by_order["J-2"] == by_order["J-3"] == "erased"
        assert by_order["J-OTHER"]["receiver"]["street"] == CANARY_FIELDS["street"]

    async def test_a_customer_seen_again_after_erasure_keeps_old_values_erased(
        self, gateway: Harness, shipped: dict[str, str]
    ) -> None:
        """An erased customer who orders again gets a new key: the new order's values open,
        the values sealed under the deleted key still read as erased (not as an error), the
        access report lists both, and the record verifies."""
        await request_erasure(gateway.app[RECORD], actor=DPO, customer_id=CANARY_CUSTOMER["id"],
                              hmac_key=gateway.config.keys.subject_hmac, rules=ErasureRules(),
                              now=datetime.now(UTC))
        await ship(gateway, order_id="J-AGAIN")
        status, body, _ = await call(gateway, "GET", "/v1/review/entries?customer="
                                     f"{CANARY_CUSTOMER['id']}&kind=disclosure.intent",
                                     headers=shipped)
        assert status == 200, body
        by_order = {e["order"]: e["values"] for e in orjson.loads(body)["entries"]}
        assert by_order["J-1"] == by_order["J-2"] == by_order["J-3"] == "erased"
        assert by_order["J-AGAIN"]["receiver"]["street"] == CANARY_FIELDS["street"]
        report = await get_json(gateway, "/v1/reports/access?customer="
                                f"{CANARY_CUSTOMER['id']}", shipped)
        assert {"J-1", "J-AGAIN"} <= {d.get("order") for d in report["disclosures"]}
        verifier = Signer.from_key_string(gateway.config.keys.checkpoint_signing).verifier()
        assert verify_sqlite(gateway.config.record.path, [verifier]).ok


class TestReadsAreRecorded:
    async def test_a_search_is_appended_with_who_what_and_the_customer_reference(
        self, gateway: Harness, shipped: dict[str, str]
    ) -> None:
        """The search becomes a review.read entry naming the reviewer and the query, with the
        customer's reference (never the id) in its subject; it is itself searchable."""
        doc = await get_json(gateway, "/v1/review/entries?customer=CUST-CANARY-1&kind="
                             "disclosure.outcome&from=2026-01-01", shipped)
        read = entries(gateway)[doc["read_recorded_at"]]
        ref = subject_ref(gateway.config.keys.subject_hmac, CANARY_CUSTOMER["id"])
        assert read["kind"] == "review.read"
        assert read["subject"] == ref
        assert read["data"]["by"].startswith("reviewer-")
        assert read["data"]["what"] == "search"
        assert read["data"]["via"] == "api"
        assert read["data"]["query"]["kind"] == "disclosure.outcome"
        assert read["data"]["query"]["since"] == "2026-01-01T00:00:00.000Z"
        assert CANARY_CUSTOMER["id"] not in orjson.dumps(read).decode()
        reads = await get_json(gateway, "/v1/review/entries?customer=CUST-CANARY-1"
                               "&kind=review.read", shipped)
        assert doc["read_recorded_at"] in [e["seq"] for e in reads["entries"]]

    async def test_an_order_search_is_filed_under_the_orders_customer(
        self, gateway: Harness, shipped: dict[str, str]
    ) -> None:
        """A search by order is recorded under the customer the order belongs to."""
        doc = await get_json(gateway, "/v1/review/entries?order=J-OTHER", shipped)
        read = entries(gateway)[doc["read_recorded_at"]]
        assert read["subject"] == subject_ref(gateway.config.keys.subject_hmac, "CUST-OTHER-2")
        assert read["data"]["query"]["order"] == "J-OTHER"

    async def test_no_read_is_answered_when_it_cannot_be_recorded(
        self, gateway: Harness, shipped: dict[str, str]
    ) -> None:
        """If the record cannot take the review.read entry, the search answers 503 and shows
        nothing."""
        import sqlite3  # noqa: PLC0415

        db = sqlite3.connect(gateway.config.record.path)
        db.execute("CREATE TRIGGER broken BEFORE INSERT ON entries "
                   "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
        db.commit()
        status, body, _ = await call(gateway, "GET", "/v1/review/entries?order=J-1",
                                     headers=shipped)
        assert status == 503
        assert CANARY_FIELDS["street"].encode() not in body
        assert b"J-1" not in body


