"""Records of processing (GDPR Art. 30) rendered from config.toml and the record."""

from __future__ import annotations

from gateway.app import RECORD
from gateway.processing import processing_record, render_text
from tests.conftest import Harness, order_event


class TestProcessingRecord:
    async def test_lists_every_recipient_with_its_data_and_recorded_count(
        self, gateway: Harness
    ) -> None:
        """Each policy rule appears with its fields and the bookings the record holds; marketing
        consent is listed as never disclosed."""
        for _ in range(2):
            await gateway.post(order_event("posti", "home_delivery"))
        counts = await gateway.app[RECORD].store.disclosure_counts()
        doc = processing_record(gateway.config, counts)
        rows = {(r["recipient"], r["service"]): r for r in doc["recipients"]}
        assert set(rows) == set(gateway.config.policy.rules)
        home = rows[("posti", "home_delivery")]
        assert home["disclosures_recorded"] == 2  # noqa: PLR2004
        assert "street" in home["data_categories"]
        assert "street" not in rows[("posti", "pickup_point")]["data_categories"]
        assert doc["never_disclosed"] == ["marketing consent"]
        assert doc["controller"]["business_id"] == gateway.config.sender.business_id
        text = render_text(doc)
        assert "posti/home_delivery: name, street" in text
        assert "[2 recorded;" in text
