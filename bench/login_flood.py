"""Order hooks during a login flood: signed hook latency (p50, p99) without and with 100
concurrent wrong logins, and the ratio (target: p99 under the flood within 2x unloaded).

    python -m bench.login_flood [--rate 50] [--logins 100] [--addresses 25] [--duration 10]

Each round starts from nothing: a fresh Posti sandbox and a fresh `gateway serve` (shipped
config.toml, its [logins] limits, a new SQLite record). Against it run ``--pairs`` pairs of
windows, one without and one with the flood, back to back. In each window the load generator
(bench/loadgen.py) sends signed `posti/pickup_point` hooks in an open loop at ``--rate`` per
second, latency from each hook's scheduled send time. In a flood window a second process keeps
``--logins``
connections each with one `POST /v1/session` in flight (a made-up username, a wrong password,
the next sent as soon as the last is answered, Retry-After ignored), spread over ``--addresses``
loopback addresses (127.0.1.x) so both the per-address and the overall bound are reached, and
the password pool stays busy the whole time; the window ends once each of its logins has been
answered, so the next window starts with no login in flight. Peak RSS is the server's VmHWM
after the flood window.

The ratio is taken per pair, its two windows a few seconds apart on the same server, in
alternating order from pair to pair (no flood first, then flood first, ...), so load from
elsewhere on the machine that comes and goes affects both sides of a ratio alike. The verdict
is the median of the pairs' ratios; the worst pair's is printed beside it.

``python -m bench.login_flood [--logins N --addresses N] flood URL --seconds S`` is that second
process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson

from bench import load, procs

TARGET_RATIO = 2.0
#: Hard bound on one flood process, whatever the arguments say.
MAX_SECONDS = 120.0


@attrs.frozen
class Phase:
    flood: bool
    p50: float | None
    p99: float | None
    ok: int
    counted: int
    statuses: dict[str, int]
    peak_rss_mb: float
    logins: dict[str, int]  # answers to the flood's logins, by status
    logins_per_s: float


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _start_gateway(directory: Path, posti_url: str, workers: int | None,
                   ) -> tuple[procs.Proc, str]:
    """`gateway serve` on the shipped config.toml; ``workers`` sets its [logins] workers."""
    port = procs.free_port()
    config, env = load.write_gateway_config(directory, posti_url, port)
    if workers is not None:
        text = re.sub(r"(?m)^#? ?workers = .*\n", "", config.read_text(encoding="utf-8"))
        text, n = re.subn(r"(?m)^\[logins\]\n", f"[logins]\nworkers = {workers}\n", text)
        if n != 1:
            raise RuntimeError("config.toml changed shape: no [logins] table")
        config.write_text(text, encoding="utf-8")
    proc = procs.python("gateway.cli", "--config", str(config), "serve", name="gateway",
                        log=directory / "gateway.log", env=env)
    url = f"http://127.0.0.1:{port}"
    procs.wait_healthy(proc, url + "/healthz")
    return proc, url


def window(base: str, directory: Path, *, flood: bool, args: argparse.Namespace) -> Phase:
    """Hooks at ``args.rate`` against the running gateway at ``base``, with or without the
    flood. The flood process ends once each of its logins has been answered, so when this
    returns no login is in flight any more and the next window starts from a drained pool."""
    loadgen = flooder = None
    try:
        if flood:
            flooder = procs.python(
                "bench.login_flood", "--logins", str(args.logins),
                "--addresses", str(args.addresses),
                *(["--ignore-retry-after"] if args.ignore_retry_after else []),
                "flood", base, "--seconds", str(args.warmup + args.duration + 2),
                name="login flood", stdout_pipe=True, log=directory / "flood.log")
            assert flooder.popen.stdout is not None
            if not flooder.popen.stdout.readline().startswith("FLOODING"):
                raise RuntimeError(f"the login flood did not start:\n{flooder.log_tail()}")
            time.sleep(1.0)  # the pool full and its queue standing before hooks start
        loadgen = procs.python(
            "bench.loadgen", f"{base}/v1/hooks/orders",
            "--secret", str(directory / "secrets" / "hook-secret"),
            "--warmup", str(args.warmup), "--duration", str(args.duration), "open",
            "--rate", f"{args.rate:.1f}",
            name="load generator", stdout_pipe=True, log=directory / "loadgen.log")
        assert loadgen.popen.stdout is not None
        result = _last_json(loadgen.popen.stdout.read())
        loadgen.popen.wait(30)
        flooded: dict[str, Any] | None = {"statuses": {}, "rate": 0.0}
        if flooder is not None:
            assert flooder.popen.stdout is not None
            flooded = _last_json(flooder.popen.stdout.read())
            flooder.popen.wait(30)
        if result is None or flooded is None:
            raise RuntimeError(f"a client failed:\n{loadgen.log_tail()}")
    finally:
        for proc in (flooder, loadgen):
            if proc is not None:
                proc.stop()
    return Phase(flood=flood, p50=result["p50_ms"], p99=result["p99_ms"], ok=result["ok"],
                 counted=result["counted"], statuses=result["statuses"], peak_rss_mb=0.0,
                 logins=flooded["statuses"], logins_per_s=flooded["rate"])


def one_round(n: int, args: argparse.Namespace) -> list[tuple[Phase, Phase]]:
    """A fresh sandbox and gateway, then ``args.pairs`` pairs of windows back to back, the
    quiet one first in every other pair; (no flood, flood) for each pair. The flood windows
    carry the server's peak RSS after them."""
    pairs = []
    with tempfile.TemporaryDirectory(prefix="bench-login-flood-") as tmp:
        directory = Path(tmp)
        sandbox, posti_url = procs.start_sandbox("posti")
        server = None
        try:
            server, base = _start_gateway(directory, posti_url, args.workers)
            for k in range(args.pairs):
                pair = {}
                for flood in (False, True) if (n + k) % 2 == 0 else (True, False):
                    _say(f"login flood bench, round {n + 1}, pair {k + 1}: hooks at "
                         f"{args.rate:g}/s {'with' if flood else 'without'} the flood")
                    pair[flood] = window(base, directory, flood=flood, args=args)
                    if flood:
                        pair[flood] = attrs.evolve(pair[flood], peak_rss_mb=server.peak_rss())
                    _say(f"  p50 {_ms(pair[flood].p50)} ms, p99 {_ms(pair[flood].p99)} ms")
                pairs.append((pair[False], pair[True]))
        finally:
            for proc in (server, sandbox):
                if proc is not None:
                    proc.stop()
    return pairs


