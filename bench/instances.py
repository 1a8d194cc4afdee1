"""Durable disclosures per second for 1, 2 and 4 gateway instances on one PostgreSQL record.

Each point starts fresh: the Posti sandbox in its own process, a new PostgreSQL schema in
database ``test`` (dropped afterwards), ``gateway serve --workers N`` (N processes sharing the
port through SO_REUSEPORT and the record through the store's advisory-lock sequencer), and the
load generator (closed loop). A disclosure counts when its hook answered 201: its intent and
outcome are then both committed.

    PYTHONPATH=. .venv/bin/python -m bench.instances [--instances 1 2 4] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import orjson

from bench import procs
from bench.load import write_gateway_config
from gateway.record.stores.postgres.schema import quoted

PG_URL = os.environ.get("GATEWAY_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_unavailable(url: str = PG_URL) -> str | None:
    """Why PostgreSQL cannot be used here, or None when it answers."""

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"no PostgreSQL at {url} ({type(exc).__name__})"
    return None


@contextlib.contextmanager
def fresh_schema(url: str = PG_URL) -> Iterator[str]:
    """A new schema name for one point's record, dropped with its contents afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        async def drop() -> None:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")
            finally:
                await conn.close()

        asyncio.run(drop())


def postgres_record(schema: str, url: str = PG_URL) -> str:
    """The [record] lines that put a gateway on PostgreSQL (the URL holds no password)."""
    return f'url = "{url}"\nschema = "{schema}"'


def run_instances(instances: int, *, concurrency: int, warmup: float,
                  duration: float) -> dict[str, float]:
    """One point: N instances at saturation; returns disclosures/s and the load's figures."""
    with tempfile.TemporaryDirectory(prefix="bench-instances-") as tmp, fresh_schema() as schema:
        directory = Path(tmp)
        sandbox, posti_url = procs.start_sandbox("posti")
        server = loadgen = None
        try:
            port = procs.free_port()
            config, env = write_gateway_config(directory, posti_url, port, store="postgres",
                                               record_extra=postgres_record(schema))
            server = procs.python("gateway.cli", "--config", str(config), "serve", "--workers",
                                  str(instances), name=f"gateway x{instances}",
                                  log=directory / "gateway.log", env=env)
            procs.wait_healthy(server, f"http://127.0.0.1:{port}/healthz", timeout=60)
            loadgen = procs.python(
                "bench.loadgen", f"http://127.0.0.1:{port}/v1/hooks/orders", "--secret",
                str(directory / "secrets" / "hook-secret"), "--warmup", str(warmup),
                "--duration", str(duration), "closed", "--concurrency", str(concurrency),
                name="load generator", stdout_pipe=True, log=directory / "loadgen.log")
            assert loadgen.popen.stdout is not None
            result = None
            for line in loadgen.popen.stdout:
                if line.startswith("{"):
                    result = orjson.loads(line)
            loadgen.popen.wait(30)
            if result is None:
                raise RuntimeError("the load generator failed:\n" +
                                   (directory / "loadgen.log").read_text()[-2000:])
        finally:
            for proc in (loadgen, server, sandbox):
                if proc is not None:
                    proc.stop(timeout=30)
    booked = result["statuses"].get("201", 0)
    return {"instances": instances, "disclosures_per_s": booked / result["window_s"],
            "rps": result["rps"], "p99_ms": result["p99_ms"] or 0.0,
            "other": sum(v for k, v in result["statuses"].items() if k != "201")}


def lines(points: list[dict[str, float]]) -> list[str]:
    out = ["instances  durable disclosures/s  p99 ms  non-201 answers"]
    out += [f"{p['instances']:>9}  {p['disclosures_per_s']:>21.0f}  {p['p99_ms']:>6.1f}  "
            f"{p['other']:>15.0f}" for p in points]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.instances", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=10.0)
    args = p.parse_args(argv)
    missing = postgres_unavailable()
    if missing is not None:
        print(f"bench.instances: {missing}", file=sys.stderr)
        return 1
    points = []
    for n in args.instances:
        print(f"[bench] {n} instance(s)...", file=sys.stderr, flush=True)
        points.append(run_instances(n, concurrency=args.concurrency, warmup=args.warmup,
                                    duration=args.duration))
    print(f"PostgreSQL record, {os.cpu_count()} cores, closed loop of "
          f"{args.concurrency} connections, {args.duration:g} s measured per point")
    print("\n".join(lines(points)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
