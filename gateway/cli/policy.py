"""`gateway policy explain ORDER.json --carrier X --service Y`,
`gateway policy diff OLD.toml NEW.toml`, `gateway policy export --format fides [--out FILE]` and
`gateway policy history [--db FILE]`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import orjson
import yaml

from gateway.config import Config, load_policy
from gateway.errors import BadRequest, GatewayError
from gateway.operations.policy_versions import PolicyVersion, history
from gateway.payload import parse_order_event
from gateway.policy.explain import diff, explain
from gateway.policy.fides import manifest
from gateway.record import policy_versions
from gateway.text import printable

if TYPE_CHECKING:
    from gateway.policy.explain import RuleChange


def register(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers type
    policy = sub.add_parser("policy", help="explain and compare disclosure policies")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    explain = policy_sub.add_parser("explain", help="why each field of an order would or would "
                                                    "not leave")
    explain.add_argument("order", type=Path, help="an order event (JSON, as the pipeline sends)")
    explain.add_argument("--carrier", help="override the order's carrier")
    explain.add_argument("--service", help="override the order's service")
    explain.set_defaults(run=_explain)
    diff = policy_sub.add_parser("diff", help="which fields a policy change starts or stops "
                                              "sending")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.set_defaults(run=_diff)
    export = policy_sub.add_parser("export", help="the policy's systems and datasets in a "
                                                  "standard vocabulary (fides YAML)")
    export.add_argument("--format", choices=["fides"], default="fides",
                        help="fides: the manifest Ethyca's fides loads (fideslang taxonomy)")
    export.add_argument("--out", type=Path, help="write here instead of to stdout")
    export.set_defaults(run=_export)
    history = policy_sub.add_parser("history", help="the policy versions the record holds, "
                                                    "and what changed between them")
    history.add_argument("--db", type=Path, help="a record file, read offline (default: the "
                                                 "config's record, SQLite or PostgreSQL)")
    history.set_defaults(run=_history)


def _explain(args: argparse.Namespace) -> int:
    try:
        body = args.order.read_bytes()
    except OSError as exc:
        raise GatewayError(f"cannot read {args.order}: {exc.strerror}") from None
    if not body.lstrip().startswith(b'{"type"') and b'"data"' not in body:
        body = orjson.dumps({"type": "order.ready_to_ship", "data": orjson.loads(body)})
    try:
        order = parse_order_event(body)
    except BadRequest as exc:
        raise GatewayError(f"{args.order}: {exc.detail}") from None
    delivery = attrs.evolve(order.delivery, carrier=args.carrier or order.delivery.carrier,
                            service=args.service or order.delivery.service)
    result = explain(attrs.evolve(order, delivery=delivery), load_policy(args.config))
    print(f"{result.recipient}/{result.service}"  # noqa: T201
          f"  rule {result.rule_digest[:12] if result.rule_digest else '-'}")
    for d in result.decisions:
        print(f"  {'SENT' if d.sent else 'kept':<5} {d.field:<18} {d.because}")  # noqa: T201
    for d in result.addons:
        print(f"  {'ADDON' if d.sent else 'DENY':<5} {d.field:<18} {d.because}")  # noqa: T201
    for d in result.items:
        if d.sent or not d.because.startswith("not in"):
            print(f"  {'SENT' if d.sent else 'kept':<5} {d.field:<18} {d.because}")  # noqa: T201
    if result.refused:
        print(f"refused: {result.refused}")  # noqa: T201
        return 1
    return 0


def _diff(args: argparse.Namespace) -> int:
    changes = list(diff(load_policy(args.old), load_policy(args.new)))
    for c in changes:
        print(_change(c))  # noqa: T201
    if not changes:
        print("no change in what leaves")  # noqa: T201
    return 0


def _change(c: RuleChange) -> str:
    parts = [f"+{f}" for f in c.starts] + [f"-{f}" for f in c.stops]
    parts += [f"+addon:{a}" for a in c.addons_added]
    parts += [f"-addon:{a}" for a in c.addons_removed]
    parts += [f"~addon:{a}" for a in c.addons_changed]
    note = f"  ({c.note})" if c.note else ""
    return f"{c.recipient}/{c.service}: {' '.join(parts) or 'no field change'}{note}"


def _history(args: argparse.Namespace) -> int:
    if args.db is not None:
        bodies = policy_versions.sqlite_policy_entries(args.db)
    else:
        rc = Config.from_toml(args.config).record
        if rc.store == "postgres" and rc.url is not None:
            bodies = asyncio.run(policy_versions.postgres_policy_entries(rc.url.value,
                                                                         rc.schema))
        else:
            bodies = policy_versions.sqlite_policy_entries(rc.path)
    versions = [PolicyVersion.from_body(body) for body in bodies]
    if not versions:
        print("the record holds no policy version (no gateway has started on it since "  # noqa: T201
              "versions are recorded)")
        return 0
    for version, changes in history(versions):
        rules = len(version.document["rules"])
        print(printable(f"position {version.seq}  recorded {version.time}  "  # noqa: T201
                        f"sha256 {version.sha256}  {rules} rules"))
        if changes is None:
            print("  the first recorded version")  # noqa: T201
        for c in changes or ():
            print(printable(f"  {_change(c)}"))  # noqa: T201
        if changes == []:
            print("  no change in what leaves")  # noqa: T201
    return 0


def _export(args: argparse.Namespace) -> int:
    text = yaml.safe_dump(manifest(load_policy(args.config)), sort_keys=False,
                          allow_unicode=True)
    if args.out is None:
        print(text, end="")  # noqa: T201
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GatewayError(f"cannot write {args.out}: {exc.strerror}") from None
    print(f"wrote {args.out}")  # noqa: T201
    return 0
