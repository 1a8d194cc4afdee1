"""`gateway staff …` through the CLI over a real record: the listing, and an account's life
after it is added (enabled again, its roles changed, its password reset), each change recorded
with the channel and the OS user, never a password."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.config import Config
from gateway.errors import Unauthorized
from gateway.staff.accounts import Staff, check_password
from gateway.wiring import build_record
from tests.cli import Cli
from tests.conftest import unreachable_carriers, write_config

PASSWORD = "a long enough passphrase"
NEW_PASSWORD = "quite another passphrase"


@pytest.fixture
def cli(tmp_path: Path, no_carrier_env: list[str],
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A fresh record and its config (no carrier credential needed); commands run from the OS
    login ``ops-anna``."""
    config = write_config(tmp_path, unreachable_carriers())
    monkeypatch.setenv("GATEWAY_STAFF_PASSWORD", PASSWORD)
    monkeypatch.setenv("LOGNAME", "ops-anna")
    return Cli(config)


def entries(cli: Cli) -> list[dict[str, Any]]:
    db = sqlite3.connect(cli.config.parent / "record.sqlite")
    return [orjson.loads(body) for (body,) in db.execute("SELECT body FROM entries ORDER BY seq")]


def stored_password(cli: Cli, username: str) -> str:
    db = sqlite3.connect(cli.config.parent / "record.sqlite")
    (stored,) = db.execute("SELECT password FROM staff WHERE username=?", (username,)).fetchone()
    return str(stored)


def with_staff(cli: Cli, work: Callable[[Staff], Awaitable[str]]) -> str:
    """``work`` done with the record's staff accounts, as the gateway's login does."""
    async def run() -> str:
        record = build_record(Config.from_toml(cli.config))
        await record.open()
        try:
            return await work(Staff(record=record, log_n=10))
        finally:
            await record.close()

    return asyncio.run(run())


class TestList:
    def test_an_empty_list_says_so(self, cli: Cli) -> None:
        """With no account, list says there is none and how to add one."""
        assert cli.ok("staff", "list") == ("no staff accounts yet; add one with: gateway staff "
                                           "add USER --role ROLE\n")

    def test_the_list_has_a_header_and_its_columns_line_up(self, cli: Cli) -> None:
        """A header names the columns; a long name does not shift the columns after it."""
        cli.ok("staff", "add", "customer-service.long-name", "--role", "reviewer")
        cli.ok("staff", "add", "dpo", "--role", "admin", "--role", "reviewer")
        cli.ok("staff", "disable", "dpo")
        header, *rows = cli.ok("staff", "list").splitlines()
        assert header.split() == ["USER", "STATE", "ROLES", "CREATED"]
        for column in ("STATE", "ROLES", "CREATED"):
            starts = {len(row) - len(row[header.index(column):].lstrip()) for row in rows}
            assert starts == {header.index(column)}, (column, rows)
        assert [row.split()[:3] for row in rows] == [
            ["customer-service.long-name", "active", "reviewer"],
            ["dpo", "disabled", "admin,reviewer"]]

    def test_a_wrong_role_is_named_without_python_reprs(self, cli: Cli) -> None:
        """argparse's refusal lists the roles by name, not as enum reprs."""
        ran = cli("staff", "add", "eve", "--role", "boss")
        assert ran.returncode == 2
        roles = "'admin', 'approver', 'auditor', 'intake_officer', 'reviewer'"
        assert f"choose from {roles}" in ran.stderr
        assert "<Role" not in ran.stderr


class TestEnable:
    def test_a_disabled_account_is_enabled_again_and_recorded(self, cli: Cli) -> None:
        """enable gives a disabled account back its roles: it can read again; the change is a
        staff.changed entry with the channel and the OS user."""
        cli.ok("staff", "add", "rea", "--role", "reviewer")
        cli.ok("staff", "disable", "rea")
        assert "unknown or disabled" in cli("report", "transparency", "--as", "rea").line
        out = cli.ok("staff", "enable", "rea")
        entry = entries(cli)[-1]
        assert out == f"enabled rea: reviewer (recorded at position {entry['seq']})\n"
        assert (entry["kind"], entry["data"]) == ("staff.changed", {
            "action": "enabled", "username": "rea", "roles": ["reviewer"], "by": None,
            "enabled": True, "channel": "cli", "os_user": "ops-anna"})
        cli.ok("report", "transparency", "--as", "rea")

    def test_enabling_an_enabled_or_unknown_account_is_refused(self, cli: Cli) -> None:
        cli.ok("staff", "add", "rea", "--role", "reviewer")
        before = len(entries(cli))
        assert cli("staff", "enable", "rea").line == (
            "gateway: rea is already enabled; nothing recorded")
        assert cli("staff", "enable", "ghost").line == "gateway: no staff account ghost"
        assert len(entries(cli)) == before


