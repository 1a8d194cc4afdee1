"""Minimisation: an allow-list per recipient x service x additional service, default deny.
Pure: no I/O, no clock.

A field not named by the rule never leaves. Required data that the record lacks refuses the
disclosure; nothing is invented. Marketing consent is not a disclosable field at all. An
additional service the rule does not list is refused, never dropped. The order's contents
(line items) leave only with a shipment crossing the EU customs border, and only the item
fields the rule allows.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from gateway.errors import PolicyError
from gateway.models import (
    DISCLOSABLE_FIELDS,
    EU_CUSTOMS_TERRITORY,
    ITEM_FIELDS,
    Addon,
    LineItem,
    Order,
    Receiver,
)

#: Which customer field carries each notice channel.
NOTICE_FIELDS: Mapping[str, str] = {"sms": "phone", "email": "email"}
#: How a line-item field is named among a disclosure's fields (and in the record).
ITEM_PREFIX = "items."


@attrs.frozen
class AddonRule:
    """What one additional service lets out beyond its service's rule, and the carrier's code
    and parameters for it (from the adapter's AddonSpec, fixed at start-up)."""

    name: str
    code: str
    allow: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    notice: tuple[str, ...] = ()
    notice_required: bool = False
    params: tuple[str, ...] = ()


@attrs.frozen
class Rule:
    recipient: str
    service: str
    allow: tuple[str, ...]
    require: tuple[str, ...]
    notice: tuple[str, ...] = ()
    notice_required: bool = False
    needs_pickup_point: bool = False
    #: The additional services an order may ask for; any other is refused.
    addons: tuple[AddonRule, ...] = ()
    #: Line-item fields that leave, and must be given, when the shipment crosses the EU
    #: customs border.
    allow_items: tuple[str, ...] = ()
    require_items: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """SHA-256 of the rule's canonical form (``canonical``, as JSON with sorted keys);
        written into every entry it governs. Computed once per distinct rule (a rule is a
        value, and a policy has a handful; every disclosure names its rule's digest)."""
        return _digest(self)

    def canonical(self) -> dict[str, Any]:
        """The rule as a JSON document, as its digest and the recorded policy versions hold it.
        Parts a rule does not use (no add-on, no line item) are left out, so a rule written
        before they existed keeps its digest."""
        doc = attrs.asdict(self)
        for key in ("addons", "allow_items", "require_items"):
            if not doc[key]:
                del doc[key]
        return doc

    def addon(self, name: str) -> AddonRule | None:
        return next((a for a in self.addons if a.name == name), None)

    def may_leave(self) -> tuple[str, ...]:
        """Every field the rule can ever let out, in order: allowed and notice fields with all
        its add-ons, then line-item fields as ``items.<field>``."""
        wide = self.with_addons(tuple(a.name for a in self.addons))
        notice = (NOTICE_FIELDS[c] for c in wide.notice)
        return tuple(dict.fromkeys([*wide.allow, *notice,
                                    *(ITEM_PREFIX + f for f in self.allow_items)]))

    def with_addons(self, names: tuple[str, ...]) -> Rule:
        """This rule widened by the add-on rules ``names`` (each must be listed)."""
        chosen = [a for a in self.addons if a.name in names]
        allow = set(self.allow).union(*(a.allow for a in chosen))
        notice = list(dict.fromkeys([*self.notice, *(c for a in chosen for c in a.notice)]))
        return attrs.evolve(
            self,
            allow=tuple(f for f in DISCLOSABLE_FIELDS if f in allow),
            require=tuple(dict.fromkeys([*self.require, *(f for a in chosen for f in a.require)])),
            notice=tuple(notice),
            notice_required=self.notice_required or any(a.notice_required for a in chosen),
        )


@functools.lru_cache(maxsize=1024)
def _digest(rule: Rule) -> str:
    canonical = orjson.dumps(rule.canonical(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def crosses_customs_border(origin: str, destination: str) -> bool:
    """Whether goods from ``origin`` to ``destination`` (ISO 3166-1 codes) leave or enter the
    EU customs territory, and so need a customs declaration."""
    if origin == destination:
        return False
    return not (origin in EU_CUSTOMS_TERRITORY and destination in EU_CUSTOMS_TERRITORY)


@attrs.frozen
class Policy:
    rules: Mapping[tuple[str, str], Rule]
    #: The country shipments leave from (the sender's): decides whether line items leave.
    origin: str = "FI"

    def rule(self, recipient: str, service: str) -> Rule:
        try:
            return self.rules[(recipient, service)]
        except KeyError:
            raise PolicyError(
                f"no policy rule lets data go to {recipient!r} for service {service!r}"
            ) from None


@attrs.frozen(repr=False)
class Minimised:
    """The outcome of minimisation: the receiver, the add-ons and the line items to disclose,
    and the rule that decided it."""

    rule: Rule
    receiver: Receiver
    addons: tuple[Addon, ...] = ()
    items: tuple[LineItem, ...] = ()

    def __repr__(self) -> str:
        return f"Minimised(rule={self.rule.recipient}/{self.rule.service}, {self.receiver!r})"

    @functools.cached_property
    def fields(self) -> tuple[str, ...]:
        """The receiver's fields, then ``items.<field>`` for each line-item field that leaves.
        Computed once per value (the intent, its outcome and the log line all name them)."""
        given = {f for item in self.items for f in item.fields()}
        return (*self.receiver.fields(), *(ITEM_PREFIX + f for f in ITEM_FIELDS if f in given))

    @property
    def addon_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.addons)


def minimise(order: Order, policy: Policy) -> Minimised:
    """Keep only what the rule for the order's carrier and service, widened by the add-ons the
    order asks for, lets out."""
    delivery = order.delivery
    base = policy.rule(delivery.carrier, delivery.service)
    addons = _addons(delivery.addons, base)
    rule = base.with_addons(tuple(a.name for a in addons))
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
    items = _items(order, base, policy.origin)
    return Minimised(rule=base, receiver=Receiver(**chosen), addons=addons, items=items)


def _addons(asked: tuple[Addon, ...], rule: Rule) -> tuple[Addon, ...]:
    """The add-ons the order asks for, each listed by the rule, with exactly the parameters
    the carrier takes for it; any other add-on refuses the shipment (default deny)."""
    out = []
    for addon in asked:
        listed = rule.addon(addon.name)
        where = f"{rule.recipient}/{rule.service}"
        if listed is None:
            raise PolicyError(f"additional service {addon.name!r} is not in the rule for "
                              f"{where} (default deny)")
        missing = [p for p in listed.params if not addon.params.get(p)]
        if missing:
            raise PolicyError(f"additional service {addon.name!r} lacks "
                              f"{', '.join(missing)}, required for {where}")
        unknown = sorted(set(addon.params) - set(listed.params))
        if unknown:
            raise PolicyError(f"additional service {addon.name!r} takes no "
                              f"{', '.join(unknown)} at {where}")
        out.append(Addon(addon.name, {p: addon.params[p] for p in listed.params}))
    return tuple(out)


def _items(order: Order, rule: Rule, origin: str) -> tuple[LineItem, ...]:
    """The line items a customs declaration needs, minimised to the rule's allow_items; none
    for a shipment that stays inside the EU customs territory (or within one country)."""
    destination = order.customer.address.country
    if not rule.allow_items or not crosses_customs_border(origin, destination):
        return ()
    where = f"{rule.recipient}/{rule.service} (customs: {origin} -> {destination})"
    if not order.items and rule.require_items:
        raise PolicyError(f"the order lacks $.data.items, required for {where}")
    out = []
    for index, item in enumerate(order.items):
        values = item.fields()
        missing = [f"$.data.items[{index}].{f}" for f in rule.require_items if f not in values]
        if missing:
            raise PolicyError(f"the order lacks {', '.join(missing)}, required for {where}")
        out.append(LineItem(**{f: v for f, v in values.items() if f in rule.allow_items}))
    return tuple(out)


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
