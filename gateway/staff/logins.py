"""Logins' share of the machine: password checks on a small pool of their own, and logins beyond
it refused before any work.

A password check is scrypt at N = 2**17: 128 MiB and a few hundred milliseconds of one core.
Checks run on ``workers`` threads of their own (by default one fewer than the cores the process
may use, at least one and at most two), so at most ``workers`` x 128 MiB at once, and never on
the event loop's default executor; nothing else runs on them, and the record writer and the
inclusion proofs each have their own threads, so order hooks never wait on logins. The threads
run at nice 10 (Linux): the gateway's other threads get most of a shared core, yet a check still
gets about a tenth of a core that is kept busy, so staff can log in on a loaded machine.

A login takes a place in flight (checking, or waiting for a thread) only while fewer than
``workers + waiting`` logins are in flight overall and fewer than ``per_client`` from its client
(the remote address); otherwise it is refused at once with ``TooManyRequests`` (429 and
Retry-After), before the store is read or anything is hashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

import attrs

from gateway.errors import TooManyRequests

T = TypeVar("T")

#: Names of the pool's threads (``password_0``, ``password_1``, ...).
THREAD_PREFIX: Final = "password"


#: Password threads at most unless configured: their memory (128 MiB each) stays bounded
#: however many cores the machine has.
MAX_DEFAULT_WORKERS: Final = 2


def default_workers() -> int:
    """Password threads unless configured: one fewer than the cores this process may run on,
    at least one and at most MAX_DEFAULT_WORKERS, so on a small machine a flood of logins
    leaves a core (and its share of the memory bandwidth scrypt uses up) to order hooks."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity here (macOS)
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_WORKERS, cores - 1))


@attrs.frozen
class LoginLimits:
    """``[logins]`` in the config: threads checking passwords, logins waiting for one, and
    logins in flight per client address."""

    workers: int = attrs.field(factory=default_workers, validator=attrs.validators.ge(1))
    waiting: int = attrs.field(default=16, validator=attrs.validators.ge(0))
    per_client: int = attrs.field(default=4, validator=attrs.validators.ge(1))

    @property
    def in_flight(self) -> int:
        """Logins in flight at most: checking or waiting for a thread."""
        return self.workers + self.waiting


#: The pool's threads' nice value: below the event loop's, so hashing mostly takes the cores the
#: gateway leaves idle (Linux, where the nice value is a thread's own; elsewhere the threads keep
#: the process's). Not SCHED_IDLE: under it a check gets almost nothing (about 0.3% of a core)
#: while any other process keeps the cores busy, and a login then takes minutes.
NICE: Final = 10


def _yield_to_others() -> None:
    with contextlib.suppress(OSError, AttributeError):  # no per-thread priority here
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


class PasswordPool:
    """The threads that hash passwords, and the places of the logins in flight."""

    def __init__(self, limits: LoginLimits | None = None) -> None:
        self.limits = limits or LoginLimits()
        self._threads = ThreadPoolExecutor(max_workers=self.limits.workers,
                                           thread_name_prefix=THREAD_PREFIX,
                                           initializer=_yield_to_others)
        self._in_flight = 0
        self._by_client: dict[str, int] = {}
        #: How long the last check took (seconds): what a refused login is told to wait for.
        self._seconds = 0.5

    @property
    def in_flight(self) -> int:
        """Logins holding a place now."""
        return self._in_flight

    def retry_after(self) -> int:
        """Seconds until the logins in flight now have been checked, about."""
        return max(1, math.ceil(self._in_flight / self.limits.workers * self._seconds))

    @contextlib.asynccontextmanager
    async def place(self, client: str) -> AsyncIterator[None]:
        """A place among the logins in flight for ``client``, held for the block; refused at
        once (TooManyRequests) when the client's share or the pool's queue is full."""
        if self._by_client.get(client, 0) >= self.limits.per_client:
            raise TooManyRequests("too many logins from this address at once; try again "
                                  "shortly", retry_after=self.retry_after())
        if self._in_flight >= self.limits.in_flight:
            raise TooManyRequests("too many logins at once; try again shortly",
                                  retry_after=self.retry_after())
        self._in_flight += 1
        self._by_client[client] = self._by_client.get(client, 0) + 1
        try:
            yield
        finally:
            self._in_flight -= 1
            left = self._by_client.pop(client) - 1
            if left:
                self._by_client[client] = left

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        """``fn(*args)`` on the pool's threads. A caller cancelled while its work is already
        running still waits for it, so a place in flight is only given up by a finished check
        and the threads' queue never outgrows the places."""
        work: Future[T] = self._threads.submit(functools.partial(self._timed, fn, *args))
        waiting = asyncio.wrap_future(work)
        try:
            return await asyncio.shield(waiting)
        except asyncio.CancelledError:
            if not work.cancel():
                with contextlib.suppress(Exception):
                    await waiting
            raise

    def _timed(self, fn: Callable[..., T], *args: object) -> T:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._seconds = time.perf_counter() - started

    def close(self) -> None:
        """Drop the checks not started; those running end on their own."""
        self._threads.shutdown(wait=False, cancel_futures=True)
