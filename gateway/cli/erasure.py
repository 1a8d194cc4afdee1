"""`gateway erase --customer ID`, `gateway erasure run [--dry-run]`,
`gateway erasure hold --customer ID --until DAY --basis TEXT`, `gateway erasure list`,
`gateway erasure release --customer ID (--hold | --erasure) --reason TEXT`,
`gateway erasure notices [--all] [--customer ID]`,
`gateway erasure notified NOTICE (--sent | --acknowledged)`.

Erasing, holding, listing and releasing are made ``--as USER`` (by default the OS login name),
an enabled staff account: a reviewer or admin erases, lists and cancels a deferred erasure; an
admin (the data protection officer) places and lifts legal holds. Each entry records the staff
account, the channel (``cli``) and the OS user. ``erasure run`` carries out what was already
decided (it suits a timer): it needs no staff account and records the OS user who ran it.

Every erasure tells the carriers the customer's data reached (GDPR Art. 19, see
``gateway.erasure.notices``): `gateway erase` prints who was told and how; `erasure run` sends
again the notices that failed; `erasure notices` lists those not yet sent or acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from gateway.actor import Actor
from gateway.authority.desk import package_dir
from gateway.cli.report import add_reader_arguments, reviewing
from gateway.config import Config
from gateway.erasure.notices import NEEDS_ADDRESS, dispatch, listing, mark
from gateway.erasure.requests import (
    CUSTOMER_REQUEST,
    apply_retention,
    expire_packages,
    place_hold,
    release,
    request_erasure,
    run_due,
    waiting,
)
from gateway.record.sealing import subject_ref
from gateway.staff.accounts import Role
from gateway.text import clean
from gateway.wiring import build_record

#: Who erases, lists and cancels a deferred erasure; who places and lifts legal holds.
ERASERS: Final = (Role.REVIEWER, Role.ADMIN)
HOLDERS: Final = (Role.ADMIN,)


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    erase = sub.add_parser("erase", help="erase a customer's values from the record")
    erase.add_argument("--customer", required=True, help="the store's customer id")
    erase.add_argument("--reason", default=None, type=_plain,
                       help="why (default: the customer's request)")
    erase.set_defaults(run=_erase)
    erasure = sub.add_parser("erasure", help="deferred erasures, legal holds, retention")
    erasure_sub = erasure.add_subparsers(dest="erasure_command", required=True)
    run = erasure_sub.add_parser("run", help="carry out deferred erasures whose hold has ended "
                                             "and erase customers past the retention period")
    run.add_argument("--dry-run", action="store_true",
                     help="say what would be erased, deferred and deleted; change nothing")
    run.set_defaults(run=_run_due)
    hold = erasure_sub.add_parser("hold", help="put a legal hold on a customer's values")
    hold.add_argument("--customer", required=True)
    hold.add_argument("--until", required=True, type=_date, help="YYYY-MM-DD (UTC), ahead")
    hold.add_argument("--basis", required=True, type=_plain,
                      help="the law or matter that requires it (3-500 characters)")
    hold.set_defaults(run=_hold)
    listing = erasure_sub.add_parser("list", help="legal holds and deferred erasures")
    listing.add_argument("--customer", help="only this customer's")
    listing.set_defaults(run=_list)
    release = erasure_sub.add_parser("release", help="lift a customer's legal hold, or cancel "
                                                     "their deferred erasure")
    release.add_argument("--customer", required=True)
    what = release.add_mutually_exclusive_group(required=True)
    what.add_argument("--hold", dest="what", action="store_const", const="hold",
                      help="lift the legal holds running on the customer (admin)")
    what.add_argument("--erasure", dest="what", action="store_const", const="erasure",
                      help="cancel the customer's deferred erasure")
    release.add_argument("--reason", required=True, help="why, for the record")
    release.set_defaults(run=_release)
    notices = erasure_sub.add_parser("notices", help="recipients told of erasures (GDPR Art. "
                                     "19): those failed, written for sending, or pending")
    notices.add_argument("--all", action="store_true", help="every notice, sent ones too")
    notices.add_argument("--customer", help="only this customer's")
    notices.set_defaults(run=_notices)
    notified = erasure_sub.add_parser("notified", help="record that a written notice was sent, "
                                      "or that its recipient acknowledged the erasure")
    notified.add_argument("notice", help="the notice id (en_...)")
    result = notified.add_mutually_exclusive_group(required=True)
    result.add_argument("--sent", dest="result", action="store_const", const="sent",
                        help="a person sent the written notice (its file is deleted)")
    result.add_argument("--acknowledged", dest="result", action="store_const",
                        const="acknowledged", help="the recipient confirmed the erasure")
    notified.set_defaults(run=_notified)
    for command in (erase, hold, listing, release, notices, notified):
        add_reader_arguments(command)


def _plain(text: str) -> str:
    """An argument of staff-entered text: no control or format character (``gateway.text``)."""
    if not clean(text):
        msg = "holds a control or format character; type it as plain text"
        raise argparse.ArgumentTypeError(msg)
    return text


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        msg = f"expected YYYY-MM-DD, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


Work = Callable[[Any, Any, Actor], Awaitable[int]]


def _as_staff(args: argparse.Namespace, roles: Iterable[Role], work: Work) -> int:
    """Run ``work(config, record, actor)`` as the ``--as`` staff account, allowed ``roles``."""
    async def run() -> int:
        async with reviewing(args, roles) as (reviewer, member, config):
            return await work(config, reviewer.record, Actor.on_cli(member.username))

    return asyncio.run(run())


def _erase(args: argparse.Namespace) -> int:
    async def work(config: Any, record: Any, actor: Actor) -> int:  # noqa: ANN401
        result = await request_erasure(
            record, customer_id=args.customer, hmac_key=config.keys.subject_hmac,
            rules=config.erasure, now=datetime.now(UTC), actor=actor,
            reason=args.reason or CUSTOMER_REQUEST)
        ref = f"subject {result.subject[:16]}…"
        if result.status == "already erased":
            print(f"already erased: {ref}; nothing recorded")  # noqa: T201
        elif result.status == "already deferred":
            print(f"already deferred until {result.due} ({result.basis}): {ref}; "  # noqa: T201
                  "nothing recorded")
        elif result.status == "erased":
            print(f"erased: {ref}, recorded at position {result.seq}")  # noqa: T201
        else:
            print(f"deferred until {result.due} ({result.basis}): {ref}; "  # noqa: T201
                  f"recorded at position {result.seq}")
        for request_id in result.packages:
            print(f"note: the package copy of authority request {request_id} holds the "  # noqa: T201
                  "customer's values until that request is closed")
        if result.status == "erased":
            await dispatch(record, config.erasure.notices, now=datetime.now(UTC), actor=actor)
            _print_told(await listing(record, subject=result.subject, everything=True))
        return 0

    return _as_staff(args, ERASERS, work)


def _run_due(args: argparse.Namespace) -> int:
    async def run() -> int:
        config = Config.from_toml(args.config)
        record = build_record(config)
        await record.open()
        try:
            now, actor, dry = datetime.now(UTC), Actor.on_cli(None), args.dry_run
            due = await run_due(record, now=now, rules=config.erasure, actor=actor,
                                dry_run=dry)
            kept = await apply_retention(record, rules=config.erasure, now=now, actor=actor,
                                         dry_run=dry)
            pending = len(await record.deferred_erasures())
            told = [] if dry else await dispatch(record, config.erasure.notices, now=now,
                                                 actor=actor)
        finally:
            await record.close()
        erased = len({e.subject for e in due + kept if e.status == "erased"})
        deferred = sum(e.status == "deferred" for e in due)
        held = sum(e.status == "held" for e in due + kept)
        packages = expire_packages(package_dir(config), now=now, dry_run=dry,
                                   days=config.erasure.package_retention_days)
        if dry:
            print(f"dry run, nothing changed: would erase {erased} customer(s); would defer "  # noqa: T201
                  f"{deferred} again under a newer hold; {held} kept under a legal hold or "
                  f"an open authority request; would delete {len(packages)} authority package "
                  "copy(ies) past retention")
        else:
            print(f"erased {erased} customer(s); {pending} deferred erasure(s) still "  # noqa: T201
                  f"pending; {held} customer(s) kept under a legal hold or an open authority "
                  f"request; deleted {len(packages)} authority package copy(ies) past "
                  "retention")
            failed = sum(n.result == "failed" for n in told)
            unaddressed = [n.recipient for n in told if n.result == NEEDS_ADDRESS]
            no_address = (f", {len(unaddressed)} with no address to send to (configure one "
                          f"for {', '.join(sorted(set(unaddressed)))})" if unaddressed else "")
            print(f"erasure notices: {len(told) - failed - len(unaddressed)} sent or written, "  # noqa: T201
                  f"{failed} failed{no_address} (see `gateway erasure notices`)")
        return 0

    return asyncio.run(run())


def _hold(args: argparse.Namespace) -> int:
    async def work(config: Any, record: Any, actor: Actor) -> int:  # noqa: ANN401
        seq = await place_hold(record, customer_id=args.customer,
                               hmac_key=config.keys.subject_hmac, until=args.until,
                               basis=args.basis, now=datetime.now(UTC), actor=actor)
        print(f"hold placed until {args.until:%Y-%m-%d}; recorded at position {seq}")  # noqa: T201
        return 0

    return _as_staff(args, HOLDERS, work)


def _list(args: argparse.Namespace) -> int:
    async def work(config: Any, record: Any, _: Actor) -> int:  # noqa: ANN401
        subject = (None if args.customer is None
                   else subject_ref(config.keys.subject_hmac, args.customer))
        found = await waiting(record, now=datetime.now(UTC), subject=subject)
        for w in found:
            label = "hold until" if w.kind == "hold" else "erasure due"
            print(f"{w.subject[:16]}  {label:<11}  {w.until}  {w.basis}  (since {w.since})")  # noqa: T201
        if not found:
            print("no legal hold runs and no erasure is pending")  # noqa: T201
        return 0

    return _as_staff(args, ERASERS, work)


def _release(args: argparse.Namespace) -> int:
    async def work(config: Any, record: Any, actor: Actor) -> int:  # noqa: ANN401
        seq = await release(record, customer_id=args.customer,
                            hmac_key=config.keys.subject_hmac, what=args.what,
                            reason=args.reason, now=datetime.now(UTC), actor=actor)
        done = ("legal hold lifted (a deferred erasure waiting on it falls due at the next "
                "`gateway erasure run`)" if args.what == "hold"
                else "deferred erasure cancelled")
        print(f"{done}; recorded at position {seq}")  # noqa: T201
        return 0

    return _as_staff(args, HOLDERS if args.what == "hold" else ERASERS, work)


def _print_told(found: list[Any]) -> None:
    """Who was told of the erasure (Art. 19, second sentence: the customer may ask)."""
    if not found:
        print("no recipient to tell: the record shows no carrier received the customer's data")  # noqa: T201
        return
    print("recipients told of the erasure (GDPR Art. 19):")  # noqa: T201
    for n in found:
        how = {"sent": "e-mail sent", "written": "notice written for sending",
               "failed": "sending failed, retried by `gateway erasure run`",
               NEEDS_ADDRESS: "no address to send the notice to: written without a To: for "
                              "a person to address; set privacy_email (or an e-mail "
                              f"privacy_contact) in [recipients.{n.recipient}]",
               "acknowledged": "acknowledged", "pending": "pending"}.get(n.result, n.result)
        print(f"  {n.recipient}: {how} (notice {n.notice})")  # noqa: T201


def _notices(args: argparse.Namespace) -> int:
    async def work(config: Any, record: Any, _: Actor) -> int:  # noqa: ANN401
        subject = (None if args.customer is None
                   else subject_ref(config.keys.subject_hmac, args.customer))
        found = await listing(record, subject=subject, everything=args.all)
        for n in found:
            error = f"  ({n.error})" if n.error else ""
            print(f"{n.notice}  {n.recipient:<12} {n.channel:<6} {n.result:<12} "  # noqa: T201
                  f"attempts {n.attempts}  {n.time}  subject {n.subject[:16]}{error}")
        if not found:
            print("no erasure notice waits to be sent or acknowledged" if not args.all  # noqa: T201
                  else "no erasure notice was made")
        return 0

    return _as_staff(args, ERASERS, work)


def _notified(args: argparse.Namespace) -> int:
    async def work(config: Any, record: Any, actor: Actor) -> int:  # noqa: ANN401
        seq = await mark(record, config.erasure.notices, args.notice, result=args.result,
                         now=datetime.now(UTC), actor=actor)
        print(f"notice {args.notice} {args.result}; recorded at position {seq}")  # noqa: T201
        return 0

    return _as_staff(args, ERASERS, work)
