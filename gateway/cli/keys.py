"""`gateway keygen`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    keygen = sub.add_parser("keygen", help="create missing secret files")
    keygen.add_argument("--dir", type=Path, default=Path("var/secrets"))
    keygen.add_argument("--origin", default="jerone.fi/disclosure-record")
    keygen.set_defaults(run=_keygen)
    keys = sub.add_parser("keys", help="key rotation")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rewrap = keys_sub.add_parser(
        "rewrap", help="wrap every customer key with the current key-encryption key (after "
                       "rotating it; keep the old one as record_kek_previous until this is done)")
    rewrap.set_defaults(run=_rewrap)


def _keygen(args: argparse.Namespace) -> int:
    from gateway.keygen import keygen  # noqa: PLC0415

    for path in keygen(args.dir, origin=args.origin):
        print(f"wrote {path}")  # noqa: T201
    return 0


def _rewrap(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from gateway.app import build_record  # noqa: PLC0415
    from gateway.config import Config  # noqa: PLC0415

    async def run() -> int:
        record = build_record(Config.from_toml(args.config))
        await record.open()
        try:
            return await record.rewrap()
        finally:
            await record.close()

    count = asyncio.run(run())
    print(f"rewrapped {count} customer key(s) with the current key-encryption key")  # noqa: T201
    return 0
