"""`gateway log verify | show`: read and verify the disclosure record."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

import orjson

from gateway.errors import GatewayError
from gateway.record.checkpoint import Verifier

EXIT_FAILED = 1


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    log = sub.add_parser("log", help="read and verify the disclosure record")
    log_sub = log.add_subparsers(dest="log_command", required=True)
    verify = log_sub.add_parser("verify", help="verify the record offline")
    verify.add_argument("--db", type=Path, help="record database (default: from the config)")
    verify.add_argument("--public-key", type=Path, action="append", default=[],
                        help="checkpoint verifier key file; repeat for retired keys "
                             "(default: the config's keys)")
    verify.add_argument("--checkpoint", type=Path, action="append", default=[],
                        help="a checkpoint note kept elsewhere that the record must match")
    verify.add_argument("--quiet", action="store_true", help="no progress lines")
    verify.set_defaults(run=_verify)
    show = log_sub.add_parser("show", help="print entries (no personal values)")
    show.add_argument("--db", type=Path)
    show.add_argument("--from", dest="start", type=int, default=0)
    show.add_argument("--limit", type=int, default=50)
    show.set_defaults(run=_show)


def _db_path(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return Path(args.db)
    from gateway.config import Config  # noqa: PLC0415

    return Config.from_toml(args.config).record.path


def _verify(args: argparse.Namespace) -> int:
    from gateway.record.verify import verify_sqlite  # noqa: PLC0415

    if args.public_key:
        try:
            verifiers = [Verifier.from_key_string(p.read_text().strip()) for p in args.public_key]
        except OSError as exc:
            raise GatewayError(f"cannot read {exc.filename}: {exc.strerror}") from None
        db, origin = _db_path(args), None
    else:
        from gateway.config import Config  # noqa: PLC0415

        config = Config.from_toml(args.config)
        verifiers = config.verifiers()
        db = args.db or config.record.path
        origin = config.origin
    trusted = [p.read_text() for p in args.checkpoint]

    def progress(n: int) -> None:
        if not args.quiet:
            print(f"  verified {n:,} entries", file=sys.stderr)  # noqa: T201

    report = verify_sqlite(db, verifiers, origin=origin, trusted=trusted, progress=progress)
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