def _last_json(text: str) -> dict[str, Any] | None:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return orjson.loads(lines[-1]) if lines else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _p99(p: Phase) -> float:
    return float("inf") if p.p99 is None else p.p99


def pair_ratio(quiet: Phase, flooded: Phase) -> float:
    """One pair's hook p99 with the flood over its p99 without."""
    return _p99(flooded) / _p99(quiet) if quiet.p99 else float("inf")


def p99_ratio(pairs: list[tuple[Phase, Phase]]) -> float:
    """The median over the pairs of each pair's p99 ratio (flood over no flood)."""
    return statistics.median(pair_ratio(q, f) for q, f in pairs)


def _median_phase(phases: list[Phase]) -> Phase:
    """The window with the median p99 (the lower middle one of an even count)."""
    return sorted(phases, key=_p99)[(len(phases) - 1) // 2]


def lines(pairs: list[tuple[Phase, Phase]], args: argparse.Namespace) -> list[str]:
    """The table: the window with the median p99 of each kind, the median and the worst of
    the pairs' ratios, every pair listed after them."""
    quiet = _median_phase([q for q, _ in pairs])
    flooded = _median_phase([f for _, f in pairs])
    ratios = [pair_ratio(q, f) for q, f in pairs]
    ratio = p99_ratio(pairs)
    answered = sum(flooded.logins.values())
    client = ("each refused login resent at once (Retry-After ignored)" if
              args.ignore_retry_after else "a refused login resent after its Retry-After")
    out = [
        (f"order hooks during a login flood: open loop {args.rate:g} signed hooks/s, "
         f"{args.warmup:g} s warm-up + {args.duration:g} s measured per window; flood: "
         f"{args.logins} connections from {args.addresses} loopback addresses, one login "
         f"(made-up username) in flight each, {client}; [logins] workers "
         f"{'as shipped' if args.workers is None else args.workers}; {args.rounds} fresh "
         f"gateway(s) x {args.pairs} pairs of windows back to back in alternating order, "
         f"median window of each kind shown; load average at start {args.load:.2f}"),
        f"{'window':<10} {'p50 ms':>8} {'p99 ms':>8} {'hooks ok':>9} {'peak RSS':>9}  logins",
    ]
    for name, p in (("no flood", quiet), ("flood", flooded)):
        extra = "" if not p.flood else (
            f"{answered} answered ({p.logins_per_s:.0f}/s): " + ", ".join(
                f"{n} x {s}" for s, n in sorted(p.logins.items())))
        rss = f"{p.peak_rss_mb:>6.0f} MB" if p.flood else f"{'-':>9}"
        out.append(f"{name:<10} {_ms(p.p50):>8} {_ms(p.p99):>8} {p.ok:>4}/{p.counted:<4} "
                   f"{rss}  {extra}")
    out.append(f"p99 flood/no flood, median of the pairs' ratios: {ratio:.2f}x, worst "
               f"{max(ratios):.2f}x (target <= {TARGET_RATIO:g}x: "
               f"{'met' if ratio <= TARGET_RATIO else 'MISSED'})")
    if len(pairs) > 1:
        out.append("pairs (p50/p99 ms, no flood | flood = p99 ratio): " + "; ".join(
            f"{_ms(q.p50)}/{_ms(q.p99)} | {_ms(f.p50)}/{_ms(f.p99)} = {r:.2f}x"
            for (q, f), r in zip(pairs, ratios, strict=True)))
    return out


def run(args: argparse.Namespace) -> list[str]:
    return measure(args)[0]


def measure(args: argparse.Namespace) -> tuple[list[str], float]:
    """Every round; the table and the median of the pairs' p99 ratios (flood over no
    flood)."""
    args.load = os.getloadavg()[0]
    pairs = []
    for n in range(args.rounds):
        pairs += one_round(n, args)
    return lines(pairs, args), p99_ratio(pairs)


# -- the flood itself, in its own process ------------------------------------------------------

async def _flood(url: str, *, logins: int, addresses: int, seconds: float,
                 honour: bool) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    end = time.monotonic() + seconds
    sessions = [aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(f"127.0.1.{n + 1}", 0)),
        timeout=aiohttp.ClientTimeout(total=60)) for n in range(addresses)]

    async def one(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < end:
            body = {"username": f"nobody-{uuid.uuid4().hex[:12]}",
                    "password": "not the password of anyone"}
            try:
                async with http.post(url + "/v1/session", json=body) as resp:
                    await resp.read()
                    statuses[str(resp.status)] += 1
                    wait = resp.headers.get("Retry-After", "0")
                if honour and wait.isdigit():
                    await asyncio.sleep(min(float(wait), end - time.monotonic(), 30.0))
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
                await asyncio.sleep(0.05)

    try:
        print("FLOODING", flush=True)
        started = time.monotonic()
        await asyncio.gather(*(one(sessions[n % addresses]) for n in range(logins)))
        spent = time.monotonic() - started
    finally:
        for http in sessions:
            await http.close()
    return {"statuses": dict(statuses), "rate": sum(statuses.values()) / spent}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.login_flood", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=50.0, help="signed hooks per second")
    p.add_argument("--logins", type=int, default=100, help="concurrent wrong logins")
    p.add_argument("--addresses", type=int, default=25, help="loopback addresses they use")
    p.add_argument("--ignore-retry-after", action="store_true",
                   help="resend a refused login at once (a request flood, not a login flood)")
    p.add_argument("--workers", type=int, default=None,
                   help="password threads ([logins] workers; default: as config.toml ships)")
    p.add_argument("--rounds", type=int, default=2,
                   help="rounds, each on a fresh gateway")
    p.add_argument("--pairs", type=int, default=2,
                   help="pairs of windows (no flood, flood) per round; the median of all the "
                        "pairs' p99 ratios is the verdict")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=10.0)
    sub = p.add_subparsers(dest="command")
    f = sub.add_parser("flood", help="(internal) the flood process")
    f.add_argument("url")
    f.add_argument("--seconds", type=float, required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not 1 <= args.addresses <= 250 or args.logins < 1:
        p.error("--addresses must be 1 to 250 and --logins at least 1")
    if not 1 <= args.rounds <= 9 or not 1 <= args.pairs <= 9:
        p.error("--rounds and --pairs must be 1 to 9")
    if args.command == "flood":
        result = asyncio.run(_flood(args.url, logins=args.logins, addresses=args.addresses,
                                    seconds=min(args.seconds, MAX_SECONDS),
                                    honour=not args.ignore_retry_after))
        print(orjson.dumps(result).decode(), flush=True)
        return 0
    print("\n".join(run(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
