"""Staff accounts, passwords and sessions over the real record stores (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from gateway.actor import Actor
from gateway.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized
from gateway.record import Record
from gateway.record.checkpoint import Signer
from gateway.record.entry import document
from gateway.staff.accounts import (
    LOGIN_FAILURES,
    LOGIN_WINDOW,
    Role,
    Staff,
    check_password,
    hash_password,
    parse_roles,
)
from gateway.staff.logins import LoginLimits, PasswordPool
from tests.stores import Backend

PASSWORD = "a long enough passphrase"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


#: Who makes the accounts in these tests: an operator on the command line.
CLI = Actor.on_cli(None)


@pytest.fixture
async def record(backend: Backend) -> AsyncIterator[Record]:
    record = Record(store=backend.make(), kek=os.urandom(32),
                    signer=Signer.generate("test.invalid/staff")[0], origin="test.invalid/staff")
    await record.open()
    yield record
    await record.close()


@pytest.fixture
def staff(record: Record, clock: Clock) -> Staff:
    return Staff(record=record, clock=clock, log_n=10)


class TestPasswords:
    def test_a_hash_verifies_only_its_password(self) -> None:
        """The scrypt string checks the right password and no other."""
        stored = hash_password(PASSWORD, log_n=10)
        assert check_password(stored, PASSWORD)
        assert not check_password(stored, PASSWORD + "x")

    def test_each_hash_has_its_own_salt_and_names_its_parameters(self) -> None:
        """Two hashes of one password differ; the string carries scrypt's parameters."""
        one, two = hash_password(PASSWORD, log_n=10), hash_password(PASSWORD, log_n=10)
        assert one != two
        assert one.startswith("scrypt$10$8$1$")
        assert PASSWORD not in one

    def test_the_default_cost_is_scrypt_2_17(self) -> None:
        """Production hashes use N = 2**17, r = 8, p = 1."""
        assert hash_password(PASSWORD).startswith("scrypt$17$8$1$")

    @pytest.mark.parametrize("stored", ["", "bcrypt$x", "scrypt$10$8$1$!!$!!", "scrypt$a$b$c$d$e"])
    def test_a_malformed_hash_never_verifies(self, stored: str) -> None:
        assert not check_password(stored, PASSWORD)


class TestAccounts:
    async def test_an_account_is_created_listed_and_disabled(self, staff: Staff) -> None:
        """add, list and disable; a taken name is refused."""
        await staff.add("ritva", PASSWORD, ["reviewer", "admin"], actor=CLI)
        with pytest.raises(Conflict):
            await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        (member,) = await staff.list()
        assert (member.username, member.roles, member.disabled) == (
            "ritva", frozenset({Role.REVIEWER, Role.ADMIN}), False)
        await staff.disable("ritva", actor=CLI)
        assert (await staff.list())[0].disabled
        with pytest.raises(NotFound):
            await staff.disable("nobody", actor=CLI)

    async def test_an_account_is_enabled_again_given_roles_and_a_new_password(
        self, staff: Staff, record: Record
    ) -> None:
        """enable, set_roles and set_password change the stored account, each committed with
        its staff.changed entry (never the password); a new password ends its sessions and
        the old one no longer logs in; an unknown name is NotFound and records nothing."""
        await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        await staff.disable("ritva", actor=CLI)
        member, _ = await staff.enable("ritva", actor=CLI)
        assert member.roles == {Role.REVIEWER}
        assert not (await staff.account("ritva")).disabled
        changed, _ = await staff.set_roles("ritva", ["approver", "admin"], actor=CLI)
        assert changed.roles == (await staff.member("ritva")).roles == {Role.APPROVER,
                                                                        Role.ADMIN}
        session = await staff.login("ritva", PASSWORD)
        _, seq = await staff.set_password("ritva", PASSWORD + "!", actor=CLI)
        with pytest.raises(Unauthorized):
            await staff.resolve(session.token)
        with pytest.raises(Unauthorized):
            await staff.login("ritva", PASSWORD)
        assert (await staff.login("ritva", PASSWORD + "!")).member.username == "ritva"
        size = seq + 1
        for change in (staff.enable("nobody", actor=CLI),
                       staff.set_roles("nobody", ["reviewer"], actor=CLI),
                       staff.set_password("nobody", PASSWORD, actor=CLI)):
            with pytest.raises(NotFound):
                await change
        with pytest.raises(BadRequest):
            await staff.set_roles("ritva", ["pipeline"], actor=CLI)
        with pytest.raises(BadRequest):
            await staff.set_password("ritva", "short", actor=CLI)
        assert await record.entry(size) is None  # the refused changes recorded nothing
        rows = [r for seq in range(size) if (r := await record.entry(seq)) is not None]
        actions = [document(r.body)["data"]["action"] for r in rows
                   if document(r.body)["kind"] == "staff.changed"]
        assert actions == ["added", "disabled", "enabled", "roles_changed", "password_reset"]
        assert all(PASSWORD.encode() not in bytes(r.body) for r in rows)

    @pytest.mark.parametrize(("username", "roles", "password"), [
        ("Bad Name", ["reviewer"], PASSWORD),
        ("ok", ["pipeline"], PASSWORD),
        ("ok", ["superuser"], PASSWORD),
        ("ok", [], PASSWORD),
        ("ok", ["reviewer"], "short"),
    ])
    async def test_bad_accounts_are_refused(self, staff: Staff, username: str,
                                            roles: list[str], password: str) -> None:
        """Names, roles and passwords are checked; the pipeline role is not a staff role."""
        with pytest.raises(BadRequest):
            await staff.add(username, password, roles, actor=CLI)

    def test_roles_parse_by_name(self) -> None:
        assert parse_roles(["approver", "intake_officer"]) == {Role.APPROVER,
                                                                Role.INTAKE_OFFICER}


