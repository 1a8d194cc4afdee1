"""The one disclosure an approved authority request gets: a JSON package holding exactly the
requested categories for the named customers, built from what the record holds, minimised with
the request's own allow-list. Its SHA-256 goes into the record; it is produced once."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.actor import Actor
from gateway.authority import Authority, Request
from gateway.errors import Conflict
from gateway.policy import select
from gateway.record import Draft, Kind
from gateway.record.entry import decode, iso_time
from gateway.record.sealing import unseal

NOT_HELD = "not held by the disclosure gateway"
ERASED = "the customer's personal values were erased; only metadata remains"



async def subject_package(authority: Authority, request: Request, subject: str,
                          ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """One customer's part of the package, and the fields it discloses."""
    record = authority.record
    key = await record.subject_key(subject, create=False)
    values: dict[str, str] = {}
    orders: list[str] = []
    deliveries: list[dict[str, Any]] = []
    rows = [r for r in await record.store.subject_rows(subject)
            if decode(r.body)["kind"] != Kind.REVIEW]  # staff reads are not the customer's data
    for row in rows:
        body = decode(row.body)
        opened = None
        if key is not None and row.sealed is not None:
            opened = unseal(key, f"{body['kind']}:{body['disclosure']}", bytes(row.sealed))
        if body["kind"] == Kind.INTENT:
            orders.append(body["order"])
            if opened is not None:
                # a delivery's receiver, or a return label's sender: the customer either way
                values.update(opened.get("receiver", opened.get("sender", {})))
        elif body["kind"] == Kind.OUTCOME:
            delivery = {"order": body["order"], "carrier": body["recipient"],
                        "service": body["service"], "time": body["time"],
                        "result": body["data"].get("result")}
            if opened is not None and "tracking_number" in opened:
                delivery["tracking_number"] = opened["tracking_number"]
            deliveries.append(delivery)
    chosen = select(values, request.rule)
    part: dict[str, Any] = {
        "customer_id": await authority.customer_id(request, subject),
        "reference": subject[:16],
        "status": "erased" if key is None else "held" if rows else "unknown",
    }
    data: dict[str, Any] = {}
    for category in request.intake.categories:
        if category == "name" and "name" in chosen:
            data["name"] = chosen["name"]
        elif category == "address":
            address = {f: chosen[f] for f in ("street", "postal_code", "town", "country")
                       if f in chosen}
            if address:
                data["address"] = address
        elif category in ("phone", "email") and category in chosen:
            data[category] = chosen[category]
        elif category == "orders":
            data["orders"] = sorted(set(orders))
        elif category == "deliveries":
            data["deliveries"] = deliveries
        elif category == "marketing_consent":
            data["marketing_consent"] = NOT_HELD
    part["data"] = data
    if key is None and rows:
        part["note"] = ERASED
    elif not rows:
        part["note"] = "the record holds no disclosure for this customer"
    return part, tuple(chosen)


async def disclose(authority: Authority, request_id: str, *, actor: Actor, now: datetime,
                   out_dir: Path) -> tuple[Request, Path]:
    """Record the intent, produce the package once, record the outcome per customer."""
    request = await authority.get(request_id)
    if request.state != "approved":
        raise Conflict(f"request {request_id} is {request.state}; only an approved request "
                       "is disclosed")
    record, rule, intake = authority.record, request.rule, request.intake
    common = {"request": request.id, "reference": intake.reference,
              "legal_basis": intake.legal_basis, "categories": list(intake.categories),
              "defer_until": intake.defer_until.isoformat() if intake.defer_until else None}
    # A request whose orders the record never saw still gets its intent/outcome pair, with no
    # subject and no field: the authority is told the gateway holds nothing.
    slots: list[str | None] = [*request.subjects] or [None]
    for i, subject in enumerate(slots):
        await record.append(Draft(
            kind=Kind.AUTHORITY_INTENT, disclosure=f"{request.id}:{i}", subject=subject,
            recipient=intake.authority, service=intake.kind,
            fields=rule.allow if subject is not None else (),
            policy=rule.digest, data={**common, **actor.to_json()},
        ))
    parts = [await subject_package(authority, request, s) for s in request.subjects]
    package = {
        "request": {k: v for k, v in request.to_json().items()
                    if k in ("id", "authority", "reference", "legal_basis", "kind",
                             "categories", "deadline")},
        "produced_at": iso_time(now),
        "customers": [part for part, _ in parts],
        "unresolved_orders": [{"order": o, "note": "the record holds no disclosure for this "
                               "order"} for o in request.unresolved_orders],
    }
    content = orjson.dumps(package, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(content).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = out_dir / f"{request.id}.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Conflict(f"the package for {request.id} was already produced") from None
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    outcomes = [(fields, part["status"]) for part, fields in parts] or [((), "not held")]
    for i, (subject, (fields, status)) in enumerate(zip(slots, outcomes, strict=True)):
        await record.append(Draft(
            kind=Kind.AUTHORITY_DISCLOSURE, disclosure=f"{request.id}:{i}", subject=subject,
            recipient=intake.authority, service=intake.kind, fields=fields,
            policy=rule.digest,
            data={**common, "package_sha256": digest, "status": status,
                  **actor.to_json()},
        ))
    moved = await authority._move(request, "approved", state="disclosed",  # noqa: SLF001
                                  package_sha256=digest)
    return moved, path
