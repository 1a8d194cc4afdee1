"""What the `gateway` command says: keygen when nothing was missing, who an unknown ``--as``
was, a report page it will not overwrite unasked, `log show` columns that hold their place, and
which value of an intake is wrong, by its position."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import orjson
import pytest

from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from tests.cli import Cli
from tests.conftest import unreachable_carriers, write_config

PASSWORD = "a long enough passphrase"


@pytest.fixture
def cli(tmp_path: Path, no_carrier_env: list[str],
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A fresh record and its config, run from the OS login ``ops-anna``, with staff account
    dpo (admin, reviewer, intake officer)."""
    del no_carrier_env
    config = write_config(tmp_path, unreachable_carriers())
    monkeypatch.setenv("GATEWAY_STAFF_PASSWORD", PASSWORD)
    monkeypatch.setenv("LOGNAME", "ops-anna")
    run = Cli(config)
    run.ok("staff", "add", "dpo", "--role", "admin", "--role", "reviewer",
           "--role", "intake_officer")
    return run


def size(cli: Cli) -> int:
    db = sqlite3.connect(cli.config.parent / "record.sqlite")
    (count,) = db.execute("SELECT COUNT(*) FROM entries").fetchone()
    return int(count)


class TestKeygen:
    def test_keygen_says_when_every_file_exists(self, cli: Cli, tmp_path: Path) -> None:
        """A first run lists what it wrote; a second says nothing was missing and keeps every
        key as it was."""
        secrets = tmp_path / "new-secrets"
        wrote = cli.ok("keygen", "--dir", str(secrets)).splitlines()
        assert wrote == [f"wrote {secrets / name}" for name in (
            "hook-secret", "record-kek", "subject-hmac", "checkpoint.key", "checkpoint.pub")]
        kek = (secrets / "record-kek").read_text()
        assert cli.ok("keygen", "--dir", str(secrets)) == (
            f"every secret file in {secrets} already exists; nothing written (keygen never "
            "replaces a key)\n")
        assert (secrets / "record-kek").read_text() == kek


class TestAs:
    def test_an_unknown_as_names_the_account_and_the_way_out(self, cli: Cli) -> None:
        ran = cli("report", "transparency", "--as", "dpo2")
        assert ran.returncode == 1
        assert ran.line == ("gateway: unknown or disabled staff account dpo2 (from --as); run "
                            "it --as USER with an enabled staff account")

    def test_without_as_the_os_login_is_named(self, cli: Cli) -> None:
        assert cli("erasure", "list").line == (
            "gateway: unknown or disabled staff account ops-anna (your OS login name, as no "
            "--as was given); run it --as USER with an enabled staff account")

    def test_the_help_fits_steps_that_write(self, cli: Cli) -> None:
        ran = cli("authority", "approve", "--help")
        assert ran.returncode == 0
        assert "the staff account this step is done as" in " ".join(ran.stdout.split())


class TestReportPage:
    @pytest.mark.parametrize("report", [["access", "--customer", "C-1"], ["transparency"]])
    def test_an_existing_page_is_replaced_only_with_force(
        self, cli: Cli, tmp_path: Path, report: list[str]
    ) -> None:
        """--html refuses an existing file before the read is made (nothing recorded); with
        --force it is replaced and the read recorded."""
        page = tmp_path / "report.html"
        page.write_text("kept")
        before = size(cli)
        ran = cli("report", *report, "--as", "dpo", "--html", str(page))
        assert ran.returncode == 1
        assert ran.line == (f"gateway: {page} exists; name a new file, or add --force to "
                            "replace it")
        assert (page.read_text(), size(cli)) == ("kept", before)
        out = cli.ok("report", *report, "--as", "dpo", "--html", str(page), "--force")
        assert out == f"wrote {page}; the read is recorded at position {before}\n"
        assert page.read_text().lower().startswith("<!doctype html>")


@pytest.fixture
def kinds(tmp_path: Path) -> Path:
    """A record file with entries of short and long kinds, recipients and services."""
    db = tmp_path / "kinds.sqlite"
    signer, _ = Signer.generate("test.invalid/record")

    async def write() -> None:
        record = Record(store=ThreadedStore(SqliteStore(db)), kek=os.urandom(32),
                        signer=signer, origin="test.invalid/record")
        await record.open()
        for draft in (
            Draft(kind=Kind.INTENT, recipient="posti", service="pickup_point", order="J-1"),
            Draft(kind=Kind.CANCEL_OUTCOME, recipient="dhl_express", service="express",
                  order="J-2"),
            Draft(kind=Kind.AUTHORITY_DISCLOSURE, recipient="authority:poliisi-helsinki",
                  service="information_request_long", order="J-3"),
            Draft(kind=Kind.ERASURE),
        ):
            await record.append(draft)
        await record.close()

    asyncio.run(write())
    return db


class TestLogShowColumns:
    def test_long_kinds_do_not_shift_the_columns(self, cli: Cli, kinds: Path) -> None:
        """Every line's order column starts at the same place, whatever the length of the
        kind, recipient or service before it."""
        lines = cli.ok("log", "show", "--db", str(kinds)).splitlines()
        assert [line.split()[2] for line in lines] == [
            "disclosure.intent", "shipment.cancel.outcome", "authority.disclosure", "erasure"]
        assert len({line.index(" order=") for line in lines}) == 1, lines
        assert {line.index(line.split()[3], 40) for line in lines} == {
            lines[0].index(" posti ") + 1}


class TestIntakePositions:
    @pytest.mark.parametrize(("change", "message"), [
        ({"customers": ["C-1", "", "C-3"]},
         "$.customers[1] must be an id: text of 1 to 200 characters"),
        ({"orders": ["J-1", "J-2", "J-3\x1b[8m"]}, ("$.orders[2] holds a control or format "
                                                  "character")),
        ({"categories": ["name", "shoe_size"]}, ("$.categories[1] is unknown; categories must "
                                                "name one or more of name, address")),
        ({"customers": ["C-1", 7]}, "$.customers[1] must be an id"),
    ])
    def test_a_wrong_value_is_named_by_its_position(
        self, cli: Cli, tmp_path: Path, change: dict[str, object], message: str
    ) -> None:
        """The message names the list and the position (from 0), never the value; nothing
        is recorded."""
        form = {"authority": "poliisi-sisa-suomi", "officer": "Anna Virtanen",
                "rank": "rikoskomisario", "received_via": "e-mail", "reference": "R-1",
                "legal_basis": "Poliisilaki 4:3", "kind": "production", "customers": ["C-1"],
                "categories": ["name"],
                "deadline": "2099-01-01", **change}
        path = tmp_path / "request.json"
        path.write_bytes(orjson.dumps(form))
        before = size(cli)
        line = cli("authority", "intake", str(path), "--as", "dpo").line
        assert line.startswith(f"gateway: {message}"), line
        assert "shoe_size" not in line
        assert "J-3" not in line
        assert size(cli) == before
