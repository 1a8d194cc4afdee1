"""Every policy version is in the record.

At start-up, before it takes a hook, the gateway compares its policy with the latest
``policy.version`` entry of the record; if they differ (or the record holds none) it appends
its policy's canonical document and the document's hash as a new one. Each disclosure intent
then names that entry by position (``data.policy_version``) beside its rule digest, and
``gateway log verify`` checks the rule is one of that version (``record/verify_policy``).

The canonical document is the whole policy as parsed: the origin and, per carrier and service
in sorted order, the rule's canonical form (allow, require, notice, add-ons with their carrier
codes, line-item lists), the same form the rule's digest is taken over. Its hash is the
SHA-256 of the document as JSON with sorted keys.

Gateways starting at once with the same new policy record it once: the entry is appended only
if no other version was recorded since the one this gateway read (``PolicyGuard``, checked in
the append's own transaction, which the store serialises); the others then find it recorded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import orjson
import structlog

from gateway.errors import PolicyRecorded, RecordError
from gateway.policy.explain import RuleChange, diff
from gateway.policy.rules import AddonRule, Policy, Rule
from gateway.record import Draft, Kind, Record
from gateway.record.queries import Search
from gateway.record.rows import PolicyGuard
from gateway.record.verify_policy import POLICY_VERSION, digest

log = structlog.get_logger("gateway.policy_record")

__all__ = ["POLICY_VERSION", "PolicyVersion", "document", "history", "latest_version", "named",
           "record_policy"]

#: How often a start-up reads and tries again when other gateways record versions meanwhile.
_ATTEMPTS = 5


def document(policy: Policy) -> dict[str, Any]:
    """The canonical document of ``policy``, in JSON's types (as the record gives it back)."""
    doc = {"origin": policy.origin,
           "rules": [policy.rules[key].canonical() for key in sorted(policy.rules)]}
    value: dict[str, Any] = orjson.loads(orjson.dumps(doc))
    return value


@attrs.frozen
class PolicyVersion:
    """A recorded policy version: its position, when it was recorded, its hash and document."""

    seq: int
    time: str
    sha256: str
    document: Mapping[str, Any]

    @classmethod
    def from_body(cls, body: bytes) -> PolicyVersion:
        """The version an entry's body holds."""
        try:
            doc = orjson.loads(body)
            return cls(seq=doc["seq"], time=doc["time"], sha256=doc["policy"],
                       document=doc["data"]["document"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise RecordError("a policy version entry of the record is malformed") from None

    def policy(self) -> Policy:
        """The policy the document describes (to compare versions)."""
        try:
            rules = [_rule(r) for r in self.document["rules"]]
            return Policy({(r.recipient, r.service): r for r in rules},
                          origin=self.document["origin"])
        except (KeyError, TypeError, AttributeError):
            raise RecordError(f"the policy version at position {self.seq} cannot be read "
                              "by this gateway") from None


def _rule(doc: Mapping[str, Any]) -> Rule:
    def values(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()
                if k != "addons"}

    return Rule(**values(doc), addons=tuple(AddonRule(**values(a))
                                            for a in doc.get("addons", ())))


async def latest_version(record: Record) -> PolicyVersion | None:
    """The latest policy version the record holds."""
    rows = await record.search(Search(kind=Kind.POLICY, limit=1))
    return PolicyVersion.from_body(rows[0].body) if rows else None


async def record_policy(record: Record, policy: Policy) -> PolicyVersion:
    """The record's version of ``policy``: the latest, if it is the same policy, else a new
    one appended now."""
    doc = document(policy)
    sha = digest(doc)
    for _ in range(_ATTEMPTS):
        latest = await latest_version(record)
        if latest is not None and latest.sha256 == sha:
            log.info("policy.version_in_force", seq=latest.seq, sha256=sha)
            return latest
        try:
            appended = await record.append(
                Draft(kind=Kind.POLICY, policy=sha, data={"document": doc}),
                PolicyGuard(after=-1 if latest is None else latest.seq))
        except PolicyRecorded:
            continue  # another gateway recorded one meanwhile: read it
        log.info("policy.version_recorded", seq=appended.seq, sha256=sha)
        row = await record.entry(appended.seq)
        assert row is not None  # just appended
        return PolicyVersion.from_body(row.body)
    raise RecordError("other gateways keep recording policy versions; the policy could not be "
                      "recorded")


def named(version: PolicyVersion | None) -> dict[str, int]:
    """The data an intent names its policy version with (nothing before one is recorded)."""
    return {} if version is None else {POLICY_VERSION: version.seq}


def history(versions: Sequence[PolicyVersion],
            ) -> Iterator[tuple[PolicyVersion, list[RuleChange] | None]]:
    """Each recorded version with what changed since the one before it (None for the first)."""
    before: Policy | None = None
    for version in versions:
        policy = version.policy()
        yield version, None if before is None else _changes(before, policy)
        before = policy


def _changes(old: Policy, new: Policy) -> list[RuleChange]:
    """``explain.diff``, and the rules that changed without changing what they let out (what
    they require, how they notify)."""
    changes = list(diff(old, new))
    listed = {(c.recipient, c.service) for c in changes}
    changes += [RuleChange(key[0], key[1], (), (), note="the rule changed, not what it lets out")
                for key in sorted(set(old.rules) & set(new.rules))
                if old.rules[key] != new.rules[key] and key not in listed]
    return sorted(changes, key=lambda c: (c.recipient, c.service))

