"""`gateway staff add USER --role R [--role R2]`, `gateway staff list`,
`gateway staff disable USER`, `gateway staff enable USER`, `gateway staff roles USER --set R,R2`,
`gateway staff password USER`.

Passwords never come from the command line (argv is visible to every user of the machine): from
``--password-file``, the ``GATEWAY_STAFF_PASSWORD`` environment variable, or a prompt.

Every change of an account is appended to the record in the transaction that makes it (kind
``staff.changed``: the account, its roles and enabled flag after the change, the action —
``added``, ``disabled``, ``enabled``, ``roles_changed`` or ``password_reset`` —, the channel
``cli`` and the OS user who ran the command; never a password), so the record says who could
act when."""

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
from gateway.config import Config
from gateway.errors import BadRequest, GatewayError
from gateway.staff.accounts import STAFF_ROLES, Staff
from gateway.wiring import build_record

PASSWORD_ENV = "GATEWAY_STAFF_PASSWORD"  # noqa: S105 - the variable's name, not a password


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    staff = sub.add_parser("staff", help="staff accounts and their roles")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="create a staff account")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True, dest="roles",
                     choices=ROLE_NAMES, help="repeat for several roles")
    _password_argument(add)
    add.set_defaults(run=_add)
    listing = staff_sub.add_parser("list", help="list staff accounts")
    listing.set_defaults(run=_list)
    disable = staff_sub.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("username")
    disable.set_defaults(run=_disable)
    enable = staff_sub.add_parser("enable", help="enable a disabled account again")
    enable.add_argument("username")
    enable.set_defaults(run=_enable)
    roles = staff_sub.add_parser("roles", help="change the roles an account holds")
    roles.add_argument("username")
    roles.add_argument("--set", required=True, dest="roles", type=_role_list,
                       metavar="ROLE[,ROLE]",
                       help=f"the account's roles from now on, comma-separated "
                            f"({', '.join(ROLE_NAMES)})")
    roles.set_defaults(run=_roles)
    password = staff_sub.add_parser("password", help="set a new password for an account and "
                                                     "end its sessions")
    password.add_argument("username")
    _password_argument(password)
    password.set_defaults(run=_set_password)


#: Role names as the command line takes them.
ROLE_NAMES = sorted(r.value for r in STAFF_ROLES)


def _password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-file", type=Path,
                        help=f"read the password from this file (else ${PASSWORD_ENV}, else a "
                             "prompt)")


def _role_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ROLE_NAMES]
    if not names or unknown:
        msg = (f"{'unknown role ' + ', '.join(unknown) if unknown else 'no role given'}; "
               f"name one or more of {', '.join(ROLE_NAMES)}, comma-separated")
        raise argparse.ArgumentTypeError(msg)
    return names


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
        members = await staff.list()
        if not members:
            print("no staff accounts yet; add one with: gateway staff add USER --role ROLE")  # noqa: T201
            return 0
        rows = [("USER", "STATE", "ROLES", "CREATED")] + [
            (m.username, "disabled" if m.disabled else "active", ",".join(sorted(m.roles)),
             m.created) for m in members]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            print("  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)),  # noqa: T201
                             row[3]]))
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


def _enable(args: argparse.Namespace) -> int:
    async def work(staff: Staff) -> int:
        if not (await staff.account(args.username)).disabled:
            raise BadRequest(f"{args.username} is already enabled; nothing recorded")
        member, seq = await staff.enable(args.username, actor=Actor.on_cli(None))
        roles = sorted(member.roles)
        print(f"enabled {member.username}: {', '.join(roles)} (recorded at position {seq})")  # noqa: T201
        return 0

    return _with_staff(args, work)


def _roles(args: argparse.Namespace) -> int:
    async def work(staff: Staff) -> int:
        before = sorted((await staff.account(args.username)).roles)
        if sorted(set(args.roles)) == before:
            print(f"{args.username} already holds {', '.join(before)}; nothing recorded")  # noqa: T201
            return 0
        member, seq = await staff.set_roles(args.username, args.roles,
                                            actor=Actor.on_cli(None))
        roles = sorted(member.roles)
        print(f"{member.username} now holds {', '.join(roles)} (was: {', '.join(before)}; "  # noqa: T201
              f"recorded at position {seq})")
        return 0

    return _with_staff(args, work)


def _set_password(args: argparse.Namespace) -> int:
    async def work(staff: Staff) -> int:
        await staff.account(args.username)  # an unknown account is named before the prompt
        password = await asyncio.to_thread(_password, args)
        member, seq = await staff.set_password(args.username, password,
                                               actor=Actor.on_cli(None))
        print(f"new password set for {member.username}; their sessions are ended (recorded "  # noqa: T201
              f"at position {seq})")
        return 0

    return _with_staff(args, work)
