"""The ``[policy]`` tables of config.toml -> a validated Policy.

Checked at start-up against what each carrier documents (its adapter's ServiceSpec): a rule
must allow every field the carrier requires for the service, an add-on rule may exist only for
an additional service the carrier offers with that service and must let out what the carrier
needs for it, and ``allow_items`` may appear only where the carrier takes line items and must
allow every item field it requires. Marketing consent can never be named.

Shape of one rule::

    [policy.CARRIER.SERVICE]
    allow = [...]; require = [...]; notice = [...]; notice_required = false
    allow_items = [...]; require_items = [...]      # customs line items (DHL Express)

    [policy.CARRIER.SERVICE.addons.ADDON]           # one table per additional service
    allow = [...]; require = [...]; notice = [...]; notice_required = false
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from carriers import ADAPTERS, ServiceSpec
from gateway.errors import ConfigError
from gateway.models import DISCLOSABLE_FIELDS, ITEM_FIELDS
from gateway.policy.rules import NOTICE_FIELDS, AddonRule, Policy, Rule


def parse_policy(raw: Mapping[str, Any], carriers: Mapping[str, object], *,
                 origin: str = "FI") -> Policy:
    """The policy of ``raw`` (the [policy] table) for the configured ``carriers``; shipments
    leave from ``origin`` (the sender's country)."""
    rules = {}
    for recipient, services in raw.items():
        if recipient not in carriers:
            raise ConfigError(f"[policy.{recipient}]: no such carrier in [carriers]")
        specs = ADAPTERS[recipient].services
        for service, table in services.items():
            where = f"[policy.{recipient}.{service}]"
            if service not in specs:
                raise ConfigError(
                    f"{where}: unknown service (known for {recipient}: {', '.join(sorted(specs))})"
                )
            rules[(recipient, service)] = _rule(table, recipient, service, specs[service], where)
    if not rules:
        raise ConfigError("[policy] allows nothing: every disclosure would be refused")
    return Policy(rules, origin=origin)


def _rule(table: Mapping[str, Any], recipient: str, service: str, spec: ServiceSpec,
          where: str) -> Rule:
    _only(table, {"allow", "require", "notice", "notice_required", "addons", "allow_items",
                  "require_items"}, where)
    allow = _fields(table.get("allow", []), f"{where} allow")
    require = _fields(table.get("require", []), f"{where} require")
    notice = _notice(table, where)
    notice_fields = {NOTICE_FIELDS[channel] for channel in notice}
    if not set(require) <= set(allow) | notice_fields:
        raise ConfigError(f"{where}: require names fields that allow does not let out")
    missing = sorted(spec.required - set(allow))
    if missing:
        raise ConfigError(
            f"{where}: {recipient} requires {', '.join(missing)} for {service}; allow them"
        )
    base = Rule(
        recipient=recipient,
        service=service,
        allow=allow,
        require=require,
        notice=notice,
        notice_required=_flag(table, "notice_required", where),
        needs_pickup_point=spec.needs_pickup_point,
    )
    addons = table.get("addons", {})
    if not isinstance(addons, Mapping):
        raise ConfigError(f"{where} addons: expected one table per additional service")
    where_addon = f"[policy.{recipient}.{service}.addons"
    allow_items, require_items = _items(table, recipient, service, spec, where)
    return attrs.evolve(
        base,
        addons=tuple(_addon(base, spec, name, value, f"{where_addon}.{name}]")
                     for name, value in addons.items()),
        allow_items=allow_items, require_items=require_items,
    )


def _addon(rule: Rule, spec: ServiceSpec, name: str, table: object, where: str) -> AddonRule:
    offered = spec.addon(name)
    if offered is None:
        known = ", ".join(a.name for a in spec.addons) or "none"
        raise ConfigError(f"{where}: {rule.recipient} offers no such additional service with "
                          f"{rule.service} (offered: {known})")
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table")
    _only(table, {"allow", "require", "notice", "notice_required"}, where)
    addon = AddonRule(
        name=name, code=offered.code, params=offered.params,
        allow=_fields(table.get("allow", []), f"{where} allow"),
        require=_fields(table.get("require", []), f"{where} require"),
        notice=_notice(table, where),
        notice_required=_flag(table, "notice_required", where),
    )
    merged = attrs.evolve(rule, addons=(addon,)).with_addons((name,))
    notice_fields = {NOTICE_FIELDS[c] for c in merged.notice}
    if not set(addon.require) <= set(merged.allow) | notice_fields:
        raise ConfigError(f"{where}: require names fields that allow does not let out")
    missing = sorted(offered.required - set(merged.allow))
    if missing:
        raise ConfigError(f"{where}: {rule.recipient} requires {', '.join(missing)} for "
                          f"{name}; allow them")
    if offered.any_of:
        sure = set(merged.require) | (notice_fields if merged.notice_required else set())
        if not offered.any_of & sure:
            choices = " or ".join(sorted(offered.any_of))
            raise ConfigError(f"{where}: {rule.recipient} needs {choices} for {name}; require "
                              "one, or offer notice channels with notice_required = true")
    return addon


def _items(table: Mapping[str, Any], recipient: str, service: str, spec: ServiceSpec,
           where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    allow = _item_fields(table.get("allow_items", []), f"{where} allow_items")
    require = _item_fields(table.get("require_items", []), f"{where} require_items")
    if not spec.items and (allow or require):
        raise ConfigError(f"{where}: {recipient} takes no line items for {service}")
    if not set(require) <= set(allow):
        raise ConfigError(f"{where}: require_items names fields that allow_items does not let out")
    missing = sorted(spec.items - set(allow))
    if spec.items and missing:
        raise ConfigError(f"{where}: {recipient} requires line items with {', '.join(missing)} "
                          f"for {service} leaving the EU customs territory; allow_items them")
    return allow, require


def _notice(table: Mapping[str, Any], where: str) -> tuple[str, ...]:
    notice = table.get("notice", [])
    if not isinstance(notice, list) or not all(isinstance(c, str) for c in notice):
        raise ConfigError(f"{where} notice: expected a list of channels")
    bad = [channel for channel in notice if channel not in NOTICE_FIELDS]
    if bad:
        raise ConfigError(
            f"{where}: unknown notice channel(s) {', '.join(bad)} (known: sms, email)")
    return tuple(notice)


def _flag(table: Mapping[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where} {key}: expected true or false")
    return value


def _fields(values: object, where: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: expected a list of field names")
    if "marketing_consent" in values:
        raise ConfigError(f"{where}: marketing_consent never leaves the store")
    unknown = [v for v in values if v not in DISCLOSABLE_FIELDS]
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(unknown)} "
            f"(known: {', '.join(DISCLOSABLE_FIELDS)})"
        )
    return tuple(v for v in DISCLOSABLE_FIELDS if v in values)


def _item_fields(values: object, where: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: expected a list of line-item field names")
    unknown = [v for v in values if v not in ITEM_FIELDS]
    if unknown:
        raise ConfigError(f"{where}: unknown line-item field(s) {', '.join(unknown)} "
                          f"(known: {', '.join(ITEM_FIELDS)})")
    return tuple(v for v in ITEM_FIELDS if v in values)


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
