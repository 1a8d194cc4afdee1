"""`gateway log monitor URL --public-key FILE [--witness-key FILE ...] [--state FILE]
[--token TOKEN]`: follow a running gateway from outside, through its published checkpoint,
tiles and (with an auditor's token) entry bundles.

Exit 0: the new checkpoint is consistent with the last one verified (kept in the state file).
Exit 1: it could not be checked (unreachable, refused, not witnessed). Exit 3: the log
misbehaved (a rollback, a fork or a bad entry); the state file is left as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Final

import aiohttp

from gateway.cli.witness import add_witness_arguments, witness_check
from gateway.errors import GatewayError
from gateway.record.checkpoint import Verifier
from gateway.text import printable
from gateway.transparency.monitor import Alarm, MonitorFailed, State, TileClient, follow

EXIT_ALARM: Final = 3
TOKEN_ENV: Final = "GATEWAY_TOKEN"  # noqa: S105 - a variable's name, not a secret
_PROGRESS_FROM: Final = 1_000  # new entries from which a catch-up reports progress


def register(log_sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    monitor = log_sub.add_parser(
        "monitor", help="follow a running gateway from outside (C2SP tlog-tiles): rollback, "
                        "fork and bad entries end it non-zero")
    monitor.add_argument("url", help="the gateway's base URL (it serves /checkpoint and /tile/)")
    monitor.add_argument("--public-key", type=Path, action="append", required=True,
                         help="the log's checkpoint verifier key file; repeat for retired keys")
    monitor.add_argument("--state", type=Path, default=Path("gateway-monitor.json"),
                         help="where the last verified checkpoint is kept "
                              "(default: ./gateway-monitor.json)")
    monitor.add_argument("--token", help="an auditor's bearer token (POST /v1/session), to "
                                         f"check every new entry (default: ${TOKEN_ENV})")
    add_witness_arguments(monitor)
    monitor.set_defaults(run=_monitor)


def read_verifiers(paths: list[Path]) -> list[Verifier]:
    try:
        return [Verifier.from_key_string(p.read_text(encoding="utf-8").strip()) for p in paths]
    except OSError as exc:
        raise GatewayError(f"cannot read {exc.filename}: {exc.strerror}") from None


def _write_state(path: Path, state: State) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as f:
            f.write(state.to_json())
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as exc:
        raise GatewayError(f"cannot write the state file {path}: {exc.strerror}") from None


def _monitor(args: argparse.Namespace) -> int:
    verifiers = read_verifiers(args.public_key)
    witnessed = witness_check(args)
    state = None
    if args.state.exists():
        try:
            state = State.from_json(args.state.read_bytes())
        except OSError as exc:
            raise GatewayError(f"cannot read the state file: {exc.strerror}") from None
    token = args.token or os.environ.get(TOKEN_ENV) or None

    def progress(done: int, total: int) -> None:
        if total >= _PROGRESS_FROM:
            print(f"  checked {done:,} of {total:,} new entries", file=sys.stderr)  # noqa: T201

    async def run() -> tuple[State, str]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            client = TileClient(session=session, url=args.url, token=token)
            return await follow(client, verifiers=verifiers, state=state, witnessed=witnessed,
                                progress=progress)

    try:
        new, summary = asyncio.run(run())
    except Alarm as alarm:
        print(f"gateway: ALARM {printable(alarm.detail)}", file=sys.stderr)  # noqa: T201
        return EXIT_ALARM
    except MonitorFailed as failed:
        print(f"gateway: cannot check the log: {printable(failed.detail)}",  # noqa: T201
              file=sys.stderr)
        return 1
    _write_state(args.state, new)
    print(f"{printable(summary)}; state kept in {args.state}")  # noqa: T201
    return 0
