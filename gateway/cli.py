"""`gateway serve | demo | keygen | log verify | log show`.

Errors end the command with a one-line message on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson
from aiohttp import web

from gateway import logs
from gateway.errors import GatewayError
from gateway.record.checkpoint import Verifier

EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.toml"),
                        help="configuration file (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="run the gateway")
    demo = sub.add_parser("demo", help="run the gateway against the carrier sandboxes with "
                                       "sample orders, then verify the record")
    demo.add_argument("--dir", type=Path, default=Path("var/demo"),
                      help="where the demo keeps its record (emptied first)")
    keygen = sub.add_parser("keygen", help="create missing secret files")
    keygen.add_argument("--dir", type=Path, default=Path("var/secrets"))
    keygen.add_argument("--origin", default="jerone.fi/disclosure-record")

    log = sub.add_parser("log", help="read and verify the disclosure record")
    log_sub = log.add_subparsers(dest="log_command", required=True)
    verify = log_sub.add_parser("verify", help="verify the record offline")
    verify.add_argument("--db", type=Path, help="record database (default: from the config)")
    verify.add_argument("--public-key", type=Path,
                        help="checkpoint verifier key file (default: derived from the config)")
    verify.add_argument("--checkpoint", type=Path, action="append", default=[],
                        help="a checkpoint note kept elsewhere that the record must match")
    verify.add_argument("--quiet", action="store_true", help="no progress lines")
    show = log_sub.add_parser("show", help="print entries (no personal values)")
    show.add_argument("--db", type=Path)
    show.add_argument("--from", dest="start", type=int, default=0)
    show.add_argument("--limit", type=int, default=50)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure()
    try:
        return _dispatch(args)
    except GatewayError as exc:
        print(f"gateway: {exc.detail}", file=sys.stderr)  # noqa: T201 - the CLI's own voice
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "keygen":
        from gateway.keygen import keygen  # noqa: PLC0415 - only this command needs it

        for path in keygen(args.dir, origin=args.origin):
            print(f"wrote {path}")  # noqa: T201
        return 0
    if args.command == "demo":
        from gateway.demo import run_demo  # noqa: PLC0415

        return asyncio.run(run_demo(args.config, args.dir))
    if args.command == "serve":
        return _serve(args.config)
    if args.log_command == "verify":
        return _verify(args)
    return _show(args)


def _serve(config_path: Path) -> int:
    from gateway.app import create_app  # noqa: PLC0415
    from gateway.config import Config  # noqa: PLC0415

    config = Config.from_toml(config_path)
    web.run_app(create_app(config), host=config.host, port=config.port, print=None)
    return 0


def _db_path(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return Path(args.db)
    from gateway.config import Config  # noqa: PLC0415

    return Config.from_toml(args.config).record.path


def _verify(args: argparse.Namespace) -> int:
    from gateway.record.verify import verify_sqlite  # noqa: PLC0415

    if args.public_key is not None:
        try:
            verifier = Verifier.from_key_string(args.public_key.read_text().strip())
        except OSError as exc:
            raise GatewayError(f"cannot read {args.public_key}: {exc.strerror}") from None
        db, origin = _db_path(args), None
    else:
        from gateway.config import Config  # noqa: PLC0415
        from gateway.record.checkpoint import Signer  # noqa: PLC0415

        config = Config.from_toml(args.config)
        verifier = Signer.from_key_string(config.keys.checkpoint_signing).verifier()
        db = args.db or config.record.path
        origin = config.origin
    trusted = [p.read_text() for p in args.checkpoint]

    def progress(n: int) -> None:
        if not args.quiet:
            print(f"  verified {n:,} entries", file=sys.stderr)  # noqa: T201

    report = verify_sqlite(db, [verifier], origin=origin, trusted=trusted, progress=progress)
    print(report.summary())  # noqa: T201
    return 0 if report.ok else EXIT_FAILED


def _show(args: argparse.Namespace) -> int:
    db = _db_path(args)
    if not db.exists():
        raise GatewayError(f"no record at {db}")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT body FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?", (args.start, args.limit)
    )
    for (body,) in rows:
        doc = orjson.loads(body)
        fields = ",".join(doc["fields"]) or "-"
        result = doc["data"].get("result", "")
        print(  # noqa: T201
            f"{doc['seq']:>6} {doc['time']} {doc['kind']:<19} {doc['recipient'] or '-':<12} "
            f"{doc['service'] or '-':<14} order={doc['order'] or '-'} fields={fields} {result}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
