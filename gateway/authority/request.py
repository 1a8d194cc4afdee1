"""An authority request as the record keeps it: its state, the intake it came from, the
subjects it resolved to, who took it in and decided it, and what later steps recorded; and the
allow-list (a policy ``Rule``) its categories make."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

import attrs

from gateway.authority.intake import CATEGORIES, Intake
from gateway.policy.rules import Rule

__all__ = ["CASE_KEYS", "OPEN", "Request", "new_request_id"]

#: The states of a request still to be acted on.
OPEN = ("received", "approved")
#: What the steps after intake keep on a request (``gateway.authority.steps``).
CASE_KEYS = ("outcome", "objection", "notification", "preservation", "extensions",
             "followed_by")


@attrs.frozen
class Request:
    id: str
    state: str
    intake: Intake
    subjects: tuple[str, ...]
    unresolved_orders: tuple[str, ...]
    received_by: str
    received_at: str
    decided_by: str | None = None
    reason: str | None = None
    package_sha256: str | None = None
    disclosed_by: str | None = None
    #: What the steps after intake recorded (``gateway.authority.steps``): outcome,
    #: objection, notification, preservation, extensions.
    case: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def rule(self) -> Rule:
        """This request's own allow-list: the fields of the categories it asked for."""
        fields = tuple(f for c in self.intake.categories for f in CATEGORIES[c])
        return Rule(recipient=f"authority:{self.intake.authority}", service=self.id,
                    allow=fields, require=())

    def to_json(self) -> dict[str, Any]:
        i = self.intake
        return {
            "id": self.id, "state": self.state, "authority": i.authority,
            "reference": i.reference, "legal_basis": i.legal_basis, "kind": i.kind,
            "categories": list(i.categories), "deadline": i.deadline.isoformat(),
            "defer_until": i.defer_until.isoformat() if i.defer_until else None,
            "subjects": list(self.subjects), "unresolved_orders": list(self.unresolved_orders),
            "received_by": self.received_by, "received_at": self.received_at,
            "decided_by": self.decided_by, "reason": self.reason,
            "package_sha256": self.package_sha256, "disclosed_by": self.disclosed_by,
            "authority_id": i.authority_id, "authority_type": i.authority_type,
            "officer": i.officer, "rank": i.rank, "received_via": i.received_via,
            "due_at": i.due_at, "follows": i.follows, "warnings": list(i.warnings),
            **{k: self.case.get(k) for k in CASE_KEYS},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Request:
        intake = Intake(
            authority=doc["authority"], reference=doc["reference"],
            legal_basis=doc["legal_basis"], kind=doc["kind"],
            categories=tuple(doc["categories"]), deadline=date.fromisoformat(doc["deadline"]),
            defer_until=date.fromisoformat(doc["defer_until"]) if doc["defer_until"] else None,
            authority_id=doc.get("authority_id"), authority_type=doc.get("authority_type"),
            officer=doc.get("officer"), rank=doc.get("rank"),
            received_via=doc.get("received_via"), due_at=doc.get("due_at"),
            follows=doc.get("follows"), warnings=tuple(doc.get("warnings") or ()),
        )
        return cls(id=doc["id"], state=doc["state"], intake=intake,
                   subjects=tuple(doc["subjects"]),
                   unresolved_orders=tuple(doc["unresolved_orders"]),
                   received_by=doc["received_by"], received_at=doc["received_at"],
                   decided_by=doc["decided_by"], reason=doc["reason"],
                   package_sha256=doc["package_sha256"],
                   disclosed_by=doc.get("disclosed_by"),
                   case={k: doc[k] for k in CASE_KEYS if doc.get(k) is not None})


def new_request_id() -> str:
    return "ar_" + uuid.uuid4().hex[:16]
