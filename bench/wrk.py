"""The C load generator: wrk (Debian's package) posting order hooks signed just before the point.

The Python generator (bench/loadgen.py) spends about as much CPU per request as the baseline
proxy it loads, on the same two cores, so at saturation it measures itself as much as the
server. wrk spends a fraction of that. Signing is the Python part: every hook is made and signed
(Standard Webhooks, the timestamp is the signing time, well inside the gateway's five minutes)
before wrk starts, written to a file, and bench/wrk_hooks.lua sends each one once.

A point is two wrk runs: the warm-up (its own hooks, not measured), then the measured one; the
servers' CPU counters are read between them and after the second, while wrk is the only client.
wrk is a closed loop (each connection sends its next hook when the last is answered): it gives
saturation, and the latency it reports is the service time under that load.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.orders import Hooks
from gateway.operations.signature import HookSecret

SCRIPT = Path(__file__).with_name("wrk_hooks.lua")
#: Hooks signed per second of the point: above any rate two cores reach here (wrap-arounds,
#: which would be retries, are counted and reported should one happen).
HOOKS_PER_SECOND = 3000
#: wrk's own threads (one per core is its advice; the servers need the cores more).
THREADS = 2


def path() -> str | None:
    """The wrk executable, or None when it is not installed (scripts/bench installs it)."""
    return shutil.which("wrk")


def write_hooks(secret_file: Path, out: Path, count: int) -> None:
    """``count`` signed hooks, four lines each (id, timestamp, signature, body)."""
    keys = secret_file.read_text().replace(",", " ").split()
    secret = next(HookSecret.from_string(v) for v in keys if not v.startswith("whpk_"))
    hooks = Hooks(secret, run=os.urandom(4).hex())
    with out.open("wb") as f:
        for _ in range(count):
            body, headers = hooks.next()
            f.write(b"%s\n%s\n%s\n%s\n" % (
                headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(),
                headers["webhook-signature"].encode(), body))


def _wrk(url: str, hooks: Path, first: int, last: int, *, seconds: float, concurrency: int,
         log: Path) -> dict[str, Any]:
    wrk = path()
    assert wrk is not None
    with log.open("a", encoding="utf-8") as err:
        done = subprocess.run(  # noqa: S603 - Debian's wrk, our own script and arguments
            [wrk, "-t", str(THREADS), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", str(SCRIPT), url, "--", str(hooks), str(first),
             str(last), str(THREADS)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True,
            timeout=seconds + 60, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
    return dict(orjson.loads(lines[-1]))


def drive(url: str, secret_file: Path, directory: Path, *, concurrency: int, warmup: float,
          duration: float, marks: Callable[[str], None]) -> dict[str, Any]:
    """Warm up, then measure; ``marks("START")`` and ``marks("END")`` are called around the
    measured run. Returns the result in the shape bench/loadgen.py prints."""
    warm = int(HOOKS_PER_SECOND * max(1, round(warmup)))
    total = warm + int(HOOKS_PER_SECOND * max(1, round(duration)))
    hooks = directory / "hooks.txt"
    write_hooks(secret_file, hooks, total)
    log = directory / "wrk.log"
    if warmup > 0:
        _wrk(url, hooks, 0, warm, seconds=warmup, concurrency=concurrency, log=log)
    marks("START")
    got = _wrk(url, hooks, warm, total, seconds=duration, concurrency=concurrency, log=log)
    marks("END")
    window = got["duration_us"] / 1e6
    statuses = {str(k): int(v) for k, v in got["statuses"].items()}
    failed = {k: v for k, v in got["errors"].items() if k != "status" and v}
    statuses.update({f"wrk {k}": v for k, v in failed.items()})
    if got["wrapped"]:
        statuses["wrapped (retries)"] = got["wrapped"]
    ok = statuses.get("201", 0)
    return {"mode": "wrk closed", "window_s": window, "counted": got["requests"], "ok": ok,
            "statuses": statuses, "rps": ok / window if window else 0.0,
            "p50_ms": got["p50_us"] / 1000, "p99_ms": got["p99_us"] / 1000,
            "p999_ms": got["p999_us"] / 1000}
