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


def _keygen(args: argparse.Namespace) -> int:
    from gateway.keygen import keygen  # noqa: PLC0415

    for path in keygen(args.dir, origin=args.origin):
        print(f"wrote {path}")  # noqa: T201
    return 0
