"""POST /v1/hooks/orders end to end: signed hook -> policy -> durable intent -> carrier sandbox
over HTTP -> durable outcome -> answer."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from carriers.sandbox import BOOKINGS, CONTROL
from carriers.sandbox import budbee as budbee_sandbox
from carriers.sandbox import dhl_express as dhl_sandbox
from carriers.sandbox import matkahuolto as mh_sandbox
from carriers.sandbox import posti as posti_sandbox
from carriers.sandbox import postnord as postnord_sandbox
from gateway.actor import Actor
from gateway.operations.signature import HookSecret
from gateway.record.checkpoint import Signer
from gateway.record.verify import verify_sqlite
from tests.conftest import CANARY_CUSTOMER, CANARY_FIELDS, ROOT, Harness, order_event

DPO = Actor("dpo", "api")

POLICY = tomllib.loads((ROOT / "config.toml").read_text())["policy"]
#: Delivery services; return labels are tested in test_returns.py.
SERVICES = [(carrier, service) for carrier, services in POLICY.items() for service in services
            if service != "return"]


def entries(harness: Harness) -> list[dict[str, Any]]:
    """The entries after the policy version the gateway recorded as it started (position 0)."""
    db = sqlite3.connect(harness.config.record.path)
    return [orjson.loads(b) for (b,) in db.execute("SELECT body FROM entries WHERE seq > 0 "
                                                   "ORDER BY seq")]


#: The receiver fields each carrier service gets, per DESIGN.md, for the canary customer (who
#: has every field and consents to marketing): (carrier, service, delivery extras, fields).
#: Written out by hand, not derived from the policy, so that a policy change shows up here.
BASE = {"name", "postal_code", "town", "country", "phone"}
EXPECTED: list[tuple[str, str, dict[str, str], set[str]]] = [
    ("posti", "pickup_point", {}, BASE),
    ("posti", "pickup_point", {"notice": "sms"}, BASE),
    ("posti", "pickup_point", {"notice": "email"}, BASE | {"email"}),
    ("posti", "home_delivery", {}, BASE | {"street"}),
    ("posti", "home_delivery", {"notice": "email"}, BASE | {"street", "email"}),
    ("matkahuolto", "pickup_point", {}, {"name", "postal_code", "town", "phone"}),
    ("matkahuolto", "pickup_point", {"notice": "sms"}, {"name", "postal_code", "town", "phone"}),
    ("matkahuolto", "pickup_point", {"notice": "email"},
     {"name", "postal_code", "town", "email"}),
    ("matkahuolto", "home_delivery", {}, {"name", "street", "postal_code", "town", "phone"}),
    ("matkahuolto", "home_delivery", {"notice": "email"},
     {"name", "street", "postal_code", "town", "phone", "email"}),
    ("postnord", "service_point", {}, BASE),
    ("postnord", "service_point", {"notice": "email"}, BASE | {"email"}),
    ("dhl_express", "express", {}, BASE | {"street"}),
    ("dhl_express", "express", {"notice": "email"}, BASE | {"street", "email"}),
    ("budbee", "home", {}, BASE | {"street"}),
    ("budbee", "home", {"door_code": "DC-7Q31K"}, BASE | {"street", "door_code"}),
    ("budbee", "home", {"notice": "email"}, BASE | {"street", "email"}),
    ("budbee", "box", {}, BASE),
    ("budbee", "box", {"notice": "email", "door_code": "DC-7Q31K"}, BASE | {"email"}),
]
CANARY_VALUES = {**CANARY_FIELDS, "postal_code": CANARY_CUSTOMER["postal_code"],
                 "country": CANARY_CUSTOMER["country"], "door_code": "DC-7Q31K"}
SANDBOX_MODULES = {"posti": posti_sandbox, "matkahuolto": mh_sandbox,
                   "postnord": postnord_sandbox, "dhl_express": dhl_sandbox,
                   "budbee": budbee_sandbox}


def case_id(case: tuple[str, str, dict[str, str], set[str]]) -> str:
    carrier, service, extra, _ = case
    return "-".join([carrier, service, *(f"{k}={v}" for k, v in extra.items())])


class TestDisclosure:
    def test_every_configured_service_is_covered(self) -> None:
        """The table below covers every carrier service config.toml lets data go to."""
        assert {(c, s) for c, s, _, _ in EXPECTED} == set(SERVICES)

    @pytest.mark.parametrize("case", EXPECTED, ids=[case_id(c) for c in EXPECTED])
    async def test_the_carrier_receives_exactly_the_expected_fields(
        self, gateway: Harness, case: tuple[str, str, dict[str, str], set[str]]
    ) -> None:
        """Through the gateway over HTTP into the carrier's sandbox: the receiver part of the
        booking holds exactly the expected fields with the customer's values, and no customer
        value (nor the customer id, nor marketing consent) is anywhere else in any request."""
        carrier, service, extra, expected = case
        delivery = dict(extra)
        if gateway.config.policy.rule(carrier, service).needs_pickup_point:
            delivery["pickup_point_id"] = "PP-1001"
        status, answer, _ = await gateway.post(order_event(carrier, service, **delivery))
        assert status == 201, answer
        assert answer["tracking_number"]
        assert base64.b64decode(answer["label"]["data"]).startswith(b"%PDF")
        sandbox = SANDBOX_MODULES[carrier]
        booking = gateway.sandboxes[carrier][BOOKINGS][answer["disclosure_id"]].request
        got = sandbox.receiver_part(booking)
        assert {sandbox.FIELDS[key] for key in got} == expected
        assert all(value == CANARY_VALUES[sandbox.FIELDS[key]] for key, value in got.items())
        assert set(answer["fields"]) == expected
        assert [e["fields"] for e in entries(gateway)] == [answer["fields"]] * 2
        distinctive = [*CANARY_FIELDS.values(), CANARY_VALUES["door_code"],
                       CANARY_CUSTOMER["id"]]
        for request in gateway.received(carrier):
            rest = sandbox.rest_text(request) if request is booking else request.text()
            assert not [v for v in distinctive if v in rest]
            assert "marketing" not in request.text().lower()
        for other in set(SANDBOX_MODULES) - {carrier}:
            assert not gateway.received(other)

    async def test_records_intent_then_outcome(self, gateway: Harness) -> None:
        """A disclosure leaves an intent and an outcome entry, linked by its id, naming the fields
        and the rule's digest, holding no personal value in the clear."""
        status, answer, _ = await gateway.post(
            order_event("posti", "pickup_point", pickup_point_id="PP-1"))
        assert status == 201
        intent, outcome = entries(gateway)
        assert (intent["kind"], outcome["kind"]) == ("disclosure.intent", "disclosure.outcome")
        assert intent["disclosure"] == outcome["disclosure"] == answer["disclosure_id"]
        assert intent["fields"] == answer["fields"]
        assert intent["policy"] == gateway.config.policy.rule("posti", "pickup_point").digest
        assert intent["data"]["policy_version"] == 0
        assert outcome["data"]["result"] == "booked"
        raw = b"".join(r for (r,) in sqlite3.connect(gateway.config.record.path).execute(
            "SELECT body FROM entries"))
        for value in (*CANARY_FIELDS.values(), CANARY_CUSTOMER["id"], answer["tracking_number"]):
            assert value.encode() not in raw

    async def test_the_intent_is_durable_before_the_carrier_answers(
        self, gateway: Harness
    ) -> None:
        """While the carrier is still holding the request, the intent is already on disk."""
        gateway.sandboxes["posti"][CONTROL].delay = 0.5
        task = asyncio.create_task(gateway.post(
            order_event("posti", "pickup_point", pickup_point_id="PP-1")))
        while not gateway.received("posti"):
            await asyncio.sleep(0.01)
        kinds = [e["kind"] for e in entries(gateway)]
        assert kinds == ["disclosure.intent"]
        status, _, _ = await task
        assert status == 201


