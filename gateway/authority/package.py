"""The one disclosure an approved authority request gets: a JSON package holding exactly the
requested categories for the named customers, built from what the record holds, minimised with
the request's own allow-list. Its SHA-256 goes into the record; it is produced once.

A value that varies from order to order (an address, a phone, an e-mail, a name) is given as
each distinct value the customer gave, whole, with the orders and times it was used for: an
address is one value, never assembled field by field from several orders. Every category asked
is answered: with what the record holds, or with a note saying why there is nothing. Each
customer's part says which of the asked ids it answers; a customer named only by order gets
those orders, not everything else they ordered.

Across processes one request gets one package: producing it first moves the request from
``approved`` to ``disclosing`` in the store, a conditional update only one caller wins,
committed with the first intent entry (neither is kept without the other); the last outcome
entry moves it to ``disclosed`` in the same way.

A production that died after recording part of its outcomes (``finish``) is completed from the
package file it wrote before the first outcome, checked against the hash those outcomes name:
the missing outcomes are recorded, nothing is produced again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import orjson

from gateway.actor import Actor
from gateway.authority.intake import CATEGORIES
from gateway.authority.request import Request
from gateway.authority.steps import produced
from gateway.authority.workflow import Authority
from gateway.errors import AlreadyDisclosed, BeingProduced, Conflict, RecordCorrupt, RecordError
from gateway.operations.policy_versions import POLICY_VERSION, latest_version, named
from gateway.policy.rules import select
from gateway.record import Draft, Kind
from gateway.record.entry import Entry, decode, iso_time
from gateway.record.entry_data import OutcomeData
from gateway.record.sealing import entry_context, unseal

NOT_HELD = "not held by the disclosure gateway"
ERASED = "the customer's personal values were erased; only metadata remains"
#: A customer id the record never saw (or an order-named customer with nothing left to give).
NO_DATA = "no data held for this id"
#: An asked category the record holds nothing of for this customer.
NONE_HELD = "the record holds none for this customer"
#: An asked value category of an erased customer.
VALUES_ERASED = "erased; the record no longer holds this customer's values"
VALUE_CATEGORIES = ("name", "address", "phone", "email")
#: Entries that are the customer's own data (staff reads and authority steps are not).
DATA_KINDS = (Kind.INTENT, Kind.OUTCOME)


@attrs.frozen
class Use:
    """The values one order gave (a delivery's receiver, or a return label's sender)."""

    order: str
    time: str
    values: Mapping[str, str]


def distinct(uses: Iterable[Use], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Each distinct value of ``fields`` (one field: a string; several: one whole object, as
    an address), with the orders and times it was used for, in the order first used."""
    grouped: dict[tuple[tuple[str, str], ...], list[dict[str, str]]] = {}
    for use in uses:
        value = tuple((f, use.values[f]) for f in fields if f in use.values)
        if not value:
            continue
        used = grouped.setdefault(value, [])
        if {"order": use.order, "time": use.time} not in used:
            used.append({"order": use.order, "time": use.time})
    return [{"value": dict(value) if len(fields) > 1 else value[0][1], "used": used}
            for value, used in grouped.items()]


def answered(asked: Mapping[str, Any] | None, subject: str) -> dict[str, Any]:
    """Which asked ids a subject answers: its place among the request's customer ids (None if
    named by order only) and the orders that led to it. A request taken in before this was
    kept (``asked`` None) answers as if named by customer id."""
    if asked is None:
        return {"customer_no": None, "orders": [], "only": None}
    found = asked.get(subject, {"customer_no": None, "orders": []})
    # Named by order only: those orders. Named by customer id: all of them.
    only = None if found["customer_no"] is not None else set(found["orders"])
    return {**found, "only": only}


async def subject_package(authority: Authority, request: Request, subject: str, *,
                          asked: Mapping[str, Any] | None) -> dict[str, Any]:
    """One customer's part of the package (what it discloses is read from it by ``_given``).
    ``asked`` is the request's map of subjects to the ids that named them."""
    record = authority.record
    ids = answered(asked, subject)
    only = ids["only"]
    key = await record.subject_key(subject, create=False)
    uses: list[Use] = []
    orders: list[str] = []
    deliveries: list[dict[str, Any]] = []
    rows = []
    for row in await record.subject_entries(subject):
        entry = decode(row.body)
        if entry.kind not in DATA_KINDS or (only is not None and entry.order not in only):
            continue
        rows.append(row)
        opened = None
        if key is not None and row.sealed is not None:
            opened = unseal(key, entry_context(entry.kind, entry.disclosure), bytes(row.sealed))
        if entry.kind == Kind.INTENT:
            orders.append(entry.order or "")
            if opened is not None:
                # a delivery's receiver, or a return label's sender: the customer either way
                party = opened.get("receiver", opened.get("sender", {}))
                uses.append(Use(order=entry.order or "", time=entry.time,
                                values=select(party, request.rule)))
        else:
            delivery = {"order": entry.order, "carrier": entry.recipient,
                        "service": entry.service, "time": entry.time,
                        "result": entry.data.result if isinstance(entry.data, OutcomeData)
                        else None}
            if opened is not None and "tracking_number" in opened:
                delivery["tracking_number"] = opened["tracking_number"]
            deliveries.append(delivery)
    status = "not held" if not rows else "erased" if key is None else "held"
    part: dict[str, Any] = {
        "customer_id": await authority.customer_id(request, subject),
        "answers": {"customer_no": ids["customer_no"], "orders": ids["orders"]},
        "reference": subject[:16],
        "status": status,
    }
    data: dict[str, Any] = {}
    for category in request.intake.categories:
        given: list[Any]
        if category in VALUE_CATEGORIES:
            if status == "erased":
                data[category] = VALUES_ERASED
                continue
            given = distinct(uses, CATEGORIES[category])
        elif category == "orders":
            given = sorted(set(orders))
        elif category == "deliveries":
            given = deliveries
        else:  # marketing_consent never reaches the gateway
            data[category] = NOT_HELD
            continue
        data[category] = given or NONE_HELD
    part["data"] = data
    if status == "erased":
        part["note"] = ERASED
    elif status == "not held":
        part["note"] = NO_DATA
    return part


