"""The review pages in a real headless Chromium (Debian's, driven by Playwright): log in,
search a customer, open an entry with its proof verified, produce the access report."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.http.app import RECORD
from tests.browser import SCREENSHOTS, browser  # noqa: F401 - the fixture
from tests.conftest import CANARY_CUSTOMER, CANARY_FIELDS, STAFF_PASSWORD, Harness
from tests.review.conftest import ship


@pytest.fixture
async def reviewed(gateway: Harness) -> Harness:
    await ship(gateway, order_id="J-WEB-1")
    await ship(gateway, order_id="J-WEB-2", service="pickup_point", pickup_point_id="PP-9")
    await ship(gateway, order_id="J-WEB-3", customer="CUST-SOMEONE-ELSE")
    await gateway.app[RECORD].checkpoint()
    await gateway.add_staff("rea", "reviewer")
    return gateway


async def test_a_reviewer_logs_in_searches_opens_an_entry_and_reports(
    reviewed: Harness, browser: Any  # noqa: ANN401
) -> None:
    """The whole review path in a browser: the login form, a customer search with the values
    shown, an entry whose inclusion proof is verified, the printable access report, the
    transparency charts and the checkpoint status."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(reviewed.url + "/review/search")
    assert page.url.startswith(reviewed.url + "/review/login")
    await page.fill("input[name=username]", "rea")
    await page.fill("input[name=password]", STAFF_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(reviewed.url + "/review/search")

    await page.fill("input[name=customer]", CANARY_CUSTOMER["id"])
    await page.click("button[name=go]")
    await page.wait_for_selector("#results")
    rows = await page.locator("#results tbody tr").all_inner_texts()
    assert len(rows) == 4
    table = "\n".join(rows)
    assert "J-WEB-1" in table
    assert "J-WEB-3" not in table
    assert CANARY_FIELDS["name"] in table
    await page.screenshot(path=str(SCREENSHOTS / "gateway-review-search.png"), full_page=True)

    await page.locator("#results tbody tr").last.locator("a").click()
    await page.wait_for_selector("#proof-status")
    assert "Verified" in await page.inner_text("#proof-status")
    assert "J-WEB-1" in await page.inner_text("main")
    await page.screenshot(path=str(SCREENSHOTS / "gateway-review-entry.png"), full_page=True)

    await page.click("text=Access report")
    await page.fill("input[name=customer]", CANARY_CUSTOMER["id"])
    await page.select_option("select[name=lang]", "en")
    await page.click("button.primary")
    await page.wait_for_selector("#recipients")
    recipients = await page.inner_text("#recipients")
    assert "Posti Oy" in recipients
    assert "name, street address, postal code, town, country, phone number" in recipients
    assert "Office of the Data Protection Ombudsman" in await page.inner_text("#complaint")
    assert "J-WEB-3" not in await page.inner_text("main")
    await page.screenshot(path=str(SCREENSHOTS / "gateway-review-access.png"), full_page=True)

    await page.click("text=Transparency")
    await page.wait_for_selector("svg.chart")
    assert "posti" in await page.inner_text("main")
    await page.screenshot(path=str(SCREENSHOTS / "gateway-review-transparency.png"),
                          full_page=True)
    await page.click("text=Checkpoint")
    assert "Signature verified" in await page.inner_text("#checkpoint-status")

    cookies = await page.context.cookies()
    (session,) = [c for c in cookies if c["name"] == "gateway_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    await page.click("text=Log out")
    await page.wait_for_url(reviewed.url + "/review/login")
