"""Records of processing (GDPR Art. 30) rendered from config.toml and the record."""

from __future__ import annotations

from pathlib import Path

import attrs
import orjson
import pytest

from gateway.http.app import RECORD
from gateway.review.processing import processing_record, render_text
from tests.cli import run
from tests.conftest import Harness, order_event, write_config


class TestProcessingRecord:
    async def test_lists_every_recipient_with_its_data_and_recorded_count(
        self, gateway: Harness
    ) -> None:
        """Each policy rule appears with its fields and the bookings the record holds; marketing
        consent is listed as never disclosed."""
        for _ in range(2):
            await gateway.post(order_event("posti", "home_delivery"))
        counts = await gateway.app[RECORD].disclosure_counts()
        doc = processing_record(gateway.config, counts)
        rows = {(r["recipient"], r["service"]): r for r in doc["recipients"]}
        assert set(rows) == set(gateway.config.policy.rules)
        home = rows[("posti", "home_delivery")]
        assert home["disclosures_recorded"] == 2
        assert "street" in home["data_categories"]
        assert "street" not in rows[("posti", "pickup_point")]["data_categories"]
        assert doc["never_disclosed"] == ["marketing consent"]
        assert doc["controller"]["business_id"] == gateway.config.sender.business_id
        text = render_text(doc)
        assert "posti/home_delivery: name, street" in text
        assert "[2 recorded;" in text

    @pytest.mark.parametrize(("retention", "hold", "basis", "clause"), [
        (0, 0, "", "legal hold none configured; customers' values kept until erasure is asked;"),
        (730, 0, "", "customers' values kept 730 days after the customer's last disclosure;"),
        (0, 90, "Consumer Protection Act 5:15", ("legal hold 90 days after the last disclosure "
         "(Consumer Protection Act 5:15); customers' values kept until erasure is asked;")),
        (0, 90, "", "legal hold 90 days after the last disclosure; customers' values kept"),
    ])
    async def test_the_erasure_clause_reads_as_configured(
        self, gateway: Harness, retention: int, hold: int, basis: str, clause: str
    ) -> None:
        """Retention and legal hold read as sentences: days after the last disclosure, or
        until erasure is asked; no empty brackets, no "until erasure days"."""
        rules = attrs.evolve(gateway.config.erasure, retention_days=retention, hold_days=hold,
                             hold_basis=basis)
        config = attrs.evolve(gateway.config, erasure=rules)
        text = render_text(processing_record(config, {}))
        assert clause in text
        assert "()" not in text
        assert "until erasure days" not in text


class TestProcessingCommand:
    async def test_report_processing_prints_the_record_of_processing(
        self, gateway: Harness, tmp_path: Path
    ) -> None:
        """`gateway report processing` renders the same record as text, and as JSON with
        --json, counting the bookings in the record the config names."""
        status, _, _ = await gateway.post(order_event("posti", "pickup_point",
            pickup_point_id="905253201"))
        assert status == 201
        urls = dict.fromkeys(gateway.config.carriers, "http://127.0.0.1:9")
        config = write_config(tmp_path, urls)  # the harness's record and secrets
        text = run("--config", str(config), "report", "processing")
        assert text.returncode == 0, text.stderr
        assert text.stdout.startswith("Record of processing activities (GDPR Art. 30(1))")
        assert "posti/pickup_point: name, postal_code" in text.stdout
        as_json = run("--config", str(config), "report", "processing", "--json")
        doc = orjson.loads(as_json.stdout)
        rows = {(r["recipient"], r["service"]): r for r in doc["recipients"]}
        assert rows[("posti", "pickup_point")]["disclosures_recorded"] == 1
        assert rows[("posti", "home_delivery")]["disclosures_recorded"] == 0

    def test_a_missing_config_is_one_line(self, tmp_path: Path) -> None:
        """Without a readable config the command fails with one line, not a traceback."""
        result = run("--config", str(tmp_path / "nope.toml"), "report", "processing")
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1
