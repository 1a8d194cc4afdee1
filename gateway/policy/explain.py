"""Policy tools for people: why each field, additional service and line-item field of an order
would or would not leave, and which a policy change would start or stop sending. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from gateway.errors import PolicyError
from gateway.models import DISCLOSABLE_FIELDS, ITEM_FIELDS, Order
from gateway.policy.rules import (
    ITEM_PREFIX,
    NOTICE_FIELDS,
    Policy,
    Rule,
    crosses_customs_border,
    minimise,
)

#: Every customer field the store holds, in the order the privacy policy lists them.
CUSTOMER_FIELDS = (*DISCLOSABLE_FIELDS, "marketing_consent")


@attrs.frozen
class FieldDecision:
    field: str
    sent: bool
    because: str


@attrs.frozen
class Explanation:
    recipient: str
    service: str
    rule_digest: str | None
    decisions: tuple[FieldDecision, ...]
    refused: str | None = None
    #: The additional services the order asks for, each with the rule that lets it or not.
    addons: tuple[FieldDecision, ...] = ()
    #: Each line-item field (``items.description``...), and why it would or would not leave.
    items: tuple[FieldDecision, ...] = ()


def explain(order: Order, policy: Policy) -> Explanation:
    """Each customer field, add-on and line-item field of ``order`` with the rule that let it
    out or kept it in."""
    d = order.delivery
    try:
        base = policy.rule(d.carrier, d.service)
    except PolicyError as exc:
        decisions = tuple(FieldDecision(f, sent=False, because="no rule for this recipient "
                                        "and service: default deny") for f in CUSTOMER_FIELDS)
        return Explanation(d.carrier, d.service, None, decisions, refused=exc.detail)
    try:
        sent = set(minimise(order, policy).fields)
        refused = None
    except PolicyError as exc:
        sent, refused = set(), exc.detail
    listed = tuple(a.name for a in d.addons if base.addon(a.name) is not None)
    rule = base.with_addons(listed)
    decisions = tuple(_decide(order, base, rule, field, sent, refused)
                      for field in CUSTOMER_FIELDS)
    addons = tuple(_addon(base, a.name, refused) for a in d.addons)
    items = tuple(_item(order, base, policy.origin, f, sent, refused) for f in ITEM_FIELDS)
    return Explanation(base.recipient, base.service, base.digest, decisions, refused,
                       addons=addons, items=items)


def _where(base: Rule, order: Order, field: str | None = None, channel: str | None = None,
           ) -> str:
    """The table that lets ``field`` (or the notice ``channel``) out: the service's own rule,
    else the first add-on asked for that names it."""
    top = f"[policy.{base.recipient}.{base.service}]"
    if (field is not None and field in base.allow) or (channel is not None
                                                       and channel in base.notice):
        return top
    for asked in order.delivery.addons:
        rule = base.addon(asked.name)
        if rule is not None and (field in rule.allow or channel in rule.notice):
            return f"[policy.{base.recipient}.{base.service}.addons.{rule.name}]"
    return top


def _addon(base: Rule, name: str, refused: str | None) -> FieldDecision:
    rule = base.addon(name)
    top = f"[policy.{base.recipient}.{base.service}]"
    if rule is None:
        return FieldDecision(name, sent=False, because=f"not in {top} addons: default deny, "
                                                       "the shipment is refused")
    if refused is not None:
        return FieldDecision(name, sent=False, because=f"shipment refused: {refused}")
    return FieldDecision(name, sent=True, because=f"[policy.{base.recipient}.{base.service}"
                                                  f".addons.{name}] (carrier code {rule.code})")


def _item(order: Order, base: Rule, origin: str, field: str, sent: set[str],
          refused: str | None) -> FieldDecision:
    name = ITEM_PREFIX + field
    top = f"[policy.{base.recipient}.{base.service}]"
    destination = order.customer.address.country
    if field not in base.allow_items:
        return FieldDecision(name, sent=False, because=f"not in {top} allow_items: default deny")
    if not crosses_customs_border(origin, destination):
        return FieldDecision(name, sent=False, because=f"{origin} -> {destination} stays in the "
                                                       "EU customs territory: no line item leaves")
    if name in sent:
        return FieldDecision(name, sent=True, because=f"{top} allow_items (customs: {origin} -> "
                                                      f"{destination})")
    if refused is not None:
        return FieldDecision(name, sent=False, because=f"shipment refused: {refused}")
    return FieldDecision(name, sent=False, because=f"{top} allows it; the order has none")


def _decide(order: Order, base: Rule, rule: Rule, field: str, sent: set[str],
            refused: str | None) -> FieldDecision:
    if field == "marketing_consent":
        return FieldDecision(field, sent=False, because="marketing consent never leaves")
    where = _where(base, order, field=field)
    value = order.delivery.door_code if field == "door_code" else order.customer.field(field)
    if field in sent:
        if field in rule.allow:
            return FieldDecision(field, sent=True, because=f"{where} allow")
        channel = next(c for c, f in NOTICE_FIELDS.items() if f == field)
        how = "the customer's choice" if order.delivery.notice == channel else (
            "notice_required, first contact the record holds")
        where = _where(base, order, channel=channel)
        return FieldDecision(field, sent=True, because=f"{where} notice: {channel} ({how})")
    if refused is not None and (field in rule.allow or field in NOTICE_FIELDS.values()):
        return FieldDecision(field, sent=False, because=f"shipment refused: {refused}")
    if field in rule.allow and not value:
        return FieldDecision(field, sent=False, because=f"{where} allows it; the order has none")
    notice_channels = [c for c in rule.notice if NOTICE_FIELDS[c] == field]
    if notice_channels:
        return FieldDecision(field, sent=False,
                             because=f"{where} notice offers {notice_channels[0]}; another "
                                     "contact was used")
    return FieldDecision(field, sent=False, because=f"not in {where} allow: default deny")


@attrs.frozen
class RuleChange:
    """What a policy change does to one recipient and service: fields (``items.<field>`` for
    line-item fields) that start or stop leaving, and additional services newly listed, no
    longer listed, or whose rule changed."""

    recipient: str
    service: str
    starts: tuple[str, ...]
    stops: tuple[str, ...]
    note: str = ""
    addons_added: tuple[str, ...] = ()
    addons_removed: tuple[str, ...] = ()
    addons_changed: tuple[str, ...] = ()


#: Every name a change can start or stop, in the order they are listed.
_ALL = (*DISCLOSABLE_FIELDS, *(ITEM_PREFIX + f for f in ITEM_FIELDS))


def _may_leave(rule: Rule | None) -> set[str]:
    """What the rule can ever let out: with every add-on it lists, and line items."""
    return set(rule.may_leave()) if rule is not None else set()


def diff(old: Policy, new: Policy) -> Iterator[RuleChange]:
    """Per recipient and service, the fields and add-ons that would start or stop leaving."""
    for key in sorted(set(old.rules) | set(new.rules)):
        was, now = old.rules.get(key), new.rules.get(key)
        before, after = _may_leave(was), _may_leave(now)
        note = ("new rule" if was is None else
                "rule removed: nothing goes to this service" if now is None else "")
        addons_before = {a.name: a for a in was.addons} if was else {}
        addons_after = {a.name: a for a in now.addons} if now else {}
        added = tuple(n for n in addons_after if n not in addons_before)
        removed = tuple(n for n in addons_before if n not in addons_after)
        changed = tuple(n for n in addons_after
                        if n in addons_before and addons_before[n] != addons_after[n])
        if before != after or note or added or removed or changed:
            yield RuleChange(
                recipient=key[0], service=key[1],
                starts=tuple(f for f in _ALL if f in after - before),
                stops=tuple(f for f in _ALL if f in before - after), note=note,
                addons_added=added, addons_removed=removed, addons_changed=changed,
            )
