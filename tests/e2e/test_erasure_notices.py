"""Recipients told of an erasure (GDPR Art. 19), as a user runs it: `gateway erase` on a
record real hooks were disclosed into, a real SMTP server (aiosmtpd) on
127.0.0.1 receiving the notice, or the notice written as an .eml; failures retried by
`gateway erasure run` and listed by `gateway erasure notices`."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, Self

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.authority.conftest import record_entries
from tests.authority.test_authority_cli import CUSTOMER, db, ok, refused, take_in
from tests.conftest import CANARY_FIELDS, run_gateway, write_config
from tests.review.conftest import ship

PRIVACY = "tietosuoja@posti.example"


def text_of(mail: Message) -> str:
    """The body of a single-part e-mail, decoded."""
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


class Mailbox:
    """What an SMTP handler received; ``refuse`` answers the next messages with a 451."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.refuse = 0

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802 - aiosmtpd's hook
                          envelope: Envelope) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 mailbox busy, try again later"
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 OK"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (a free port), on its own event loop in a thread."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(self.loop.create_server(
            lambda: SMTP(self.mailbox, hostname="mail.test"), "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def booked(tmp_path: Path, carrier_env: None) -> dict[str, Any]:
    """Two bookings of the canary customer with posti (their answers), another customer's,
    and staff rea (reviewer) and dpo (admin)."""
    async with run_gateway(tmp_path) as harness:
        first = await ship(harness, order_id="J-N-1")
        second = await ship(harness, order_id="J-N-2", service="pickup_point",
                            pickup_point_id="PP-1")
        await ship(harness, order_id="J-N-OTHER", customer="CUST-SOMEONE-ELSE")
        for name, roles in (("rea", ["reviewer"]), ("dpo", ["admin"]), ("olli",
                            ["intake_officer"]), ("ada", ["approver"])):
            await harness.add_staff(name, *roles)
    return {"bookings": [first, second], "config": write_config(tmp_path, {})}


def configure(config: Path, text: str) -> Path:
    """``text`` added to the config; the keys of a table the config already has (the shipped
    [recipients.NAME]) go under its header."""
    current = config.read_text()
    rest = []
    for block in text.strip().split("\n\n"):
        header, _, keys = block.partition("\n")
        if f"\n{header}\n" in current:
            current = current.replace(f"\n{header}\n", f"\n{header}\n{keys}\n", 1)
        else:
            rest.append(block)
    config.write_text(current + "\n" + "\n\n".join(rest) + "\n")
    return config


def by_email(config: Path, port: int) -> Path:
    return configure(config, f"""
[recipients.posti]
erasure_notice = "email"
privacy_email = "{PRIVACY}"

[smtp]
host = "127.0.0.1"
port = {port}
from = "tietosuoja@jerone.example"
starttls = false
""")


def notices(config: Path) -> list[dict[str, Any]]:
    return [e for e in record_entries(db(config)) if e["kind"].startswith("erasure.notice")]


def assert_nothing_personal(text: str, bookings: list[dict[str, Any]]) -> None:
    """The notice repeats no customer value, no customer id and no order id."""
    for value in (*CANARY_FIELDS.values(), CUSTOMER, "J-N-1", "J-N-2"):
        assert value not in text
    for booking in bookings:
        assert booking["disclosure_id"] in text
        assert booking["tracking_number"] in text


class TestByEmail:
    def test_erase_sends_the_carrier_one_notice_naming_only_what_it_holds(
        self, booked: dict[str, Any], smtp: SmtpServer
    ) -> None:
        """The customer's two posti bookings reach posti's privacy contact in one e-mail,
        by our reference and its tracking number; the confirmation names posti; the record
        holds the intent and the sent outcome, naming no value."""
        config, bookings = by_email(booked["config"], smtp.port), booked["bookings"]
        out = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        notice = re.search(r"posti: e-mail sent \(notice (en_[0-9a-f]{16})\)", out)
        assert notice is not None, out
        assert "recipients told of the erasure (GDPR Art. 19):" in out
        ((to, mail),) = smtp.mailbox.messages
        assert to == [PRIVACY]
        assert mail["To"] == PRIVACY
        assert mail["From"] == "tietosuoja@jerone.example"
        assert "GDPR Art. 19" in mail["Subject"]
        body = text_of(mail)
        assert_nothing_personal(body, bookings)
        assert f"Notice {notice[1]}" in body
        intent, outcome = notices(config)
        assert (intent["kind"], intent["recipient"], intent["disclosure"]) == (
            "erasure.notice.intent", "posti", notice[1])
        assert sorted(intent["data"]["shipments"]) == sorted(
            b["disclosure_id"] for b in bookings)
        assert (outcome["data"]["result"], outcome["data"]["attempt"]) == ("sent", 1)
        raw = db(config).read_bytes()
        for booking in bookings:
            assert booking["tracking_number"].encode() not in raw  # sealed, never in clear
        assert not list((config.parent / "erasure-notices" / "pending").glob("*"))
        assert "no erasure notice waits" in ok(config, "erasure", "notices", "--as", "rea")

    def test_a_refused_notice_is_recorded_failed_and_sent_by_the_next_run(
        self, booked: dict[str, Any], smtp: SmtpServer
    ) -> None:
        """The server answers 451: the failure is an entry, the notice is listed; the next
        `gateway erasure run` sends it, with the tracking numbers captured before the key
        was deleted."""
        config = by_email(booked["config"], smtp.port)
        smtp.mailbox.refuse = 1
        out = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        assert "posti: sending failed, retried by `gateway erasure run`" in out
        failed = notices(config)[-1]
        assert (failed["data"]["result"], failed["data"]["error"]) == (
            "failed", "the SMTP server refused the notice (code 451)")
        listed = ok(config, "erasure", "notices", "--as", "rea")
        assert re.search(r"en_[0-9a-f]{16}  posti +email +failed +attempts 1", listed)
        assert smtp.mailbox.messages == []

        ran = ok(config, "erasure", "run")
        assert "erasure notices: 1 sent or written, 0 failed" in ran
        ((_, mail),) = smtp.mailbox.messages
        assert_nothing_personal(text_of(mail), booked["bookings"])
        sent = notices(config)[-1]
        assert (sent["data"]["result"], sent["data"]["attempt"]) == ("sent", 2)
        assert "nothing to" not in ok(config, "erasure", "run")
        assert len(smtp.mailbox.messages) == 1  # sent once
        assert "no erasure notice waits" in ok(config, "erasure", "notices", "--as", "rea")

    def test_an_unreachable_server_is_a_failure_too(self, booked: dict[str, Any]) -> None:
        """Nothing listens on the port: failed, naming the error's class, listed."""
        config = by_email(booked["config"], 9)  # discard: nothing listens on loopback
        out = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        assert "posti: sending failed" in out
        assert notices(config)[-1]["data"]["error"].startswith(
            "the SMTP server could not be reached (")
        assert "failed" in ok(config, "erasure", "notices", "--as", "rea")


class TestWrittenForAPerson:
    def test_a_recipient_without_a_channel_gets_an_eml_a_person_sends(
        self, booked: dict[str, Any]
    ) -> None:
        """No channel for posti: the notice is written as an .eml in the outbox beside the
        record, addressed to the privacy contact config.toml gives posti, listed until a
        person records it sent, which deletes the file."""
        config = booked["config"]
        out = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        found = re.search(r"posti: notice written for sending \(notice (en_[0-9a-f]{16})\)", out)
        assert found is not None, out
        eml = config.parent / "erasure-notices" / "outbox" / f"{found[1]}.eml"
        assert eml.stat().st_mode & 0o777 == 0o600
        mail = message_from_bytes(eml.read_bytes())
        assert mail["To"] == "tietosuoja@posti.com"
        assert_nothing_personal(text_of(mail), booked["bookings"])
        assert notices(config)[-1]["data"]["result"] == "written"
        assert f"{found[1]}  posti" in ok(config, "erasure", "notices", "--as", "rea")
        done = ok(config, "erasure", "notified", found[1], "--sent", "--as", "rea")
        assert done.startswith(f"notice {found[1]} sent; recorded at position")
        assert not eml.exists()
        assert "no erasure notice waits" in ok(config, "erasure", "notices", "--as", "rea")
        listed = ok(config, "erasure", "notices", "--all", "--as", "rea")
        assert f"{found[1]}  posti        file   sent" in listed

    def test_a_recipient_with_no_address_is_named_and_told_once_one_is_configured(
        self, booked: dict[str, Any]
    ) -> None:
        """posti with no privacy contact (as the shipped Budbee has none): `gateway erase`
        names it and the table to fill in; the .eml has no To:; the outcome is
        needs_address, listed; `erasure run` records nothing more until an address is
        configured, then writes the notice to it."""
        config = booked["config"]
        config.write_text(config.read_text().replace(
            'privacy_contact = "tietosuoja@posti.com"\n', "", 1))
        out = ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        found = re.search(r"posti: no address to send the notice to: .*\[recipients\.posti\] "
                          r"\(notice (en_[0-9a-f]{16})\)", out)
        assert found is not None, out
        eml = config.parent / "erasure-notices" / "outbox" / f"{found[1]}.eml"
        assert message_from_bytes(eml.read_bytes())["To"] is None
        assert notices(config)[-1]["data"]["result"] == "needs_address"
        listed = ok(config, "erasure", "notices", "--as", "rea")
        assert re.search(rf"{found[1]}  posti +file +needs_address", listed), listed
        before = len(notices(config))
        ran = ok(config, "erasure", "run")
        assert "erasure notices: 0 sent or written, 0 failed" in ran
        assert len(notices(config)) == before  # nothing new while there is no address
        configure(config, '[recipients.posti]\nprivacy_email = "tietosuoja@posti.example"\n')
        ran = ok(config, "erasure", "run")
        assert "erasure notices: 1 sent or written, 0 failed (see" in ran
        written = notices(config)[-1]["data"]
        assert (written["result"], written["attempt"]) == ("written", 2)
        assert message_from_bytes(eml.read_bytes())["To"] == "tietosuoja@posti.example"
        listed = ok(config, "erasure", "notices", "--as", "rea")  # now for a person to send
        assert re.search(rf"{found[1]}  posti +file +written +attempts 2", listed), listed

    def test_the_access_report_tells_the_customer_who_was_told(
        self, booked: dict[str, Any]
    ) -> None:
        """After the erasure the customer's access report lists posti as told, by file."""
        config = booked["config"]
        ok(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        report = ok(config, "report", "access", "--customer", CUSTOMER, "--as", "dpo")
        (told,) = report["erasure_notices"]
        assert (told["recipient"], told["channel"], told["result"]) == (
            "posti", "file", "written")
        page = config.parent / "access.html"
        ok(config, "report", "access", "--customer", CUSTOMER, "--as", "dpo", "--html",
           str(page), "--lang", "en")
        assert "posti: a notice is being sent" in page.read_text()
        finnish = config.parent / "access-fi.html"
        ok(config, "report", "access", "--customer", CUSTOMER, "--as", "dpo", "--html",
           str(finnish), "--lang", "fi")
        assert "posti: ilmoitus on lähdössä" in finnish.read_text()

    def test_an_api_channel_is_refused_where_the_carrier_documents_none(
        self, booked: dict[str, Any]
    ) -> None:
        config = configure(booked["config"], '[recipients.posti]\nerasure_notice = "api"\n')
        line = refused(config, "erasure", "notices", "--as", "rea")
        assert "posti documents no erasure call in its API" in line

    def test_a_customer_named_in_an_open_request_is_not_erased_nor_told(
        self, booked: dict[str, Any]
    ) -> None:
        """The erasure is refused, so nothing is captured or sent."""
        config = booked["config"]
        take_in(config, "olli")
        refused(config, "erase", "--customer", CUSTOMER, "--as", "rea")
        assert notices(config) == []
        assert not (config.parent / "erasure-notices" / "pending").exists()

