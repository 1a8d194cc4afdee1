"""Additional services and customs line items end to end: a signed hook, the policy, the
record, and the carrier sandbox over HTTP receiving them in the carrier's own shape."""

from __future__ import annotations

import copy
from typing import Any

from carriers.sandbox import RECEIVED, Received
from tests.conftest import CANARY_CUSTOMER, Harness, order_event
from tests.review.conftest import entries, get_json

#: A valid cash-on-delivery: Pakettikauppa's documented example IBAN, BIC and reference (its
#: 7-3-1 check digit holds).
COD = {"name": "cash_on_delivery", "amount": "49.90", "account": "FI2112345600000785",
       "codbic": "DABAFIHH", "reference": "12344"}
ITEM = {"description": "Wool socks", "quantity": 2, "unit_value": 12.5, "currency": "EUR",
        "hs_code": "6115.95", "origin_country": "FI", "weight_kg": 0.2}


def intents(gateway: Harness) -> list[dict[str, Any]]:
    return [e for e in entries(gateway) if e["kind"] == "disclosure.intent"]


def posti_services(gateway: Harness) -> dict[str, dict[str, str]]:
    """The additional services of the last Posti booking: code -> {specifier: value}."""
    received: list[Received] = gateway.sandboxes["posti"][RECEIVED]
    root = next(r.body for r in reversed(received)
                if r.path == "/prinetti/create-shipment")
    return {
        service.findtext("AdditionalService.ServiceCode"): {
            s.get("name"): s.text for s in service.iter("AdditionalService.Specifier")}
        for service in root.iter("Consignment.AdditionalService")
    }


def dhl_sent(gateway: Harness) -> Any:  # noqa: ANN401 - JSON
    """The last shipment request DHL's sandbox received."""
    received: list[Received] = gateway.sandboxes["dhl_express"][RECEIVED]
    return next(r for r in reversed(received)
                if r.path.endswith("/shipments"))


def dhl_order(country: str, *, items: list[dict[str, Any]] | None = None,
              **delivery: Any) -> dict[str, Any]:  # noqa: ANN401
    event = order_event("dhl_express", "express", **delivery)
    event["data"]["customer"]["country"] = country
    if items is not None:
        event["data"]["items"] = items
    return event


class TestAddons:
    async def test_a_listed_add_on_reaches_the_carrier_in_its_shape(
        self, gateway: Harness
    ) -> None:
        """Arrival notice and ID check on a pickup-point parcel: the sandbox gets exactly the
        pickup point, 3139 and the ID check's code, and the intent names both add-ons."""
        event = order_event("posti", "pickup_point", pickup_point_id="905253201", notice="email")
        event["data"]["addons"] = ["arrival_notice", "id_check"]
        status, answer, _ = await gateway.post(event)
        assert status == 201, answer
        assert posti_services(gateway) == {"2106": {"pickup_point_id": "905253201"},
                                           "3139": {}, "3166": {}}
        intent = intents(gateway)[-1]
        assert intent["data"]["addons"] == ["arrival_notice", "id_check"]
        assert "email" in intent["fields"]

    async def test_cash_on_delivery_sends_its_specifiers(self, gateway: Harness) -> None:
        """Cash on delivery goes as 3101 with amount, account, codbic and reference, nothing
        else; the customer's fields are the rule's alone."""
        event = order_event("posti", "home_delivery")
        event["data"]["addons"] = [COD]
        status, answer, _ = await gateway.post(event)
        assert status == 201, answer
        assert posti_services(gateway) == {"3101": {k: v for k, v in COD.items()
                                                    if k != "name"}}
        assert intents(gateway)[-1]["fields"] == ["name", "street", "postal_code", "town",
                                                  "country", "phone"]

    async def test_an_add_on_the_rule_does_not_list_is_refused(self, gateway: Harness) -> None:
        """Posti offers no arrival notice with Kotipaketti: the rule lists none, so the order is
        refused with a problem naming the add-on; nothing is recorded or sent."""
        event = order_event("posti", "home_delivery")
        event["data"]["addons"] = ["arrival_notice"]
        status, answer, _ = await gateway.post(event)
        assert status == 422, answer
        assert "'arrival_notice'" in answer["detail"]
        assert "default deny" in answer["detail"]
        assert gateway.sandboxes["posti"][RECEIVED] == []
        assert intents(gateway) == []

    async def test_an_add_on_missing_a_parameter_is_refused(self, gateway: Harness) -> None:
        """Cash on delivery without its reference refuses the shipment (422 naming it)."""
        event = order_event("posti", "home_delivery")
        event["data"]["addons"] = [{k: v for k, v in COD.items() if k != "reference"}]
        status, answer, _ = await gateway.post(event)
        assert status == 422, answer
        assert "reference" in answer["detail"]
        assert gateway.sandboxes["posti"][RECEIVED] == []

    async def test_the_sandbox_refuses_an_ill_formed_add_on(self, gateway: Harness) -> None:
        """An account that is no IBAN passes the policy but not the carrier: the sandbox
        refuses it as Pakettikauppa would, and nothing is booked."""
        event = order_event("posti", "home_delivery")
        event["data"]["addons"] = [{**COD, "account": "FI0000000000000000"}]
        status, answer, _ = await gateway.post(event)
        assert status == 502, answer
        assert answer["result"] == "rejected"
        assert gateway.bookings("posti") == []

    async def test_dhl_identity_check_is_verified_delivery(self, gateway: Harness) -> None:
        """DHL Express's ID check goes as valueAddedServices TF, and only that."""
        event = dhl_order("FI")
        event["data"]["addons"] = ["id_check"]
        status, answer, _ = await gateway.post(event)
        assert status == 201, answer
        body = dhl_sent(gateway).body
        assert body["valueAddedServices"] == [{"serviceCode": "TF"}]


