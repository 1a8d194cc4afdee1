"""`gateway policy explain ORDER.json --carrier X --service Y`,
`gateway policy diff OLD.toml NEW.toml` and `gateway policy export --format fides [--out FILE]`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import attrs
import orjson

from gateway.errors import BadRequest, GatewayError


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


def _explain(args: argparse.Namespace) -> int:
    from gateway.config import load_policy  # noqa: PLC0415
    from gateway.explain import explain  # noqa: PLC0415
    from gateway.payload import parse_order_event  # noqa: PLC0415

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
    from gateway.config import load_policy  # noqa: PLC0415
    from gateway.explain import diff  # noqa: PLC0415

    changes = list(diff(load_policy(args.old), load_policy(args.new)))
    for c in changes:
        parts = [f"+{f}" for f in c.starts] + [f"-{f}" for f in c.stops]
        parts += [f"+addon:{a}" for a in c.addons_added]
        parts += [f"-addon:{a}" for a in c.addons_removed]
        parts += [f"~addon:{a}" for a in c.addons_changed]
        note = f"  ({c.note})" if c.note else ""
        print(f"{c.recipient}/{c.service}: {' '.join(parts) or 'no field change'}{note}")  # noqa: T201
    if not changes:
        print("no change in what leaves")  # noqa: T201
    return 0


def _export(args: argparse.Namespace) -> int:
    import yaml  # noqa: PLC0415 - only the export writes YAML

    from gateway.config import load_policy  # noqa: PLC0415
    from gateway.fides import manifest  # noqa: PLC0415

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
