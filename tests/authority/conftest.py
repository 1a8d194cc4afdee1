"""Authority-request tests: a gateway whose clock the test moves (through ``create_app``'s
clock seam), the intake form, and the record's authority entries."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import CANARY_CUSTOMER, Harness, run_gateway


class Clock:
    """The gateway's clock in a test: starts at the real time (so signed hooks are fresh) and
    moves only when the test moves it."""

    def __init__(self) -> None:
        self.at = time.time()

    def __call__(self) -> float:
        return self.at

    def advance(self, *, days: float) -> None:
        self.at += days * 86400

    def today(self) -> date:
        return datetime.fromtimestamp(self.at, UTC).date()

    def day(self, offset: int) -> str:
        """The date ``offset`` days from the clock's today, as YYYY-MM-DD."""
        return (self.today() + timedelta(days=offset)).isoformat()

    def iso(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def gateway(tmp_path: Path, carrier_env: None, clock: Clock) -> AsyncIterator[Harness]:
    async with run_gateway(tmp_path, clock=clock) as harness:
        yield harness


def form(clock: Clock, **change: Any) -> dict[str, Any]:  # noqa: ANN401
    """A police request for the canary customer's name, phone and deliveries."""
    return {
        "authority": "poliisi-sisa-suomi",
        "officer": "Anna Virtanen", "rank": "rikoskomisario", "received_via": "e-mail",
        "reference": "5500/R/12345/26",
        "legal_basis": "Police Act 872/2011, chapter 4, section 3",
        "kind": "production",
        "customers": [CANARY_CUSTOMER["id"]],
        "categories": ["name", "phone", "deliveries"],
        "deadline": clock.day(14),
        **change,
    }


def record_entries(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        return [orjson.loads(b) for (b,) in conn.execute("SELECT body FROM entries ORDER BY seq")]


def authority_trail(db: Path, request_id: str) -> list[tuple[str, str | None]]:
    """(kind, who) of every entry about one request, in record order: its steps, and the
    recorded reads of its package."""
    trail = []
    for e in record_entries(db):
        data = e["data"]
        if e["kind"].startswith("authority.") and (
                e["disclosure"] or "").split(":")[0] == request_id:
            trail.append((e["kind"], data.get("by", data.get("received_by"))))
        elif e["kind"] == "review.read" and data.get("request") == request_id:
            trail.append((f"review.read:{data['what']}", data["by"]))
    return trail
