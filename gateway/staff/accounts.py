"""Staff: roles, per-person accounts, passwords and login sessions.

Roles are what every endpoint names when it declares who may call it (see ``gateway.http.access``):

- ``pipeline``: the order pipeline. It holds no staff account: the order hook is authenticated
  by its Standard Webhooks signature, and that is all the role opens.
- ``reviewer``: customer-service staff answering access requests: searches the record, sees the
  customers' values, produces access reports.
- ``intake_officer`` and ``approver``: take in and decide authority requests.
- ``admin``: the data protection officer: everything a reviewer can, plus the full view of
  access reports (authority disclosures whose notification is deferred).
- ``auditor``: someone outside who checks the record (``gateway log monitor``): fetches the
  published entry bundles, which hold pseudonymous metadata but no personal value.

Passwords are kept as scrypt strings (per-account random salt, parameters written alongside so
they can be raised later) and compared in constant time. Session tokens are random, handed out
once, and stored only as their SHA-256.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

import attrs

from gateway.actor import Actor
from gateway.errors import BadRequest, NotFound, TooManyRequests, Unauthorized
from gateway.record import Draft, Kind, Record
from gateway.record.entry import iso_time
from gateway.record.queries import StaffRow
from gateway.record.rows import AddStaff, ChangeStaff, DisableStaff
from gateway.staff.logins import PasswordPool


class Role(StrEnum):
    PIPELINE = "pipeline"
    REVIEWER = "reviewer"
    INTAKE_OFFICER = "intake_officer"
    APPROVER = "approver"
    ADMIN = "admin"
    AUDITOR = "auditor"


#: Roles a person's staff account may hold (the pipeline signs its hooks instead).
STAFF_ROLES: Final = frozenset(Role) - {Role.PIPELINE}
#: Roles that see customers' personal values when they read the record.
SEES_VALUES: Final = frozenset({Role.REVIEWER, Role.ADMIN})

SESSION_SECONDS: Final = 8 * 3600
MIN_PASSWORD: Final = 12
MAX_PASSWORD: Final = 1024
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")

#: scrypt cost as log2(N); r=8, p=1. 2**17 with r=8 is OWASP's recommended minimum.
LOG_N: Final = 17
_R, _P, _DKLEN, _SALT = 8, 1, 32, 16


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    n = 1 << log_n
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * r * n + 1024 * 1024, dklen=_DKLEN)


def hash_password(password: str, *, log_n: int = LOG_N) -> str:
    """``scrypt$<log2 N>$<r>$<p>$<salt b64>$<key b64>`` for ``password``, with a fresh salt."""
    salt = secrets.token_bytes(_SALT)
    key = _scrypt(password, salt, log_n, _R, _P)
    return "$".join(("scrypt", str(log_n), str(_R), str(_P),
                     base64.b64encode(salt).decode(), base64.b64encode(key).decode()))


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the scrypt string ``stored`` (constant-time compare)."""
    try:
        scheme, log_n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = _scrypt(password, base64.b64decode(salt), int(log_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _dummy(log_n: int) -> str:
    """Checked when the username is unknown, so a login costs the same whether or not it
    exists."""
    return "$".join(("scrypt", str(log_n), str(_R), str(_P),
                     base64.b64encode(bytes(_SALT)).decode(),
                     base64.b64encode(bytes(_DKLEN)).decode()))


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise BadRequest("a username is 2 to 63 characters: a-z, 0-9, '.', '_', '-', starting "
                         "with a letter or digit")
    return username


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Staff roles by name; refuses unknown names and the pipeline's role."""
    roles = set()
    for name in names:
        try:
            role = Role(name)
        except ValueError:
            raise BadRequest(f"unknown role {name!r} (known: "
                             f"{', '.join(sorted(STAFF_ROLES))})") from None
        if role not in STAFF_ROLES:
            raise BadRequest("the pipeline role is held by the order pipeline's webhook "
                             "signature, not by a staff account")
        roles.add(role)
    if not roles:
        raise BadRequest("give a staff account at least one role")
    return frozenset(roles)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    """The anti-forgery token of a web session: derived from its secret, so nothing more is
    stored, and useless without the session cookie."""
    return hmac.new(session_token.encode(), b"gateway csrf", hashlib.sha256).hexdigest()


def _iso(moment: float) -> str:
    return iso_time(datetime.fromtimestamp(moment, UTC))


@attrs.frozen
class Member:
    """A staff member as the rest of the gateway sees them: a name and roles."""

    username: str
    roles: frozenset[Role]
    disabled: bool = False
    created: str = ""

    @classmethod
    def from_row(cls, row: StaffRow) -> Member:
        return cls(username=row.username, roles=frozenset(Role(r) for r in row.roles),
                   disabled=row.disabled, created=row.created)

    def holds_any(self, roles: Iterable[Role]) -> bool:
        return not self.disabled and bool(self.roles & set(roles))

    @property
    def sees_values(self) -> bool:
        return self.holds_any(SEES_VALUES)


@attrs.frozen(repr=False)
class Session:
    token: str
    member: Member
    expires: str

    def __repr__(self) -> str:
        return f"Session({self.member.username!r}, expires={self.expires!r})"


#: Failed logins of one account allowed within LOGIN_WINDOW seconds; past them, the account's
#: logins are refused (429, Retry-After) until the oldest failure leaves the window.
LOGIN_FAILURES = 5
LOGIN_WINDOW = 15 * 60
_MAX_TRACKED = 10_000


class Staff:
    """Accounts and sessions, kept in the record.

    Failed logins are counted per username in this process (each gateway instance counts its
    own), so a password cannot be guessed faster than LOGIN_FAILURES per LOGIN_WINDOW. A login
    counts against its account before its password is checked, as if it failed, so however
    many arrive at once no more than LOGIN_FAILURES are checked. Passwords are hashed on
    ``pool``, which also bounds the logins in flight (see ``gateway.staff.logins``)."""

    def __init__(self, *, record: Record, clock: Callable[[], float] = time.time,
                 session_seconds: int = SESSION_SECONDS, log_n: int = LOG_N,
                 pool: PasswordPool | None = None) -> None:
        self.record = record
        self.clock = clock
        self.session_seconds = session_seconds
        self.log_n = log_n
        self.pool = pool or PasswordPool()
        self._dummy = _dummy(log_n)
        self._failures: dict[str, list[float]] = {}
        self._checking: dict[str, int] = {}

    async def add(self, username: str, password: str, roles: Iterable[str], *,
                  actor: Actor) -> tuple[Member, int]:
        """Create an account, committed with the ``staff.changed`` entry recording it (its
        roles and enabled flag, never the password or its hash); the entry's position."""
        check_username(username)
        wanted = parse_roles(roles)
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise BadRequest(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        stored = await self.pool.run(functools.partial(hash_password, log_n=self.log_n),
                                     password)
        ordered = tuple(r.value for r in Role if r in wanted)
        seq = await self._recorded("added", username, wanted, enabled=True, actor=actor,
                                   op=AddStaff(username, stored, ordered, _iso(self.clock())))
        return Member(username=username, roles=wanted), seq

    async def list(self) -> list[Member]:
        return [Member.from_row(r) for r in await self.record.staff_accounts()]

    async def disable(self, username: str, *, actor: Actor) -> int:
        """Disable an account and end its sessions, committed with the entry recording it;
        the entry's position."""
        row = await self.record.staff_account(username)
        if row is None:
            raise NotFound(f"no staff account {username}")
        return await self._recorded("disabled", username, Member.from_row(row).roles,
                                    enabled=False, actor=actor, op=DisableStaff(username))

    async def _recorded(self, action: str, username: str, roles: Iterable[Role], *,
                        enabled: bool, actor: Actor,
                        op: AddStaff | DisableStaff | ChangeStaff) -> int:
        """The change's entry, with the account's state after it, and the change itself in
        its transaction (refused, nothing recorded, if the name is taken or unknown)."""
        appended = await self.record.append(Draft(kind=Kind.STAFF, data={
            "action": action, "username": username, "roles": sorted(str(r) for r in roles),
            "enabled": enabled, **actor.to_json()}), op)
        return appended.seq

    async def enable(self, username: str, *, actor: Actor) -> tuple[Member, int]:
        """Enable a disabled account again (its roles as they were), committed with the entry
        recording it; the account and the entry's position."""
        member = await self.account(username)
        seq = await self._recorded("enabled", username, member.roles, enabled=True,
                                   actor=actor, op=ChangeStaff(username, enable=True))
        return await self.account(username), seq

    async def set_roles(self, username: str, roles: Iterable[str], *,
                        actor: Actor) -> tuple[Member, int]:
        """Give an account exactly ``roles`` (from its next request on), committed with the
        entry recording it."""
        member = await self.account(username)
        wanted = parse_roles(roles)
        ordered = tuple(r.value for r in Role if r in wanted)
        seq = await self._recorded("roles_changed", username, wanted,
                                   enabled=not member.disabled, actor=actor,
                                   op=ChangeStaff(username, roles=ordered))
        return await self.account(username), seq

    async def set_password(self, username: str, password: str, *,
                           actor: Actor) -> tuple[Member, int]:
        """Set a new password and end the account's sessions, committed with the entry
        recording it (never the password or its hash)."""
        member = await self.account(username)
        stored = await self._hash(password)
        seq = await self._recorded("password_reset", username, member.roles,
                                   enabled=not member.disabled, actor=actor,
                                   op=ChangeStaff(username, password=stored))
        return await self.account(username), seq

    async def account(self, username: str) -> Member:
        """An account by name, enabled or disabled (NotFound if there is none)."""
        row = await self.record.staff_account(username)
        if row is None:
            raise NotFound(f"no staff account {username}")
        return Member.from_row(row)

    async def _hash(self, password: str) -> str:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise BadRequest(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        return await self.pool.run(functools.partial(hash_password, log_n=self.log_n),
                                   password)

    async def member(self, username: str) -> Member:
        """An enabled account by name (Unauthorized otherwise)."""
        row = await self.record.staff_account(username)
        if row is None or row.disabled:
            raise Unauthorized("unknown or disabled staff account")
        return Member.from_row(row)

    async def login(self, username: str, password: str, *, client: str = "local") -> Session:
        """A new session for the right password of an enabled account; one Unauthorized for
        every failure, after the same work. TooManyRequests, before any work, for an account
        whose failures and logins being checked reach LOGIN_FAILURES, and for a login the
        password pool has no place for (``client``: the caller's address)."""
        if not (_USERNAME.fullmatch(username) and MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
            raise Unauthorized("unknown user or wrong password")
        self._reserve(username)
        ok: bool | None = None
        try:
            async with self.pool.place(client):
                row = await self.record.staff_account(username)
                ok = await self.pool.run(check_password, row.password if row else self._dummy,
                                         password)
                ok = ok and row is not None and not row.disabled
        finally:
            self._settle(username, ok=ok)
        if not ok or row is None:
            raise Unauthorized("unknown user or wrong password")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires = _iso(now + self.session_seconds)
        await self.record.start_session(token_hash(token), username, _iso(now), expires)
        return Session(token=token, member=Member.from_row(row), expires=expires)

    def _reserve(self, username: str) -> None:
        """Count a login against its account before its password is checked: refused while
        the account's recent failures and the logins being checked reach LOGIN_FAILURES."""
        now = self.clock()
        recent = [t for t in self._failures.get(username, ()) if now - t < LOGIN_WINDOW]
        if recent:
            self._failures[username] = recent
        else:
            self._failures.pop(username, None)
        checking = self._checking.get(username, 0)
        if len(recent) + checking >= LOGIN_FAILURES:
            # the logins being checked would fail now, at the latest
            counted = sorted([*recent, *[now] * checking])
            wait = math.ceil(counted[-LOGIN_FAILURES] + LOGIN_WINDOW - now)
            raise TooManyRequests("too many failed logins for this account; try again later",
                                  retry_after=max(1, wait))
        self._checking[username] = checking + 1

    def _settle(self, username: str, *, ok: bool | None) -> None:
        """The login's outcome: True clears the account's failures, False adds one, None (it
        was refused or broke before its password was checked) neither."""
        left = self._checking.pop(username) - 1
        if left:
            self._checking[username] = left
        if ok:
            self._failures.pop(username, None)
        elif ok is False:
            now = self.clock()
            self._failures.setdefault(username, []).append(now)
            if len(self._failures) > _MAX_TRACKED:  # many names tried: forget the stale ones
                self._failures = {u: ts for u, ts in self._failures.items()
                                  if now - ts[-1] < LOGIN_WINDOW}

    async def resolve(self, token: str) -> Member:
        """The enabled member whose unexpired session ``token`` is."""
        if not token or len(token) > 128:  # noqa: PLR2004 - tokens are 43 characters
            raise Unauthorized("no valid session")
        username = await self.record.session_user(token_hash(token), _iso(self.clock()))
        if username is None:
            raise Unauthorized("no valid session")
        return await self.member(username)

    async def logout(self, token: str) -> None:
        await self.record.end_session(token_hash(token))
