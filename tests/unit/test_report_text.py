"""The access report's message catalogs: every language has every key with the same
placeholders, every word the report looks up exists, and config.toml's [reports] and
[recipients] are checked at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ConfigError
from gateway.policy import vocabulary
from gateway.review.report_text import messages, placeholders
from gateway.review.reports import LEFT, PENDING
from gateway.review.settings import CATEGORIES, LANGUAGES, STARTS, report_settings
from tests.conftest import load_config

LANGS = list(LANGUAGES)


class TestCatalogs:
    @pytest.mark.parametrize("lang", ["fi", "sv"])
    def test_same_keys_and_placeholders_as_english(self, lang: str) -> None:
        """A key missing in a language, or a placeholder spelt differently, fails here rather
        than on a customer's report."""
        english, other = messages("en"), messages(lang)
        assert set(other) == set(english)
        for key, message in english.items():
            assert placeholders(other[key]) == placeholders(message), key

    @pytest.mark.parametrize("lang", LANGS)
    def test_every_word_the_report_looks_up_exists(self, lang: str, tmp_path: Path,
                                                   carrier_env: None) -> None:
        """Fields, categories, services of every configured rule, results, kinds and
        retention starts all have words."""
        words = messages(lang)
        config = load_config(tmp_path, {})
        for field in vocabulary.FIELD_WORDS:
            assert words[f"field.{field}"]
        for category in (*CATEGORIES, "marketing_consent"):
            assert words[f"category.{category}"]
        for _, service in config.policy.rules:
            assert words[f"service.{service}"]
        for result in (*LEFT, PENDING, "held", "erased", "not_held", "none"):
            assert words[f"result.{result}"]
        for start in STARTS:
            assert words[f"start.{start}"]
        for key in ("kind.carrier", "kind.authority", "field.orders", "field.deliveries"):
            assert words[key]

    def test_an_unknown_key_raises(self) -> None:
        with pytest.raises(KeyError):
            messages("fi")["text.no_such_key"]


def settings(**reports: Any) -> Any:  # noqa: ANN401
    return report_settings({"reports": reports})


class TestSettings:
    def test_the_shipped_config_names_every_carrier(self, tmp_path: Path,
                                                    carrier_env: None) -> None:
        config = load_config(tmp_path, {})
        assert set(config.reports.recipients) == set(config.carriers)
        assert config.reports.recipients["dhl_express"].legal_name == "DHL Express (Finland) Oy"

    @pytest.mark.parametrize(("reports", "says"), [
        ({"language": "de"}, "language"),
        ({"time_zone": "Europe/Nowhere"}, "time_zone"),
        ({"retention": {"orders": {"years": 6}}}, "basis"),
        ({"retention": {"orders": {"years": 6, "days": 3, "basis": "x"}}}, "years or days"),
        ({"retention": {"shoes": {"years": 6, "basis": "x"}}}, "unknown category"),
        ({"retention": {"orders": {"years": 6, "basis": {"fi": "x"}}}}, "basis"),
        ({"retention": {"orders": {"years": 6, "basis": "x", "from": "dawn"}}}, "from"),
    ])
    def test_mistakes_stop_the_start(self, reports: dict[str, Any], says: str) -> None:
        with pytest.raises(ConfigError, match=says):
            settings(**reports)

    def test_a_recipient_without_a_legal_name_is_named_by_its_key(self) -> None:
        """A [recipients.NAME] table may only say how the recipient is told of erasures; the
        reports then name it by its key. An empty legal name is still refused."""
        settings = report_settings({"recipients": {"posti": {"erasure_notice": "file"}}})
        assert settings.recipients["posti"].legal_name == "posti"
        with pytest.raises(ConfigError, match="legal_name"):
            report_settings({"recipients": {"posti": {"legal_name": " "}}})
