"""`gateway log verify | audit | show`: read and verify the disclosure record."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.cli import audit, monitor
from gateway.cli.report import add_reader_arguments, reviewing
from gateway.cli.witness import add_witness_arguments, witness_check
from gateway.config import Config
from gateway.errors import GatewayError
from gateway.record.checkpoint import Verifier
from gateway.record.entry import decode
from gateway.record.queries import MAX_LIMIT
from gateway.record.verify_parallel import verify_sqlite_split
from gateway.review import reports
from gateway.review.search import SEARCHERS
from gateway.text import printable
from gateway.wiring import verify_postgres_record

EXIT_FAILED = 1
FILTERS = ("customer", "order", "recipient", "kind")


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
    verify.add_argument("--url", help="verify a PostgreSQL record at this connection URL "
                                      "(no password in it: use PGPASSWORD or ~/.pgpass)")
    verify.add_argument("--schema", default=None,
                        help="the PostgreSQL record's schema (default: the config's, or gateway)")
    verify.add_argument("--quiet", action="store_true", help="no progress lines")
    verify.add_argument("--workers", type=_workers, default=_cores(),
                        help="processes checking a SQLite record's entries, each a range of "
                             f"them (default: the cores usable here, {_cores()})")
    add_witness_arguments(verify)
    verify.set_defaults(run=_verify)
    audit.register(log_sub)
    show = log_sub.add_parser(
        "show", help="print entries (no personal values); with a filter it is a review search "
                     "of the live record, made as a staff account and recorded")
    show.add_argument("--db", type=Path, help="list this record file offline (no filters; "
                                              "not recorded)")
    show.add_argument("--start", type=_position, default=0, help="first position to list")
    show.add_argument("--limit", type=_count, default=50,
                      help=f"how many entries to list, 1 to {MAX_LIMIT} (default: 50)")
    for name in FILTERS:
        show.add_argument(f"--{name}", help=f"only entries with this {name}")
    show.add_argument("--from", dest="since", help="period start: YYYY, YYYY-MM, YYYY-MM-DD or "
                                                   "an ISO time")
    show.add_argument("--to", dest="until", help="period end (a day or month includes all "
                                                 "of it)")
    show.add_argument("--newest", action="store_true", help="newest first")
    add_reader_arguments(show)
    show.set_defaults(run=_show)
    monitor.register(log_sub)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def _workers(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 64:  # noqa: PLR2004
        msg = "must be a whole number from 1 to 64"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _position(text: str) -> int:
    if not text.strip().isdigit():
        msg = "must be a position: a whole number from 0"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _count(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        msg = f"must be a whole number from 1 to {MAX_LIMIT}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _db_path(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return Path(args.db)

    return Config.from_toml(args.config).record.path


def _verify(args: argparse.Namespace) -> int:
    url, schema = args.url, args.schema or "gateway"
    if args.public_key:
        try:
            verifiers = [Verifier.from_key_string(p.read_text().strip()) for p in args.public_key]
        except OSError as exc:
            raise GatewayError(f"cannot read {exc.filename}: {exc.strerror}") from None
        db, origin = (None if url else _db_path(args)), None
    else:
        config = Config.from_toml(args.config)
        verifiers = config.verifiers()
        db = args.db or config.record.path
        origin = config.origin
        if config.record.url is not None and args.db is None:
            url = url or config.record.url.value
            schema = args.schema or config.record.schema
    trusted = [p.read_text() for p in args.checkpoint]
    cosigned = witness_check(args)

    def progress(n: int) -> None:
        if not args.quiet:
            print(f"  verified {n:,} entries", file=sys.stderr)  # noqa: T201

    if url is not None:
        report = asyncio.run(verify_postgres_record(url, schema, verifiers, origin=origin,
                                                    trusted=trusted, progress=progress,
                                                    cosigned=cosigned))
    else:
        assert db is not None  # without a URL the record is a SQLite file
        report = verify_sqlite_split(db, verifiers, workers=args.workers, origin=origin,
                                     trusted=trusted, progress=progress, cosigned=cosigned)
    said = cosigned.said() if report.ok and cosigned is not None else ""
    print(report.summary() + said)  # noqa: T201
    return 0 if report.ok else EXIT_FAILED


#: The padded columns of a listing, each with its narrowest width.
COLUMNS = (("kind", 19), ("recipient", 12), ("service", 14))


def _widths(docs: list[dict[str, Any]]) -> tuple[int, ...]:
    """Widths of the padded columns that fit every entry listed, so a long kind, recipient or
    service does not shift the columns after it."""
    return tuple(max([least, *(len(printable(doc[key] or "-")) for doc in docs)])
                 for key, least in COLUMNS)


def _line(doc: dict[str, Any], widths: tuple[int, ...]) -> str:
    """One entry on one line, metadata only; text from the record is escaped for the terminal
    (``gateway.text.printable``), as entries written before control characters were refused
    may hold them."""
    fields = ",".join(doc["fields"]) or "-"
    result = doc["data"].get("result", "")
    kind, recipient, service = (printable(doc[key] or "-").ljust(width)
                                for (key, _), width in zip(COLUMNS, widths, strict=True))
    return printable(
        f"{doc['seq']:>6} {doc['time']} {kind} {recipient} {service} "
        f"order={doc['order'] or '-'} fields={fields} {result}")


def _deferred_requests(conn: sqlite3.Connection, today: date) -> set[str]:
    """The authority requests of a record file whose notification is deferred on ``today``."""
    try:
        stored = conn.execute("SELECT id, doc FROM authority_requests").fetchall()
    except sqlite3.OperationalError:  # a record from before authority requests
        return set()
    return {rid for rid, doc in stored if reports.deferred(orjson.loads(doc), today)}


def _show(args: argparse.Namespace) -> int:
    if any(getattr(args, name) for name in (*FILTERS, "since", "until")) or args.newest:
        return _search(args)
    return list_record(_db_path(args), start=args.start, limit=args.limit)


def list_record(db: Path, *, start: int = 0, limit: int = 50) -> int:
    """Print ``limit`` entries of the record file ``db`` from position ``start``, offline
    (metadata only; not recorded)."""
    if not db.exists():
        raise GatewayError(f"no record at {db}")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute("SELECT seq, body FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?",
                        (start, limit + 1)).fetchall()
    (size,) = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
    today = datetime.now(UTC).date()
    deferred = _deferred_requests(conn, today)
    shown = rows[:limit]
    docs = [orjson.loads(body) for _, body in shown]
    widths = _widths(docs)
    for (_, body), doc in zip(shown, docs, strict=True):
        request = reports.request_of(decode(body))
        if request is not None and (request in deferred or reports.deferred(doc["data"], today)):
            # As in a review search, only an admin sees a deferred authority request's entries.
            print(f"{doc['seq']:>6} (withheld: an entry of an authority request whose "  # noqa: T201
                  "notification is deferred; an admin's search shows it)")
        else:
            print(_line(doc, widths))  # noqa: T201
    if not shown:
        print(f"no entries from position {start}; the record holds {size}",  # noqa: T201
              file=sys.stderr)
    elif len(rows) > limit:
        last = shown[-1][0]
        print(f"listed positions {shown[0][0]} to {last} of {size} entries; "  # noqa: T201
              f"{size - last - 1} more: use --start {last + 1}", file=sys.stderr)
    return 0


def _search(args: argparse.Namespace) -> int:
    """A filtered listing: a review search through the live record, recorded."""


    if args.db is not None:
        raise GatewayError("filters search the live record named by the config; --db lists a "
                           "record file offline, without filters")
    params = {name: getattr(args, name) or "" for name in FILTERS}
    params.update({"from": args.since or "", "to": args.until or "",
                   "limit": str(args.limit), "sort": "newest" if args.newest else "oldest"})
    if args.start:
        params["cursor"] = str(args.start + 1 if args.newest else args.start - 1)

    async def run() -> int:
        async with reviewing(args, SEARCHERS) as (reviewer, member, _):
            found = await reviewer.search(member, reviewer.search_of(params), via="cli")
        widths = _widths(found["entries"])
        for entry in found["entries"]:
            print(_line(entry, widths))  # noqa: T201
        more = found["next_cursor"]
        tail = "" if more is None else f"; more with --start {more + (-1 if args.newest else 1)}"
        print(f"{len(found['entries'])} entries; this search is recorded at position "  # noqa: T201
              f"{found['read_recorded_at']}{tail}", file=sys.stderr)
        return 0

    return asyncio.run(run())
