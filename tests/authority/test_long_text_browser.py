"""Long unbroken staff-entered text in a real headless Chromium: a 500-character authority
name and reference wrap inside the pages instead of widening them past the window."""

from __future__ import annotations

from typing import Any

from tests.authority.conftest import Clock, form
from tests.authority.test_authority_browser import log_in
from tests.authority.test_http import take_in
from tests.browser import SCREENSHOTS, browser  # noqa: F401 - the fixture
from tests.conftest import Harness

WIDTH = 1280


async def test_a_500_character_name_wraps_on_every_page(
    gateway: Harness, browser: Any, clock: Clock  # noqa: ANN401
) -> None:
    """The request list, the request's page and the search page listing its intake all fit
    the window's width."""
    await gateway.add_staff("olli", "intake_officer")
    await gateway.add_staff("dpo", "admin")
    name = "Poliisi" + "X" * 493
    view = await take_in(gateway, await gateway.login("olli"),
                         form(clock, authority=name, reference="R" * 500))
    page = await browser.new_page(viewport={"width": WIDTH, "height": 900})
    await log_in(page, gateway, "dpo", "/review/authority")
    for path in ("/review/authority", f"/review/authority/{view['id']}",
                 "/review/search?go=1&kind=authority.received"):
        await page.goto(gateway.url + path)
        assert name in await page.content(), path
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, (path, width)
    await page.screenshot(path=str(SCREENSHOTS / "gateway-long-name.png"), full_page=True)