class TestSessions:
    async def test_a_session_resolves_until_it_expires(self, staff: Staff, clock: Clock,
                                                       backend: Backend) -> None:
        """A login's token names its member for eight hours, then no longer; only its hash is
        stored."""
        await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        session = await staff.login("ritva", PASSWORD)
        assert (await staff.resolve(session.token)).username == "ritva"
        rows = await backend.sql("SELECT token_hash FROM staff_sessions")
        assert session.token not in str(rows)
        clock.now += 8 * 3600 + 1
        with pytest.raises(Unauthorized):
            await staff.resolve(session.token)

    async def test_logout_ends_a_session(self, staff: Staff) -> None:
        await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        session = await staff.login("ritva", PASSWORD)
        await staff.logout(session.token)
        with pytest.raises(Unauthorized):
            await staff.resolve(session.token)

    @pytest.mark.parametrize(("username", "password"), [
        ("ritva", "wrong passphrase!"), ("nobody", PASSWORD), ("x", PASSWORD), ("ritva", "")])
    async def test_every_failed_login_is_one_unauthorized(self, staff: Staff, username: str,
                                                          password: str) -> None:
        await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        with pytest.raises(Unauthorized, match="unknown user or wrong password"):
            await staff.login(username, password)

    async def test_failed_logins_of_an_account_are_throttled(self, staff: Staff,
                                                             clock: Clock) -> None:
        """After five failed logins within fifteen minutes the account's logins are refused,
        even with the right password, until the oldest failure is fifteen minutes old; other
        accounts are not affected."""
        await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        await staff.add("olli", PASSWORD, ["reviewer"], actor=CLI)
        for _ in range(LOGIN_FAILURES):
            with pytest.raises(Unauthorized):
                await staff.login("ritva", "wrong passphrase!")
            clock.now += 60
        with pytest.raises(TooManyRequests) as refused:
            await staff.login("ritva", PASSWORD)
        assert 0 < refused.value.retry_after <= LOGIN_WINDOW
        assert (await staff.login("olli", PASSWORD)).member.username == "olli"
        clock.now += refused.value.retry_after
        assert (await staff.login("ritva", PASSWORD)).member.username == "ritva"

    async def test_parallel_failed_logins_are_counted_before_checking(
            self, staff: Staff, clock: Clock) -> None:
        """60 wrong passwords for one account at once: five are checked, 55 refused before
        any hashing; after the window the right password works again."""
        await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        results = await asyncio.gather(
            *(staff.login("ritva", "wrong passphrase!", client=f"10.0.0.{n}")
              for n in range(60)), return_exceptions=True)
        assert sum(isinstance(r, Unauthorized) for r in results) == LOGIN_FAILURES
        refused = [r for r in results if isinstance(r, TooManyRequests)]
        assert len(refused) == 60 - LOGIN_FAILURES
        assert all(0 < r.retry_after <= LOGIN_WINDOW for r in refused)
        clock.now += LOGIN_WINDOW
        assert (await staff.login("ritva", PASSWORD)).member.username == "ritva"

    async def test_a_login_refused_by_the_pool_counts_as_no_failure(self, record: Record,
                                                                    ) -> None:
        """A login the password pool has no place for is refused (429) without counting
        against the account, known or not."""
        pool = PasswordPool(LoginLimits(workers=1, waiting=0, per_client=1))
        staff = Staff(record=record, log_n=10, pool=pool)
        await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        for _ in range(LOGIN_FAILURES - 1):
            results = await asyncio.gather(
                staff.login("ritva", "wrong passphrase!", client="a"),
                staff.login("ritva", "wrong passphrase!", client="a"),
                staff.login("nobody", PASSWORD, client="b"), return_exceptions=True)
            assert [type(r) for r in results] == [Unauthorized, TooManyRequests,
                                                  TooManyRequests]
            assert pool.in_flight == 0
        assert (await staff.login("ritva", PASSWORD, client="a")).member.username == "ritva"

    async def test_a_successful_login_clears_the_count(self, staff: Staff) -> None:
        """Failures before a successful login do not count towards the next throttle."""
        await staff.add("ritva", PASSWORD, ["reviewer"], actor=CLI)
        for _ in range(2):
            for _ in range(LOGIN_FAILURES - 1):
                with pytest.raises(Unauthorized):
                    await staff.login("ritva", "wrong passphrase!")
            await staff.login("ritva", PASSWORD)

    async def test_random_tokens_resolve_to_nobody(self, staff: Staff) -> None:
        for token in ("", "x" * 500, "not-a-token"):
            with pytest.raises(Unauthorized):
                await staff.resolve(token)
