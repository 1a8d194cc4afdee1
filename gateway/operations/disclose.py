"""The one path every carrier disclosure follows:

minimise -> durable intent -> carrier -> durable outcome -> answer.

No durable intent, no disclosure: if the record cannot take the intent, nothing is sent. A
return label takes the same path: its rule is the carrier's ``return`` service, the customer
is the sender, and the intent's data says ``operation: return``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Mapping
from typing import Any

import attrs
import structlog

from carriers import RETURN, Carrier, unsupported
from gateway.errors import CarrierError, PolicyError, problem_body
from gateway.models import (
    RETURN_SERVICE,
    Order,
    Party,
    ReturnOrder,
    ReturnShipment,
    Shipment,
    ShipmentResult,
)
from gateway.operations.answer import Answer, result_of
from gateway.operations.policy_versions import PolicyVersion, named
from gateway.policy.rules import Minimised, Policy, minimise
from gateway.record import Draft, Kind, Record
from gateway.record.rows import HookOp
from gateway.record.sealing import (
    hook_context,
    intent_context,
    outcome_context,
    seal,
    subject_ref,
)

log = structlog.get_logger("gateway.disclosures")

@attrs.frozen
class Facts:
    """What an intent entry fixed about one disclosure; its outcome repeats them."""

    disclosure: str
    subject: str
    order: str
    recipient: str
    service: str
    fields: tuple[str, ...]
    policy: str
    intent: int
    webhook_id: str
    recovered: bool = False


def new_disclosure_id() -> str:
    """``d_`` and 32 hex digits laid out as a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds,
    then 74 random bits (version and variant bits set). Ids made in a later millisecond sort
    later (while the clock does not step back), so the record's index of disclosures grows at
    its end instead of touching a random page for every entry; the time they carry is the time
    the intent itself records."""
    value = (time.time_ns() // 1_000_000 & (1 << 48) - 1) << 80 | int.from_bytes(
        os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant 10
    return f"d_{value:032x}"


@attrs.define
class Discloser:
    policy: Policy
    record: Record
    carriers: Mapping[str, Carrier]
    sender: Party
    subject_key: bytes
    #: The recorded version of ``policy``, which each intent names
    #: (``gateway.operations.policy_versions``).
    policy_version: PolicyVersion | None = None

    def minimise(self, order: Order) -> Minimised:
        """The order's data as its carrier and service's rule lets it out. A return label is
        asked for by its own event, never as a delivery service; a carrier whose API books no
        returns refuses one before any rule is read (501)."""
        returning = order.delivery.service == RETURN_SERVICE
        if returning and not isinstance(order, ReturnOrder):
            raise PolicyError("a return label is asked for with order.return_requested")
        carrier = self.carriers.get(order.delivery.carrier)
        if returning and carrier is not None and RETURN not in carrier.operations:
            raise unsupported(carrier.name, "return label", "see the adapter's documentation")
        return minimise(order, self.policy)

    async def ship(self, order: Order, minimised: Minimised, *, webhook_id: str) -> Answer:
        """Record the intent, book with the carrier, record the outcome."""
        disclosure = new_disclosure_id()
        subject = subject_ref(self.subject_key, order.customer.id)
        rule = minimised.rule
        returning = rule.service == RETURN_SERVICE
        key, new_key = await self.record.key_for(subject)
        values: dict[str, Any] = ({"sender": minimised.receiver.fields()} if returning else {
            "receiver": minimised.receiver.fields(),
            "pickup_point_id": order.delivery.pickup_point_id,
        })
        if minimised.addons:
            values["addons"] = {a.name: dict(a.params) for a in minimised.addons}
        if minimised.items:
            values["items"] = [item.fields() for item in minimised.items]
        sealed = seal(key, intent_context(disclosure), values)
        data: dict[str, Any] = {"webhook_id": webhook_id, **named(self.policy_version),
                                **({"operation": "return"} if returning else {})}
        if minimised.addons:
            # The add-ons by name (what each let out is in ``fields``; parameters are sealed).
            data["addons"] = list(minimised.addon_names)
        intent = await self.record.append(
            Draft(
                kind=Kind.INTENT, disclosure=disclosure, subject=subject, order=order.id,
                recipient=rule.recipient, service=rule.service, fields=minimised.fields,
                policy=rule.digest, data=data, sealed=sealed,
            ),
            HookOp(webhook_id=webhook_id, disclosure=disclosure, subject=subject),
            new_key,
        )
        log.info("disclosure.intent", disclosure=disclosure, recipient=rule.recipient,
                 service=rule.service, fields=list(minimised.fields),
                 addons=list(minimised.addon_names), seq=intent.seq)
        carrier = self.carriers[rule.recipient]
        result: ShipmentResult | CarrierError
        try:
            if returning:
                result = await carrier.create_return(ReturnShipment(
                    reference=disclosure, carrier=rule.recipient, sender=minimised.receiver,
                    receiver=self.sender, parcels=order.parcels))
            else:
                result = await carrier.create_shipment(Shipment(
                    reference=disclosure, carrier=rule.recipient, service=rule.service,
                    sender=self.sender, receiver=minimised.receiver, parcels=order.parcels,
                    pickup_point_id=order.delivery.pickup_point_id,
                    notice=order.delivery.notice, addons=minimised.addons,
                    items=minimised.items))
        except CarrierError as exc:
            result = exc
        facts = Facts(
            disclosure=disclosure, subject=subject, order=order.id, recipient=rule.recipient,
            service=rule.service, fields=minimised.fields, policy=rule.digest,
            intent=intent.seq, webhook_id=webhook_id,
        )
        return await self.outcome(facts, key, result)

    async def outcome(
        self, facts: Facts, key: bytes | None, result: ShipmentResult | CarrierError
    ) -> Answer:
        """Record the outcome of the disclosure ``facts`` describe and close its hook with the
        answer, sealed under the subject's ``key``. Once the customer is erased (``key``
        None) nothing is sealed: the outcome holds metadata only, and the hook is closed with
        an answer holding no personal value (no tracking number, no label), so a retry of it
        is answered rather than refused."""
        common = {
            "disclosure_id": facts.disclosure, "order_id": facts.order,
            "carrier": facts.recipient, "service": facts.service, "fields": list(facts.fields),
        }
        if isinstance(result, ShipmentResult):
            data = {
                "result": "booked", "label_format": result.label_format,
                "label_sha256": hashlib.sha256(result.label).hexdigest(),
                "intent": facts.intent,
            }
            secret = {"tracking_number": result.tracking_number,
                      "carrier_reference": result.carrier_reference}
            body: dict[str, Any] = {
                **common, "result": "booked", "tracking_number": result.tracking_number,
            }
            if result.label:  # a booking found again by reference may come without one
                body["label"] = {"format": result.label_format,
                                 "data": base64.b64encode(result.label).decode()}
            status = 201
        else:
            outcome = result_of(result)
            data = {"result": outcome, "error": result.type_slug, "intent": facts.intent}
            secret = {}
            body = problem_body(result, **common, result=outcome)
            status = result.status
        if facts.recovered:
            data["recovered"] = True
        body["record"] = {"intent": facts.intent}
        context = outcome_context(facts.disclosure)
        sealed = seal(key, context, secret) if secret and key is not None else None
        if key is not None:
            hook = HookOp(webhook_id=facts.webhook_id, disclosure=facts.disclosure,
                          subject=facts.subject, status=status,
                          answer=seal(key, hook_context(facts.webhook_id),
                                      {"status": status, "body": body}),
                          if_open=facts.recovered)
        else:
            plain = {k: v for k, v in body.items() if k not in ("tracking_number", "label")}
            hook = HookOp(webhook_id=facts.webhook_id, disclosure=facts.disclosure,
                          status=status, if_open=facts.recovered,
                          answer=Answer(status, {**plain, "values_erased": True}).in_clear())
        outcome_entry = await self.record.append(
            Draft(
                kind=Kind.OUTCOME, disclosure=facts.disclosure, subject=facts.subject,
                order=facts.order, recipient=facts.recipient, service=facts.service,
                fields=facts.fields, policy=facts.policy, data=data, sealed=sealed,
            ),
            hook,
        )
        log.info("disclosure.outcome", disclosure=facts.disclosure, recipient=facts.recipient,
                 result=data["result"], seq=outcome_entry.seq)
        return Answer(status=status, body=body)

