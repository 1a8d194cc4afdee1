"""The access report (GDPR Art. 15(1) (a) to (g)) in Finnish, Swedish and English, through the
API, the printable page and the CLI: field words, recipients by their legal names, times in
Helsinki time to the second, the Data Protection Ombudsman, pending erasures and holds, and a
customer id the record never saw."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from gateway.actor import Actor
from gateway.erasure.requests import ErasureRules, place_hold, request_erasure
from gateway.http.app import RECORD
from tests.conftest import CANARY_CUSTOMER, CANARY_FIELDS, Harness, run_gateway, write_config
from tests.review.conftest import call, cookie_of, get_json, ship
from tests.review.test_review_cli import gateway as cli

CUSTOMER = CANARY_CUSTOMER["id"]
HELSINKI = ZoneInfo("Europe/Helsinki")
#: Per language: the postal code, the Ombudsman's office, a word of the time, the rights heading.
WORDS = {
    "fi": ("postinumero", "Tietosuojavaltuutetun toimisto", " klo ", "Oikeutesi"),
    "sv": ("postnummer", "Dataombudsmannens byrå", " kl. ", "Dina rättigheter"),
    "en": ("postal code", "Office of the Data Protection Ombudsman", " ", "Your rights"),
}
LANGS = sorted(WORDS)
NOTHING = {"fi": "Rekisterissä ei ole mitään tällä asiakasnumerolla",
           "sv": "Registret innehåller ingenting för detta kundnummer",
           "en": "The record holds nothing for this customer id"}


def helsinki(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(HELSINKI).replace(microsecond=0)


def shown(stamp: str, lang: str) -> str:
    """A record time as the report writes it in ``lang``."""
    t = helsinki(stamp)
    if lang == "en":
        return t.strftime("%Y-%m-%d %H:%M:%S")
    word = "klo" if lang == "fi" else "kl."
    return f"{t.day}.{t.month}.{t.year} {word} {t.hour}.{t.minute:02d}.{t.second:02d}"


@pytest.fixture
async def shipped(gateway: Harness) -> Harness:
    await ship(gateway, order_id="J-HOME")
    await ship(gateway, order_id="J-LOCKER", service="pickup_point", pickup_point_id="PP-7")
    return gateway


async def report(gateway: Harness, query: str) -> dict[str, Any]:
    headers = await gateway.as_staff("reviewer")
    return await get_json(gateway, f"/v1/reports/access?{query}", headers)


class TestApi:
    @pytest.mark.parametrize("lang", LANGS)
    async def test_fields_recipients_and_times_are_in_words(self, shipped: Harness,
                                                            lang: str) -> None:
        """Each disclosure names its fields, service and result in words of the language, the
        recipient by its legal name with its contact, and its time in Helsinki time to the
        second; the record's own keys stay as they were."""
        doc = await report(shipped, f"customer={CUSTOMER}&lang={lang}")
        assert doc["language"] == lang
        home = doc["disclosures"][0]
        assert home["fields"] == ["name", "street", "postal_code", "town", "country", "phone"]
        assert WORDS[lang][0] in home["fields_words"]
        assert home["recipient"] == "posti"
        assert home["recipient_name"] == "Posti Oy"
        assert home["recipient_contact"]["privacy_contact"] == "tietosuoja@posti.com"
        assert home["time"].endswith("Z")
        assert home["time_local"] == helsinki(home["time"]).isoformat()
        assert "." not in home["time_local"]
        assert home["when"] == shown(home["time"], lang)
        assert home["service_words"] != "home_delivery"
        assert "_" not in home["result_words"]
        (posti,) = doc["recipients"]
        assert posti["legal_name"] == "Posti Oy"
        assert posti["first_when"] == home["when"]
        for value in CANARY_FIELDS.values():
            assert value not in orjson.dumps(doc).decode()

    @pytest.mark.parametrize("lang", LANGS)
    async def test_all_of_article_15_is_answered(self, shipped: Harness, lang: str) -> None:
        """Purposes, categories, retention per category with the Accounting Act for orders,
        the four rights, the Ombudsman with contact details, and the source."""
        doc = await report(shipped, f"customer={CUSTOMER}&lang={lang}")
        assert len(doc["purposes"]) == 3
        assert [c["category"] for c in doc["data_categories"]] == ["name", "address", "phone"]
        retention = {r["category"]: r for r in doc["retention"]}
        assert set(retention) == {"name", "address", "phone", "email", "orders", "deliveries"}
        assert "1336/1997" in retention["orders"]["statement"]
        assert retention["orders"]["period"] == {"count": 6, "unit": "years",
                                                 "from": "end_of_financial_year"}
        assert retention["name"]["period"] is None
        assert len(doc["rights"]) == 4
        assert doc["complaint"]["authority"] == WORDS[lang][1]
        assert doc["complaint"]["email"] == "tietosuoja@om.fi"
        assert "Jerone Group Oy" in doc["source"]
        assert doc["pending"] == []
        assert doc["record_holds_nothing"] is False

    async def test_the_store_default_language_is_from_config(self, shipped: Harness) -> None:
        doc = await report(shipped, f"customer={CUSTOMER}")
        assert doc["language"] == "fi"
        assert doc["time_zone"] == "Europe/Helsinki"

    async def test_an_unknown_language_is_a_problem(self, shipped: Harness) -> None:
        headers = await shipped.as_staff("reviewer")
        status, body, answer = await call(
            shipped, "GET", f"/v1/reports/access?customer={CUSTOMER}&lang=de", headers=headers)
        assert status == 400
        assert answer["content-type"] == "application/problem+json"
        assert orjson.loads(body)["parameter"] == "lang"

    @pytest.mark.parametrize("lang", LANGS)
    async def test_an_unknown_customer_is_told_so(self, gateway: Harness, lang: str) -> None:
        """A customer id the record never saw answers a report saying the record holds
        nothing for it, not one that reads as "nobody got your data"."""
        doc = await report(gateway, f"customer=C-NEVER-SEEN&lang={lang}")
        assert doc["record_holds_nothing"] is True
        assert doc["recipients"] == []

    async def test_a_pending_erasure_and_a_legal_hold_are_listed(self, shipped: Harness) -> None:
        """An erasure deferred by a legal hold, and the hold, each stated with its date and
        basis."""
        record = shipped.app[RECORD]
        now = datetime.now(UTC)
        key = shipped.config.keys.subject_hmac
        actor = Actor("dpo", "api")
        await place_hold(record, customer_id=CUSTOMER, hmac_key=key, actor=actor, now=now,
                         until=now + timedelta(days=40), basis="kirjanpitolaki 2:10")
        done = await request_erasure(record, customer_id=CUSTOMER, hmac_key=key, actor=actor,
                                     rules=ErasureRules(), now=now)
        assert done.status == "deferred"
        doc = await report(shipped, f"customer={CUSTOMER}&lang=en")
        kinds = {p["kind"]: p for p in doc["pending"]}
        assert set(kinds) == {"hold", "erasure"}
        day = helsinki(kinds["hold"]["until"]).strftime("%Y-%m-%d")
        assert kinds["hold"]["statement"] == f"Your data is kept until {day}: kirjanpitolaki 2:10."
        assert "will be carried out on" in kinds["erasure"]["statement"]


