"""`gateway init DIR`: a starting deployment in DIR: the sample config.toml and its secrets
(``var/secrets/``, as `gateway keygen` makes them), then what to fill in for a real deployment
and the next command to run. Existing files are kept unless ``--force`` is given."""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.errors import BadRequest
from gateway.keygen import FILES, keygen
from gateway.sample import sample_config
from gateway.text import clean

SECRETS = Path("var/secrets")
#: The sample's record name; ``--origin`` replaces it.
SAMPLE_ORIGIN = "jerone.fi/disclosure-record"
_ORIGIN_LINE = re.compile(r'^origin = "[^"\n]*"$', re.MULTILINE)
_ORIGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]*")


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    init = sub.add_parser(
        "init", help="write a starting config.toml and its secrets into a directory",
        description="Write DIR/config.toml (the sample configuration, pointing at the bundled "
                    "carrier sandboxes) and the secrets it names under DIR/var/secrets, then "
                    "say what to fill in before a real deployment.")
    init.add_argument("dir", type=Path, metavar="DIR", help="the deployment's directory "
                                                            "(created if missing)")
    init.add_argument("--origin", default=SAMPLE_ORIGIN,
                      help="the name the record's signed checkpoints carry, e.g. "
                           f"example.com/disclosure-record (default: {SAMPLE_ORIGIN})")
    init.add_argument("--force", action="store_true",
                      help="replace config.toml and secret files that already exist (a "
                           "replaced secret cannot be recovered)")
    init.set_defaults(run=_init)


def _init(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    if not clean(str(directory)):
        raise BadRequest("DIR holds a control or format character; name it in plain text")
    if not _ORIGIN.fullmatch(args.origin):
        raise BadRequest("--origin: letters, digits and . / _ - only, e.g. "
                         "example.com/disclosure-record")
    config = directory / "config.toml"
    targets = [config, *(directory / SECRETS / name for name in FILES)]
    existing = [path for path in targets if path.exists()]
    if existing and not args.force:
        raise BadRequest(f"{', '.join(map(str, existing))} already exist(s); nothing written "
                         "(add --force to replace them)")
    for path in existing:
        path.unlink()
    text = _ORIGIN_LINE.sub(f'origin = "{args.origin}"', sample_config(), count=1)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        config.write_text(text, encoding="utf-8")
        print(f"wrote {config}")  # noqa: T201
        for path in keygen(directory / SECRETS, origin=args.origin):
            print(f"wrote {path}")  # noqa: T201
    except OSError as exc:
        raise BadRequest(f"cannot write into {directory}: {exc.strerror}") from None
    print(_next_steps(config, tomllib.loads(text)))  # noqa: T201
    return 0


def _next_steps(config: Path, raw: Mapping[str, Any]) -> str:
    """What the operator fills in before the gateway serves real orders, and what to run."""
    env = [str(ref["env"]) for table in raw.get("carriers", {}).values()
           for ref in table.get("credentials", {}).values()
           if isinstance(ref, Mapping) and "env" in ref]
    return "\n".join([
        "",
        f"Before a real deployment, edit {config}:",
        "  [gateway] origin        the record's name in its signed checkpoints",
        "  [sender]                your company: name, address, business id (sent to carriers)",
        "  [carriers.*] base_url   the carriers' API addresses (now the bundled sandboxes')",
        "  [policy.*]              which customer fields each carrier service may receive",
        "  [recipients.*], [authorities], [reports]  as your privacy statement names them",
        f"and set the carrier credentials in the environment: {', '.join(env)}.",
        "The secrets under var/secrets stay on this machine; back up checkpoint.key, record-kek.",
        "",
        "Next: try it against the bundled carrier sandboxes:",
        f"  cd {config.parent} && gateway demo",
        "then, with the credentials set:",
        f"  gateway --config {config} serve",
    ])
