"""When a checkpoint counts as witnessed: a quorum over named witnesses (c2sp.org/tlog-policy).

A policy names witnesses (each a cosigner key, optionally with a submission URL), groups of them
with a threshold (``all``, ``any`` or k of n, groups within groups), and one quorum: a witness,
a group, or ``none``. The simple ``quorum = k`` of config.toml is the group "k of the witnesses
listed". Parsing is pure; checking a checkpoint verifies each cosignature line with the keys.

    witness auditor auditor.example/witness+1a2b3c4d+BAAA... https://witness.auditor.example
    witness dpo dpo.example/witness+5e6f7a8b+BBBB...
    group both all auditor dpo
    quorum both
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from gateway.errors import ConfigError
from gateway.witness.cosignature import CosignerKey, valid_cosignatures

__all__ = ["Group", "WitnessPolicy", "WitnessRef"]

NONE: Final = "none"
_DECIMAL_MAX: Final = 32  # witnesses or groups a policy may hold, as the spec suggests


@attrs.frozen
class WitnessRef:
    """A witness as a policy names it: its key and, for submitters, its URL."""

    name: str
    key: CosignerKey
    url: str | None = None


@attrs.frozen
class Group:
    """Witnessed when at least ``threshold`` of ``members`` (witness or group names) are."""

    threshold: int
    members: tuple[str, ...]


@attrs.frozen
class WitnessPolicy:
    """Witnesses by name, groups by name, and the name the quorum rests on (``none``: no
    cosignature needed)."""

    witnesses: Mapping[str, WitnessRef]
    groups: Mapping[str, Group]
    quorum: str

    @classmethod
    def k_of_n(cls, witnesses: Sequence[WitnessRef], k: int) -> WitnessPolicy:
        """At least ``k`` of ``witnesses`` (k = 0: none needed)."""
        refs = {w.name: w for w in witnesses}
        if len(refs) != len(witnesses):
            raise ConfigError("two witnesses share a name")
        _distinct_keys(witnesses)
        if not 0 <= k <= len(refs):
            raise ConfigError(f"a quorum of {k} cannot be met by {len(refs)} witness(es)")
        if k == 0:
            return cls(refs, {}, NONE)
        return cls(refs, {"quorum": Group(k, tuple(refs))}, "quorum")

    @classmethod
    def parse(cls, text: str, *, where: str = "the witness policy") -> WitnessPolicy:
        """A policy from c2sp.org/tlog-policy text (``log`` lines are accepted and ignored:
        the log's key is configured where the checkpoint is checked)."""
        witnesses: dict[str, WitnessRef] = {}
        groups: dict[str, Group] = {}
        quorum: str | None = None
        for number, raw in enumerate(text.split("\n"), start=1):
            words = raw.replace("\t", " ").split()
            if not words or words[0].startswith("#"):
                continue
            here = f"{where}, line {number}"
            keyword, args = words[0], words[1:]
            if keyword == "log" and len(args) in (1, 2):
                continue
            if keyword == "witness" and len(args) in (2, 3):
                _new_name(args[0], witnesses, groups, here)
                witnesses[args[0]] = WitnessRef(args[0], CosignerKey.from_vkey(args[1]),
                                                args[2] if len(args) == 3 else None)  # noqa: PLR2004
            elif keyword == "group" and len(args) >= 3:  # noqa: PLR2004 - name, k, a member
                _new_name(args[0], witnesses, groups, here)
                groups[args[0]] = _group(args[1], args[2:], witnesses, groups, here)
            elif keyword == "quorum" and len(args) == 1 and quorum is None:
                if args[0] != NONE and args[0] not in witnesses and args[0] not in groups:
                    raise ConfigError(f"{here}: the quorum names {args[0]!r}, not defined above")
                quorum = args[0]
            else:
                raise ConfigError(f"{here}: not a log, witness, group or (single) quorum line")
        if quorum is None:
            raise ConfigError(f"{where}: no quorum line")
        if len(witnesses) > _DECIMAL_MAX or len(groups) > _DECIMAL_MAX:
            raise ConfigError(f"{where}: more than {_DECIMAL_MAX} witnesses or groups")
        _distinct_keys(list(witnesses.values()))
        return cls(witnesses, groups, quorum)

    @property
    def required(self) -> bool:
        return self.quorum != NONE

    def met_by(self, names: Iterable[str]) -> bool:
        """Whether the witnesses named ``names`` together meet the quorum."""
        present = set(names)

        def met(name: str) -> bool:
            group = self.groups.get(name)
            if group is None:
                return name in present
            return sum(met(member) for member in group.members) >= group.threshold

        return self.quorum == NONE or met(self.quorum)

    def cosigners(self, text: str, lines: str) -> dict[str, str]:
        """The policy's witnesses with a valid cosignature over note ``text`` among ``lines``,
        each with its line."""
        by_key = {w.key: w.name for w in self.witnesses.values()}
        return {by_key[key]: line
                for key, line in valid_cosignatures(text, lines, by_key).items()}

    def problem(self, text: str, lines: str) -> str | None:
        """None if the cosignatures among ``lines`` over note ``text`` meet the quorum, else
        what is missing."""
        found = self.cosigners(text, lines)
        if self.met_by(found):
            return None
        have = ", ".join(sorted(found)) or "none"
        return (f"{len(found)} valid cosignature(s) ({have}) do not meet the witness quorum "
                f"({self.describe()})")

    def describe(self) -> str:
        group = self.groups.get(self.quorum)
        if self.quorum == NONE:
            return "none"
        if group is None:
            return self.quorum
        return f"{group.threshold} of {', '.join(group.members)}"


def _new_name(name: str, witnesses: Mapping[str, object], groups: Mapping[str, object],
              here: str) -> None:
    if name == NONE or name in witnesses or name in groups:
        raise ConfigError(f"{here}: the name {name!r} is reserved or already defined")


def _group(threshold: str, members: Sequence[str], witnesses: Mapping[str, object],
           groups: Mapping[str, object], here: str) -> Group:
    if len(set(members)) != len(members):
        raise ConfigError(f"{here}: a group lists a member twice")
    undefined = [m for m in members if m not in witnesses and m not in groups]
    if undefined:
        raise ConfigError(f"{here}: {', '.join(undefined)} not defined above")
    if threshold == "all":
        return Group(len(members), tuple(members))
    if threshold == "any":
        return Group(1, tuple(members))
    if not threshold.isdigit() or not 1 <= int(threshold) <= len(members):
        raise ConfigError(f"{here}: a threshold is all, any, or 1 to the number of members")
    return Group(int(threshold), tuple(members))


def _distinct_keys(witnesses: Sequence[WitnessRef]) -> None:
    keys = [w.key.public_key for w in witnesses]
    if len(set(keys)) != len(keys):
        raise ConfigError("two witnesses share a public key")
