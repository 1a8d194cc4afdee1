"""What a review read may ask, over HTTP (API and pages): every read takes only its own
parameters, each once, and known values; one rule for periods and customer ids across the
search, the access report and the transparency report. A refusal is a 400 problem naming the
parameter, never echoing a value."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.conftest import CANARY_CUSTOMER, Harness
from tests.review.conftest import call, cookie_of, ship

CUSTOMER = CANARY_CUSTOMER["id"]
LONG_ID = "C" + "9" * 200


@pytest.fixture
async def admin(gateway: Harness) -> dict[str, str]:
    """Two customers' orders shipped to posti; the headers of an admin, who may make every
    review read."""
    await ship(gateway, order_id="J-P-1")
    await ship(gateway, order_id="J-P-2", customer="C-1001")
    return await gateway.as_staff("admin")


async def problem(gateway: Harness, path: str, headers: dict[str, str]) -> dict[str, Any]:
    status, body, answer = await call(gateway, "GET", path, headers=headers)
    assert (status, answer["content-type"]) == (400, "application/problem+json"), body
    doc: dict[str, Any] = orjson.loads(body)
    return doc


class TestUnknownParameters:
    @pytest.mark.parametrize(("path", "parameter"), [
        ("/v1/review/entries?custmer=C-1001", "custmer"),
        ("/v1/review/entries?customer=C-1001&ordr=J-P-2", "ordr"),
        ("/v1/review/entries/1?verbose=1", "verbose"),
        ("/v1/review/checkpoint?size=3", "size"),
        (f"/v1/reports/access?customer={CUSTOMER}&vew=full", "vew"),
        ("/v1/reports/transparency?form=2026", "form"),
    ])
    async def test_an_unknown_parameter_is_refused_by_name(
        self, gateway: Harness, admin: dict[str, str], path: str, parameter: str
    ) -> None:
        """A misspelt filter does not widen the read to everything: 400 naming it, without
        echoing any value."""
        doc = await problem(gateway, path, admin)
        assert doc["parameter"] == parameter
        assert parameter in doc["detail"]
        assert "C-1001" not in str(doc)
        assert CUSTOMER not in str(doc)

    async def test_a_name_that_looks_like_a_value_is_not_echoed(
        self, gateway: Harness, admin: dict[str, str]
    ) -> None:
        """A customer id typed where a parameter's name belongs is refused without being
        repeated."""
        doc = await problem(gateway, f"/v1/review/entries?{CUSTOMER}=1", admin)
        assert CUSTOMER not in str(doc)
        assert doc["parameter"] == "(name not shown)"

    @pytest.mark.parametrize("path", [
        "/v1/review/entries?customer=C-1001&customer=C-1002",
        f"/v1/reports/access?customer={CUSTOMER}&customer=C-1001",
    ])
    async def test_a_parameter_given_twice_is_refused(
        self, gateway: Harness, admin: dict[str, str], path: str
    ) -> None:
        doc = await problem(gateway, path, admin)
        assert doc["parameter"] == "customer"

    @pytest.mark.parametrize(("path", "parameter"), [
        ("/v1/review/entries?kind=bogus", "kind"),
        ("/v1/review/entries?kind=disclosure", "kind"),
        ("/v1/review/entries?sort=sideways", "sort"),
        (f"/v1/reports/access?customer={CUSTOMER}&view=everything", "view"),
        ("/v1/review/entries?order=J-P-1%1b%5b2J", "order"),
        ("/v1/review/entries?recipient=posti%e2%80%ae", "recipient"),
    ])
    async def test_an_unknown_value_is_refused(
        self, gateway: Harness, admin: dict[str, str], path: str, parameter: str
    ) -> None:
        """A kind of entry the record does not hold, a sort or view that does not exist, or a
        control character in a search term, is a 400, not an empty answer."""
        assert (await problem(gateway, path, admin))["parameter"] == parameter

    async def test_the_search_page_refuses_them_too(
        self, gateway: Harness, admin: dict[str, str]
    ) -> None:
        """The search page answers 400 with the message, and lists nothing."""
        status, page, _ = await call(gateway, "GET", "/review/search?go=1&custmer=C-1001",
                                     headers=cookie_of(admin))
        assert status == 400
        assert b"unknown parameter custmer" in page
        assert b'id="results"' not in page
        status, page, _ = await call(gateway, "GET", "/review/search?go=1&kind=bogus",
                                     headers=cookie_of(admin))
        assert status == 400

    async def test_known_parameters_still_work(
        self, gateway: Harness, admin: dict[str, str]
    ) -> None:
        status, body, _ = await call(
            gateway, "GET", "/v1/review/entries?customer=C-1001&kind=disclosure.outcome&"
            "order=J-P-2&recipient=posti&sort=oldest&limit=5&from=2020&to=2100", headers=admin)
        assert status == 200, body
        assert [e["order"] for e in orjson.loads(body)["entries"]] == ["J-P-2"]


class TestOneRuleForPeriods:
    @pytest.mark.parametrize("path", ["/v1/review/entries", "/v1/reports/transparency"])
    @pytest.mark.parametrize("period", ["from=2027&to=2026", "from=2026-05&to=2026-04",
                                        "from=2026-05-02&to=2026-05-01",
                                        "from=2026-05-01T10:00:00Z&to=2026-05-01T10:00:00Z"])
    async def test_a_period_that_ends_before_it_begins_is_refused(
        self, gateway: Harness, admin: dict[str, str], path: str, period: str
    ) -> None:
        """The search and the transparency report refuse the same backwards period with the
        same problem."""
        doc = await problem(gateway, f"{path}?{period}", admin)
        assert (doc["parameter"], doc["detail"]) == ("to", "from must come before to")

    @pytest.mark.parametrize("path", ["/v1/review/entries", "/v1/reports/transparency"])
    @pytest.mark.parametrize("bound", ["from=yesterday", "to=2026-13",
        "from=0001-01-01T00:00+01:00",
                                       "to=9999-12-31"])
    async def test_a_malformed_bound_is_refused_alike(
        self, gateway: Harness, admin: dict[str, str], path: str, bound: str
    ) -> None:
        doc = await problem(gateway, f"{path}?{bound}", admin)
        assert doc["parameter"] == bound.split("=", maxsplit=1)[0]

    async def test_the_transparency_page_says_so(
        self, gateway: Harness, admin: dict[str, str]
    ) -> None:
        status, page, _ = await call(gateway, "GET", "/review/transparency?from=2027&to=2026",
                                     headers=cookie_of(admin))
        assert status == 400
        assert b"from must come before to" in page


class TestOneRuleForCustomerIds:
    @pytest.mark.parametrize("path", ["/v1/reports/access?customer=", "/v1/reports/access"])
    async def test_a_missing_id_is_required(
        self, gateway: Harness, admin: dict[str, str], path: str
    ) -> None:
        doc = await problem(gateway, path, admin)
        assert (doc["parameter"], doc["detail"]) == (
            "customer", "customer (the store's customer id) is required")

    @pytest.mark.parametrize("path", [f"/v1/reports/access?customer={LONG_ID}",
                                      f"/v1/review/entries?customer={LONG_ID}"])
    async def test_an_over_long_id_is_said_to_be_too_long(
        self, gateway: Harness, admin: dict[str, str], path: str
    ) -> None:
        """An id over 200 characters is refused as too long (not as missing), alike by the
        search and the access report, and not echoed."""
        doc = await problem(gateway, path, admin)
        assert (doc["parameter"], doc["detail"]) == (
            "customer", "customer is longer than 200 characters")
        assert LONG_ID not in str(doc)

    async def test_the_access_page_says_so(
        self, gateway: Harness, admin: dict[str, str]
    ) -> None:
        status, page, _ = await call(gateway, "GET", f"/review/access?customer={LONG_ID}",
                                     headers=cookie_of(admin))
        assert status == 400
        assert b"customer is longer than 200 characters" in page
        assert LONG_ID.encode() not in page
