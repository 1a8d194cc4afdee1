"""``python -m carriers.sandbox posti --port 8701``: serve one carrier sandbox until stopped.

The sandbox accepts the credentials its adapter is configured with; each ``create_app``
takes them by the adapter's credential names (e.g. ``--credential api_key=...``, for Posti's
OAuth client also ``--credential client_id=...``) and has defaults such as ``sandbox-client``
/ ``sandbox-secret``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from carriers.sandbox import SANDBOXES, run_sandbox


async def _serve(name: str, host: str, port: int, credentials: dict[str, str]) -> None:
    async with run_sandbox(name, credentials=credentials, host=host, port=port) as (
        base_url,
        _app,
    ):
        print(f"{name} sandbox listening at {base_url}", flush=True)  # noqa: T201 - CLI output
        await asyncio.Event().wait()


def _credential(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        msg = f"expected NAME=VALUE, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return name, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m carriers.sandbox", description=__doc__)
    parser.add_argument("carrier", choices=sorted(SANDBOXES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--credential",
        type=_credential,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a credential the sandbox accepts, by the adapter's credential name",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.carrier, args.host, args.port, dict(args.credential)))


if __name__ == "__main__":
    main()
