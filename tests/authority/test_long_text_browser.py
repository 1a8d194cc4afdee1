"""Long unbroken text in a real headless Chromium: a 200-character configured authority name
and a 500-character reference wrap inside the pages instead of widening them past the
window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.authority.conftest import Clock, form
from tests.authority.test_authority_browser import log_in
from tests.authority.test_http import take_in
from tests.browser import SCREENSHOTS, browser  # noqa: F401 - the fixture
from tests.conftest import Harness, run_gateway

WIDTH = 1280


NAME = "Poliisi" + "X" * 193


def _long_name(raw: dict[str, Any]) -> None:
    raw["authorities"]["known"].append({"id": "long", "name": NAME, "type": "police"})


@pytest.fixture
async def gateway(tmp_path: Path, carrier_env: None, clock: Clock) -> AsyncIterator[Harness]:
    async with run_gateway(tmp_path, _long_name, clock=clock) as harness:
        yield harness


async def test_a_long_name_wraps_on_every_page(
    gateway: Harness, browser: Any, clock: Clock  # noqa: ANN401
) -> None:
    """The request list, the request's page and the search page listing its intake all fit
    the window's width."""
    await gateway.add_staff("olli", "intake_officer")
    await gateway.add_staff("dpo", "admin")
    name = NAME
    view = await take_in(gateway, await gateway.login("olli"),
                         form(clock, authority="long", reference="R" * 500))
    page = await browser.new_page(viewport={"width": WIDTH, "height": 900})
    await log_in(page, gateway, "dpo", "/review/authority")
    for path in ("/review/authority", f"/review/authority/{view['id']}",
                 "/review/search?go=1&kind=authority.received"):
        await page.goto(gateway.url + path)
        assert name in await page.content(), path
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, (path, width)
    await page.screenshot(path=str(SCREENSHOTS / "gateway-long-name.png"), full_page=True)
