"""`gateway serve` and `gateway demo`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--workers", type=int, default=1,
                       help="run N gateway processes sharing the port (SO_REUSEPORT) and the "
                            "record (default: 1)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)
    demo = sub.add_parser("demo", help="run the gateway against the carrier sandboxes with "
                                       "sample orders, then verify the record")
    demo.add_argument("--dir", type=Path, default=Path("var/demo"),
                      help="where the demo keeps its record (emptied first)")
    demo.set_defaults(run=_demo)


def _serve(args: argparse.Namespace) -> int:
    from gateway.app import create_app  # noqa: PLC0415 - only this command needs the app
    from gateway.config import Config  # noqa: PLC0415
    from gateway.server import serve, tls_context  # noqa: PLC0415

    config = Config.from_toml(args.config)
    if config.tls is not None:
        tls_context(config.tls)  # a bad certificate or key stops here, before any worker
    if args.workers > 1:
        from gateway.cli.workers import run_workers  # noqa: PLC0415

        return run_workers(args.config, args.workers)
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(create_app(config), config, reuse_port=args.reuse_port))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return 0


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (a dependency on Linux and macOS), else
    asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo  # noqa: PLC0415

    return asyncio.run(run_demo(args.config, args.dir))
