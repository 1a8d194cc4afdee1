"""Policy tools for people: why each field of an order would or would not leave, and which
fields a policy change would start or stop sending. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from gateway.errors import PolicyError
from gateway.models import DISCLOSABLE_FIELDS, Order
from gateway.policy import NOTICE_FIELDS, Policy, Rule, minimise

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


def explain(order: Order, policy: Policy) -> Explanation:
    """Each customer field of ``order`` with the rule that let it out or kept it in."""
    d = order.delivery
    try:
        rule = policy.rule(d.carrier, d.service)
    except PolicyError as exc:
        decisions = tuple(FieldDecision(f, sent=False, because="no rule for this recipient "
                                        "and service: default deny") for f in CUSTOMER_FIELDS)
        return Explanation(d.carrier, d.service, None, decisions, refused=exc.detail)
    where = f"[policy.{rule.recipient}.{rule.service}]"
    try:
        sent = set(minimise(order, policy).fields)
        refused = None
    except PolicyError as exc:
        sent, refused = set(), exc.detail
    decisions = tuple(_decide(order, rule, where, field, sent, refused)
                      for field in CUSTOMER_FIELDS)
    return Explanation(rule.recipient, rule.service, rule.digest, decisions, refused)


def _decide(order: Order, rule: Rule, where: str, field: str, sent: set[str],
            refused: str | None) -> FieldDecision:
    if field == "marketing_consent":
        return FieldDecision(field, sent=False, because="marketing consent never leaves")
    value = order.delivery.door_code if field == "door_code" else order.customer.field(field)
    if field in sent:
        if field in rule.allow:
            return FieldDecision(field, sent=True, because=f"{where} allow")
        channel = next(c for c, f in NOTICE_FIELDS.items() if f == field)
        how = "the customer's choice" if order.delivery.notice == channel else (
            "notice_required, first contact the record holds")
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
    recipient: str
    service: str
    starts: tuple[str, ...]
    stops: tuple[str, ...]
    note: str = ""


def _may_leave(rule: Rule) -> set[str]:
    return set(rule.allow) | {NOTICE_FIELDS[c] for c in rule.notice}


def diff(old: Policy, new: Policy) -> Iterator[RuleChange]:
    """Per recipient and service, the fields that would start or stop leaving."""
    for key in sorted(set(old.rules) | set(new.rules)):
        before = _may_leave(old.rules[key]) if key in old.rules else set()
        after = _may_leave(new.rules[key]) if key in new.rules else set()
        note = ("new rule" if key not in old.rules else
                "rule removed: nothing goes to this service" if key not in new.rules else "")
        if before != after or note:
            yield RuleChange(
                recipient=key[0], service=key[1],
                starts=tuple(f for f in DISCLOSABLE_FIELDS if f in after - before),
                stops=tuple(f for f in DISCLOSABLE_FIELDS if f in before - after), note=note,
            )
