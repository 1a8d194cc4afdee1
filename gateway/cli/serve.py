"""`gateway serve` and `gateway demo`."""

from __future__ import annotations

import argparse
import asyncio
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.cli import log
from gateway.cli.workers import run_workers
from gateway.config import Config
from gateway.demo import run_demo
from gateway.erasure.channels import unaddressed
from gateway.http.app import RECORD, create_app
from gateway.http.server import serve, tls_context
from gateway.record.checkpoint import Verifier, parse_and_verify

if TYPE_CHECKING:
    from aiohttp import web

    from gateway.config import RecordConfig
    from gateway.record import Record


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
    config = Config.from_toml(args.config)
    config.carrier_credentials()  # every missing one named at once, before any worker starts
    if config.tls is not None:
        tls_context(config.tls)  # a bad certificate or key stops here, before any worker
    if args.workers > 1:
        return run_workers(args.config, args.workers)
    app = create_app(config)
    final = _LastCheckpoint(config.verifiers())

    async def follow(app: web.Application) -> None:
        await final.follow(app[RECORD])

    app.on_startup.append(follow)  # after the record is opened by the app's cleanup context
    record = _record_place(config.record)

    def listening(url: str) -> None:
        print(f"listening on {url} (record: {record})", flush=True)  # noqa: T201
        _warn_unaddressed(config)

    loop = _new_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(app, config, reuse_port=args.reuse_port,
                                      listening=listening))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    print(f"stopped; {final.describe()}")  # noqa: T201
    return 0


def _warn_unaddressed(config: Config) -> None:
    """Name at start the carriers an erasure notice (GDPR Art. 19) has no address for."""
    notices = config.erasure.notices
    missing = unaddressed(notices.recipients if notices else {}, config.carriers)
    if missing:
        print(f"warning: no address for erasure notices (GDPR Art. 19) to "  # noqa: T201
              f"{', '.join(missing)}: they are written without a To: for a person to address; "
              "set privacy_email (or an e-mail privacy_contact) in [recipients.NAME]",
              flush=True)


def _record_place(rc: RecordConfig) -> str:
    """Where the record is, for the operator: the SQLite file, or the PostgreSQL schema (not
    the URL, which may name a user and host)."""
    return f"PostgreSQL schema {rc.schema}" if rc.store == "postgres" else str(rc.path)


class _LastCheckpoint:
    """The newest checkpoint of the served record: the latest at start, then each one signed,
    the final one at stop included."""

    def __init__(self, verifiers: Sequence[Verifier]) -> None:
        self._verifiers = verifiers
        self._note: str | None = None

    async def follow(self, record: Record) -> None:
        self._note = await record.latest_checkpoint()
        record.on_checkpoint(self._signed)

    def _signed(self, note: str) -> None:
        self._note = note

    def describe(self) -> str:
        if self._note is None:
            return "the record is empty: no checkpoint"
        checkpoint = parse_and_verify(self._note, self._verifiers)
        return f"final checkpoint: {checkpoint.size} entries, root {checkpoint.root.hex()}"


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (a dependency on Linux and macOS), else
    asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _demo(args: argparse.Namespace) -> int:
    return asyncio.run(run_demo(args.config, args.dir,
                                list_record=functools.partial(log.list_record, limit=30),
                                config_named=args.config_named))
