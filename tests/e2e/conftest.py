"""A live gateway on its own event loop in a thread, shared by a module's synchronous
property tests (hypothesis, schemathesis)."""

from __future__ import annotations

import asyncio
import os
import threading
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

from gateway.demo import sandbox_credentials
from tests.conftest import ROOT, Harness, run_gateway


class LiveGateway:
    """A gateway and its sandboxes on their own event loop in a thread, for synchronous
    property tests."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = asyncio.Event()
        self.tmp = tmp
        self.harness: Harness | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.close()

    async def _serve(self) -> None:
        self.stop = asyncio.Event()
        async with run_gateway(self.tmp) as harness:
            self.harness = harness
            self.ready.set()
            await self.stop.wait()

    def __enter__(self) -> Self:
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        assert self.harness is not None
        request = urllib.request.Request(self.harness.url + "/v1/hooks/orders", data=body,  # noqa: S310 - http:// to the test's own server
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def booked(self) -> int:
        assert self.harness is not None
        return sum(len(self.harness.bookings(name)) for name in self.harness.sandboxes)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    saved = dict(os.environ)
    os.environ.update(sandbox_credentials(raw))
    try:
        with LiveGateway(tmp_path_factory.mktemp("live")) as gateway:
            yield gateway
    finally:
        os.environ.clear()
        os.environ.update(saved)
