"""The Posti sandbox for load runs: ``carriers.sandbox``'s own app, served by its own
``run_sandbox``, in its own process, with its request log and booking book trimmed.

    python -m bench.sandbox posti [--keep 2000] [--untrimmed]

The sandbox keeps every request and booking in memory and finds a label by scanning every
booking, so its cost per request grows with the bookings it holds: a point that books 10,000
parcels would measure the sandbox more than the server in front of it, and charge the faster
server (the baseline) the most. Every second this keeps the newest ``keep`` requests and
bookings; a label is fetched right after its booking, far inside that window. ``--untrimmed``
serves it exactly as shipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import TYPE_CHECKING

from carriers.sandbox import BOOKINGS, RECEIVED, run_sandbox

if TYPE_CHECKING:
    from aiohttp import web

#: A sandbox process ends by itself after this long, whatever happens to its parent.
MAX_SECONDS = 900


def trim(app: web.Application, keep: int) -> None:
    """Keep the newest ``keep`` requests and bookings. Runs on the loop between requests, so no
    handler is between recording its request and reading it back."""
    received = app[RECEIVED]
    del received[:-keep]
    bookings = app[BOOKINGS]
    for reference in list(bookings)[: max(0, len(bookings) - keep)]:
        del bookings[reference]


async def serve(carrier: str, port: int, keep: int, *, untrimmed: bool) -> None:
    async with run_sandbox(carrier, port=port) as (base_url, app):
        print(f"{carrier} sandbox listening at {base_url}", flush=True)
        for _ in range(MAX_SECONDS):
            await asyncio.sleep(1)
            if not untrimmed:
                trim(app, keep)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.sandbox")
    p.add_argument("carrier", choices=["posti"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--keep", type=int, default=2000)
    p.add_argument("--untrimmed", action="store_true", help="serve it exactly as shipped")
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.carrier, args.port, args.keep, untrimmed=args.untrimmed))


if __name__ == "__main__":
    main()
