"""How a recipient is told of an erasure (GDPR Art. 19): the channel config.toml names for it,
and the two channels there are: an e-mail to its privacy contact, sent over SMTP when [smtp] is
configured, or the same message written as an ``.eml`` file for a person to send.

A carrier's own API is a channel only where the carrier documents an erasure call (an adapter
with ``notify_erasure``); none of the supported carriers does, so ``erasure_notice = "api"``
is refused at load time, naming the channels that work.

config.toml::

    [recipients.posti]
    erasure_notice = "email"               # or "file"
    privacy_email = "privacy@carrier.example"   # else privacy_contact, if an e-mail address

A recipient with no address (no privacy_email, and no privacy_contact that is an e-mail
address) gets its notice written as a file without a ``To:``, recorded as ``needs_address``;
`gateway serve` warns of such recipients at start.

    [smtp]
    host = "smtp.example.fi"
    port = 587
    from = "privacy@shop.example"
    starttls = true
    username = { env = "SMTP_USER" }       # optional; secrets as everywhere else
    password = { env = "SMTP_PASSWORD" }
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Final, Literal, Protocol

import attrs

from carriers import ADAPTERS
from gateway.errors import ConfigError, GatewayError
from gateway.review.settings import RECIPIENT_KEYS

Channel = Literal["email", "file"]
CHANNELS: Final = ("api", "email", "file")


class SecretValue(Protocol):
    @property
    def value(self) -> str: ...


SecretReader = Callable[[object, str, Path], SecretValue]


@attrs.frozen
class RecipientNotice:
    """How one recipient is told of an erasure: ``email`` to ``privacy_email`` (over SMTP when
    configured, else written as a file addressed to it), or ``file``."""

    channel: Channel = "file"
    privacy_email: str | None = None


@attrs.frozen(repr=False)
class Smtp:
    host: str
    port: int
    sender: str
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"Smtp({self.host}:{self.port})"


class NoticeFailed(GatewayError):
    """A notice could not be sent; the detail names the failure's class, never a value."""

    status = 502
    type_slug = "erasure-notice-failed"


def recipients_from(raw: object) -> dict[str, RecipientNotice]:
    """The [recipients.NAME] tables' erasure notice settings."""
    if not isinstance(raw, Mapping):
        raise ConfigError("[recipients] must hold one table per recipient")
    out = {}
    for name, table in raw.items():
        where = f"[recipients.{name}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(table) - RECIPIENT_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
        channel = table.get("erasure_notice", "file")
        if channel not in CHANNELS:
            raise ConfigError(f"{where} erasure_notice: one of {', '.join(CHANNELS)}")
        if channel == "api":
            if not hasattr(ADAPTERS.get(name), "notify_erasure"):
                raise ConfigError(f"{where} erasure_notice: {name} documents no erasure call "
                                  'in its API; use "email" (its privacy contact) or "file"')
            channel = "file"  # pragma: no cover - no adapter documents one yet
        email = table.get("privacy_email")
        if email is not None and not _address(email):
            raise ConfigError(f"{where} privacy_email: an e-mail address")
        if email is None and _address(table.get("privacy_contact")):
            email = table["privacy_contact"]  # the contact the access report names, if e-mail
        if channel == "email" and email is None:
            raise ConfigError(f'{where}: erasure_notice = "email" needs an address to send '
                              "to: privacy_email, or a privacy_contact that is an e-mail "
                              "address")
        out[str(name)] = RecipientNotice(channel=channel, privacy_email=email)
    return out


def _address(value: object) -> bool:
    """Whether ``value`` is one e-mail address (not a web page, not a header's worth)."""
    return (isinstance(value, str) and "@" in value and "://" not in value
            and not any(c in value for c in "\r\n <>,"))


def unaddressed(recipients: Mapping[str, RecipientNotice], names: Iterable[str]) -> list[str]:
    """Of the recipients ``names`` (the carriers data can reach), those an erasure notice
    has no address for: it is written as a file without a ``To:`` for a person to address."""
    return sorted(n for n in names
                  if recipients.get(n, RecipientNotice()).privacy_email is None)


def smtp_from(raw: object, base: Path, secret: SecretReader) -> Smtp | None:
    """[smtp], or None when absent (e-mails are then written as files)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError("[smtp] must be a table")
    allowed = {"host", "port", "from", "starttls", "username", "password", "timeout"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"[smtp]: unknown key(s) {', '.join(unknown)}")
    host, sender, port = raw.get("host"), raw.get("from"), raw.get("port", 587)
    if not isinstance(host, str) or not host:
        raise ConfigError("[smtp] host: a host name")
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError("[smtp] from: the e-mail address notices are sent from")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:  # noqa: PLR2004
        raise ConfigError("[smtp] port: an integer 1-65535")
    starttls = raw.get("starttls", True)
    if not isinstance(starttls, bool):
        raise ConfigError("[smtp] starttls: true or false")
    timeout = raw.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:  # noqa: PLR2004
        raise ConfigError("[smtp] timeout: seconds above 0 (at most 300)")
    if ("username" in raw) != ("password" in raw):
        raise ConfigError("[smtp]: username and password go together")
    user = secret(raw["username"], "[smtp] username", base).value if "username" in raw else None
    word = secret(raw["password"], "[smtp] password", base).value if "password" in raw else None
    return Smtp(host=host, port=port, sender=sender, starttls=starttls, username=user,
                password=word, timeout=float(timeout))


def message(*, sender: str, to: str | None, subject: str, body: str,
            domain: str) -> EmailMessage:
    """The notice as an e-mail (the same message whether sent or written to a file)."""
    mail = EmailMessage()
    mail["From"] = sender
    if to is not None:
        mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=domain)
    mail.set_content(body)
    return mail


def _send_blocking(smtp: Smtp, mail: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as conn:
        if smtp.starttls:
            conn.starttls(context=ssl.create_default_context())
        if smtp.username is not None and smtp.password is not None:
            conn.login(smtp.username, smtp.password)
        conn.send_message(mail)


async def send(smtp: Smtp, mail: EmailMessage) -> None:
    """Send over SMTP; NoticeFailed naming the failure's class (the server's reply may echo
    addresses, so it is not repeated)."""
    try:
        await asyncio.to_thread(_send_blocking, smtp, mail)
    except smtplib.SMTPResponseException as exc:
        raise NoticeFailed(f"the SMTP server refused the notice (code {exc.smtp_code})") \
            from None
    except (smtplib.SMTPException, OSError) as exc:
        raise NoticeFailed(f"the SMTP server could not be reached ({type(exc).__name__})") \
            from None


def write_eml(directory: Path, name: str, mail: EmailMessage) -> Path:
    """Write the notice as ``name``.eml (0600) for a person to send; returns its path."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{name}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(mail.as_bytes())
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise NoticeFailed(f"the notice file could not be written ({exc.strerror})") from None
    return path

