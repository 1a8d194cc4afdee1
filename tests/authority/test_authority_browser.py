"""The authority-request pages in a real headless Chromium (Debian's, driven by Playwright):
an intake officer takes a request in through the form, an approver approves it and produces
the package, which downloads with the hash the record holds."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from tests.authority.conftest import Clock, authority_trail
from tests.browser import SCREENSHOTS, browser  # noqa: F401 - the fixture
from tests.conftest import CANARY_CUSTOMER, CANARY_FIELDS, STAFF_PASSWORD, Harness
from tests.review.conftest import ship


async def log_in(page: Any, gateway: Harness, username: str, target: str) -> None:  # noqa: ANN401
    await page.goto(gateway.url + target)
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", STAFF_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(gateway.url + target)


async def test_intake_by_one_person_and_approval_by_another(
    gateway: Harness, browser: Any, clock: Clock  # noqa: ANN401
) -> None:
    """olli fills in the intake form (first without the legal basis, which is refused naming
    the field and keeps what he typed), sees no approve button on his request; ada finds it
    in the deadline list, approves it, produces the package and downloads it."""
    await ship(gateway, order_id="J-WEB-A")
    await gateway.add_staff("olli", "intake_officer")
    await gateway.add_staff("ada", "approver")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await log_in(page, gateway, "olli", "/review/authority")
    await page.click("#new-request")
    assert "stays in the record for good" in await page.inner_text("#no-customer-data")
    await page.select_option("select[name=authority]", "poliisi-sisa-suomi")
    await page.fill("input[name=officer]", "Anna Virtanen")
    await page.fill("input[name=rank]", "rikoskomisario")
    await page.select_option("select[name=received_via]", "letter")
    await page.fill("input[name=reference]", "5500/R/4242/26")
    await page.select_option("select[name=kind]", "production")
    await page.fill("input[name=deadline]", clock.day(2))
    await page.fill("textarea[name=customers]", CANARY_CUSTOMER["id"])
    await page.check("input[name=categories][value=name]")
    await page.check("input[name=categories][value=deliveries]")
    await page.click("button[type=submit]:has-text('Take in')")
    assert "legal_basis is required" in await page.inner_text("#form-error")
    assert await page.input_value("input[name=reference]") == "5500/R/4242/26"
    assert await page.is_checked("input[name=categories][value=deliveries]")
    await page.fill("input[name=legal_basis]", "Police Act 872/2011, chapter 4, section 3")
    await page.click("button[type=submit]:has-text('Take in')")
    await page.wait_for_selector("#state")
    assert await page.inner_text("#state") == "received"
    request_id = page.url.rsplit("/", 1)[1]
    assert await page.locator("#approve").count() == 0
    await page.screenshot(path=str(SCREENSHOTS / "gateway-authority-received.png"),
                          full_page=True)
    await page.click("text=Log out")

    await log_in(page, gateway, "ada", "/review/authority")
    row = page.locator("#requests tbody tr", has_text=request_id)
    assert "due soon" in await row.inner_text()
    await page.screenshot(path=str(SCREENSHOTS / "gateway-authority-list.png"), full_page=True)
    await row.locator("a").click()
    await page.click("#approve")
    await page.wait_for_selector("#decided")
    assert await page.inner_text("#state") == "approved"
    assert "ada" in await page.inner_text("#decided")
    await page.click("#disclose")
    await page.wait_for_selector("#package-sha256")
    digest = await page.inner_text("#package-sha256")
    async with page.expect_download() as info:
        await page.click("#package")
    download = await info.value
    content = Path(await download.path()).read_bytes()
    assert hashlib.sha256(content).hexdigest() == digest
    (customer,) = orjson.loads(content)["customers"]
    assert set(customer["data"]) == {"name", "deliveries"}
    assert [n["value"] for n in customer["data"]["name"]] == [CANARY_FIELDS["name"]]
    await page.screenshot(path=str(SCREENSHOTS / "gateway-authority-disclosed.png"),
                          full_page=True)
    await page.click("#close")
    await page.wait_for_selector("#state")
    assert await page.inner_text("#state") == "closed"
    assert authority_trail(gateway.config.record.path, request_id) == [
        ("authority.received", "olli"), ("authority.approved", "ada"),
        ("authority.intent", "ada"), ("authority.disclosure", "ada"),
        ("review.read:authority_package", "ada"), ("authority.closed", "ada")]
