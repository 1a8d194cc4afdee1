"""`gateway erase` and `gateway erasure …` run as a user runs them (in this process), on a record
that real hooks were disclosed into: what they print, and exactly what they record."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from gateway.config import Config
from gateway.record.sealing import subject_ref
from tests.authority.conftest import record_entries
from tests.authority.test_authority_cli import (  # the same record, staff and helpers
    CUSTOMER,
    cli,
    config,
    day,
    db,
    ok,
    refused,
    take_in,
)

__all__ = ["config"]  # a fixture, used by name
ACCOUNTING = "Accounting Act 1336/1997, chapter 2, section 10"


def entries(config: Path) -> list[dict[str, Any]]:
    return record_entries(db(config))


def keys(config: Path) -> int:
    with sqlite3.connect(db(config)) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM subject_keys").fetchone()
    return int(count)


def ref(config: Path, customer: str = CUSTOMER) -> str:
    return subject_ref(Config.from_toml(config).keys.subject_hmac, customer)


def who(entry: dict[str, Any]) -> tuple[str | None, str, str | None]:
    data = entry["data"]
    return data["by"], data["channel"], data["os_user"]


class TestErase:
    def test_an_erasure_names_who_made_it_and_how(self, config: Path) -> None:
        """The erasure entry names the staff account, the channel and the OS login."""
        out = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea", login="cs-desk")
        assert out.startswith(f"erased: subject {ref(config)[:16]}")
        # the erasure, then the notices telling its recipients (GDPR Art. 19)
        last = next(e for e in reversed(entries(config)) if e["kind"] == "erasure")
        assert (last["kind"], last["subject"]) == ("erasure", ref(config))
        assert who(last) == ("rea", "cli", "cs-desk")

    def test_an_id_the_record_never_saw_is_not_reported_as_erased(self, config: Path) -> None:
        """A mistyped id: one line saying nothing is known of it (not the id itself), exit 1,
        nothing recorded, no key made."""
        before, held = len(entries(config)), keys(config)
        line = refused(config, "erase", "--customer", "CUST-CANARY-l", "--as", "rea")
        assert "holds nothing for that customer id" in line
        assert "CUST-CANARY-l" not in line
        assert (len(entries(config)), keys(config)) == (before, held)

    def test_erasing_twice_records_one_erasure(self, config: Path) -> None:
        ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        before = len(entries(config))
        again = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        assert again.startswith("already erased")
        assert "nothing recorded" in again
        assert len(entries(config)) == before
        assert [e["kind"] for e in entries(config)].count("erasure") == 1

    def test_a_customer_in_an_open_authority_request_is_not_erased(self, config: Path) -> None:
        """While a request naming the customer awaits its decision or its package, erasing is
        refused naming the request; once disclosed, the erasure goes through and says the
        package copy keeps the values until the request is closed."""
        rid = take_in(config, "olli")
        before = len(entries(config))
        line = refused(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        assert f"open authority request {rid}" in line
        assert len(entries(config)) == before
        ok(config, "authority", "approve", rid, "--as", "ada")
        assert f"request {rid}" in refused(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        ok(config, "authority", "disclose", rid, "--out", str(config.parent / "p.json"),
           "--as", "olli")
        out = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        assert out.startswith("erased:")
        assert (f"the package copy of authority request {rid} holds the customer's values "
                "until that request is closed") in out

    def test_only_reviewers_and_admins_erase(self, config: Path) -> None:
        assert "holds no role" in refused(config, "erase", "--customer", CUSTOMER,
                                          "--as", "olli")


class TestHolds:
    def test_a_hold_defers_the_erasure_on_its_own_basis(self, config: Path) -> None:
        """The hold and the deferral name who placed and asked them; the deferral prints the
        hold's basis and end; a second request records nothing; a run counts it as pending."""
        placed = ok(config, "erasure", "hold", "--customer", CUSTOMER, "--until", day(30),
                    "--basis", ACCOUNTING, "--as", "dpo", login="dpo-desk")
        assert placed.startswith(f"hold placed until {day(30)}")
        hold = entries(config)[-1]
        assert (hold["kind"], hold["data"]["basis"], who(hold)) == (
            "erasure.hold", ACCOUNTING, ("dpo", "cli", "dpo-desk"))
        out = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea", login="cs-desk")
        assert out.startswith(f"deferred until {day(30)}T00:00:00.000Z ({ACCOUNTING}):")
        deferred = entries(config)[-1]
        assert (deferred["kind"], deferred["data"]["basis"], who(deferred)) == (
            "erasure.deferred", ACCOUNTING, ("rea", "cli", "cs-desk"))
        before = len(entries(config))
        again = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        assert again.startswith(f"already deferred until {day(30)}")
        assert len(entries(config)) == before
        assert "0 customer(s); 1 deferred erasure(s) still pending" in ok(
            config, "erasure", "run")

    def test_a_hold_needs_a_basis_a_future_end_and_a_known_customer(self, config: Path
                                                                     ) -> None:
        """Each refused in one line naming what is wrong; nothing recorded. Only an admin
        places a hold."""
        before = len(entries(config))
        hold = ("erasure", "hold", "--customer", CUSTOMER, "--as", "dpo")
        assert "basis is required" in refused(config, *hold, "--until", day(30),
                                              "--basis", "  ")
        bad = cli(config, *hold, "--until", day(30), "--basis", "Act\x1b[31m")
        assert bad.returncode == 2
        assert "holds a control or format character" in bad.stderr
        assert "until must be a day after today" in refused(config, *hold, "--until", day(-1),
                                                            "--basis", ACCOUNTING)
        assert "holds nothing for that customer id" in refused(
            config, "erasure", "hold", "--customer", "CUST-NOBODY", "--until", day(30),
            "--basis", ACCOUNTING, "--as", "dpo")
        assert "holds no role" in refused(config, "erasure", "hold", "--customer", CUSTOMER,
                                          "--until", day(30), "--basis", ACCOUNTING,
                                          "--as", "rea")
        assert len(entries(config)) == before

    def test_holds_and_pending_erasures_are_listed_and_released(self, config: Path) -> None:
        """list shows the hold and the deferred erasure by record reference; cancelling the
        erasure (a reviewer) and lifting the hold (an admin) are each recorded with who and
        why; then nothing is listed, and a second release is refused."""
        ok(config, "erasure", "hold", "--customer", CUSTOMER, "--until", day(30), "--basis",
           ACCOUNTING, "--as", "dpo")
        ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        listed = ok(config, "erasure", "list", "--as", "rea").splitlines()
        assert [line.split()[:4] for line in listed] == [
            [ref(config)[:16], "hold", "until", f"{day(30)}T00:00:00.000Z"],
            [ref(config)[:16], "erasure", "due", f"{day(30)}T00:00:00.000Z"]]
        assert all(ACCOUNTING in line for line in listed)

        out = ok(config, "erasure", "release", "--customer", CUSTOMER, "--erasure", "--reason",
                 "the customer withdrew the request", "--as", "rea", login="cs-desk")
        assert out.startswith("deferred erasure cancelled")
        cancelled = entries(config)[-1]
        assert (cancelled["kind"], cancelled["subject"], cancelled["data"]["released"],
                cancelled["data"]["reason"], who(cancelled)) == (
            "erasure.released", ref(config), "erasure", "the customer withdrew the request",
            ("rea", "cli", "cs-desk"))
        assert "holds no role" in refused(config, "erasure", "release", "--customer",
                                          CUSTOMER, "--hold", "--reason", "matter settled",
                                          "--as", "rea")
        ok(config, "erasure", "release", "--customer", CUSTOMER, "--hold", "--reason",
           "matter settled", "--as", "dpo")
        assert who(entries(config)[-1]) == ("dpo", "cli", "os-dpo")
        assert ok(config, "erasure", "list", "--as", "dpo").strip() == (
            "no legal hold runs and no erasure is pending")
        assert "no legal hold runs" in refused(config, "erasure", "release", "--customer",
                                               CUSTOMER, "--hold", "--reason", "again",
                                               "--as", "dpo")

    def test_lifting_a_hold_lets_its_deferred_erasure_run_and_a_dry_run_changes_nothing(
        self, config: Path
    ) -> None:
        """With the hold lifted the deferred erasure falls due: a dry run says it would be
        erased and records nothing; the run erases it, recorded as made by nobody on the CLI
        from the login that ran it."""
        ok(config, "erasure", "hold", "--customer", CUSTOMER, "--until", day(30), "--basis",
           ACCOUNTING, "--as", "dpo")
        ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        out = ok(config, "erasure", "release", "--customer", CUSTOMER, "--hold", "--reason",
                 "matter settled", "--as", "dpo")
        assert "falls due at the next `gateway erasure run`" in out
        before, held = len(entries(config)), keys(config)
        dry = ok(config, "erasure", "run", "--dry-run")
        assert dry.startswith("dry run, nothing changed: would erase 1 customer(s)")
        assert (len(entries(config)), keys(config)) == (before, held)
        assert "erasure due" in ok(config, "erasure", "list", "--as", "dpo")
        done = ok(config, "erasure", "run", login="timer")
        assert done.startswith("erased 1 customer(s); 0 deferred erasure(s) still pending")
        last = next(e for e in reversed(entries(config)) if e["kind"] == "erasure")
        assert (last["kind"], last["subject"], who(last)) == (
            "erasure", ref(config), (None, "cli", "timer"))
        assert keys(config) == held - 1


