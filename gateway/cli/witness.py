"""`gateway witness keygen | serve`: a standalone witness for another machine."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.errors import ConfigError, GatewayError
from gateway.http.witness_api import create_witness_app
from gateway.record.checkpoint import ED25519
from gateway.record.note_keys import parse_vkey
from gateway.witness.cosignature import Cosigner, CosignerKey, note_text
from gateway.witness.policy import WitnessPolicy, WitnessRef
from gateway.witness.settings import ServerSettings


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    witness = sub.add_parser("witness", help="run a witness that cosigns the record's "
                                             "checkpoints (C2SP tlog-witness)")
    witness_sub = witness.add_subparsers(dest="witness_command", required=True)
    keygen = witness_sub.add_parser("keygen", help="create the witness's Ed25519 key pair")
    keygen.add_argument("dir", type=Path, help="where to write witness.key and witness.pub")
    keygen.add_argument("--name", required=True,
                        help="the witness's name, a schema-less URL (e.g. "
                             "auditor.example/witness)")
    keygen.set_defaults(run=_keygen)
    serve = witness_sub.add_parser("serve", help="serve the tlog-witness API")
    serve.add_argument("--config", dest="witness_config", type=Path,
                       default=Path("witness.toml"), help="the witness's settings "
                                                          "(default: ./witness.toml)")
    serve.add_argument("--host", help="listen on this address (default: from the settings)")
    serve.add_argument("--port", type=int, help="listen on this port; 0 picks a free one")
    serve.set_defaults(run=_serve)


def _keygen(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    key, pub = directory / "witness.key", directory / "witness.pub"
    if key.exists():
        raise GatewayError(f"{key} exists; a witness keeps its key")
    cosigner = Cosigner.generate(args.name)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cosigner.key_string() + "\n")
        pub.write_text(cosigner.public().vkey() + "\n", encoding="utf-8")
    except OSError as exc:
        raise GatewayError(f"cannot write the witness key: {exc.strerror}") from None
    print(f"wrote {key}\nwrote {pub}: give this public key to the log's operator\n"  # noqa: T201
          f"  {cosigner.public().vkey()}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = ServerSettings.from_toml(args.witness_config)
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    app = create_witness_app(settings)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                raise GatewayError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            bound = runner.addresses[0]
            print(f"witness {settings.cosigner.name} listening on "  # noqa: T201
                  f"http://{bound[0]}:{bound[1]}", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())
    print("witness stopped", file=sys.stderr)  # noqa: T201
    return 0


def add_witness_arguments(parser: argparse.ArgumentParser) -> None:
    """`gateway log verify`'s witness options."""
    parser.add_argument("--witness-key", type=Path, action="append", default=[],
                        help="a witness's public key (vkey) file; repeat for each witness")
    parser.add_argument("--quorum", type=int, default=None,
                        help="how many of the --witness-key witnesses must have cosigned the "
                             "newest checkpoint (default: all of them)")
    parser.add_argument("--witness-policy", type=Path,
                        help="a C2SP tlog-policy file naming the witnesses and the quorum")


class WitnessCheck:
    """The cosignature check the witness options ask for, called with a checkpoint's note and
    its cosignature lines (what is missing, or None); it keeps how many of the policy's
    witnesses cosigned the last checkpoint checked, for the command's OK line."""

    def __init__(self, policy: WitnessPolicy) -> None:
        self.policy = policy
        self.cosigned: int | None = None

    def __call__(self, note: str, lines: str) -> str | None:
        text = note_text(note)
        self.cosigned = len(self.policy.cosigners(text, lines))
        return self.policy.problem(text, lines)

    def said(self) -> str:
        """What an OK line adds: "; witnessed by 1 of 1 witness (quorum 1)"."""
        group = self.policy.groups.get(self.policy.quorum)
        everyone = group is not None and set(group.members) == set(self.policy.witnesses)
        quorum = str(group.threshold) if group is not None and everyone else (
            self.policy.describe())
        n = len(self.policy.witnesses)
        return (f"; witnessed by {self.cosigned or 0} of {n} "
                f"witness{'' if n == 1 else 'es'} (quorum {quorum})")


def witness_check(args: argparse.Namespace) -> WitnessCheck | None:
    """The cosignature check the witness options ask for; None without them."""
    if args.witness_policy is not None:
        if args.witness_key or args.quorum is not None:
            raise GatewayError("give --witness-policy, or --witness-key with --quorum")
        try:
            policy = WitnessPolicy.parse(args.witness_policy.read_text(encoding="utf-8"),
                                         where=str(args.witness_policy))
        except OSError as exc:
            raise GatewayError(f"cannot read {args.witness_policy}: {exc.strerror}") from None
    elif args.witness_key:
        refs = [WitnessRef(name=str(path), key=_witness_key(path)) for path in args.witness_key]
        policy = WitnessPolicy.k_of_n(refs, len(refs) if args.quorum is None else args.quorum)
    elif args.quorum is not None:
        raise GatewayError("--quorum counts cosignatures by the --witness-key witnesses")
    else:
        return None
    return WitnessCheck(policy)


def _witness_key(path: Path) -> CosignerKey:
    """The witness public key in ``path``; a refusal names the file, and says so when it holds
    a log's checkpoint key instead."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GatewayError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a valid witness key (not UTF-8 text)") from None
    try:
        return CosignerKey.from_vkey(text)
    except ConfigError as exc:
        hint = (" (it holds a log's checkpoint key: give that as --public-key)"
                if parse_vkey(text, ED25519) is not None else "")
        raise ConfigError(f"{path}: {exc.detail}{hint}") from None
