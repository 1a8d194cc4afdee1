"""[policy] add-on and line-item rules are checked at start-up against what each carrier
documents for the service."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from tests.conftest import load_config, unreachable_carriers
from tests.unit.test_config import Change, set_

POSTI = "policy.posti.pickup_point.addons"
DHL = "policy.dhl_express.express"
#: The pickup-point rule without the phone required: the arrival notice must bring a contact.
NO_PHONE = set_("policy.posti.pickup_point.require", ["name", "postal_code", "town", "country"])


def both(*changes: Change) -> Change:
    def change(raw: dict[str, object]) -> None:
        for one in changes:
            one(raw)

    return change


class TestAddonRules:
    def test_the_shipped_rules_name_the_carriers_codes(self, tmp_path: Path,
                                                       carrier_env: None) -> None:
        """The shipped add-on rules carry the carrier's code and parameters."""
        rule = load_config(tmp_path, unreachable_carriers()).policy.rule("posti", "pickup_point")
        codes = {a.name: a.code for a in rule.addons}
        assert codes == {"arrival_notice": "3139", "personal_delivery": "3163",
                         "id_check": "3166", "cash_on_delivery": "3101"}
        cod = rule.addon("cash_on_delivery")
        assert cod is not None
        assert cod.params == ("amount", "account", "codbic", "reference")

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (set_("policy.posti.home_delivery.addons.arrival_notice", {}),
             "offers no such additional service with home_delivery"),
            (set_(f"{POSTI}.teleport", {}), "offers no such additional service"),
            (both(set_(f"{POSTI}.arrival_notice", {}), NO_PHONE),
             "needs email or phone for arrival_notice"),
            (both(set_(f"{POSTI}.arrival_notice", {"notice": ["sms"]}), NO_PHONE),
             "needs email or phone for arrival_notice"),
            (set_(f"{POSTI}.id_check", {"allow": ["marketing_consent"]}),
             "marketing_consent never leaves"),
            (set_(f"{POSTI}.id_check", {"require": ["street"]}), "require names fields"),
            (set_(f"{POSTI}.id_check", {"colour": "red"}), "unknown key"),
            (set_(f"{POSTI}.id_check", "yes"), "expected a table"),
            (set_("policy.budbee.home.addons", {"id_check": {}}),
             "offers no such additional service"),
        ],
    )
    def test_refuses_an_add_on_rule_it_cannot_honour(
        self, tmp_path: Path, carrier_env: None, change: Change, message: str
    ) -> None:
        """Each add-on rule the carrier cannot honour stops the start, naming the table."""
        with pytest.raises(ConfigError, match=message):
            load_config(tmp_path, unreachable_carriers(), change)


class TestItemRules:
    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (both(set_(f"{DHL}.allow_items", ["description", "quantity"]),
                  set_(f"{DHL}.require_items", [])),
             "requires line items with currency, origin_country, unit_value, weight_kg"),
            (set_(f"{DHL}.allow_items", ["description", "colour"]), "unknown line-item field"),
            (set_("policy.posti.home_delivery.allow_items", ["description"]),
             "takes no line items"),
            (set_(f"{DHL}.require_items", ["description", "serial"]), "unknown line-item"),
        ],
    )
    def test_refuses_item_rules_it_cannot_honour(
        self, tmp_path: Path, carrier_env: None, change: Change, message: str
    ) -> None:
        with pytest.raises(ConfigError, match=message):
            load_config(tmp_path, unreachable_carriers(), change)

    def test_require_items_within_allow_items(self, tmp_path: Path, carrier_env: None) -> None:
        """A required item field must be allowed too."""
        def change(raw: dict[str, object]) -> None:
            rule = raw["policy"]["dhl_express"]["express"]  # type: ignore[index]
            rule["allow_items"] = [f for f in rule["allow_items"] if f != "hs_code"]

        with pytest.raises(ConfigError, match="require_items names fields"):
            load_config(tmp_path, unreachable_carriers(), change)