def refusal(request: Request) -> Conflict:
    """Why a request cannot be disclosed now: produced already (naming its hash), being
    produced by another caller, or not approved."""
    if request.package_sha256 is not None:
        return AlreadyDisclosed(f"the package of {request.id} was already produced",
                                package_sha256=request.package_sha256)
    if request.state == "disclosing":
        return BeingProduced(f"the package of {request.id} is being produced; its hash is "
                             "not known yet")
    return Conflict(f"request {request.id} is {request.state}; only an approved request is "
                    "disclosed")


def _common(request: Request, version: Mapping[str, int]) -> dict[str, Any]:
    """What every intent and disclosure entry of a request carries: the request's own rule is
    its digest; the policy version in force (``version``, from policy_record.named) is named
    beside it."""
    intake = request.intake
    return {"request": request.id, "reference": intake.reference,
            "legal_basis": intake.legal_basis, "categories": list(intake.categories),
            "defer_until": intake.defer_until.isoformat() if intake.defer_until else None,
            **version}


def _slots(request: Request) -> list[str | None]:
    """A request whose orders the record never saw still gets its intent/outcome pair, with
    no subject and no field: the authority is told the gateway holds nothing."""
    return [*request.subjects] or [None]


def _intent(request: Request, i: int, subject: str | None, actor: Actor,
            version: Mapping[str, int]) -> Draft:
    return Draft(
        kind=Kind.AUTHORITY_INTENT, disclosure=f"{request.id}:{i}", subject=subject,
        recipient=request.intake.authority, service=request.intake.kind,
        fields=request.rule.allow if subject is not None else (),
        policy=request.rule.digest, data={**_common(request, version), **actor.to_json()},
    )


async def claim(authority: Authority, request_id: str, *, actor: Actor,
                now: datetime | None = None) -> Request:
    """Move the request from approved to disclosing, in one conditional update of the store
    committed with the request's first intent entry: of callers in any number of processes,
    one wins and records the intent; the others get its refusal and record nothing. The
    intent says when it was claimed (``claimed_at``, the caller's clock): ``resume`` tells a
    crashed production from a running one by it."""
    request = await authority.get(request_id)
    if request.state != "approved":
        raise refusal(request)
    claimed, put = await authority.moving(request, "approved", state="disclosing",
                                          disclosed_by=actor.username)
    first = _intent(claimed, 0, _slots(claimed)[0], actor,
                    named(await latest_version(authority.record)))
    try:
        await authority.record.append(attrs.evolve(first, data={
            **first.data, "state": "disclosing",
            **({"claimed_at": iso_time(now)} if now is not None else {})}), put)
    except RecordError:
        current = await authority.get(request_id)
        if current.state == "approved":
            raise  # the store failed; nobody moved it, and no intent was recorded
        raise refusal(current) from None
    return claimed


