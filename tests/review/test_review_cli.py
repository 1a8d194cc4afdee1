"""`gateway staff …`, `gateway report …` and the filtered `gateway log show`, run as a user runs
them (in this process), on a record that real hooks were disclosed into."""

from __future__ import annotations

import getpass
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli import Ran, run
from tests.conftest import CANARY_CUSTOMER, CANARY_FIELDS, run_gateway, write_config
from tests.review.conftest import ship

PASSWORD = "a long enough passphrase"


def gateway(config: Path, *args: str, **env: str) -> Ran:
    """``gateway --config CONFIG ARGS`` with ``env`` added to the environment."""
    return run("--config", str(config), *args, env=env)


def last_entry(config: Path) -> dict[str, Any]:
    db = sqlite3.connect(config.parent / "record.sqlite")
    (body,) = db.execute("SELECT body FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    doc: dict[str, Any] = orjson.loads(body)
    return doc


@pytest.fixture
async def config(tmp_path: Path, carrier_env: None) -> Path:
    """A record with two disclosures to posti made through the gateway, its config file, a
    reviewer and an approver."""
    async with run_gateway(tmp_path) as harness:
        await ship(harness, order_id="J-CLI-1")
        await ship(harness, order_id="J-CLI-2", service="pickup_point", pickup_point_id="PP-2")
        await harness.add_staff("rea", "reviewer")
        await harness.add_staff("aino", "approver")
    return write_config(tmp_path, {})


class TestStaff:
    def test_accounts_are_added_listed_and_disabled(self, config: Path) -> None:
        """staff add takes the password from a file or the environment, never argv; list shows
        roles; disable marks the account."""
        secret = config.parent / "pw"
        secret.write_text(PASSWORD + "\n")
        added = gateway(config, "staff", "add", "dpo", "--role", "admin", "--role", "reviewer",
                        "--password-file", str(secret))
        assert added.returncode == 0, added.stderr
        added = gateway(config, "staff", "add", "cs", "--role", "reviewer",
                        GATEWAY_STAFF_PASSWORD=PASSWORD)
        assert added.returncode == 0, added.stderr
        assert gateway(config, "staff", "disable", "aino").returncode == 0
        header, *listing = gateway(config, "staff", "list").stdout.splitlines()
        assert header.split() == ["USER", "STATE", "ROLES", "CREATED"]
        rows = {line.split()[0]: line.split()[1:3] for line in listing}
        assert rows == {"aino": ["disabled", "approver"], "dpo": ["active", "admin,reviewer"],
                        "rea": ["active", "reviewer"], "cs": ["active", "reviewer"]}
        db = sqlite3.connect(config.parent / "record.sqlite")
        stored = " ".join(r[0] for r in db.execute("SELECT password FROM staff"))
        assert PASSWORD not in stored
        assert stored.count("scrypt$17$8$1$") == 2

    def test_account_changes_are_recorded(self, config: Path) -> None:
        """Adding and disabling an account each append a staff.changed entry naming the
        account, its roles, the action, the channel (cli) and the OS user who ran it (no staff
        account made the change: ``by`` is null); listing appends nothing; the record still
        verifies."""
        added = gateway(config, "staff", "add", "dpo", "--role", "admin",
                        GATEWAY_STAFF_PASSWORD=PASSWORD, LOGNAME="root-of-ops")
        assert added.returncode == 0, added.stderr
        first = last_entry(config)
        assert first["kind"] == "staff.changed"
        assert first["data"] == {"action": "added", "username": "dpo", "roles": ["admin"],
                                 "enabled": True, "by": None, "channel": "cli",
                                 "os_user": "root-of-ops"}
        assert f"recorded at position {first['seq']}" in added.stdout
        assert gateway(config, "staff", "list").returncode == 0
        assert last_entry(config)["seq"] == first["seq"]
        assert gateway(config, "staff", "disable", "dpo").returncode == 0
        second = last_entry(config)
        assert (second["seq"], second["data"]["action"], second["data"]["enabled"]) == (
            first["seq"] + 1, "disabled", False)
        assert (second["data"]["channel"], second["data"]["os_user"]) == (
            "cli", getpass.getuser())
        verified = gateway(config, "log", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr

    def test_disabling_an_unknown_account_fails_in_one_line(self, config: Path) -> None:
        result = gateway(config, "staff", "disable", "nobody")
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1

    def test_no_password_source_is_refused(self, config: Path) -> None:
        """Without a file, the variable or a terminal, staff add stops and creates nothing."""
        result = gateway(config, "staff", "add", "eve", "--role", "reviewer")
        assert result.returncode == 1
        assert "--password-file" in result.stderr
        assert "eve" not in gateway(config, "staff", "list").stdout

    def test_the_pipeline_role_is_not_for_people(self, config: Path) -> None:
        result = gateway(config, "staff", "add", "bot", "--role", "pipeline",
                         GATEWAY_STAFF_PASSWORD=PASSWORD)
        assert result.returncode != 0


class TestReports:
    def test_an_access_report_as_a_reviewer_is_printed_and_recorded(self, config: Path) -> None:
        """report access prints the JSON report and records the read, naming the staff account
        and the OS user, under the customer's reference."""
        result = gateway(config, "report", "access", "--customer", CANARY_CUSTOMER["id"],
                         "--as", "rea")
        assert result.returncode == 0, result.stderr
        report = orjson.loads(result.stdout)
        assert [d["order"] for d in report["disclosures"]] == ["J-CLI-1", "J-CLI-2"]
        read = last_entry(config)
        assert read["kind"] == "review.read"
        assert read["data"] == {"by": "rea", "roles": ["reviewer"], "via": "cli",
                                "what": "access_report", "view": "customer", "lang": "fi",
                                "os_user": getpass.getuser()}
        assert CANARY_CUSTOMER["id"] not in orjson.dumps(read).decode()

    def test_an_access_report_page_is_written(self, config: Path, tmp_path: Path) -> None:
        """--html writes the printable page."""
        out = tmp_path / "report.html"
        result = gateway(config, "report", "access", "--customer", CANARY_CUSTOMER["id"],
                         "--as", "rea", "--html", str(out), "--lang", "en")
        assert result.returncode == 0, result.stderr
        page = out.read_text()
        assert "Delivery of order J-CLI-1: home delivery" in page
        assert "Log out" not in page
        assert CANARY_FIELDS["street"] not in page

    @pytest.mark.parametrize(("user", "message"), [("aino", "holds no role"),
                                                   ("nobody", "unknown or disabled")])
    def test_a_read_as_the_wrong_account_is_refused(self, config: Path, user: str,
                                                    message: str) -> None:
        """An approver may not produce an access report; an unknown account may read
        nothing; nothing is recorded."""
        before = last_entry(config)["seq"]
        result = gateway(config, "report", "access", "--customer", "C-1", "--as", user)
        assert result.returncode == 1
        assert message in result.stderr
        assert last_entry(config)["seq"] == before

    def test_the_os_user_is_the_default_account(self, config: Path) -> None:
        """Without --as, the read is made as the staff account named like the OS user."""
        me = getpass.getuser()
        added = gateway(config, "staff", "add", me, "--role", "approver",
                        GATEWAY_STAFF_PASSWORD=PASSWORD)
        if added.returncode != 0:
            pytest.skip("the OS user name is not a valid staff username")
        out = config.parent / "t.html"
        result = gateway(config, "report", "transparency", "--html", str(out))
        assert result.returncode == 0, result.stderr
        assert "<svg" in out.read_text()
        assert last_entry(config)["data"]["by"] == me


class TestLogShow:
    def test_a_filtered_listing_is_a_recorded_search(self, config: Path) -> None:
        """log show --customer lists that customer's entries (metadata only) and records the
        search."""
        result = gateway(config, "log", "show", "--customer", CANARY_CUSTOMER["id"],
                         "--kind", "disclosure.outcome", "--as", "rea")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert [line.split("order=")[1].split()[0] for line in lines] == ["J-CLI-1", "J-CLI-2"]
        assert CANARY_FIELDS["name"] not in result.stdout
        read = last_entry(config)
        assert read["data"]["what"] == "search"
        assert read["data"]["via"] == "cli"
        assert "recorded at position" in result.stderr

    def test_filters_need_the_live_record(self, config: Path) -> None:
        result = gateway(config, "log", "show", "--db", str(config.parent / "record.sqlite"),
                         "--order", "J-CLI-1", "--as", "rea")
        assert result.returncode == 1
        assert "--db" in result.stderr
