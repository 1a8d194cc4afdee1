"""`gateway report access --customer ID [--html FILE]` and
`gateway report transparency [--from P] [--to P | --period 2026H2] [--publish] [--html FILE]
[--json FILE] [--csv FILE]`,
`gateway report processing [--json]`.

A CLI read is a review read like any other: it is recorded, naming the staff account it was
made as. That account is ``--as USER`` or, by default, the OS login name; it must be an enabled
staff account holding a role the read allows (as in the API). The OS user is recorded beside
it. No password is asked: whoever runs the CLI can already read the configuration's keys and
the record file, so the OS account is the authentication, and the record says who used it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson

from gateway.config import Config
from gateway.errors import BadRequest, Forbidden, GatewayError, Unauthorized
from gateway.http.pages import render_text
from gateway.review.processing import processing_record
from gateway.review.processing import render_text as render_processing
from gateway.review.search import REPORTERS, TRANSPARENCY, Reviewer
from gateway.review.transparency_report import to_csv
from gateway.staff.accounts import Member, Role, Staff
from gateway.text import printable
from gateway.wiring import build_record


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    report = sub.add_parser("report", help="access and transparency reports (recorded reads)")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    access = report_sub.add_parser("access", help="a customer's access report (GDPR Art. 15)")
    access.add_argument("--customer", required=True, help="the store's customer id")
    access.add_argument("--view", choices=["customer", "full"],
                        help="full (admins only) shows deferred authority disclosures, marked")
    access.add_argument("--lang", choices=["fi", "sv", "en"],
                        help="the report's language (default: [reports] language in "
                             "config.toml)")
    access.set_defaults(run=_access)
    transparency = report_sub.add_parser("transparency", help="disclosures counted per "
                                         "recipient, authority, legal basis and month")
    transparency.add_argument("--from", dest="since", help="YYYY, YYYY-MM or YYYY-MM-DD")
    transparency.add_argument("--to", dest="until", help="YYYY, YYYY-MM or YYYY-MM-DD")
    transparency.add_argument("--period", help="a half-year: YYYYH1 or YYYYH2")
    transparency.add_argument("--publish", action="store_true",
                              help="the published view (admin): counts below [reports] "
                                   "publish_threshold read 'fewer than N'")
    transparency.add_argument("--json", dest="json_out", type=Path,
                              help="also write the figures as JSON here")
    transparency.add_argument("--csv", dest="csv_out", type=Path,
                              help="also write the figures as CSV here")
    transparency.set_defaults(run=_transparency)
    processing = report_sub.add_parser(
        "processing", help="the record of processing activities (GDPR Art. 30) for disclosures, "
                           "from config.toml and the record's counts")
    processing.add_argument("--json", action="store_true", help="JSON instead of text")
    processing.set_defaults(run=_processing)
    for command in (access, transparency):
        add_reader_arguments(command)
        command.add_argument("--html", type=Path, help="write a printable HTML page here "
                                                       "instead of JSON to stdout")
        command.add_argument("--force", action="store_true",
                             help="let --html replace an existing file")


def add_reader_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="as_user", metavar="USER",
                        help="the staff account this step is done as (default: the OS "
                             "user's name)")


@asynccontextmanager
async def reviewing(args: argparse.Namespace, roles: Iterable[Role]) -> AsyncIterator[Any]:
    """(reviewer, member, config) over the configured record, for a staff account allowed
    ``roles``; the record is closed (and a checkpoint signed) afterwards."""

    config = Config.from_toml(args.config)
    os_user = getpass.getuser()
    username = args.as_user or os_user
    record = build_record(config)
    await record.open()
    try:
        try:
            member: Member = await Staff(record=record).member(username)
        except Unauthorized:
            given = "from --as" if args.as_user else "your OS login name, as no --as was given"
            raise Unauthorized(f"unknown or disabled staff account {username} ({given}); run "
                               "it --as USER with an enabled staff account") from None
        if not member.holds_any(roles):
            raise Forbidden(f"staff account {username} holds no role that allows this command")
        yield Reviewer(record=record, config=config, os_user=os_user), member, config
    finally:
        await record.close()


def _write(args: argparse.Namespace, doc: dict[str, Any], template: str,
           **context: Any) -> None:  # noqa: ANN401
    if args.html is None:
        text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
        sys.stdout.write(printable(text, keep="\n") + "\n")
        return

    try:
        with args.html.open("w" if args.force else "x", encoding="utf-8") as out:
            out.write(render_text(template, report=doc, **context))
    except FileExistsError:
        raise BadRequest(f"{args.html} exists; the read is recorded at position "
                         f"{doc['read_recorded_at']}; name a new file or add --force") from None
    except OSError as exc:
        raise GatewayError(f"cannot write {args.html}: {exc.strerror}") from None
    print(f"wrote {args.html}; the read is recorded at position "  # noqa: T201
          f"{doc['read_recorded_at']}")


def _refuse_overwrite(args: argparse.Namespace) -> None:
    """Before the read is made: an existing --html file is replaced only with --force."""
    if args.html is not None and args.html.exists() and not args.force:
        raise BadRequest(f"{args.html} exists; name a new file, or add --force to replace it")


def _access(args: argparse.Namespace) -> int:
    _refuse_overwrite(args)

    async def run() -> int:
        async with reviewing(args, REPORTERS) as (reviewer, member, config):
            doc = await reviewer.access_report(member, args.customer, via="cli", view=args.view,
                                               lang=args.lang)
        if doc["record_holds_nothing"]:
            print("note: the record holds nothing for this customer id; check the id before "  # noqa: T201
                  "sending the report", file=sys.stderr)
        _write(args, doc, "access.html", customer=args.customer, controller=config.sender,
               t=reviewer.text(doc["language"]), page_lang=doc["language"])
        return 0

    return asyncio.run(run())


def _save(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GatewayError(f"cannot write {path}: {exc.strerror}") from None


def _transparency(args: argparse.Namespace) -> int:
    _refuse_overwrite(args)

    async def run() -> int:
        async with reviewing(args, TRANSPARENCY) as (reviewer, member, _):
            params = {k: v for k, v in (("from", args.since), ("to", args.until),
                                        ("period", args.period),
                                        ("view", "published" if args.publish else None))
                      if v}
            doc = await reviewer.transparency_report(member, params, via="cli")
        figures = {k: v for k, v in doc.items() if k != "read_recorded_at"}
        for path, text in ((args.json_out, orjson.dumps(figures, option=orjson.OPT_INDENT_2)
                            .decode() + "\n"), (args.csv_out, to_csv(figures))):
            if path is not None:
                _save(path, text)
                print(f"wrote {path}")  # noqa: T201
        if args.html is not None or (args.json_out is None and args.csv_out is None):
            _write(args, doc, "transparency.html", params=params, error=None)
        else:
            print(f"the read is recorded at position {doc['read_recorded_at']}")  # noqa: T201
        return 0

    return asyncio.run(run())


def _processing(args: argparse.Namespace) -> int:
    """Counts per recipient and service only: no customer is read, so this is not a review
    read and names no staff account."""

    async def run() -> int:
        config = Config.from_toml(args.config)
        record = build_record(config)
        await record.open()
        try:
            counts = await record.disclosure_counts()
        finally:
            await record.close()
        doc = processing_record(config, counts)
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
                         if args.json else render_processing(doc))
        return 0

    return asyncio.run(run())