async def disclose(authority: Authority, request_id: str, *, actor: Actor, now: datetime,
                   out_dir: Path) -> tuple[Request, Path]:
    """Claim the request (recording the first intent), record the other intents, produce the
    package once, record the outcome per customer; the last outcome moves it to disclosed."""
    request = await claim(authority, request_id, actor=actor, now=now)
    record, intake = authority.record, request.intake
    version = named(await latest_version(record))
    common = _common(request, version)
    slots = _slots(request)
    for i, subject in enumerate(slots[1:], start=1):
        await record.append(_intent(request, i, subject, actor, version))
    stored = await record.authority_request(request.id)
    assert stored is not None
    asked: dict[str, Any] | None = orjson.loads(stored[1]).get("asked")
    parts = [await subject_package(authority, request, s, asked=asked)
             for s in request.subjects]
    package = {
        "request": {**{k: v for k, v in request.to_json().items()
                       if k in ("id", "authority", "reference", "legal_basis", "kind",
                                "categories", "deadline")},
                    "customers_named": sum(1 for a in (asked or {}).values()
                                           if a["customer_no"] is not None),
                    "orders_named": [o for a in (asked or {}).values() for o in a["orders"]]
                    + list(request.unresolved_orders)},
        "produced_at": iso_time(now),
        "customers": parts,
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
        raise Conflict(f"a package file for {request.id} already exists") from None
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    outcomes = _outcomes(parts, intake.categories)
    summary = produced(intake.categories, parts, len(request.unresolved_orders))
    moved, put = await authority.moving(request, "disclosing", state="disclosed",
                                        package_sha256=digest,
                                        case={**request.case, "outcome": summary})
    last = len(slots) - 1
    for i, subject in enumerate(slots):
        await record.append(_outcome(request, i, subject, outcomes[i], digest, common, actor,
                                     last=i == last), put if i == last else None)
    return moved, path


def _given(part: Mapping[str, Any], categories: Sequence[str],
           ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fields and the categories one customer's part of a package gives (the package as
    produced, or read back from its file)."""
    data = part["data"]
    fields = tuple(f for c in VALUE_CATEGORIES if isinstance(data.get(c), list)
                   for f in CATEGORIES[c]
                   if any((f in u["value"]) if isinstance(u["value"], dict) else
                          len(CATEGORIES[c]) == 1 for u in data[c]))
    return fields, tuple(c for c in categories if isinstance(data.get(c), list))


Outcome = tuple[tuple[str, ...], tuple[str, ...], str]


def _outcomes(parts: Sequence[Mapping[str, Any]], categories: Sequence[str]) -> list[Outcome]:
    """Per customer of a package: the fields and categories given, and the part's status."""
    return [(*_given(part, categories), part["status"]) for part in parts] or [
        ((), (), "not held")]


def _outcome(request: Request, i: int, subject: str | None, outcome: Outcome, digest: str,
             common: Mapping[str, Any], actor: Actor, *, last: bool, resumed: bool = False,
             ) -> Draft:
    """The outcome entry of the ``i``-th customer of a produced package; the last moves the
    request to disclosed."""
    fields, given, status = outcome
    return Draft(
        kind=Kind.AUTHORITY_DISCLOSURE, disclosure=f"{request.id}:{i}", subject=subject,
        recipient=request.intake.authority, service=request.intake.kind, fields=fields,
        policy=request.rule.digest,
        data={**common, "package_sha256": digest, "status": status, "disclosed": list(given),
              **actor.to_json(), **({"resumed": True} if resumed else {}),
              **({"state": "disclosed"} if last else {})})


def _data(entry: Entry) -> Mapping[str, Any]:
    """An authority entry's data (authority kinds are read back as their recorded mapping)."""
    return entry.data if isinstance(entry.data, Mapping) else {}


async def finish(authority: Authority, request: Request, *, recorded: Sequence[Entry],
                 actor: Actor, out_dir: Path) -> Request:
    """Record the outcomes a crashed production left missing (``recorded``: the bodies of the
    request's intent and outcome entries), from its package file, checked against the hash
    the recorded outcomes name; the last moves the request to disclosed."""
    digests = {_data(b).get("package_sha256") for b in recorded
               if b.kind == Kind.AUTHORITY_DISCLOSURE}
    if len(digests) != 1:
        raise RecordCorrupt(f"the outcomes of {request.id} name {len(digests)} package hashes")
    (digest,) = digests
    try:
        content = (out_dir / f"{request.id}.json").read_bytes()
    except OSError:
        raise Conflict(f"request {request.id} has outcomes for part of its customers and its "
                       "package file is gone; the package's hash is in the record: ask an "
                       "admin to check it") from None
    if hashlib.sha256(content).hexdigest() != digest:
        raise RecordCorrupt(f"the package file of {request.id} does not match the hash in "
                            "the record")
    package = orjson.loads(content)
    intake, slots = request.intake, _slots(request)
    done = {b.disclosure for b in recorded if b.kind == Kind.AUTHORITY_DISCLOSURE}
    common = _common(request, {k: v for b in recorded if b.kind == Kind.AUTHORITY_INTENT
                               for k, v in _data(b).items() if k == POLICY_VERSION})
    parts = package["customers"]
    outcomes = _outcomes(parts, intake.categories)
    summary = produced(intake.categories, parts, len(request.unresolved_orders))
    moved, put = await authority.moving(request, "disclosing", state="disclosed",
                                        package_sha256=digest,
                                        case={**request.case, "outcome": summary})
    missing = [i for i in range(len(slots)) if f"{request.id}:{i}" not in done]
    if not missing or len(outcomes) != len(slots):
        raise RecordCorrupt(f"the outcomes of {request.id} do not match its package")
    for i in missing:
        last = i == missing[-1]
        await authority.record.append(_outcome(request, i, slots[i], outcomes[i], digest, common,
                                               actor, last=last, resumed=True),
                                      put if last else None)
    return moved
