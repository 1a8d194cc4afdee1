"""`gateway` command line. Each command group lives in its own module with a ``register``
function that adds its sub-parser and sets ``run`` (args -> exit code).

Errors end the command with a one-line message on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway import logs
from gateway.cli import authority, erasure, keys, log, policy, report, serve, staff, witness
from gateway.errors import GatewayError

EXIT_FAILED = 1

#: Command modules, each with ``register(subparsers)``.
COMMANDS = (serve, keys, log, erasure, policy, staff, report, authority, witness)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description="The data-disclosure gateway.")
    p.add_argument("--config", type=Path, default=Path("config.toml"),
                   help="configuration file (default: ./config.toml)")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure()
    try:
        code: int = args.run(args)
    except GatewayError as exc:
        print(f"gateway: {exc.detail}", file=sys.stderr)  # noqa: T201 - the CLI's own voice
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return code
