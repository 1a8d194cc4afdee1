"""Logins under load, over HTTP against a running gateway: the account throttle holds whatever
the concurrency, logins beyond the password pool are refused at once (429 with Retry-After, per
address and overall), and order hooks are answered while logins wait.

Each client below connects from its own loopback address (127.0.0.0/8 is all loopback), as
separate machines would; the gateway tells clients apart by their remote address."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
import pytest

from gateway.http.access import STAFF
from gateway.http.problems import PROBLEM_TYPE
from gateway.staff.accounts import LOGIN_FAILURES, LOGIN_WINDOW
from gateway.staff.logins import NICE, THREAD_PREFIX, LoginLimits, default_workers
from tests.conftest import STAFF_PASSWORD, Harness, run_gateway
from tests.review.conftest import ship

#: Smaller than the shipped limits, so a flood fills them with fewer slow checks.
LIMITS = LoginLimits(workers=2, waiting=4, per_client=2)
WRONG = "not the right passphrase"


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def gateway(tmp_path: Path, carrier_env: None, clock: Clock) -> AsyncIterator[Harness]:
    """A gateway with LIMITS, signing a checkpoint after every commit (so an order hook waits
    for the checkpoint's file write whenever it commits)."""

    def change(raw: dict[str, Any]) -> None:
        raw["record"]["checkpoint_interval"] = 0.01
        raw["logins"] = attrs.asdict(LIMITS)

    async with run_gateway(tmp_path, change, clock=clock) as harness:
        yield harness


def address(n: int) -> str:
    return f"127.0.{n // 250}.{n % 250 + 2}"


class Answer:
    def __init__(self, status: int, body: bytes, headers: Any) -> None:  # noqa: ANN401
        self.status = status
        self.body = body
        self.content_type = headers.get("Content-Type", "")
        self.retry_after = headers.get("Retry-After")
        self.at = time.monotonic()

    @property
    def problem(self) -> dict[str, Any]:
        assert self.content_type.startswith(PROBLEM_TYPE), self.content_type
        doc: dict[str, Any] = orjson.loads(self.body)
        return doc


async def login_from(gateway: Harness, client: int, username: str,
                     password: str = WRONG) -> Answer:
    """POST /v1/session from loopback address number ``client``."""
    connector = aiohttp.TCPConnector(local_addr=(address(client), 0))
    async with aiohttp.ClientSession(connector=connector) as http, http.post(
            gateway.url + "/v1/session", json={"username": username, "password": password},
    ) as resp:
        return Answer(resp.status, await resp.read(), resp.headers)


async def form_login_from(gateway: Harness, client: int, username: str,
                          password: str = WRONG) -> Answer:
    """The login page's form, fetched and posted from loopback address number ``client``."""
    connector = aiohttp.TCPConnector(local_addr=(address(client), 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(gateway.url + "/review/login") as form:
            token = form.cookies["gateway_login"].value
        async with http.post(gateway.url + "/review/login", allow_redirects=False,
                             headers={"Cookie": f"gateway_login={token}"},
                             data={"csrf": token, "username": username,
                                   "password": password}) as resp:
            return Answer(resp.status, await resp.read(), resp.headers)


def assert_refused(answer: Answer, *, at_most: float) -> None:
    assert answer.status == 429
    assert answer.retry_after is not None
    assert 1 <= int(answer.retry_after) <= at_most


def password_threads() -> set[int | None]:
    return {t.ident for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)}


class TestAccountThrottle:
    async def test_parallel_wrong_passwords_are_checked_at_most_five_times(
            self, gateway: Harness, clock: Clock) -> None:
        """60 wrong passwords for one account sent at once, each from its own address: five
        are checked (401), the other 55 are refused before any hashing (429 problem with
        Retry-After); the right password is refused too until the window has passed."""
        await gateway.add_staff("ritva", "reviewer")
        answers = await asyncio.gather(*(login_from(gateway, n, "ritva") for n in range(60)))
        statuses = [a.status for a in answers]
        assert statuses.count(401) == LOGIN_FAILURES
        assert statuses.count(429) == 60 - LOGIN_FAILURES
        for refused in (a for a in answers if a.status == 429):
            assert_refused(refused, at_most=LOGIN_WINDOW)
            assert refused.problem["status"] == 429
            assert "account" in refused.problem["detail"]
        assert (await login_from(gateway, 99, "ritva", STAFF_PASSWORD)).status == 429
        clock.offset += LOGIN_WINDOW + 1
        assert (await login_from(gateway, 99, "ritva", STAFF_PASSWORD)).status == 201

    async def test_the_login_form_counts_attempts_before_checking(self, gateway: Harness,
                                                                 ) -> None:
        """The same through the login page: at most five of 20 concurrent wrong passwords
        are checked; the rest get the form again with 429 and Retry-After."""
        await gateway.add_staff("olli", "reviewer")
        answers = await asyncio.gather(*(form_login_from(gateway, n, "olli") for n in range(20)))
        statuses = [a.status for a in answers]
        assert statuses.count(401) == LOGIN_FAILURES
        assert statuses.count(429) == 20 - LOGIN_FAILURES
        for refused in (a for a in answers if a.status == 429):
            assert_refused(refused, at_most=LOGIN_WINDOW)
            assert refused.content_type.startswith("text/html")
            assert b"Too many failed logins for this account" in refused.body


class TestLoginFlood:
    async def test_order_hooks_are_answered_while_logins_queue(self, gateway: Harness) -> None:
        """100 logins with made-up usernames at once, twenty from each of five addresses: each
        address gets its share and the pool its bound, the rest are refused at once (429 with
        Retry-After); order hooks sent meanwhile are answered while admitted logins still wait
        for the password pool, whose threads never exceed its bound."""
        refused = asyncio.Event()
        threads: list[int] = []
        others = password_threads()  # idle ones of Staff objects made outside the server

        async def anonymous(n: int) -> Answer:
            answer = await login_from(gateway, n % 5, f"nobody-{uuid.uuid4().hex[:10]}")
            if answer.status == 429:
                refused.set()
            return answer

        async def watch() -> None:
            while True:
                threads.append(len(password_threads() - others))
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        flood = [asyncio.create_task(anonymous(n)) for n in range(100)]
        await asyncio.wait_for(refused.wait(), timeout=30)
        hooks = [await ship(gateway, order_id=f"O-FLOOD-{n}") for n in range(3)]
        hooks_done = time.monotonic()
        answers = await asyncio.gather(*flood)
        watcher.cancel()

        assert all(h["disclosure_id"] for h in hooks)
        checked = [a for a in answers if a.status == 401]
        assert 0 < len(checked) <= LIMITS.workers + LIMITS.waiting
        assert sum(a.at > hooks_done for a in checked) > LIMITS.workers, \
            "the hooks waited for the queued logins"
        rejected = [a for a in answers if a.status == 429]
        assert len(rejected) == 100 - len(checked)
        details = set()
        for answer in rejected:
            assert_refused(answer, at_most=60)
            details.add(answer.problem["detail"])
        assert any("address" in d for d in details)  # per client
        assert any("address" not in d for d in details)  # overall
        assert 1 <= max(threads) <= LIMITS.workers
        assert gateway.app[STAFF].pool.in_flight == 0

    async def test_one_address_gets_only_its_share(self, gateway: Harness) -> None:
        """Logins from one address beyond its share are refused at once, while another
        address's login is still taken in and checked."""
        refused = asyncio.Event()

        async def anonymous() -> Answer:
            answer = await login_from(gateway, 1, f"nobody-{uuid.uuid4().hex[:10]}")
            if answer.status == 429:
                refused.set()
            return answer

        flood = [asyncio.create_task(anonymous()) for _ in range(20)]
        await asyncio.wait_for(refused.wait(), timeout=30)
        other = await login_from(gateway, 2, "somebody")
        answers = await asyncio.gather(*flood)
        assert other.status == 401
        rejected = [a for a in answers if a.status == 429]
        assert len(rejected) >= 20 - 2 * LIMITS.per_client
        assert all("address" in a.problem["detail"] for a in rejected)
        assert all(a.status in (401, 429) for a in answers)

    async def test_the_right_password_is_never_refused_as_wrong_during_a_flood(
            self, gateway: Harness) -> None:
        """While 40 clients on five addresses keep wrong logins coming (as the bench's flood
        does: each resent once answered, after its Retry-After), a member on an address of
        their own who waits out each Retry-After is only ever told 429 with Retry-After or let
        in (201), never told the password is wrong; once the flood ends they get in at the
        next try. The flood's answers are 401 or 429 with Retry-After. (Places are not shared
        out fairly between addresses: a flood from enough of them can keep a member waiting
        while it lasts.)"""
        await gateway.add_staff("ritva", "reviewer")
        done = asyncio.Event()
        flooded: list[Answer] = []

        async def flood(n: int) -> None:
            while not done.is_set():
                answer = await login_from(gateway, n % 5, f"nobody-{uuid.uuid4().hex[:10]}")
                flooded.append(answer)
                if answer.retry_after is not None:
                    await asyncio.sleep(min(int(answer.retry_after), 3))

        flooding = [asyncio.create_task(flood(n)) for n in range(40)]
        await asyncio.sleep(0.5)  # the pool full and its queue standing
        answers: list[Answer] = []
        try:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                answers.append(await login_from(gateway, 77, "ritva", STAFF_PASSWORD))
                if answers[-1].status != 429:
                    break
                assert_refused(answers[-1], at_most=60)
                await asyncio.sleep(0.5)
        finally:
            done.set()
            await asyncio.gather(*flooding)
        assert {a.status for a in answers} <= {429, 201}
        if answers[-1].status != 201:
            answers.append(await login_from(gateway, 77, "ritva", STAFF_PASSWORD))
        assert answers[-1].status == 201
        assert orjson.loads(answers[-1].body)["username"] == "ritva"
        assert {a.status for a in flooded} == {401, 429}
        for refused in (a for a in flooded if a.status == 429):
            assert_refused(refused, at_most=60)
        assert gateway.app[STAFF].pool.in_flight == 0


class TestPasswordThreads:
    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values")
    async def test_checks_run_at_a_lower_priority(self, gateway: Harness) -> None:
        """The gateway's password threads run at nice 10 under the ordinary policy (a
        check still gets a share of a busy core); the event loop's thread keeps its own."""
        pool = gateway.app[STAFF].pool

        def own() -> tuple[int, int]:
            tid = threading.get_native_id()
            return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)

        assert await pool.run(own) == (os.SCHED_OTHER, NICE)
        assert own()[1] == os.getpriority(os.PRIO_PROCESS, 0)

    def test_by_default_one_core_is_left_to_the_rest(self) -> None:
        """Unless configured, the pool has one thread fewer than the cores the process may
        use, at least one and at most two."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        assert default_workers() == {1: 1, 2: 1}.get(cores, 2)
        assert LoginLimits().workers == default_workers()