class TestPage:
    @pytest.mark.parametrize("lang", LANGS)
    async def test_the_printable_page_in_each_language(self, shipped: Harness,
                                                       lang: str) -> None:
        headers = cookie_of(await shipped.as_staff("reviewer"))
        doc = await report(shipped, f"customer={CUSTOMER}&lang={lang}")
        status, body, _ = await call(shipped, "GET",
                                     f"/review/access?customer={CUSTOMER}&lang={lang}",
                                     headers=headers)
        assert status == 200
        page = body.decode()
        postal, ombudsman, _, rights = WORDS[lang]
        assert f'<html lang="{lang}">' in page
        assert postal in page
        assert "Posti Oy" in page
        assert ombudsman in page
        assert "Lintulahdenkuja 4" in page or "Fågelviksgränden 4" in page
        assert "tietosuoja@om.fi" in page
        assert rights in page
        assert shown(doc["disclosures"][0]["time"], lang) in page
        assert not re.search(r"\d\d:\d\d:\d\d\.\d{3}", page)  # no milliseconds anywhere
        assert "@page" in page
        assert "text." not in re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)

    @pytest.mark.parametrize("lang", LANGS)
    async def test_an_unknown_customer_page_says_so(self, gateway: Harness, lang: str) -> None:
        headers = cookie_of(await gateway.as_staff("reviewer"))
        status, body, _ = await call(gateway, "GET",
                                     f"/review/access?customer=C-NEVER-SEEN&lang={lang}",
                                     headers=headers)
        assert status == 200
        page = body.decode()
        assert NOTHING[lang] in page
        assert 'id="unknown-customer"' in page  # the staff warning, not printed


@pytest.fixture
async def config(tmp_path: Path, carrier_env: None) -> Path:
    async with run_gateway(tmp_path) as harness:
        await ship(harness, order_id="J-CLI-1")
        await harness.add_staff("rea", "reviewer")
    return write_config(tmp_path, {})


class TestCli:
    def test_each_language_as_json_and_html(self, config: Path, tmp_path: Path) -> None:
        """report access --lang writes the report in that language, JSON or a page."""
        for lang in LANGS:
            result = cli(config, "report", "access", "--customer", CUSTOMER, "--as", "rea",
                         "--lang", lang)
            assert result.returncode == 0, result.stderr
            doc = orjson.loads(result.stdout)
            (disclosure,) = doc["disclosures"]
            assert disclosure["recipient_name"] == "Posti Oy"
            assert WORDS[lang][0] in disclosure["fields_words"]
            assert disclosure["when"] == shown(disclosure["time"], lang)
            assert doc["complaint"]["authority"] == WORDS[lang][1]
            out = tmp_path / f"report-{lang}.html"
            result = cli(config, "report", "access", "--customer", CUSTOMER, "--as", "rea",
                         "--lang", lang, "--html", str(out))
            assert result.returncode == 0, result.stderr
            page = out.read_text()
            assert WORDS[lang][1] in page
            assert shown(disclosure["time"], lang) in page

    def test_an_unknown_customer_is_told_so(self, config: Path, tmp_path: Path) -> None:
        out = tmp_path / "nobody.html"
        result = cli(config, "report", "access", "--customer", "C-NEVER-SEEN", "--as", "rea",
                     "--lang", "sv", "--html", str(out))
        assert result.returncode == 0, result.stderr
        assert "holds nothing for this customer id" in result.stderr
        assert NOTHING["sv"] in out.read_text()

    def test_an_unknown_language_fails_in_one_line(self, config: Path) -> None:
        result = cli(config, "report", "access", "--customer", CUSTOMER, "--as", "rea",
                     "--lang", "de")
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
