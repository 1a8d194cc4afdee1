"""Minimisation: default deny, nothing invented, marketing consent never leaves."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import PolicyError
from gateway.models import DISCLOSABLE_FIELDS, Address, Customer, Delivery, Order, Parcel
from gateway.policy.rules import Policy, Rule, minimise

PICKUP = Rule(
    recipient="posti", service="pickup_point",
    allow=("name", "postal_code", "town", "country", "phone"),
    require=("name", "postal_code", "town", "country", "phone"),
    notice=("sms", "email"), needs_pickup_point=True,
)
LAHELLA = Rule(
    recipient="matkahuolto", service="pickup_point",
    allow=("name", "postal_code", "town", "country"),
    require=("name", "postal_code", "town"),
    notice=("sms", "email"), notice_required=True, needs_pickup_point=True,
)
HOME = Rule(
    recipient="budbee", service="home",
    allow=("name", "street", "postal_code", "town", "country", "phone", "door_code"),
    require=("name", "street", "postal_code", "town", "phone"),
)
POLICY = Policy({(r.recipient, r.service): r for r in (PICKUP, LAHELLA, HOME)})


def order(carrier: str = "posti", service: str = "pickup_point", **changes: object) -> Order:
    customer = Customer(
        id="C-1", first_name="Aino", last_name="Virtanen",
        address=Address(street="Hämeenkatu 1 A 2", postal_code="33100", town="Tampere",
                        country="FI"),
        phone="+358401234567", email="aino@example.fi", marketing_consent=True,
    )
    delivery = Delivery(carrier=carrier, service=service, pickup_point_id="PP-1")
    base = Order(id="O-1", customer=customer, delivery=delivery, parcels=(Parcel(1.0),))
    customer_changes: dict[str, Any] = {
        k: v for k, v in changes.items() if k in ("phone", "email")}
    delivery_changes: dict[str, Any] = {
        k: v for k, v in changes.items() if k in ("notice", "door_code", "pickup_point_id")}
    return attrs.evolve(
        base,
        customer=attrs.evolve(customer, **customer_changes),
        delivery=attrs.evolve(delivery, **delivery_changes),
    )


class TestMinimise:
    def test_lets_out_only_the_allowed_fields(self) -> None:
        """A pickup-point shipment carries no street and no e-mail."""
        result = minimise(order(), POLICY)
        assert result.fields == ("name", "postal_code", "town", "country", "phone")
        assert result.receiver.street is None
        assert result.receiver.email is None

    def test_adds_email_only_when_the_customer_chose_email_notice(self) -> None:
        """E-mail leaves only where the customer chose e-mail notice and the service offers it."""
        assert "email" in minimise(order(notice="email"), POLICY).fields
        assert "email" not in minimise(order(notice="sms"), POLICY).fields

    def test_picks_one_notice_contact_when_the_service_needs_one(self) -> None:
        """Without a choice, the first offered channel the record can serve is used, only it."""
        fields = minimise(order("matkahuolto"), POLICY).fields
        assert "phone" in fields
        assert "email" not in fields
        fields = minimise(order("matkahuolto", phone=None), POLICY).fields
        assert "email" in fields
        assert "phone" not in fields

    def test_refuses_when_no_notice_contact_exists(self) -> None:
        """A service that needs an arrival-notice contact refuses an order with none."""
        with pytest.raises(PolicyError, match="arrival notice"):
            minimise(order("matkahuolto", phone=None, email=None), POLICY)

    def test_refuses_missing_required_data_rather_than_inventing_it(self) -> None:
        """A missing required phone refuses the disclosure; no placeholder is sent."""
        with pytest.raises(PolicyError, match="phone"):
            minimise(order(phone=None), POLICY)

    def test_refuses_unknown_recipient_or_service(self) -> None:
        """Default deny: no rule, no disclosure."""
        with pytest.raises(PolicyError):
            minimise(order("posti", "express"), POLICY)
        with pytest.raises(PolicyError):
            minimise(order("dhl", "pickup_point"), POLICY)

    def test_refuses_a_pickup_service_without_a_pickup_point(self) -> None:
        """A pickup-point service needs the pickup point id."""
        with pytest.raises(PolicyError, match="pickup point"):
            minimise(order(pickup_point_id=None), POLICY)

    def test_sends_a_door_code_only_if_given(self) -> None:
        """The door code goes out where allowed and given, never as an empty field."""
        assert minimise(order("budbee", "home", door_code="1234"),
            POLICY).receiver.door_code == "1234"
        assert "door_code" not in minimise(order("budbee", "home"), POLICY).fields

    def test_error_messages_name_fields_not_values(self) -> None:
        """A refusal names the missing field, never a customer's value."""
        with pytest.raises(PolicyError) as info:
            minimise(order(phone=None), POLICY)
        for value in ("Aino", "Virtanen", "Tampere", "33100", "aino@example.fi"):
            assert value not in str(info.value)

    @given(
        allow=st.sets(st.sampled_from(DISCLOSABLE_FIELDS)),
        notice=st.lists(st.sampled_from(["sms", "email"]), unique=True),
        chosen=st.sampled_from([None, "sms", "email"]),
    )
    def test_never_lets_out_a_field_the_rule_does_not_name(
        self, allow: set[str], notice: list[str], chosen: str | None
    ) -> None:
        """Whatever the rule, every field that leaves is allowed or is the chosen notice contact."""
        rule = Rule(recipient="posti", service="pickup_point", allow=tuple(sorted(allow)),
                    require=(), notice=tuple(notice))
        result = minimise(order(notice=chosen, door_code="99"),
                          Policy({("posti", "pickup_point"): rule}))
        notice_fields = {"sms": "phone", "email": "email"}
        permitted = allow | ({notice_fields[chosen]} if chosen in notice else set())
        assert set(result.fields) <= permitted


class TestRule:
    def test_digest_changes_with_the_rule(self) -> None:
        """Two rules that differ in one allowed field have different digests."""
        assert PICKUP.digest != attrs.evolve(PICKUP, allow=PICKUP.allow[:-1]).digest
        assert PICKUP.digest == attrs.evolve(PICKUP).digest
