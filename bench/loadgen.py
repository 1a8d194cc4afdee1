"""The load generator, run in its own process:

    python -m bench.loadgen URL --secret FILE closed --concurrency 64 --warmup 3 --duration 10
    python -m bench.loadgen URL --secret FILE open --rate 400 --warmup 3 --duration 10

``closed``: a fixed number of connections, each sending its next hook when the last is
answered; the rate is whatever the server sustains (saturation). ``open``: hooks go out on a
fixed schedule whatever the server does, and each latency is measured from the time the hook
was *scheduled*, so a server that falls behind is charged for the queue it builds (no
coordinated omission).

Only hooks sent (closed) or scheduled (open) in the measurement window, after the warm-up, are
counted. The window's start and end are printed as ``MEASURE START`` / ``MEASURE END`` lines the
moment they happen, so the caller can read the servers' CPU counters at the same instants; the
result follows as one JSON line. Every loop is bounded by count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.orders import Hooks
from gateway.operations.signature import HookSecret

#: Hard bounds whatever the arguments say.
MAX_REQUESTS = 200_000
MAX_SECONDS = 120.0
#: How long to wait for answers still outstanding once sending has stopped.
GRACE = 10.0


class Tally:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.completed_in_window = 0
        self.sent = 0

    def add(self, scheduled: float, done: float, status: str) -> None:
        if self.start <= scheduled < self.end:
            self.latencies.append(done - scheduled)
            self.statuses[status] += 1
        if self.start <= done < self.end and status == "201":
            self.completed_in_window += 1

    def result(self, mode: str) -> dict[str, Any]:
        window = self.end - self.start
        lat = sorted(self.latencies)
        timeouts = self.statuses.get("timeout", 0)
        ok = self.statuses.get("201", 0)

        def pct(q: float) -> float | None:
            if not lat:
                return None
            value = lat[min(len(lat) - 1, math.ceil(q * len(lat)) - 1)]
            return None if math.isinf(value) else value * 1000

        return {
            "mode": mode, "window_s": window, "sent_total": self.sent,
            "counted": len(lat), "ok": ok, "timeouts": timeouts,
            "statuses": dict(self.statuses),
            "rps": self.completed_in_window / window,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "p999_ms": pct(0.999),
            "max_ms": pct(1.0),
        }


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


#: Every time is taken from this clock (uvloop's loop.time() only counts milliseconds).
clock = time.perf_counter


def _marks(loop: asyncio.AbstractEventLoop, start: float, end: float) -> None:
    loop.call_later(start - clock(), _say, "MEASURE START")
    loop.call_later(end - clock(), _say, "MEASURE END")


async def _send(http: aiohttp.ClientSession, url: str, hooks: Hooks) -> str:
    body, headers = hooks.next()
    try:
        async with http.post(url, data=body, headers=headers) as resp:
            await resp.read()
            return str(resp.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def closed(url: str, hooks: Hooks, *, concurrency: int, warmup: float,
                 duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    t0 = clock() + 0.05
    tally = Tally(t0 + warmup, t0 + warmup + duration)
    _marks(loop, tally.start, tally.end)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=GRACE)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.sleep(max(0.0, t0 - clock()))

        async def worker() -> None:
            while clock() < tally.end and tally.sent < MAX_REQUESTS:
                tally.sent += 1
                sent = clock()
                status = await _send(http, url, hooks)
                tally.add(sent, clock(), status)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally.result("closed")


async def open_loop(
        url: str, hooks: Hooks, *, rate: float, warmup: float, duration: float,
                    connections: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    t0 = clock() + 0.05
    tally = Tally(t0 + warmup, t0 + warmup + duration)
    total = min(MAX_REQUESTS, int(rate * (warmup + duration)))
    _marks(loop, tally.start, tally.end)
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=GRACE + warmup + duration)
    pending: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(scheduled: float) -> None:
            try:
                status = await _send(http, url, hooks)
            except asyncio.CancelledError:
                # Still unanswered GRACE seconds after the schedule ended: a timeout, counted
                # with an infinite latency.
                tally.add(scheduled, math.inf, "timeout")
                raise
            tally.add(scheduled, clock(), status)

        i = 0
        while i < total:
            due = t0 + i / rate
            now = clock()
            if due > now:
                await asyncio.sleep(due - now)
                now = clock()
            while i < total and t0 + i / rate <= now:  # catch up on everything now due
                task = asyncio.create_task(one(t0 + i / rate))
                pending.add(task)
                task.add_done_callback(pending.discard)
                tally.sent += 1
                i += 1
        await asyncio.sleep(max(0.0, tally.end - clock() + 0.001))  # the window's end mark
        if pending:
            _, late = await asyncio.wait(pending, timeout=GRACE)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
    return tally.result("open")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen")
    p.add_argument("url")
    p.add_argument("--secret", type=Path, required=True, help="the hook secret file")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    sub = p.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("closed")
    c.add_argument("--concurrency", type=int, default=64)
    o = sub.add_parser("open")
    o.add_argument("--rate", type=float, required=True)
    o.add_argument("--connections", type=int, default=256)
    args = p.parse_args(argv)
    if args.warmup + args.duration > MAX_SECONDS:
        p.error(f"warm-up plus duration must stay under {MAX_SECONDS} s")
    keys = args.secret.read_text().replace(",", " ").split()
    secret = next(HookSecret.from_string(v) for v in keys if not v.startswith("whpk_"))
    hooks = Hooks(secret, run=os.urandom(4).hex())
    if args.mode == "closed":
        job = closed(args.url, hooks, concurrency=args.concurrency, warmup=args.warmup,
                     duration=args.duration)
    else:
        job = open_loop(args.url, hooks, rate=args.rate, warmup=args.warmup,
                        duration=args.duration, connections=args.connections)
    if args.uvloop:
        import uvloop  # noqa: PLC0415 - optional, from the bench extra

        result = uvloop.run(job)
    else:
        result = asyncio.run(job)
    _say(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