class TestLineItems:
    async def test_an_export_to_norway_sends_the_line_items(self, gateway: Harness) -> None:
        """Leaving the EU customs territory, DHL gets MyDHL's exportDeclaration: each line's
        description, price, quantity, commodity code, origin and weight; the intent records
        the item fields among the disclosed fields."""
        status, answer, _ = await gateway.post(dhl_order("NO", items=[ITEM]))
        assert status == 201, answer
        content = dhl_sent(gateway).body["content"]
        assert content["isCustomsDeclarable"] is True
        assert content["declaredValueCurrency"] == "EUR"
        assert content["declaredValue"] == 25.0
        (line,) = content["exportDeclaration"]["lineItems"]
        assert line == {
            "number": 1, "exportReasonType": "permanent", "description": "Wool socks",
            "price": 12.5, "quantity": {"value": 2, "unitOfMeasurement": "PCS"},
            "commodityCodes": [{"typeCode": "outbound", "value": "611595"}],
            "manufacturerCountry": "FI", "weight": {"netValue": 0.2, "grossValue": 0.2},
        }
        fields = intents(gateway)[-1]["fields"]
        assert fields[-7:] == ["items.description", "items.quantity", "items.unit_value",
                               "items.currency", "items.hs_code", "items.origin_country",
                               "items.weight_kg"]

    async def test_domestic_and_intra_eu_shipments_send_no_line_item(
        self, gateway: Harness
    ) -> None:
        """To Finland and to Sweden the order's contents stay home, given or not."""
        for country in ("FI", "SE"):
            status, answer, _ = await gateway.post(dhl_order(country, items=[ITEM]))
            assert status == 201, answer
            content = dhl_sent(gateway).body["content"]
            assert content["isCustomsDeclarable"] is False
            assert "exportDeclaration" not in content
            assert "Wool socks" not in dhl_sent(gateway).text()
            assert not any(f.startswith("items.") for f in intents(gateway)[-1]["fields"])

    async def test_a_missing_hs_code_refuses_the_export(self, gateway: Harness) -> None:
        """require_items names hs_code: an export line without one is refused with a problem
        naming its path, and nothing reaches DHL."""
        item = {k: v for k, v in ITEM.items() if k != "hs_code"}
        status, answer, _ = await gateway.post(dhl_order("NO", items=[ITEM, item]))
        assert status == 422, answer
        assert "$.data.items[1].hs_code" in answer["detail"]
        assert gateway.sandboxes["dhl_express"][RECEIVED] == []

    async def test_an_export_without_items_is_refused(self, gateway: Harness) -> None:
        """An order to the United States naming no contents cannot be declared: refused."""
        status, answer, _ = await gateway.post(dhl_order("US"))
        assert status == 422, answer
        assert "$.data.items" in answer["detail"]

    async def test_the_reports_show_the_orders_category(self, gateway: Harness) -> None:
        """The customer's access report lists the orders category (and its fideslang term)
        for the export, and the transparency report counts it."""
        status, _, _ = await gateway.post(dhl_order("GB", items=[ITEM]))
        assert status == 201
        status, _, _ = await gateway.post(order_event("posti", "home_delivery"))
        assert status == 201
        headers = await gateway.as_staff("reviewer")
        report = await get_json(gateway, f"/v1/reports/access?customer="
                                         f"{CANARY_CUSTOMER['id']}", headers)
        dhl = next(d for d in report["disclosures"] if d["recipient"] == "dhl_express")
        assert dhl["categories"] == ["name", "address", "phone", "orders"]
        assert "user.behavior.purchase_history" in dhl["fideslang"]
        assert dhl["data_use"] == "essential.service.operations"
        posti = next(d for d in report["disclosures"] if d["recipient"] == "posti")
        assert "orders" not in posti["categories"]
        assert posti["fideslang"][:2] == ["user.name", "user.contact.address.street"]
        transparency = await get_json(gateway, "/v1/reports/transparency", headers)
        counts = {c["category"]: c for c in transparency["per_category"]}
        assert counts["orders"]["carrier"] == 1
        assert counts["orders"]["fideslang"] == "user.behavior.purchase_history"
        assert counts["name"]["carrier"] == 2


class TestPayload:
    async def test_ill_formed_add_ons_and_items_are_bad_requests(self, gateway: Harness) -> None:
        """A malformed add-on list or line item answers 400 naming the path."""
        cases = [
            ("addons", ["id_check", "id_check"], "$.data.addons[1]"),
            ("addons", [{"name": "Bad Name"}], "$.data.addons[0].name"),
            ("items", [{**ITEM, "hs_code": "abc"}], "$.data.items[0].hs_code"),
            ("items", [ITEM, {**ITEM, "currency": "USD"}], "one currency"),
        ]
        for key, value, named in cases:
            event = copy.deepcopy(dhl_order("NO"))
            event["data"][key] = value
            status, answer, _ = await gateway.post(event)
            assert status == 400, answer
            assert named in answer["detail"]
