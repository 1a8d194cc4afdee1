"""The authority-request workflow over a real record, with disclosures made through the
gateway first."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.actor import Actor
from gateway.http.app import RECORD
from gateway.authority.intake import Intake
from gateway.authority.workflow import Authority
from gateway.authority.package import ERASED, NOT_HELD, VALUES_ERASED, disclose
from gateway.erasure.requests import ErasureRules, request_erasure
from gateway.errors import BadRequest, Conflict, Forbidden
from tests.conftest import AUTHORITIES, CANARY_CUSTOMER, CANARY_FIELDS, Harness, order_event

DPO = Actor("dpo", "api")

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FORM: dict[str, Any] = {
    "authority": "poliisi-sisa-suomi",
    "officer": "Anna Virtanen", "rank": "rikoskomisario", "received_via": "e-mail",
    "reference": "5500/R/12345/26",
    "legal_basis": "Police Act 872/2011, chapter 4, section 3",
    "kind": "production",
    "customers": [CANARY_CUSTOMER["id"]],
    "categories": ["name", "phone", "deliveries"],
    "deadline": "2026-12-01",
}


def entries(gateway: Harness) -> list[dict[str, Any]]:
    """The entries after the policy version the gateway recorded as it started."""
    db = sqlite3.connect(gateway.config.record.path)
    return [orjson.loads(b) for (b,) in db.execute("SELECT body FROM entries WHERE seq > 0 "
                                                   "ORDER BY seq")]


@pytest.fixture
def authority(gateway: Harness) -> Authority:
    return Authority(record=gateway.app[RECORD], hmac_key=gateway.config.keys.subject_hmac)


class TestIntake:
    @pytest.mark.parametrize(("change", "message"), [
        ({"legal_basis": ""}, "legal_basis is required"),
        ({"legal_basis": None}, "legal_basis is required"),
        ({"categories": ["shoe_size"]}, "categories"),
        ({"customers": []}, "name the customers"),
        ({"deadline": "soon"}, "deadline"),
    ])
    def test_refuses_an_incomplete_request(self, change: dict[str, Any], message: str) -> None:
        """A request without its legal basis, categories, subjects or deadline is refused."""
        with pytest.raises(BadRequest, match=message):
            Intake.from_json({**FORM, **change}, settings=AUTHORITIES)

    async def test_the_intake_is_recorded(self, gateway: Harness, authority: Authority) -> None:
        """The intake is an entry naming the authority, basis, categories and who took it in;
        the customer appears only by reference."""
        request = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES), actor=Actor("olli", "api"), now=NOW)
        (entry,) = entries(gateway)
        assert entry["kind"] == "authority.received"
        assert entry["data"]["legal_basis"] == FORM["legal_basis"]
        assert entry["data"]["received_by"] == "olli"
        assert entry["data"]["subjects"] == list(request.subjects)
        assert CANARY_CUSTOMER["id"] not in orjson.dumps(entry).decode()

    async def test_orders_resolve_to_their_customer(self, gateway: Harness,
                                                    authority: Authority) -> None:
        """A request naming an order finds the customer the order was disclosed for; an order
        the record never saw is kept as unresolved."""
        event = order_event("posti", "home_delivery", order_id="J-777")
        assert (await gateway.post(event))[0] == 201
        form = {**FORM, "customers": [], "orders": ["J-777", "J-404"]}
        request = await authority.intake(Intake.from_json(form, settings=AUTHORITIES), actor=Actor("olli", "api"), now=NOW)
        assert len(request.subjects) == 1
        assert request.unresolved_orders == ("J-404",)


class TestDecision:
    async def test_self_approval_is_refused(self, authority: Authority) -> None:
        """The person who took a request in cannot approve or reject it."""
        request = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES), actor=Actor("olli", "api"), now=NOW)
        with pytest.raises(Forbidden, match="second person"):
            await authority.approve(request.id, actor=Actor("olli", "api"), now=NOW)
        with pytest.raises(Forbidden):
            await authority.reject(request.id, actor=Actor("olli", "api"), reason="no basis", now=NOW)

    async def test_rejection_needs_a_reason_and_is_recorded(
        self, gateway: Harness, authority: Authority
    ) -> None:
        """A rejection without a reason is refused; with one it is recorded and ends the
        request's path to disclosure."""
        request = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES), actor=Actor("olli", "api"), now=NOW)
        with pytest.raises(BadRequest):
            await authority.reject(request.id, actor=Actor("ada", "api"), reason="", now=NOW)
        rejected = await authority.reject(request.id, actor=Actor("ada", "api"), now=NOW,
                                          reason="The cited section does not cover this data")
        assert (rejected.state, rejected.decided_by) == ("rejected", "ada")
        with pytest.raises(Conflict):
            await disclose(authority, request.id, actor=Actor("ada", "api"), now=NOW,
                           out_dir=gateway.config.path.parent / "packages")
        kinds = [e["kind"] for e in entries(gateway)]
        assert kinds == ["authority.received", "authority.rejected"]
        closed = await authority.close(request.id, actor=Actor("ada", "api"), now=NOW)
        assert closed.state == "closed"

    async def test_a_request_is_decided_once(self, authority: Authority) -> None:
        """An approved request cannot be approved or rejected again."""
        request = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES), actor=Actor("olli", "api"), now=NOW)
        await authority.approve(request.id, actor=Actor("ada", "api"), now=NOW)
        with pytest.raises(Conflict):
            await authority.reject(request.id, actor=Actor("eve", "api"), reason="changed my mind", now=NOW)


