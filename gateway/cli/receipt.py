"""`gateway receipt verify FILE --public-key FILE [--witness-key FILE ...]`: check a customer's
receipt (C2SP tlog-proof) offline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli.monitor import read_verifiers
from gateway.cli.witness import add_witness_arguments, witness_check
from gateway.errors import GatewayError
from gateway.transparency.receipt import verify_receipt


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    receipt = sub.add_parser("receipt", help="check a customer's receipt for a disclosure")
    receipt_sub = receipt.add_subparsers(dest="receipt_command", required=True)
    verify = receipt_sub.add_parser("verify", help="check a receipt (C2SP tlog-proof) offline")
    verify.add_argument("file", type=Path, help="the receipt (.tlog-proof)")
    verify.add_argument("--public-key", type=Path, action="append", required=True,
                        help="the log's checkpoint verifier key file; repeat for retired keys")
    add_witness_arguments(verify)
    verify.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> int:
    verifiers = read_verifiers(args.public_key)
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GatewayError(f"cannot read the receipt {args.file}: "
                           f"{getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from None
    check = witness_check(args)
    receipt = verify_receipt(text, verifiers, witnessed=check)
    said = "" if check is None else check.said()
    print(f"OK: the entry at position {receipt.index} is in the signed record{said}")  # noqa: T201
    return 0