class TestRoles:
    def test_roles_are_changed_and_recorded(self, cli: Cli) -> None:
        """roles --set replaces the account's roles: a reader who is no longer a reviewer is
        refused the access report at once; the entry names the new roles."""
        cli.ok("staff", "add", "rea", "--role", "reviewer")
        cli.ok("report", "access", "--customer", "C-1", "--as", "rea")
        out = cli.ok("staff", "roles", "rea", "--set", "approver,intake_officer")
        entry = entries(cli)[-1]
        assert out == ("rea now holds approver, intake_officer (was: reviewer; recorded at "
                       f"position {entry['seq']})\n")
        assert entry["data"] == {"action": "roles_changed", "username": "rea",
                                 "roles": ["approver", "intake_officer"], "by": None,
                                 "enabled": True, "channel": "cli", "os_user": "ops-anna"}
        assert "holds no role" in cli("report", "access", "--customer", "C-1",
                                      "--as", "rea").line
        assert cli.ok("staff", "list").splitlines()[1].split()[2] == "approver,intake_officer"

    def test_the_same_roles_record_nothing(self, cli: Cli) -> None:
        cli.ok("staff", "add", "rea", "--role", "reviewer", "--role", "admin")
        before = len(entries(cli))
        assert cli.ok("staff", "roles", "rea", "--set", "reviewer,admin") == (
            "rea already holds admin, reviewer; nothing recorded\n")
        assert len(entries(cli)) == before

    @pytest.mark.parametrize(("given", "message"), [
        ("boss",
            ("unknown role boss; name one or more of admin, approver, auditor, intake_officer, "
                  "reviewer")),
        ("reviewer,pipeline", "unknown role pipeline"),
        (",", "no role given"),
    ])
    def test_unknown_roles_are_refused_by_name(self, cli: Cli, given: str, message: str) -> None:
        cli.ok("staff", "add", "rea", "--role", "reviewer")
        ran = cli("staff", "roles", "rea", "--set", given)
        assert ran.returncode == 2
        assert message in ran.stderr
        assert entries(cli)[-1]["data"]["action"] == "added"

    def test_an_unknown_account_is_named(self, cli: Cli) -> None:
        assert cli("staff", "roles", "ghost", "--set", "reviewer").line == (
            "gateway: no staff account ghost")


class TestPassword:
    def test_a_password_is_reset_from_a_file_and_ends_the_sessions(
        self, cli: Cli, tmp_path: Path
    ) -> None:
        """password sets the new password (only its scrypt string is stored), ends the
        account's sessions, and is recorded without the password."""
        cli.ok("staff", "add", "rea", "--role", "reviewer")

        async def login(staff: Staff) -> str:
            return (await staff.login("rea", PASSWORD)).token

        token = with_staff(cli, login)
        (tmp_path / "new-pw").write_text(NEW_PASSWORD + "\n")
        out = cli.ok("staff", "password", "rea", "--password-file", str(tmp_path / "new-pw"))
        entry = entries(cli)[-1]
        assert out == ("new password set for rea; their sessions are ended (recorded at "
                       f"position {entry['seq']})\n")
        assert entry["data"] == {"action": "password_reset", "username": "rea",
                                 "roles": ["reviewer"], "by": None, "enabled": True,
                                 "channel": "cli", "os_user": "ops-anna"}
        stored = stored_password(cli, "rea")
        assert check_password(stored, NEW_PASSWORD)
        assert not check_password(stored, PASSWORD)
        record = (cli.config.parent / "record.sqlite").read_bytes()
        assert NEW_PASSWORD.encode() not in record

        async def resolve(staff: Staff) -> str:
            return (await staff.resolve(token)).username

        with pytest.raises(Unauthorized):
            with_staff(cli, resolve)

    def test_a_password_never_comes_from_the_command_line(self, cli: Cli,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
        """A password given as an argument is refused by the parser; without a file, the
        variable or a terminal, nothing changes."""
        cli.ok("staff", "add", "rea", "--role", "reviewer")
        stored = stored_password(cli, "rea")
        assert cli("staff", "password", "rea", NEW_PASSWORD).returncode == 2
        monkeypatch.delenv("GATEWAY_STAFF_PASSWORD")
        assert "--password-file" in cli("staff", "password", "rea").line
        assert stored_password(cli, "rea") == stored
        assert entries(cli)[-1]["data"]["action"] == "added"

    def test_a_short_password_or_an_unknown_account_is_refused(self, cli: Cli,
                                                               tmp_path: Path) -> None:
        cli.ok("staff", "add", "rea", "--role", "reviewer")
        (tmp_path / "short").write_text("short\n")
        assert "a password is 12 to 1024 characters" in cli(
            "staff", "password", "rea", "--password-file", str(tmp_path / "short")).line
        assert cli("staff", "password", "ghost").line == "gateway: no staff account ghost"