class TestIdempotency:
    async def test_a_retried_hook_gets_the_first_answer(self, gateway: Harness) -> None:
        """The same webhook id sent again answers the same, with no second booking."""
        event = order_event("posti", "home_delivery")
        first = await gateway.post(event, msg_id="msg_same")
        second = await gateway.post(event, msg_id="msg_same")
        assert first[0] == second[0] == 201
        assert first[1] == second[1]
        assert len(gateway.bookings("posti")) == 1

    async def test_concurrent_copies_of_a_hook_book_once(self, gateway: Harness) -> None:
        """Copies of one hook arriving together produce one booking and one answer."""
        gateway.sandboxes["posti"][CONTROL].delay = 0.2
        event = order_event("posti", "home_delivery")
        results = await asyncio.gather(*(gateway.post(event, msg_id="msg_dup") for _ in range(5)))
        assert {r[0] for r in results} == {201}
        assert len({r[1]["tracking_number"] for r in results}) == 1
        assert len(gateway.bookings("posti")) == 1

    async def test_a_hook_answered_after_a_restart_replays_from_the_record(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """The first answer survives a restart of the gateway."""
        from tests.conftest import run_gateway  # noqa: PLC0415

        event = order_event("posti", "home_delivery")
        async with run_gateway(tmp_path) as first:
            one = await first.post(event, msg_id="msg_restart")
        async with run_gateway(tmp_path) as second:
            two = await second.post(event, msg_id="msg_restart")
            assert not second.received("posti")
        assert one[1] == two[1]


class TestRefusals:
    async def assert_nothing_left(self, gateway: Harness) -> None:
        assert not gateway.received()
        assert entries(gateway) == []

    async def test_unsigned_and_badly_signed_hooks_answer_401(self, gateway: Harness) -> None:
        """A hook signed with an unknown key, or out of the replay window, gets one 401
        problem and nothing leaves."""
        event = order_event("posti", "home_delivery")
        for kwargs in ({"secret": HookSecret(b"x" * 32)},
                       {"timestamp": int(time.time()) - 3600}):
            status, problem, headers = await gateway.post(event, **kwargs)
            assert status == 401
            assert headers["content-type"] == "application/problem+json"
            assert problem["status"] == 401
        async with gateway.http.post(gateway.url + "/v1/hooks/orders", data=b"{}",
                                     headers={"content-type": "application/json"}) as resp:
            assert resp.status == 401
        await self.assert_nothing_left(gateway)

    async def test_policy_refusal_answers_422_and_discloses_nothing(
        self, gateway: Harness
    ) -> None:
        """An order lacking a required phone is refused before anything is recorded or sent."""
        status, problem, _ = await gateway.post(
            order_event("posti", "pickup_point", pickup_point_id="PP-1", phone=None))
        assert status == 422
        assert "phone" in problem["detail"]
        await self.assert_nothing_left(gateway)

    @pytest.mark.parametrize(("carrier", "service"), [("posti", "express"), ("ups", "home")])
    async def test_unknown_carrier_or_service_is_refused(
        self, gateway: Harness, carrier: str, service: str
    ) -> None:
        """Default deny: a recipient or service with no rule is refused."""
        status, _, _ = await gateway.post(order_event(carrier, service))
        assert status == 422
        await self.assert_nothing_left(gateway)

    @pytest.mark.parametrize(
        ("body", "content_type", "expected"),
        [
            (b"{not json", "application/json", 400),
            (b'{"type": "order.ready_to_ship", "data": []}', "application/json", 400),
            (b"\xff\xfe\x00", "application/json", 400),
            (b"{}", "text/plain", 415),
            (b"{" + b" " * 70_000 + b"}", "application/json", 413),
        ],
    )
    async def test_bad_input_answers_a_problem(
        self, gateway: Harness, body: bytes, content_type: str, expected: int
    ) -> None:
        """Malformed, mistyped or oversized bodies get a problem+json 4xx and nothing leaves."""
        status, problem, headers = await gateway.post(None, body=body, content_type=content_type)
        assert status == expected
        assert headers["content-type"] == "application/problem+json"
        assert problem["status"] == expected
        await self.assert_nothing_left(gateway)


class TestFailures:
    async def test_store_failure_answers_503_and_sends_nothing(self, gateway: Harness) -> None:
        """When the record cannot be written, the hook answers 503 and no carrier is called."""
        db = sqlite3.connect(gateway.config.record.path)
        db.execute("CREATE TRIGGER broken BEFORE INSERT ON entries "
                   "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
        db.commit()
        status, problem, _ = await gateway.post(order_event("posti", "home_delivery"))
        assert status == 503
        assert problem["type"].endswith("record-unavailable")
        assert not gateway.received()

    async def test_a_full_disk_answers_503_and_sends_nothing(self, gateway: Harness) -> None:
        """When the database cannot grow (disk full), hooks answer 503 and nothing goes to a
        carrier without a durable intent; once space is back, hooks are served again."""
        from gateway.http.app import RECORD  # noqa: PLC0415

        db = gateway.app[RECORD]._store.sync.db  # type: ignore[attr-defined]  # noqa: SLF001
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        big = order_event("posti", "home_delivery", order_id="O-" + "9" * 150)
        statuses = [(await gateway.post(big))[0] for _ in range(30)]
        assert statuses.count(503) > 20
        intents = {e["disclosure"] for e in entries(gateway) if e["kind"] == "disclosure.intent"}
        assert set(gateway.bookings("posti")) <= intents
        db.execute("PRAGMA max_page_count = 1073741823")
        assert (await gateway.post(order_event("posti", "home_delivery")))[0] == 201

    async def test_a_read_only_record_answers_503_and_sends_nothing(
        self, gateway: Harness
    ) -> None:
        """When the database turns read-only under the gateway (a remount, a full quota; here
        the writer's connection is switched to query-only, as root ignores file modes), hooks
        answer 503, nothing reaches a carrier, /readyz says so; writable again, hooks book."""
        from gateway.http.app import RECORD  # noqa: PLC0415

        db = gateway.app[RECORD]._store.sync.db  # type: ignore[attr-defined]  # noqa: SLF001
        db.execute("PRAGMA query_only = ON")
        status, problem, _ = await gateway.post(order_event("posti", "home_delivery"))
        assert (status, problem["type"].endswith("record-unavailable")) == (503, True)
        assert not gateway.received()
        async with gateway.http.get(gateway.url + "/readyz") as resp:
            assert resp.status == 503
        db.execute("PRAGMA query_only = OFF")
        assert (await gateway.post(order_event("posti", "home_delivery")))[0] == 201

    async def test_carrier_outage_records_not_sent_and_allows_a_retry(
        self, gateway: Harness
    ) -> None:
        """A carrier answering 5xx gives a 503 recorded as not sent; the same hook retried after
        the outage books."""
        control = gateway.sandboxes["posti"][CONTROL]
        control.fail_status = 503
        event = order_event("posti", "home_delivery")
        status, problem, _ = await gateway.post(event, msg_id="msg_outage")
        assert (status, problem["result"]) == (503, "not_sent")
        control.fail_status = None
        status, _answer, _ = await gateway.post(event, msg_id="msg_outage")
        assert status == 201
        results = [e["data"].get("result") for e in entries(gateway)
                   if e["kind"] == "disclosure.outcome"]
        assert results == ["not_sent", "booked"]

    async def test_a_hook_that_sent_nothing_may_be_retried_after_an_erasure(
        self, gateway: Harness
    ) -> None:
        """A hook answered 503 (nothing sent) stays retryable after the customer's erasure
        made its sealed answer unreadable; the retry books with the customer's new key."""
        from datetime import UTC, datetime  # noqa: PLC0415

        from gateway.erasure.requests import ErasureRules, request_erasure  # noqa: PLC0415
        from gateway.http.app import RECORD  # noqa: PLC0415

        control = gateway.sandboxes["posti"][CONTROL]
        control.fail_status = 503
        event = order_event("posti", "home_delivery")
        assert (await gateway.post(event, msg_id="msg_erased"))[0] == 503
        control.fail_status = None
        await request_erasure(gateway.app[RECORD], actor=DPO, customer_id=CANARY_CUSTOMER["id"],
                              hmac_key=gateway.config.keys.subject_hmac, rules=ErasureRules(),
                              now=datetime.now(UTC))
        status, answer, _ = await gateway.post(event, msg_id="msg_erased")
        assert (status, answer["result"]) == (201, "booked")
        assert len(gateway.bookings("posti")) == 1

    async def test_a_carrier_too_slow_to_answer_is_recorded_unknown_and_not_retried(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """A timeout after sending is recorded as unknown; the same hook is not booked again."""
        from tests.conftest import run_gateway  # noqa: PLC0415

        def short_timeout(raw: dict[str, dict[str, dict[str, object]]]) -> None:
            raw["carriers"]["posti"]["timeout"] = 0.3

        async with run_gateway(tmp_path, short_timeout) as gw:
            gw.sandboxes["posti"][CONTROL].delay = 1.0
            event = order_event("posti", "home_delivery")
            first = await gw.post(event, msg_id="msg_slow")
            second = await gw.post(event, msg_id="msg_slow")
            assert first[0] == second[0] == 504
            assert first[1]["result"] == "unknown"
            assert len(gw.bookings("posti")) == 1


class TestRecordVerifies:
    async def test_the_record_verifies_after_traffic(self, tmp_path: Path,
        carrier_env: None) -> None:
        """After a mix of bookings and refusals and a shutdown, the record verifies offline with
        only the public key, every entry under a signed checkpoint."""
        from tests.conftest import run_gateway  # noqa: PLC0415

        async with run_gateway(tmp_path) as gw:
            for service in ("pickup_point", "home_delivery"):
                await gw.post(order_event("posti", service, pickup_point_id="P1"))
            await gw.post(order_event("posti", "pickup_point", phone=None))
            config = gw.config
        verifier = Signer.from_key_string(config.keys.checkpoint_signing).verifier()
        report = verify_sqlite(config.record.path, [verifier], origin=config.origin)
        assert report.ok, report.summary()
        assert (report.entries, report.unsigned_tail) == (5, 0)  # the policy version, 2 x 2


class TestDatabaseDown:
    async def test_a_lost_postgres_answers_503_sends_nothing_and_recovers(
        self, tmp_path: Path, carrier_env: None, pg_schema: str, pg_writer: tuple[str, str]
    ) -> None:
        """With the PostgreSQL record, when the database drops the gateway's connections and
        refuses new ones (a restart, a failover), hooks answer 503 and nothing reaches a
        carrier; once it takes connections again the gateway serves hooks without a restart.
        The gateway connects as its own role, so only its connections are cut."""
        import asyncpg  # noqa: PLC0415

        from tests.conftest import run_gateway  # noqa: PLC0415
        from tests.stores import PG_URL  # noqa: PLC0415

        url, role = pg_writer

        def on_postgres(raw: dict[str, Any]) -> None:
            raw["record"].update({"store": "postgres", "url": url, "schema": pg_schema})

        async def database(*, up: bool) -> None:
            admin = await asyncpg.connect(PG_URL)
            try:
                await admin.execute(f'ALTER ROLE "{role}" {"LOGIN" if up else "NOLOGIN"}')
                if not up:
                    await admin.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE usename = $1", role)
            finally:
                await admin.close()

        async with run_gateway(tmp_path, on_postgres) as gw:
            assert (await gw.post(order_event("posti", "home_delivery")))[0] == 201
            booked = len(gw.bookings("posti"))
            await database(up=False)
            try:
                answers = [await gw.post(order_event("posti", "home_delivery"))
                           for _ in range(3)]
            finally:
                await database(up=True)
            assert [status for status, _, _ in answers] == [503, 503, 503], answers
            assert all(a["type"].endswith("record-unavailable") for _, a, _ in answers)
            assert len(gw.bookings("posti")) == booked
            statuses = []
            for _ in range(20):  # the pool reconnects on its own
                statuses.append((await gw.post(order_event("posti", "home_delivery")))[0])
                if statuses[-1] == 201:
                    break
            assert statuses[-1] == 201, statuses