class TestDisclosure:
    async def test_the_package_holds_exactly_what_was_asked(
        self, gateway: Harness, authority: Authority, tmp_path: Path
    ) -> None:
        """After approval, the package holds the requested categories for the named customer,
        nothing else; its hash is in the record; it is produced once."""
        status, answer, _ = await gateway.post(order_event("posti", "home_delivery",
                                                           order_id="J-1"))
        assert status == 201
        request = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES), actor=Actor("olli", "api"), now=NOW)
        await authority.approve(request.id, actor=Actor("ada", "api"), now=NOW)
        done, path = await disclose(authority, request.id, actor=Actor("ada", "api"), now=NOW,
                                    out_dir=tmp_path / "packages")
        package = orjson.loads(path.read_bytes())
        (customer,) = package["customers"]
        assert customer["customer_id"] == CANARY_CUSTOMER["id"]
        intent = next(e for e in entries(gateway) if e["kind"] == "disclosure.intent")
        used = [{"order": "J-1", "time": intent["time"]}]
        assert customer["data"] == {
            "name": [{"value": CANARY_FIELDS["name"], "used": used}],
            "phone": [{"value": CANARY_FIELDS["phone"], "used": used}],
            "deliveries": [{"order": "J-1", "carrier": "posti", "service": "home_delivery",
                            "time": customer["data"]["deliveries"][0]["time"],
                            "result": "booked", "tracking_number": answer["tracking_number"]}],
        }
        text = path.read_text()
        for value in (CANARY_FIELDS["street"], CANARY_FIELDS["email"], CANARY_FIELDS["town"]):
            assert value not in text
        assert done.package_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        last = entries(gateway)[-1]
        assert last["kind"] == "authority.disclosure"
        assert last["data"]["package_sha256"] == done.package_sha256
        assert last["fields"] == ["name", "phone"]
        with pytest.raises(Conflict):
            await disclose(authority, request.id, actor=Actor("ada", "api"), now=NOW,
                           out_dir=tmp_path / "packages")

    async def test_an_erased_customer_is_answered_from_metadata(
        self, gateway: Harness, authority: Authority, tmp_path: Path
    ) -> None:
        """For an erased customer the package holds orders and deliveries without values, and
        says the values were erased."""
        await gateway.post(order_event("posti", "home_delivery", order_id="J-2"))
        form = {**FORM, "customers": [], "orders": ["J-2"],
                "categories": ["name", "address", "orders", "deliveries", "marketing_consent"]}
        await request_erasure(gateway.app[RECORD], actor=DPO, customer_id=CANARY_CUSTOMER["id"],
                              hmac_key=gateway.config.keys.subject_hmac, rules=ErasureRules(),
                              now=NOW)
        request = await authority.intake(Intake.from_json(form, settings=AUTHORITIES), actor=Actor("olli", "api"),
                                         now=NOW)
        await authority.approve(request.id, actor=Actor("ada", "api"), now=NOW)
        _, path = await disclose(authority, request.id, actor=Actor("ada", "api"), now=NOW,
                                 out_dir=tmp_path / "p")
        (customer,) = orjson.loads(path.read_bytes())["customers"]
        assert customer["status"] == "erased"
        assert customer["note"] == ERASED
        assert customer["customer_id"] is None
        assert customer["data"]["orders"] == ["J-2"]
        assert "tracking_number" not in customer["data"]["deliveries"][0]
        assert customer["data"]["marketing_consent"] == NOT_HELD
        assert customer["data"]["name"] == customer["data"]["address"] == VALUES_ERASED
        assert customer["answers"] == {"customer_no": None, "orders": ["J-2"]}


class TestDeadlines:
    async def test_open_requests_are_listed_by_deadline(self, authority: Authority) -> None:
        """Open requests are marked overdue, due soon or open; decided ones are left out."""
        for deadline in ("2026-11-20", "2026-11-24", "2026-12-30"):
            await authority.intake(Intake.from_json({**FORM, "deadline": deadline}, settings=AUTHORITIES),
                                   actor=Actor("olli", "api"), now=NOW)
        rejected = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES), actor=Actor("olli", "api"), now=NOW)
        await authority.reject(rejected.id, actor=Actor("ada", "api"), reason="not our customer", now=NOW)
        listed = await authority.deadlines(today=date(2026, 11, 22))
        assert [(d["deadline"], d["status"]) for d in listed] == [
            ("2026-11-20", "overdue"), ("2026-11-24", "due soon"), ("2026-12-30", "open")]


class TestNothingHeld:
    async def test_a_request_for_orders_never_seen_still_records_its_answer(
        self, gateway: Harness, authority: Authority, tmp_path: Path
    ) -> None:
        """A request whose orders the record never saw is answered with a package saying so,
        and its hash is in an intent/outcome pair that names no customer and no field."""
        form = {**FORM, "customers": [], "orders": ["J-NEVER"]}
        request = await authority.intake(Intake.from_json(form, settings=AUTHORITIES), actor=Actor("olli", "api"), now=NOW)
        await authority.approve(request.id, actor=Actor("ada", "api"), now=NOW)
        done, path = await disclose(authority, request.id, actor=Actor("olli", "api"), now=NOW,
                                    out_dir=tmp_path / "p")
        package = orjson.loads(path.read_bytes())
        assert package["customers"] == []
        assert package["unresolved_orders"] == [
            {"order": "J-NEVER", "note": "the record holds no disclosure for this order"}]
        intent, outcome = entries(gateway)[-2:]
        assert (intent["kind"], outcome["kind"]) == ("authority.intent", "authority.disclosure")
        assert intent["subject"] is None
        assert outcome["subject"] is None
        assert outcome["fields"] == []
        assert outcome["data"]["status"] == "not held"
        assert outcome["data"]["package_sha256"] == done.package_sha256
