"""`gateway policy explain / diff / export` and `gateway report processing` on add-ons, line
items and the fideslang vocabulary, through the CLI as an operator runs them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import orjson
import yaml
from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from fideslang.models import Dataset, System, Taxonomy

from gateway.review.processing import processing_record, render_text
from tests.cli import run
from tests.conftest import ROOT, load_config, order_event
from tests.e2e.test_addons_items import ITEM

CONFIG = str(ROOT / "config.toml")


def policy(*args: str) -> tuple[int, str, str]:
    result = run("--config", CONFIG, "policy", *args)
    return result.returncode, result.stdout, result.stderr


def order_file(tmp_path: Path, event: dict[str, object]) -> str:
    path = tmp_path / "order.json"
    path.write_bytes(orjson.dumps(event))
    return str(path)


def edited(tmp_path: Path, old: str, new: str) -> str:
    text = (ROOT / "config.toml").read_text()
    assert old in text
    path = tmp_path / "new.toml"
    path.write_text(text.replace(old, new, 1))
    return str(path)


class TestExplain:
    def test_names_the_add_on_that_let_a_field_out(self, tmp_path: Path) -> None:
        """An arrival notice without a chosen channel sends the first contact; explain names
        the add-on's table for it and for the add-on itself, and a denied add-on as such."""
        event = order_event("posti", "pickup_point", pickup_point_id="1")
        event["data"]["addons"] = ["arrival_notice", "id_check"]
        code, out, err = policy("explain", order_file(tmp_path, event))
        assert code == 0, err
        assert "ADDON arrival_notice" in out
        assert "[policy.posti.pickup_point.addons.arrival_notice] (carrier code 3139)" in out
        assert "ADDON id_check" in out
        event["data"]["addons"] = ["teleport"]
        code, out, _ = policy("explain", order_file(tmp_path, event))
        assert code == 1
        assert "DENY  teleport" in out
        assert "refused: additional service 'teleport'" in out

    def test_explains_line_items_by_destination(self, tmp_path: Path) -> None:
        """To Norway the item fields leave under allow_items; to Sweden none leaves."""
        event = order_event("dhl_express", "express")
        event["data"]["items"] = [ITEM]
        event["data"]["customer"]["country"] = "NO"
        code, out, err = policy("explain", order_file(tmp_path, event))
        assert code == 0, err
        assert "SENT  items.hs_code" in out
        assert "allow_items (customs: FI -> NO)" in out
        event["data"]["customer"]["country"] = "SE"
        code, out, _ = policy("explain", order_file(tmp_path, event))
        assert code == 0
        assert "kept  items.description" in out
        assert "FI -> SE stays in the EU customs territory" in out


class TestDiff:
    def test_names_add_ons_and_item_fields(self, tmp_path: Path) -> None:
        """Dropping the ID check and the HS code shows as -addon:id_check and -items.hs_code;
        a widened add-on as ~addon and the field it starts sending."""
        new = edited(tmp_path, """[policy.dhl_express.express.addons.id_check]
# Verified Delivery (TF): the courier checks the receiver's identity document against the name.
require = ["name"]
""", "")
        new_text = Path(new).read_text().replace(
            '"unit_value", "currency", "hs_code", "origin_country"',
            '"unit_value", "currency", "origin_country"')
        new_text = new_text.replace("""[policy.posti.home_delivery.addons.id_check]
require = ["name"]""", """[policy.posti.home_delivery.addons.id_check]
allow = ["door_code"]
require = ["name"]""")
        Path(new).write_text(new_text)
        code, out, err = policy("diff", CONFIG, new)
        assert code == 0, err
        lines = dict(line.split(": ", 1) for line in out.splitlines())
        assert lines["dhl_express/express"] == "-items.hs_code -addon:id_check"
        assert lines["posti/home_delivery"] == "+door_code ~addon:id_check"


class TestExport:
    def test_fides_export_validates_with_fideslang(self, tmp_path: Path) -> None:
        """The export is a fides manifest: fideslang's own models accept it, every data
        category and use is a published key, a system per carrier and one for authorities."""
        out = tmp_path / "fides.yml"
        code, _, err = policy("export", "--format", "fides", "--out", str(out))
        assert code == 0, err
        doc = yaml.safe_load(out.read_text())
        taxonomy = Taxonomy(**doc)
        systems = {s.fides_key: s for s in taxonomy.system}
        assert set(systems) == {"carrier_posti", "carrier_matkahuolto", "carrier_postnord",
                                "carrier_dhl_express", "carrier_budbee", "public_authorities"}
        for raw in doc["system"]:
            System.model_validate(raw)
        (dataset,) = taxonomy.dataset
        Dataset.model_validate(doc["dataset"][0])
        categories = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
        uses = {u.fides_key for u in DEFAULT_TAXONOMY.data_use}
        for system in taxonomy.system:
            for declaration in system.privacy_declarations:
                assert set(declaration.data_categories) <= categories
                assert declaration.data_use in uses
        for collection in dataset.collections:
            for field in collection.fields:
                assert set(field.data_categories or ()) <= categories
        dhl = {d.name: d for d in systems["carrier_dhl_express"].privacy_declarations}
        express = dhl["dhl_express/express (add-ons: id_check)"]
        assert "user.behavior.purchase_history" in express.data_categories
        assert express.data_use == "essential.service.operations"
        (authority,) = systems["public_authorities"].privacy_declarations
        assert authority.data_use == "third_party_sharing.legal_obligation"
        pickup = {d.name: d for d in systems["carrier_posti"].privacy_declarations}
        (declared,) = (d for n, d in pickup.items() if (n or "").startswith("posti/pickup_point"))
        assert "user.contact.address.street" not in declared.data_categories

    def test_export_to_stdout_and_a_bad_path(self, tmp_path: Path) -> None:
        """Without --out the YAML goes to stdout; an unwritable --out is one line, exit 1."""
        code, out, _ = policy("export")
        assert code == 0
        assert out.startswith("system:\n")
        code, _, err = policy("export", "--out", str(tmp_path / "no" / "such" / "dir.yml"))
        assert code == 1
        assert err.startswith("gateway: cannot write")
        assert len(err.strip().splitlines()) == 1


class TestProcessing:
    def test_art30_names_fideslang_terms_add_ons_and_orders(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """The record of processing carries each rule's fideslang categories and data use,
        its add-ons, and the orders category where line items may leave."""
        config = load_config(tmp_path,
            dict.fromkeys(tomllib.loads(Path(CONFIG).read_text())["carriers"],
                "http://127.0.0.1:9"))
        doc = processing_record(config, {})
        rows = {(r["recipient"], r["service"]): r for r in doc["recipients"]}
        dhl = rows[("dhl_express", "express")]
        assert dhl["addons"] == ["id_check"]
        assert dhl["fideslang"]["data_use"] == "essential.service.operations"
        assert "user.behavior.purchase_history" in dhl["fideslang"]["data_categories"]
        assert any(c.startswith("orders:") for c in dhl["data_categories"])
        pickup = rows[("posti", "pickup_point")]
        assert "email (with arrival_notice)" not in pickup["data_categories"]  # base notice
        text = render_text(doc)
        assert "additional services: arrival_notice, personal_delivery, id_check" in text
        assert "(third_party_sharing.legal_obligation)" in text
