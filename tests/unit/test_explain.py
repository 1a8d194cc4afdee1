"""Policy explain and diff."""

from __future__ import annotations

from pathlib import Path

import attrs
import orjson

from gateway.policy.explain import diff, explain
from gateway.policy.rules import Policy
from tests.cli import ROOT, Ran, run
from tests.unit.test_policy import HOME, LAHELLA, PICKUP, POLICY, order


def decisions(result: object) -> dict[str, tuple[bool, str]]:
    return {d.field: (d.sent, d.because) for d in result.decisions}  # type: ignore[attr-defined]


class TestExplain:
    def test_names_the_rule_behind_every_field(self) -> None:
        """Every customer field is listed with whether it leaves and which rule decided."""
        result = decisions(explain(order(notice="email"), POLICY))
        assert result["name"] == (True, "[policy.posti.pickup_point] allow")
        assert result["street"][0] is False
        assert "default deny" in result["street"][1]
        assert result["email"] == (True, ("[policy.posti.pickup_point] notice: email "
                                         "(the customer's choice)"))
        assert result["marketing_consent"] == (False, "marketing consent never leaves")

    def test_agrees_with_minimise(self) -> None:
        """The fields explain marks as sent are exactly those minimisation lets out."""
        from gateway.policy.rules import minimise  # noqa: PLC0415

        for o in (order(), order(notice="email"), order("matkahuolto", phone=None),
                  order("budbee", "home", door_code="12")):
            sent = {d.field for d in explain(o, POLICY).decisions if d.sent}
            assert sent == set(minimise(o, POLICY).fields)

    def test_shows_a_refusal(self) -> None:
        """An order the policy refuses shows the reason and sends nothing."""
        result = explain(order(phone=None), POLICY)
        assert result.refused is not None
        assert "phone" in result.refused
        assert not any(d.sent for d in result.decisions)

    def test_unknown_service_is_default_deny(self) -> None:
        """Without a rule, every field is kept."""
        result = explain(order("posti", "express"), POLICY)
        assert result.rule_digest is None
        assert not any(d.sent for d in result.decisions)


class TestDiff:
    def test_lists_fields_that_start_and_stop_leaving(self) -> None:
        """A rule gaining street and losing phone shows +street and -phone; others unchanged."""
        changed = attrs.evolve(PICKUP, allow=("name", "street", "postal_code", "town", "country"),
                               require=())
        new = Policy({**POLICY.rules, ("posti", "pickup_point"): changed})
        (change,) = diff(POLICY, new)
        assert (change.recipient, change.service) == ("posti", "pickup_point")
        assert change.starts == ("street",)
        assert change.stops == ()  # phone still leaves as the sms notice contact

    def test_added_and_removed_rules(self) -> None:
        """A new rule lists all its fields as starting; a removed one all as stopping."""
        old = Policy({(r.recipient, r.service): r for r in (PICKUP, LAHELLA)})
        new = Policy({(r.recipient, r.service): r for r in (PICKUP, HOME)})
        changes = {(c.recipient, c.service): c for c in diff(old, new)}
        assert changes[("budbee", "home")].note == "new rule"
        assert "door_code" in changes[("budbee", "home")].starts
        assert changes[("matkahuolto", "pickup_point")].stops


class TestCli:
    def run(self, *args: str) -> Ran:
        return run("--config", str(ROOT / "config.toml"), "policy", *args)

    def test_explain_prints_each_field(self, tmp_path: Path) -> None:
        """`gateway policy explain` prints a line per field with SENT or kept, no secrets
        needed."""
        from tests.conftest import order_event  # noqa: PLC0415

        path = tmp_path / "order.json"
        path.write_bytes(orjson.dumps(order_event("posti", "pickup_point", pickup_point_id="1")))
        result = self.run("explain", str(path), "--service", "home_delivery")
        assert result.returncode == 0, result.stderr
        assert "SENT  street" in result.stdout
        assert "kept  marketing_consent  marketing consent never leaves" in result.stdout

    def test_diff_prints_changes(self, tmp_path: Path) -> None:
        """`gateway policy diff` names the service and the field that would start leaving."""
        lines = (ROOT / "config.toml").read_text().splitlines()
        at = next(i for i, line in enumerate(lines)
                  if line.startswith("allow = [") and '"street"' not in line)
        lines[at] = lines[at].replace("allow = [", 'allow = ["street", ', 1)
        new = tmp_path / "new.toml"
        new.write_text("\n".join(lines))
        result = self.run("diff", str(ROOT / "config.toml"), str(new))
        assert result.returncode == 0, result.stderr
        assert "+street" in result.stdout

    def test_explain_of_a_missing_file_fails_in_one_line(self, tmp_path: Path) -> None:
        """A missing order file is a one-line error and exit 1."""
        result = self.run("explain", str(tmp_path / "none.json"))
        assert result.returncode == 1
        assert result.stderr.startswith("gateway: cannot read")
