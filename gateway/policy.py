"""Minimisation: an allow-list per recipient x service, default deny. Pure: no I/O, no clock.

A field not named by the rule never leaves. Required data that the record lacks refuses the
disclosure; nothing is invented. Marketing consent is not a disclosable field at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import attrs
import orjson

from gateway.errors import PolicyError
from gateway.models import Order, Receiver

#: Which customer field carries each notice channel.
NOTICE_FIELDS: Mapping[str, str] = {"sms": "phone", "email": "email"}


@attrs.frozen
class Rule:
    recipient: str
    service: str
    allow: tuple[str, ...]
    require: tuple[str, ...]
    notice: tuple[str, ...] = ()
    notice_required: bool = False
    needs_pickup_point: bool = False

    @property
    def digest(self) -> str:
        """SHA-256 of the rule's canonical form; written into every entry it governs."""
        canonical = orjson.dumps(attrs.asdict(self), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()


@attrs.frozen
class Policy:
    rules: Mapping[tuple[str, str], Rule]

    def rule(self, recipient: str, service: str) -> Rule:
        try:
            return self.rules[(recipient, service)]
        except KeyError:
            raise PolicyError(
                f"no policy rule lets data go to {recipient!r} for service {service!r}"
            ) from None


@attrs.frozen(repr=False)
class Minimised:
    """The outcome of minimisation: the receiver to disclose and the rule that decided it."""

    rule: Rule
    receiver: Receiver

    def __repr__(self) -> str:
        return f"Minimised(rule={self.rule.recipient}/{self.rule.service}, {self.receiver!r})"

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.receiver.fields())


def minimise(order: Order, policy: Policy) -> Minimised:
    """Keep only what the rule for the order's carrier and service lets out."""
    delivery = order.delivery
    rule = policy.rule(delivery.carrier, delivery.service)
    customer = order.customer
    chosen: dict[str, str] = {}
    for name in rule.allow:
        value = delivery.door_code if name == "door_code" else customer.field(name)
        if value:
            chosen[name] = value
    notice_field = _notice_field(order, rule)
    if notice_field is not None:
        chosen[notice_field] = customer.field(notice_field)  # type: ignore[assignment]
    missing = [name for name in rule.require if name not in chosen]
    if missing:
        raise PolicyError(
            f"the order lacks {', '.join(missing)}, required for "
            f"{rule.recipient}/{rule.service}"
        )
    if rule.needs_pickup_point and not delivery.pickup_point_id:
        raise PolicyError(f"{rule.recipient}/{rule.service} needs a pickup point id")
    return Minimised(rule=rule, receiver=Receiver(**chosen))


def _notice_field(order: Order, rule: Rule) -> str | None:
    """The one contact field the arrival notice goes by: the customer's choice where the service
    offers it, else the first offered channel the record can serve, if the service needs one."""
    customer = order.customer
    preferred = order.delivery.notice
    if preferred in rule.notice:
        field = NOTICE_FIELDS[preferred]
        if customer.field(field):
            return field
        raise PolicyError(f"the customer chose {preferred} notice but the order lacks {field}")
    if not rule.notice_required:
        return None
    for channel in rule.notice:
        if customer.field(NOTICE_FIELDS[channel]):
            return NOTICE_FIELDS[channel]
    raise PolicyError(
        f"{rule.recipient}/{rule.service} needs a contact for the arrival notice "
        f"({' or '.join(NOTICE_FIELDS[c] for c in rule.notice)}); the order has none"
    )


def select(values: Mapping[str, str], rule: Rule) -> dict[str, str]:
    """Default deny for a recipient with no delivery notice (an authority request): only the
    fields the rule allows, in canonical order, and only those the record holds."""
    return {name: values[name] for name in rule.allow if values.get(name)}
