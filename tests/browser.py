"""What the page tests share: Debian's Chromium (/usr/bin/chromium, installed by scripts/test)
driven by Playwright, never a downloaded browser build. Importing this module skips the
importing test module where Chromium is missing outside CI; in CI a missing browser fails."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Where the tests leave screenshots of the pages they drove.
SCREENSHOTS = Path(os.environ.get("GATEWAY_SCREENSHOTS", "/tmp"))  # noqa: S108

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed at /usr/bin/chromium (scripts/test installs it)",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.async_api") if not os.environ.get("CI") else (
    __import__("playwright.async_api", fromlist=["async_playwright"]))


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
