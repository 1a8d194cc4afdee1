"""`gateway authority intake FILE.json | list [--state S] [--due-within DAYS]
[--deferrals-ending-within DAYS] | show ID | approve ID | reject ID --reason TEXT |
disclose ID --out FILE | close ID | extend ID [--deadline DAY] --reason TEXT |
object ID --reason TEXT | resolve-objection ID --resolution R --note TEXT |
notify ID --status notified|deferred|prohibited [...] | resume ID`, each made
``--as USER`` (by default the OS login name), an enabled staff account holding a role the step
allows, as in the API (see ``gateway.authority.desk``). ``--as`` takes no password: each step's
entry records the channel ``cli`` and the OS login, and a decision is refused when that login
already acted on the request under another staff name.

The package is produced once, kept beside the record like one produced over HTTP, and copied
to ``--out`` (a read recorded per customer, as a download is); its SHA-256 is printed and is
in the record. Only the people on the case produce it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from gateway.authority.desk import MAX_DAYS, Desk, parse_states, time_left
from gateway.authority.steps import RESOLUTIONS, TELLING
from gateway.cli.report import add_reader_arguments, reviewing
from gateway.errors import BadRequest, GatewayError
from gateway.staff.accounts import Member, Role
from gateway.text import printable

Step = Callable[[Any, Member], Awaitable[Any]]


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    authority = sub.add_parser("authority", help="authority requests: intake, decision, "
                                                 "package, deadlines")
    steps = authority.add_subparsers(dest="authority_command", required=True)
    intake = steps.add_parser("intake", help="take in a request from a JSON file")
    intake.add_argument("file", type=Path, help="the request as JSON (authority, reference, "
                        "legal_basis, kind, customers/orders, categories, deadline, "
                        "defer_until)")
    intake.set_defaults(run=_intake)
    listing = steps.add_parser("list", help="requests by deadline")
    listing.add_argument("--state", help="comma-separated states (default: all)")
    listing.add_argument("--due-within", type=int, metavar="DAYS",
                         help="only open requests due within DAYS days, overdue included")
    listing.add_argument("--deferrals-ending-within", type=int, metavar="DAYS",
                         help="only requests whose customer notification is deferred to a day "
                              "within DAYS days (or past, the customer not told yet)")
    listing.set_defaults(run=_list)
    show = steps.add_parser("show", help="one request as JSON")
    approve = steps.add_parser("approve", help="approve (a second person, role approver)")
    reject = steps.add_parser("reject", help="reject with a reason (role approver)")
    reject.add_argument("--reason", required=True)
    disclose = steps.add_parser("disclose", help="produce the package (once)")
    disclose.add_argument("--out", type=Path, required=True, help="write the package here")
    close = steps.add_parser("close", help="close a disclosed or rejected request")
    extend = steps.add_parser("extend", help="a later deadline, with the reason (a running "
                                             "preservation: its one extension)")
    extend.add_argument("--deadline", help="YYYY-MM-DD (an emergency: also YYYY-MM-DDTHH:MM)")
    extend.add_argument("--reason", required=True)
    objection = steps.add_parser("object", help="object to a request, with the reason "
                                                "(role approver)")
    objection.add_argument("--reason", required=True)
    resolve = steps.add_parser("resolve-objection", help="how an objection ended (role "
                                                         "approver)")
    resolve.add_argument("--resolution", required=True, choices=RESOLUTIONS)
    resolve.add_argument("--note", required=True)
    notify = steps.add_parser("notify", help="how the customer is told: notified, deferred "
                                             "or prohibited")
    notify.add_argument("--status", required=True, choices=TELLING)
    for name, what in (("means", "notified: how (a configured channel)"),
                       ("on", "notified: the day (YYYY-MM-DD; default today)"),
                       ("until", "deferred: until the day (YYYY-MM-DD)"),
                       ("reason", "deferred: the reason given"),
                       ("prohibited-by", "prohibited: by whom"),
                       ("basis", "prohibited: on what basis")):
        notify.add_argument(f"--{name}", help=what)
    resume = steps.add_parser("resume", help="give back a production stuck in disclosing "
                                             "after a crash, or finish one that recorded part "
                                             "of its outcomes")
    for parser, run in ((show, _show), (approve, _approve), (reject, _reject),
                        (disclose, _disclose), (close, _close), (extend, _extend),
                        (objection, _object), (resolve, _resolve), (notify, _notify),
                        (resume, _resume)):
        parser.add_argument("id", help="the request id (ar_...)")
        parser.set_defaults(run=run)
    for parser in (intake, listing, show, approve, reject, disclose, close, extend, objection,
                   resolve, notify, resume):
        add_reader_arguments(parser)


def _print(doc: object) -> None:
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    sys.stdout.write(printable(text, keep="\n") + "\n")


def _with_desk(args: argparse.Namespace, step: Step) -> int:
    """Run ``step(desk, member)`` over the configured record; the desk checks the roles."""

    async def run() -> int:
        async with reviewing(args, tuple(Role)) as (reviewer, member, config):
            result = await step(Desk.for_config(config, reviewer=reviewer), member)
        if result is not None:
            _print(result)
        return 0

    return asyncio.run(run())


def _intake(args: argparse.Namespace) -> int:
    try:
        doc = orjson.loads(args.file.read_bytes())
    except OSError as exc:
        raise GatewayError(f"cannot read {args.file}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise BadRequest(f"{args.file} is not JSON") from None
    return _with_desk(args, lambda desk, member: desk.intake(member, doc, channel="cli"))


def _list(args: argparse.Namespace) -> int:
    states = parse_states(args.state)
    for name, value in (("--due-within", args.due_within),
                        ("--deferrals-ending-within", args.deferrals_ending_within)):
        if value is not None and not 0 <= value <= MAX_DAYS:
            raise BadRequest(f"{name} must be 0 to {MAX_DAYS} days")

    async def step(desk: Any, member: Member) -> None:  # noqa: ANN401
        listing = await desk.list(member, states=states, due_within=args.due_within,
                                  deferrals_ending_within=args.deferrals_ending_within)
        rows = [(r["id"], r["state"], r["due_at"] or r["deadline"],
                 f"{r['due']} ({time_left(r)})" if r["due"] else "-", r["kind"],
                 f"{r['authority']} / {r['reference']}"
                 + (f"  deferred until {r['deferral_ends']}" if r["deferral_ends"] else ""))
                for r in listing["requests"]]
        # Each padded column as wide as its longest value listed, so none shifts the next.
        widths = [max(len(str(row[i])) for row in rows) for i in range(5)] if rows else []
        for row in rows:
            padded = (str(v).ljust(w) for v, w in zip(row[:5], widths, strict=True))
            print(printable("  ".join([*padded, row[5]])))  # noqa: T201

    return _with_desk(args, step)


def _show(args: argparse.Namespace) -> int:
    return _with_desk(args, lambda desk, member: desk.show(member, args.id))


def _approve(args: argparse.Namespace) -> int:
    return _with_desk(args, lambda desk, member: desk.approve(member, args.id, channel="cli"))


def _reject(args: argparse.Namespace) -> int:
    return _with_desk(args, lambda desk, member: desk.reject(member, args.id, args.reason,
                                                                channel="cli"))


def _close(args: argparse.Namespace) -> int:
    return _with_desk(args, lambda desk, member: desk.close(member, args.id, channel="cli"))


def _disclose(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists():
        raise BadRequest(f"{out} exists; name a new file for the package")
    if not out.parent.is_dir():
        raise BadRequest(f"{out.parent} is not a directory")

    async def step(desk: Any, member: Member) -> dict[str, Any]:  # noqa: ANN401
        answer, _ = await desk.disclose(member, args.id, channel="cli")
        # Handing the package out is a read, recorded per customer as a download is.
        content = await desk.package(member, args.id, via="cli")
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
        except OSError as exc:
            raise GatewayError(f"the package was produced (sha256 {answer['package_sha256']}) "
                               f"but {out} could not be written: {exc.strerror}; download it "
                               "with the API") from None
        print(f"wrote {out}", file=sys.stderr)  # noqa: T201
        return dict(answer)

    return _with_desk(args, step)


def _extend(args: argparse.Namespace) -> int:
    doc = {"deadline": args.deadline, "reason": args.reason}
    return _with_desk(args, lambda desk, member: desk.extend(member, args.id, doc,
                                                                channel="cli"))


def _object(args: argparse.Namespace) -> int:
    return _with_desk(args, lambda desk, member: desk.object_to(member, args.id, args.reason,
                                                                channel="cli"))


def _resolve(args: argparse.Namespace) -> int:
    doc = {"resolution": args.resolution, "note": args.note}
    return _with_desk(args, lambda desk, member: desk.resolve(member, args.id, doc,
                                                                 channel="cli"))


def _notify(args: argparse.Namespace) -> int:
    doc = {k: v for k, v in (("status", args.status), ("means", args.means), ("on", args.on),
                             ("until", args.until), ("reason", args.reason),
                             ("prohibited_by", args.prohibited_by), ("basis", args.basis))
           if v is not None}
    return _with_desk(args, lambda desk, member: desk.notify(member, args.id, doc,
                                                                channel="cli"))


def _resume(args: argparse.Namespace) -> int:
    return _with_desk(args, lambda desk, member: desk.resume(member, args.id, channel="cli"))