class TestUnknownIdsInRequests:
    def test_an_intake_naming_an_unknown_id_makes_no_key_and_retention_erases_nothing(
        self, config: Path
    ) -> None:
        """A request naming an id the record never saw creates no customer key, so a
        retention run has nothing of it to erase; the package still says which id was
        asked, and holds nothing for it."""
        held = keys(config)
        rid = take_in(config, "olli", customers=["CUST-NEVER-SEEN"])
        assert keys(config) == held
        text = config.read_text().replace("retention_days = 0", "retention_days = 1")
        config.write_text(text)
        assert ok(config, "erasure", "run").startswith("erased 0 customer(s)")
        ok(config, "authority", "approve", rid, "--as", "ada")
        out = config.parent / "unknown.json"
        ok(config, "authority", "disclose", rid, "--out", str(out), "--as", "olli")
        package = out.read_text()
        assert '"customer_id": "CUST-NEVER-SEEN"' in package
        assert keys(config) == held
        result = cli(config, "authority", "close", rid, "--as", "olli")
        assert result.returncode == 0, result.stderr
        with sqlite3.connect(db(config)) as conn:
            (doc,) = conn.execute("SELECT doc FROM authority_requests WHERE id=?",
                                  (rid,)).fetchone()
        assert orjson.loads(doc)["sealed_ids"] == {}  # the asked id goes with the case
