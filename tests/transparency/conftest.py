"""A running gateway with a record of a few hundred entries, helpers that read the record file
directly (to recompute what the gateway publishes without its code) and run the CLI as a
separate process while the gateway keeps serving."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.http.app import RECORD
from gateway.record import Draft, Kind
from tests.cli import arun
from tests.conftest import Harness, order_event, run_gateway


def leaf(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes, written out from the RFC (split at the largest power of
    two below n)."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def bodies(path: Path) -> list[bytes]:
    """Every entry's body in the record file, in position order."""
    db = sqlite3.connect(path)
    try:
        return [bytes(r[0]) for r in db.execute("SELECT body FROM entries ORDER BY seq")]
    finally:
        db.close()


async def fill(gw: Harness, n: int) -> None:
    """``n`` more entries (review reads naming no customer), committed, then a checkpoint."""
    record = gw.app[RECORD]
    await asyncio.gather(*(record.append(Draft(kind=Kind.REVIEW, data={"by": "filler", "n": i}))
                           for i in range(n)))
    await record.checkpoint()


async def cli(*args: str) -> tuple[int, str, str]:
    """``gateway ARGS`` (the event loop keeps serving meanwhile)."""
    ran = await arun(*args)
    return ran.returncode, ran.stdout, ran.stderr


@pytest.fixture
async def published(tmp_path: Path, carrier_env: None) -> AsyncIterator[Harness]:
    """A gateway whose record holds one booking of the canary customer and 300 more entries."""
    async with run_gateway(tmp_path) as gw:
        status, _, _ = await gw.post(order_event("posti", "home_delivery"))
        assert status == 201
        await fill(gw, 300)
        yield gw
