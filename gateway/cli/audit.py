"""`gateway log audit`: rebuild the state the record vouches for (staff accounts, authority
requests, legal holds, deferred erasures, erased customers) from its entries and compare it
with the tables the gateway reads; every difference is named and makes the exit non-zero."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from gateway.config import Config
from gateway.record.audit import audit_sqlite
from gateway.wiring import audit_postgres_record

EXIT_FAILED = 1


def register(log_sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    audit = log_sub.add_parser(
        "audit", help="rebuild staff, authority requests, holds, deferred erasures and erased "
                      "customers from the entries and compare them with the tables")
    audit.add_argument("--db", type=Path, help="record database (default: from the config)")
    audit.add_argument("--url", help="audit a PostgreSQL record at this connection URL "
                                     "(no password in it: use PGPASSWORD or ~/.pgpass)")
    audit.add_argument("--schema", default=None,
                       help="the PostgreSQL record's schema (default: the config's, or gateway)")
    audit.add_argument("--quiet", action="store_true", help="no progress lines")
    audit.set_defaults(run=_audit)


def _audit(args: argparse.Namespace) -> int:
    url, schema, db = args.url, args.schema or "gateway", args.db
    if url is None and db is None:
        record = Config.from_toml(args.config).record
        if record.url is not None:
            url, schema = record.url.value, args.schema or record.schema
        else:
            db = record.path

    def progress(n: int) -> None:
        if not args.quiet:
            print(f"  read {n:,} entries", file=sys.stderr)  # noqa: T201

    if url is not None:
        report = asyncio.run(audit_postgres_record(url, schema, progress))
    else:
        report = audit_sqlite(Path(db), progress)
    print(report.summary())  # noqa: T201
    return 0 if report.ok else EXIT_FAILED
