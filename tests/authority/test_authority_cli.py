"""`gateway authority …` run as a user runs it (in this process), on a record that real hooks
were disclosed into: every path, the record's entries and the exact package."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.actor import Actor
from gateway.authority.intake import Intake
from gateway.authority.package import ERASED, VALUES_ERASED
from gateway.config import Config
from gateway.http.authority_api import DESK
from gateway.record.sealing import subject_ref
from gateway.text import clean
from tests.authority.conftest import authority_trail, record_entries
from tests.cli import Ran, run
from tests.conftest import CANARY_CUSTOMER, CANARY_FIELDS, run_gateway, write_config
from tests.review.conftest import ship

CUSTOMER = CANARY_CUSTOMER["id"]


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def cli(config: Path, *args: str, login: str | None = None) -> Ran:
    """One `gateway` command, run from the OS login ``login``: by default each staff member
    (``--as``) on a login of their own, as people at separate desks are. What
    `gateway authority` prints (the package goes to its file) and every error carry no
    customer id or value."""
    env: dict[str, str] = {}
    if login is None and "--as" in args:
        login = "os-" + args[args.index("--as") + 1]
    if login is not None:
        env.update(LOGNAME=login, USER=login)
    result = run("--config", str(config), *args, env=env)
    for value in (*CANARY_FIELDS.values(), CUSTOMER):
        assert value not in result.stderr
        assert value not in result.stdout or args[0] != "authority"
    return result


def ok(config: Path, *args: str, login: str | None = None) -> Any:  # noqa: ANN401
    result = cli(config, *args, login=login)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout) if result.stdout.startswith("{") else result.stdout


def refused(config: Path, *args: str, login: str | None = None) -> str:
    """A refused command: exit 1 and one line on stderr, which it returns."""
    result = cli(config, *args, login=login)
    assert result.returncode == 1, result.stdout
    (line,) = result.stderr.splitlines()
    assert line.startswith("gateway: ")
    return line


@pytest.fixture
async def config(tmp_path: Path, carrier_env: None) -> Path:
    """A record with the canary customer's home delivery J-CLI-1 and another customer's
    order, made through the gateway; staff olli (intake officer), ada (approver), pia (both),
    rea (reviewer) and dpo (admin); the config file the CLI reads."""
    async with run_gateway(tmp_path) as harness:
        await ship(harness, order_id="J-CLI-1")
        await ship(harness, order_id="J-CLI-OTHER", customer="CUST-SOMEONE-ELSE")
        for name, roles in (("olli", ["intake_officer"]), ("ada", ["approver"]),
                            ("pia", ["intake_officer", "approver"]), ("rea", ["reviewer"]),
                            ("dpo", ["admin"])):
            await harness.add_staff(name, *roles)
    return write_config(tmp_path, {})


def intake_file(config: Path, name: str = "request.json", **change: Any) -> Path:  # noqa: ANN401
    doc = {
        "authority": "tulli", "officer": "Customs officer", "received_via": "letter",
            "reference": "TULLI-77/26",
        "legal_basis": "Customs Act 304/2016, section 105",
        "kind": "production", "customers": [CUSTOMER],
        "categories": ["name", "address", "orders"], "deadline": day(14), **change,
    }
    path = config.parent / name
    path.write_bytes(orjson.dumps({k: v for k, v in doc.items() if v is not None}))
    return path


def take_in(config: Path, who: str, *, login: str | None = None,
            **change: Any) -> str:  # noqa: ANN401
    view = ok(config, "authority", "intake", str(intake_file(config, **change)), "--as", who,
              login=login)
    request_id: str = view["id"]
    return request_id


async def taken_in_days_ago(config: Path, days: float, **change: Any) -> str:  # noqa: ANN401
    """A request olli took in ``days`` days ago, over the API of a gateway on the same record
    whose clock read that day: intake refuses a deadline or a deferral already past, so a
    request now overdue, or whose deferral has ended, is one taken in earlier."""
    then = time.time() - days * 86400
    doc = orjson.loads(intake_file(config, **change).read_bytes())
    async with run_gateway(config.parent, clock=lambda: then) as harness:
        headers = await harness.login("olli")
        async with harness.http.post(harness.url + "/v1/authority/requests", json=doc,
                                     headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            request_id: str = (await resp.json())["id"]
    return request_id


def db(config: Path) -> Path:
    return config.parent / "record.sqlite"


class TestApproved:
    def test_intake_approval_disclosure_and_close(self, config: Path) -> None:
        """Taken in by olli, approved by ada, the package written once to --out with exactly
        the requested categories, closed; each step recorded with who."""
        rid = take_in(config, "olli")
        view = ok(config, "authority", "approve", rid, "--as", "ada")
        assert (view["state"], view["decided_by"]) == ("approved", "ada")
        out = config.parent / "package.json"
        done = ok(config, "authority", "disclose", rid, "--out", str(out), "--as", "olli")
        content = out.read_bytes()
        assert done["package_sha256"] == hashlib.sha256(content).hexdigest()
        assert out.stat().st_mode & 0o777 == 0o600
        package = orjson.loads(content)
        subject = subject_ref(Config.from_toml(config).keys.subject_hmac, CUSTOMER)
        intent = next(e for e in record_entries(db(config))
                      if e["kind"] == "disclosure.intent" and e["order"] == "J-CLI-1")
        used = [{"order": "J-CLI-1", "time": intent["time"]}]
        assert package["customers"] == [{
            "customer_id": CUSTOMER, "answers": {"customer_no": 1, "orders": []},
            "reference": subject[:16], "status": "held",
            "data": {"name": [{"value": CANARY_FIELDS["name"], "used": used}],
                     "address": [{"value": {"street": CANARY_FIELDS["street"],
                                            "postal_code": "33100",
                                            "town": CANARY_FIELDS["town"], "country": "FI"},
                                  "used": used}],
                     "orders": ["J-CLI-1"]},
        }]
        assert package["request"]["categories"] == ["name", "address", "orders"]
        assert package["unresolved_orders"] == []
        for absent in (CANARY_FIELDS["phone"], CANARY_FIELDS["email"], "J-CLI-OTHER"):
            assert absent not in content.decode()

        again = refused(config, "authority", "disclose", rid, "--out",
                        str(config.parent / "again.json"), "--as", "ada")
        assert "already produced" in again
        assert not (config.parent / "again.json").exists()
        assert ok(config, "authority", "show", rid, "--as", "ada")["state"] == "disclosed"
        assert ok(config, "authority", "close", rid, "--as", "olli")["state"] == "closed"
        assert authority_trail(db(config), rid) == [
            ("authority.received", "olli"), ("authority.approved", "ada"),
            ("authority.intent", "olli"), ("authority.disclosure", "olli"),
            ("review.read:authority_package", "olli"), ("authority.closed", "olli")]
        disclosure = next(e for e in record_entries(db(config))
                          if e["kind"] == "authority.disclosure")
        assert disclosure["data"]["package_sha256"] == done["package_sha256"]
        assert disclosure["fields"] == ["name", "street", "postal_code", "town", "country"]
        assert [(e["data"]["by"], e["data"]["channel"], e["data"]["os_user"])
                for e in record_entries(db(config))
                if e["kind"].startswith("authority.")] == [
            ("olli", "cli", "os-olli"), ("ada", "cli", "os-ada"), ("olli", "cli", "os-olli"),
            ("olli", "cli", "os-olli"), ("olli", "cli", "os-olli")]


class TestRefused:
    def test_a_rejection_needs_its_reason(self, config: Path) -> None:
        """A too-short reason is refused in one line; with a reason the request is rejected and
        cannot be disclosed."""
        rid = take_in(config, "olli")
        assert "reason" in refused(config, "authority", "reject", rid, "--reason", "no",
                                   "--as", "ada")
        reason = "Customs may not ask for this without a court order"
        view = ok(config, "authority", "reject", rid, "--reason", reason, "--as", "ada")
        assert (view["state"], view["reason"]) == ("rejected", reason)
        assert "only an approved request" in refused(
            config, "authority", "disclose", rid, "--out", str(config.parent / "p.json"),
            "--as", "olli")
        ok(config, "authority", "close", rid, "--as", "olli")
        assert authority_trail(db(config), rid) == [
            ("authority.received", "olli"), ("authority.rejected", "ada"),
            ("authority.closed", "olli")]

    def test_the_person_who_took_it_in_cannot_decide_it(self, config: Path) -> None:
        """pia took the request in: approving or rejecting it as pia is refused; olli may not
        decide at all."""
        rid = take_in(config, "pia")
        assert "second person" in refused(config, "authority", "approve", rid, "--as", "pia")
        assert "second person" in refused(config, "authority", "reject", rid, "--reason",
                                          "conflict of interest", "--as", "pia")
        assert "roles do not allow" in refused(config, "authority", "approve", rid,
                                               "--as", "olli")
        assert authority_trail(db(config), rid) == [("authority.received", "pia")]

    def test_only_the_people_on_the_case_produce_the_package(self, config: Path) -> None:
        """pia holds both handler roles but neither took the request in nor decided it: her
        `disclose --out` is refused in one line, writes no file and records nothing; ada, who
        approved it, produces it."""
        rid = take_in(config, "olli")
        ok(config, "authority", "approve", rid, "--as", "ada")
        before = len(record_entries(db(config)))
        out = config.parent / "pia.json"
        line = refused(config, "authority", "disclose", rid, "--out", str(out), "--as", "pia")
        assert "on the case" in line
        assert not out.exists()
        assert len(record_entries(db(config))) == before
        ok(config, "authority", "disclose", rid, "--out", str(out), "--as", "ada")
        assert authority_trail(db(config), rid)[-1] == ("review.read:authority_package", "ada")

    def test_one_os_login_cannot_take_in_and_decide_under_two_names(self, config: Path
                                                                     ) -> None:
        """`--as` takes no password: olli took the request in from the login desk-1, so a
        decision from desk-1 as ada is refused (approve and reject alike) and nothing is
        recorded; ada from her own login decides it, and the record shows both logins."""
        rid = take_in(config, "olli", login="desk-1")
        for step in (("approve", rid), ("reject", rid, "--reason", "no basis given")):
            line = refused(config, "authority", *step, "--as", "ada", login="desk-1")
            assert "this OS login already acted on it under another staff name" in line
        assert authority_trail(db(config), rid) == [("authority.received", "olli")]
        view = ok(config, "authority", "approve", rid, "--as", "ada", login="desk-2")
        assert (view["state"], view["decided_by"]) == ("approved", "ada")
        steps = [e for e in record_entries(db(config)) if e["disclosure"] == rid]
        assert [(e["kind"], e["data"]["by"], e["data"]["channel"], e["data"]["os_user"])
                for e in steps] == [("authority.received", "olli", "cli", "desk-1"),
                                    ("authority.approved", "ada", "cli", "desk-2")]

    @pytest.mark.parametrize("legal_basis", [None, "", "   "])
    def test_a_request_without_its_legal_basis_is_refused(
        self, config: Path, legal_basis: str | None
    ) -> None:
        """Without a legal basis nothing is taken in or recorded; the message names the
        field."""
        before = len(record_entries(db(config)))
        path = intake_file(config, legal_basis=legal_basis)
        line = refused(config, "authority", "intake", str(path), "--as", "olli")
        assert "legal_basis is required" in line
        assert len(record_entries(db(config))) == before
        assert ok(config, "authority", "list", "--as", "olli") == ""

    def test_a_file_that_is_not_json_is_refused(self, config: Path) -> None:
        path = config.parent / "broken.json"
        path.write_text("{legal_basis: ")
        assert "is not JSON" in refused(config, "authority", "intake", str(path), "--as", "olli")


class TestDeadlines:
    async def test_open_requests_nearing_or_past_their_deadline_are_listed(
        self, config: Path
    ) -> None:
        """--due-within lists open requests due within that many days, the overdue first;
        later ones and decided ones are left out."""
        late = await taken_in_days_ago(config, 5, deadline=day(-1))
        soon = take_in(config, "olli", deadline=day(2))
        take_in(config, "olli", deadline=day(30))
        decided = take_in(config, "olli", deadline=day(0))
        ok(config, "authority", "reject", decided, "--reason", "not our customer", "--as",
           "ada")
        lines = ok(config, "authority", "list", "--due-within", "3", "--as", "ada").splitlines()
        assert [line.split()[:4] for line in lines] == [
            [late, "received", day(-1), "overdue"], [soon, "received", day(2), "due"]]
        assert "(-1 d)" in lines[0]
        assert "due soon (+2 d)" in lines[1]
        every = ok(config, "authority", "list", "--as", "olli").splitlines()
        assert len(every) == 4

    async def test_an_emergency_shows_hours_and_the_columns_fit_every_state(
        self, config: Path
    ) -> None:
        """An emergency (8 hours) is due soon in hours, not "+0 d"; an emergency taken in
        7 h 30 min ago has minutes left; a preservation order being complied with
        ("preserving", the longest state) does not shift the columns after it."""
        preserved = take_in(config, "olli", kind="preservation", reference="P-1")
        ok(config, "authority", "approve", preserved, "--as", "ada")
        emergency = take_in(config, "olli", kind="emergency", deadline=None, reference="E-1")
        ending = await taken_in_days_ago(config, 7.5 / 24, kind="emergency", deadline=None,
                                         reference="E-2")
        take_in(config, "olli", deadline=day(30), reference="L-1")
        lines = ok(config, "authority", "list", "--as", "olli").splitlines()
        by_id = {line.split()[0]: line for line in lines}
        assert "due soon (+8 h)" in by_id[emergency]
        assert "due soon (+30 min)" in by_id[ending]
        assert " d)" not in by_id[emergency] + by_id[ending]
        assert "preserving" in by_id[preserved]
        starts = {line.index(kind) for line in lines
                  for kind in ("production", "preservation", "emergency")
                  if f"  {kind}  " in line}
        assert len(starts) == 1, lines


class TestDeferral:
    async def test_a_disclosure_is_hidden_while_its_deferral_runs_and_shown_after(
        self, config: Path
    ) -> None:
        """Two disclosures to the same customer: the one whose deferral ended yesterday is in
        the customer's access report, the one deferred for another month is not (the admin's
        full view shows it, marked)."""
        ended = await taken_in_days_ago(config, 5, reference="ENDED-1", defer_until=day(-1))
        running = take_in(config, "olli", reference="RUNNING-2", defer_until=day(30))
        for reference, rid in (("ENDED-1", ended), ("RUNNING-2", running)):
            ok(config, "authority", "approve", rid, "--as", "ada")
            ok(config, "authority", "disclose", rid, "--out",
               str(config.parent / f"{reference}.json"), "--as", "olli")

        def authority_rows(*args: str) -> list[dict[str, Any]]:
            report = ok(config, "report", "access", "--customer", CUSTOMER, *args)
            return [d for d in report["disclosures"] if d["kind"] == "authority"]

        shown = authority_rows("--as", "rea")
        assert [(d["reference"], d.get("deferred")) for d in shown] == [("ENDED-1", None)]
        full = authority_rows("--view", "full", "--as", "dpo")
        assert [(d["reference"], d.get("deferred")) for d in full] == [
            ("ENDED-1", None), ("RUNNING-2", True)]

        # `gateway log show` keeps the running one to the admin too: a reviewer's search lists
        # only the ended request's entries, and the offline listing withholds the other's.
        def positions(request_id: str) -> list[int]:
            return [e["seq"] for e in record_entries(db(config))
                    if (e["disclosure"] or "").startswith(request_id)
                    or e["data"].get("request") == request_id]

        def listed(*args: str) -> list[str]:
            result = cli(config, "log", "show", *args)
            assert result.returncode == 0, result.stderr
            return result.stdout.splitlines()

        def seqs(lines: list[str]) -> set[int]:
            return {int(line.split()[0]) for line in lines}

        searched = ("--kind", "authority.received")
        assert seqs(listed(*searched, "--as", "rea")) == set(positions(ended)[:1])
        assert seqs(listed(*searched, "--as", "dpo")) == {
            positions(ended)[0], positions(running)[0]}
        offline = listed("--limit", "500")
        withheld = [line for line in offline if "withheld" in line]
        assert seqs(withheld) == set(positions(running))
        assert not [line for line in withheld if "Tulli" in line or "RUNNING" in line]


class TestOldRecordsAreEscaped:
    async def test_control_characters_from_before_the_rule_reach_no_terminal(
        self, config: Path
    ) -> None:
        """A request taken in before intake refused control characters (written here through
        the workflow, as an older gateway did) is listed, shown and found with each such
        character spelled as an escape: the JSON of `authority show` still reads back as the
        stored text."""
        authority_name = "Evil\x1b]0;owned\x07 Police\u202e ecilop"
        async with run_gateway(config.parent) as harness:
            desk = harness.app[DESK]
            old = Intake(authority=authority_name, reference="R-\x9b2J-1",
                         legal_basis="Police Act 872/2011", kind="x\x00y",
                         categories=("name",), deadline=datetime.now(UTC).date(),
                         customers=(CUSTOMER,))
            rid = (await desk.authority.intake(old, actor=Actor("olli", "cli"),
                now=datetime.now(UTC))).id
        for args in (("authority", "list", "--as", "olli"), ("log", "show"),
                     ("log", "show", "--kind", "authority.received", "--as", "rea"),
                     ("authority", "show", rid, "--as", "olli")):
            result = cli(config, *args)
            assert result.returncode == 0, result.stderr
            assert clean(result.stdout, multiline=True), args
            assert "Evil\\u001b]0;owned\\u0007 Police\\u202e ecilop" in result.stdout, args
        shown = ok(config, "authority", "show", rid, "--as", "olli")
        assert (shown["authority"], shown["reference"], shown["kind"]) == (
            authority_name, "R-\x9b2J-1", "x\x00y")


class TestErased:
    def test_an_erased_customer_is_answered_from_metadata(self, config: Path) -> None:
        """After `gateway erase`, a request by order gets the order without values and says
        the values were erased."""
        ok(config, "erase", "--customer", CUSTOMER, "--as", "dpo")
        rid = take_in(config, "olli", customers=None, orders=["J-CLI-1"])
        ok(config, "authority", "approve", rid, "--as", "ada")
        out = config.parent / "erased.json"
        done = ok(config, "authority", "disclose", rid, "--out", str(out), "--as", "olli")
        assert [c["status"] for c in done["package"]["customers"]] == ["erased"]
        (customer,) = orjson.loads(out.read_bytes())["customers"]
        assert (customer["customer_id"], customer["status"], customer["note"]) == (
            None, "erased", ERASED)
        assert customer["data"] == {"name": VALUES_ERASED, "address": VALUES_ERASED,
                                    "orders": ["J-CLI-1"]}
        assert customer["answers"] == {"customer_no": None, "orders": ["J-CLI-1"]}


class TestPackageRetention:
    def test_erasure_run_deletes_package_copies_past_their_retention(
        self, config: Path
    ) -> None:
        """With [erasure] package_retention_days, `gateway erasure run` deletes the local
        copy of a package produced longer ago (the record keeps its hash); a younger one stays,
        and without the setting none goes."""
        packages = config.parent / "authority-packages"
        old, young = take_in(config, "olli"), take_in(config, "olli")
        for rid in (old, young):
            ok(config, "authority", "approve", rid, "--as", "ada")
            ok(config, "authority", "disclose", rid, "--out", str(config.parent / f"{rid}.out"),
               "--as", "olli")
        ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).timestamp()
        os.utime(packages / f"{old}.json", (ten_days_ago, ten_days_ago))

        assert "deleted 0 authority package" in ok(config, "erasure", "run")
        text = config.read_text().replace("[erasure]\n", "[erasure]\npackage_retention_days = 7\n")
        config.write_text(text)
        assert "deleted 1 authority package" in ok(config, "erasure", "run")

        assert not (packages / f"{old}.json").exists()
        assert (packages / f"{young}.json").exists()
