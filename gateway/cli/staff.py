"""`gateway staff add USER --role R [--role R2]`, `gateway staff list`,
`gateway staff disable USER`.

Passwords never come from the command line (argv is visible to every user of the machine): from
``--password-file``, the ``GATEWAY_STAFF_PASSWORD`` environment variable, or a prompt.

Adding and disabling an account are appended to the record, in the transaction that changes
the account (kind ``staff.changed``: the account, its roles and enabled flag after the change,
the action, the channel ``cli`` and the OS user who ran the command), so the record says who
could act when."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.actor import Actor
from gateway.errors import BadRequest, GatewayError
from gateway.staff import STAFF_ROLES, Staff

PASSWORD_ENV = "GATEWAY_STAFF_PASSWORD"  # noqa: S105 - the variable's name, not a password


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    staff = sub.add_parser("staff", help="staff accounts and their roles")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="create a staff account")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True, dest="roles",
                     choices=sorted(STAFF_ROLES), help="repeat for several roles")
    add.add_argument("--password-file", type=Path,
                     help=f"read the password from this file (else ${PASSWORD_ENV}, else a "
                          "prompt)")
    add.set_defaults(run=_add)
    listing = staff_sub.add_parser("list", help="list staff accounts")
    listing.set_defaults(run=_list)
    disable = staff_sub.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("username")
    disable.set_defaults(run=_disable)


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            text: str = args.password_file.read_text(encoding="utf-8")
            return text.rstrip("\r\n")
        except OSError as exc:
            raise GatewayError(f"cannot read {args.password_file}: {exc.strerror}") from None
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise BadRequest(f"no terminal to ask for the password on; use --password-file or "
                         f"${PASSWORD_ENV}")
    first = getpass.getpass(f"Password for {args.username}: ")
    if getpass.getpass("Again: ") != first:
        raise BadRequest("the two passwords differ")
    return first


def _with_staff(args: argparse.Namespace,
                work: Callable[[Staff], Awaitable[int]]) -> int:
    from gateway.app import build_record  # noqa: PLC0415 - only these commands need it
    from gateway.config import Config  # noqa: PLC0415

    record = build_record(Config.from_toml(args.config))

    async def run() -> int:
        await record.open()
        try:
            return await work(Staff(record=record))
        finally:
            await record.close()

    return asyncio.run(run())


def _add(args: argparse.Namespace) -> int:
    password = _password(args)

    async def work(staff: Staff) -> int:
        member, seq = await staff.add(args.username, password, args.roles,
                                      actor=Actor.on_cli(None))
        roles = sorted(member.roles)
        print(f"added {member.username}: {', '.join(roles)} (recorded at position {seq})")  # noqa: T201
        return 0

    return _with_staff(args, work)


def _list(args: argparse.Namespace) -> int:
    async def work(staff: Staff) -> int:
        for m in await staff.list():
            state = "disabled" if m.disabled else "active"
            print(f"{m.username:<24} {state:<9} {','.join(sorted(m.roles)):<40} {m.created}")  # noqa: T201
        return 0

    return _with_staff(args, work)


def _disable(args: argparse.Namespace) -> int:
    async def work(staff: Staff) -> int:
        await staff.member(args.username)
        # ``by`` is None: accounts are managed from the OS login, not as staff.
        seq = await staff.disable(args.username, actor=Actor.on_cli(None))
        print(f"disabled {args.username}; their sessions are ended (recorded at position "  # noqa: T201
              f"{seq})")
        return 0

    return _with_staff(args, work)
