"""`gateway keygen`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from gateway.config import Config
from gateway.keygen import keygen
from gateway.wiring import build_record


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    keygen = sub.add_parser("keygen", help="create missing secret files")
    keygen.add_argument("--dir", type=Path, default=Path("var/secrets"))
    keygen.add_argument("--origin", default="jerone.fi/disclosure-record")
    keygen.add_argument(
        "--hook-signing", action="store_true",
        help="also create an Ed25519 pair for Standard Webhooks v1a hook signatures: "
             "hook-signing.key (whsk_) for the order pipeline, hook-signing.pub (whpk_) to "
             "list in the hooks secret")
    keygen.set_defaults(run=_keygen)
    keys = sub.add_parser("keys", help="key rotation")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rewrap = keys_sub.add_parser(
        "rewrap", help="wrap every customer key with the current key-encryption key (after "
                       "rotating it; keep the old one as record_kek_previous until this is done)")
    rewrap.set_defaults(run=_rewrap)


def _keygen(args: argparse.Namespace) -> int:
    written = keygen(args.dir, origin=args.origin, hook_signing=args.hook_signing)
    if not written:
        print(f"every secret file in {args.dir} already exists; nothing written (keygen "  # noqa: T201
              "never replaces a key)")
    for path in written:
        print(f"wrote {path}")  # noqa: T201
        if path.name == "hook-signing.key":
            print(f"  move {path.name} to the order pipeline (the gateway needs only the "  # noqa: T201
                  "public key); add hook-signing.pub's whpk_ key to the hooks secret")
    return 0


def _rewrap(args: argparse.Namespace) -> int:
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
