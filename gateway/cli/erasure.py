"""`gateway erase --customer ID` and `gateway erasure run`."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from gateway.text import clean


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    erase = sub.add_parser("erase", help="erase a customer's values from the record")
    erase.add_argument("--customer", required=True, help="the store's customer id")
    erase.add_argument("--reason", default=None, type=_plain,
                       help="why (default: the customer's request)")
    erase.set_defaults(run=_erase)
    erasure = sub.add_parser("erasure", help="deferred erasures")
    erasure_sub = erasure.add_subparsers(dest="erasure_command", required=True)
    run = erasure_sub.add_parser("run", help="carry out deferred erasures whose hold has ended "
                                             "and erase customers past the retention period")
    run.set_defaults(run=_run_due)
    hold = erasure_sub.add_parser("hold", help="put a legal hold on a customer's values")
    hold.add_argument("--customer", required=True)
    hold.add_argument("--until", required=True, type=_date, help="YYYY-MM-DD (UTC)")
    hold.add_argument("--basis", required=True, type=_plain,
                      help="the law or matter that requires it")
    hold.set_defaults(run=_hold)


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


async def _with_record(args: argparse.Namespace, work: Any) -> int:  # noqa: ANN401
    from gateway.app import build_record  # noqa: PLC0415 - only these commands need it
    from gateway.config import Config  # noqa: PLC0415

    config = Config.from_toml(args.config)
    record = build_record(config)
    await record.open()
    try:
        return int(await work(config, record))
    finally:
        await record.close()


def _erase(args: argparse.Namespace) -> int:
    from gateway.erasure import CUSTOMER_REQUEST, request_erasure  # noqa: PLC0415

    async def work(config: Any, record: Any) -> int:  # noqa: ANN401
        result = await request_erasure(
            record, customer_id=args.customer, hmac_key=config.keys.subject_hmac,
            rules=config.erasure, now=datetime.now(UTC), reason=args.reason or CUSTOMER_REQUEST)
        if result.status == "erased":
            print(f"erased: subject {result.subject[:16]}…, recorded at position {result.seq}")  # noqa: T201
        else:
            print(f"deferred until {result.due} ({config.erasure.hold_basis}); "  # noqa: T201
                  f"recorded at position {result.seq}")
        return 0

    return asyncio.run(_with_record(args, work))


def _run_due(args: argparse.Namespace) -> int:
    from gateway.authority_desk import package_dir  # noqa: PLC0415
    from gateway.erasure import apply_retention, expire_packages, run_due  # noqa: PLC0415

    async def work(config: Any, record: Any) -> int:  # noqa: ANN401
        now = datetime.now(UTC)
        due = await run_due(record, now=now, rules=config.erasure)
        kept = await apply_retention(record, rules=config.erasure, now=now)
        erased = [e for e in due + kept if e.status == "erased"]
        held = [e for e in due + kept if e.status != "erased"]
        packages = expire_packages(package_dir(config), now=now,
                                   days=config.erasure.package_retention_days)
        print(f"erased {len(erased)} customer(s); {len(held)} still under a legal hold; "  # noqa: T201
              f"deleted {len(packages)} authority package copy(ies) past retention")
        return 0

    return asyncio.run(_with_record(args, work))


def _hold(args: argparse.Namespace) -> int:
    from gateway.erasure import place_hold  # noqa: PLC0415

    async def work(config: Any, record: Any) -> int:  # noqa: ANN401
        seq = await place_hold(record, customer_id=args.customer,
                               hmac_key=config.keys.subject_hmac, until=args.until,
                               basis=args.basis, now=datetime.now(UTC))
        print(f"hold placed until {args.until:%Y-%m-%d}; recorded at position {seq}")  # noqa: T201
        return 0

    return asyncio.run(_with_record(args, work))
