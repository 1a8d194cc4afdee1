"""Local sandboxes that speak each carrier's real API shape, for tests and the demo.

``run_sandbox(name)`` serves one on 127.0.0.1 (port 0 picks a free port) and yields its base
URL, the value an adapter's ``base_url`` takes, and the application (for ``RECEIVED`` and
``CONTROL``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiohttp import web

from carriers.sandbox import budbee, dhl_express, matkahuolto, posti, postnord
from carriers.sandbox._core import BOOKINGS as BOOKINGS
from carriers.sandbox._core import CANCELLED as CANCELLED
from carriers.sandbox._core import CONTROL as CONTROL
from carriers.sandbox._core import RECEIVED as RECEIVED
from carriers.sandbox._core import Control as Control
from carriers.sandbox._core import Received as Received

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

__all__ = [
    "BASE_PATHS", "BOOKINGS", "CANCELLED", "CONTROL", "RECEIVED", "SANDBOXES", "Control",
    "Received", "run_sandbox",
]  # fmt: skip

SANDBOXES: dict[str, Callable[..., web.Application]] = {
    "posti": posti.create_app,
    "matkahuolto": matkahuolto.create_app,
    "postnord": postnord.create_app,
    "dhl_express": dhl_express.create_app,
    "budbee": budbee.create_app,
}

#: Path under the host where each carrier's API lives (the adapter's base_url ends with it).
BASE_PATHS: Mapping[str, str] = {
    "posti": posti.BASE_PATH,
    "matkahuolto": matkahuolto.BASE_PATH,
    "postnord": postnord.BASE_PATH,
    "dhl_express": dhl_express.BASE_PATH,
    "budbee": budbee.BASE_PATH,
}


@asynccontextmanager
async def run_sandbox(
    name: str,
    *,
    credentials: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[tuple[str, web.Application]]:
    """Serve the ``name`` sandbox; yield (base_url, app).

    ``credentials`` (by the adapter's credential names) are what the sandbox accepts; by
    default those in carriers.sandbox.credentials. Port 0 picks a free port.
    """
    app = SANDBOXES[name](**(credentials or {}))
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        real_port = runner.addresses[0][1]
        yield f"http://{host}:{real_port}{BASE_PATHS[name]}", app
    finally:
        await runner.cleanup()
