"""`gateway` command line. Each command group lives in its own module with a ``register``
function that adds its sub-parser and sets ``run`` (args -> exit code).

Errors end the command with a one-line message on stderr and a non-zero exit. A closed
output pipe (``gateway log show | head``) ends it quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway import logs
from gateway.cli import (
    authority,
    erasure,
    init,
    keys,
    log,
    policy,
    receipt,
    report,
    serve,
    staff,
    witness,
)
from gateway.errors import GatewayError
from gateway.text import printable

EXIT_FAILED = 1
#: The configuration file a command reads when ``--config`` names none.
DEFAULT_CONFIG = Path("config.toml")
#: 128 + SIGPIPE: what a shell reports for a command whose reader closed the pipe.
EXIT_BROKEN_PIPE = 141

#: Command modules, each with ``register(subparsers)``.
COMMANDS = (init, serve, keys, log, erasure, policy, staff, report, authority, witness, receipt)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description="The data-disclosure gateway.")
    p.add_argument("--config", type=Path, default=None,
                   help="configuration file (default: ./config.toml)")
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Whether --config was named: `gateway demo` runs on the bundled sample only when it was not.
    args.config_named = args.config is not None
    if args.config is None:
        args.config = DEFAULT_CONFIG
    logs.configure()
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # here, so a closed pipe is met below and not at exit
    except GatewayError as exc:
        print(f"gateway: {printable(exc.detail)}", file=sys.stderr)  # noqa: T201 - the CLI's own voice
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`gateway log show | head`): stop quietly, as a command killed
        # by SIGPIPE would, and point stdout at /dev/null so the flush at exit cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return code
