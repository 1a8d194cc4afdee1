"""Verify's policy check: every disclosure intent's rule is a rule of a recorded policy version.

A ``policy.version`` entry holds the canonical policy document (``data.document``: the origin
and each rule's canonical form) and, as its ``policy``, the SHA-256 of that document as JSON
with sorted keys; a rule's digest is the SHA-256 of its canonical form the same way. So the
check needs nothing but the entries: at each policy version it keeps the set of its rules'
digests (a few dozen strings per version), and at each intent it looks one up.

- A carrier intent (``disclosure.intent``) names the version it was checked against by position
  (``data.policy_version``): a recorded version before it, whose rules hold the intent's digest.
  The version named is normally the latest before it; one named earlier is accepted and counted
  (a gateway instance still running the previous policy while another started with a new one).
  An intent naming none is checked against the latest version before it.
- An authority intent's rule is made per request from the categories asked for, so it is no
  rule of the policy: its ``data.policy_version`` must name a recorded version before it.
- Intents written before the record held any policy version (records from before versions
  were recorded) are accepted and counted.
"""

from __future__ import annotations

import hashlib
from typing import Final

import orjson

from gateway.record.entry import Entry, Kind
from gateway.record.entry_data import IntentData, PolicyData

#: The data key by which an intent names the policy version it was checked against.
POLICY_VERSION: Final = "policy_version"
#: The kinds of entry the check looks at.
KINDS: Final = frozenset({Kind.POLICY, Kind.INTENT, Kind.AUTHORITY_INTENT})


def digest(doc: object) -> str:
    """SHA-256 of ``doc`` as canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


class PolicyCheck:
    """The policy versions seen so far, and what the intents after them named."""

    def __init__(self, start: int = 0) -> None:
        #: Where the entries this check takes in begin: an intent whose check needs the
        #: versions before it (another range's) is deferred to ``join``.
        self.start = start
        #: Position of each version -> the digests of its rules.
        self.versions: dict[int, frozenset[str]] = {}
        self.current: int | None = None
        #: Intents before the first recorded version.
        self.predating = 0
        #: Carrier intents checked against a version older than the latest before them.
        self.earlier = 0
        #: Deferred intents: (named, kind, rule digest, version in force here or None) ->
        #: [first position, how many].
        self.deferred: dict[tuple[object, str, str | None, int | None], list[int]] = {}

    def entry(self, seq: int, doc: Entry) -> str | None:
        """Take in the entry at ``seq`` (one of ``KINDS``); the problem with it, if any."""
        try:
            if doc.kind == Kind.POLICY:
                if not isinstance(doc.data, PolicyData):
                    return "the entry's policy version is malformed"
                return self._version(seq, doc, doc.data)
            return self._intent(seq, doc)
        except (KeyError, TypeError, AttributeError, orjson.JSONEncodeError):
            return "the entry's policy version is malformed"

    def _version(self, seq: int, doc: Entry, data: PolicyData) -> str | None:
        document = data.document
        if doc.policy != digest(document):
            return "the policy version's hash does not match its document"
        self.versions[seq] = frozenset(digest(rule) for rule in document["rules"])
        self.current = seq
        return None

    def _intent(self, seq: int, doc: Entry) -> str | None:
        data = doc.data
        named = data.policy_version if isinstance(data, IntentData) else (
            data.get(POLICY_VERSION) if isinstance(data, dict) else None)
        return self.intent(doc.kind, named, doc.policy, seq=seq)

    def intent(self, kind: str, named: object, policy: str | None, *, seq: int) -> str | None:
        """Take in the intent at ``seq`` of ``kind`` naming the version at ``named`` (the value
        its data holds, None if none) with the rule digest ``policy``; the problem, if any."""
        if self.start and ((named is None and self.current is None)
                           or (type(named) is int and named < self.start)):
            key = (named, kind, policy, self.current)
            seen = self.deferred.get(key)
            if seen is None:
                self.deferred[key] = [seq, 1]
            else:
                seen[1] += 1
            return None
        return self._check(kind, named, policy, self.current)

    def _check(self, kind: str, named: object, policy: str | None,
               current: int | None) -> str | None:
        if named is None:
            if current is None:
                self.predating += 1
                return None
            if kind == Kind.AUTHORITY_INTENT:
                return None
            named = current
        elif type(named) is not int or named not in self.versions:
            return (f"the disclosure names a policy version at position {named!r}, but the "
                    "record holds none there before it")
        if kind == Kind.AUTHORITY_INTENT:
            return None
        if named != current:
            self.earlier += 1
        if policy not in self.versions[named]:
            return (f"the disclosure's rule digest is not a rule of the policy version in "
                    f"force (position {named})")
        return None

    def join(self, part: PolicyCheck) -> tuple[int, str] | None:
        """Take in ``part``, the check of the entries that follow those taken in so far: its
        deferred intents are checked against the versions before it. The first problem
        (position, what), if any."""
        for (named, kind, policy, current), (first, count) in sorted(
                part.deferred.items(), key=lambda item: item[1][0]):
            predating, earlier = self.predating, self.earlier
            problem = self._check(kind, named, policy, self.current if current is None
                                  else current)
            if problem is not None:
                return first, problem
            self.predating += (self.predating - predating) * (count - 1)
            self.earlier += (self.earlier - earlier) * (count - 1)
        self.versions.update(part.versions)
        if part.current is not None:
            self.current = part.current
        self.predating += part.predating
        self.earlier += part.earlier
        return None
