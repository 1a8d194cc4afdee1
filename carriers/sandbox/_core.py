"""What every carrier sandbox shares: the request log, test knobs, bookings, and a PDF label.

A sandbox keeps every request it received (parsed body, headers, raw bytes) under
``RECEIVED`` so tests can assert exactly which personal fields arrived. ``CONTROL`` holds the
test faults, each applied to the next ``times`` requests (or to all while ``times`` is None):

- ``fail_status`` answers with that status before anything is handled (an outage);
- ``reset`` drops the connection with a TCP reset, ``"before"`` the request is handled
  (nothing booked) or ``"after"`` (booked, the answer lost);
- ``delay`` holds the answer back after the request was handled (a slow carrier: the booking
  exists, the answer comes late); ``hold``, an event, holds it until the test sets it;
  ``hold_before``, an event, holds the request before it is handled (nothing booked yet; if
  the client goes away meanwhile, it never is);
- ``slow_body`` sends the status line at once and then the body in small pieces, that many
  seconds apart (a carrier that starts answering and stalls).

For sandboxes that issue OAuth tokens, ``token_ttl`` is the lifetime (seconds) of the tokens
issued from now on, ``revoke_tokens()`` makes every token issued so far unknown (a
revocation, or all of them expiring at once), and ``refuse_tokens`` refuses every token while
it is set (a carrier whose token check is broken).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
import socket
import struct
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import attrs
import orjson
from aiohttp import web


@attrs.frozen(repr=False)
class Received:
    """One request as the sandbox got it. ``body`` is a dict/list (JSON), an Element (XML),
    or None when it could not be parsed."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    raw: bytes

    def __repr__(self) -> str:
        return f"Received({self.method} {self.path}, bytes={len(self.raw)})"

    def text(self) -> str:
        """Everything that arrived, as one text: for "this value went nowhere" assertions."""
        headers = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.path}?{query}\n{headers}\n\n{self.raw.decode('utf-8', 'replace')}"


@attrs.define
class Control:
    """Test faults, changeable while the sandbox runs (see the module docstring)."""

    delay: float = 0.0
    fail_status: int | None = None
    reset: Literal["before", "after"] | None = None
    slow_body: float = 0.0
    hold: asyncio.Event | None = None
    hold_before: asyncio.Event | None = None
    times: int | None = None
    token_ttl: float = 3599.0
    #: Tokens issued under an older generation are refused (see ``revoke_tokens``).
    token_generation: int = 0
    refuse_tokens: bool = False

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on."""
        self.token_generation += 1

    def take(self) -> bool:
        """Whether the faults apply to this request (counts ``times`` down)."""
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@attrs.frozen(repr=False)
class Booking:
    reference: str
    tracking_number: str
    label: bytes
    carrier_id: str
    request: Received


RECEIVED = web.AppKey("received", list[Received])
CONTROL = web.AppKey("control", Control)
BOOKINGS = web.AppKey("bookings", dict[str, Booking])
#: References (ours) of the bookings cancelled.
CANCELLED = web.AppKey("cancelled", set[str])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sandbox_app() -> web.Application:
    """An application with the request log, the test hooks and an empty booking book."""
    app = web.Application(middlewares=[_record, _control])
    app[RECEIVED] = []
    app[CONTROL] = Control()
    app[BOOKINGS] = {}
    app[CANCELLED] = set()
    return app


@web.middleware
async def _record(request: web.Request, handler: Handler) -> web.StreamResponse:
    raw = await request.read()
    request.app[RECEIVED].append(
        Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=_parse(raw, request.content_type),
            raw=raw,
        )
    )
    return await handler(request)


@web.middleware
async def _control(request: web.Request, handler: Handler) -> web.StreamResponse:
    control = request.app[CONTROL]
    if not control.take():
        return await handler(request)
    if control.fail_status is not None:
        return web.Response(status=control.fail_status, text="sandbox: simulated failure")
    if control.reset == "before":
        _reset(request)
    if control.hold_before is not None:
        await control.hold_before.wait()
    response = await handler(request)
    if control.reset == "after":
        _reset(request)
    if control.delay:
        await asyncio.sleep(control.delay)
    if control.hold is not None:
        await control.hold.wait()
    if control.slow_body and isinstance(response, web.Response) and response.body is not None:
        return await _trickle(request, response, control.slow_body)
    return response


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0) and stop handling the request."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise asyncio.CancelledError


async def _trickle(
    request: web.Request, response: web.Response, pause: float
) -> web.StreamResponse:
    """Send ``response`` with its status at once and its body 16 bytes at a time."""
    body = bytes(response.body)  # type: ignore[arg-type]
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    for start in range(0, len(body), 16):
        await stream.write(body[start:start + 16])
        await asyncio.sleep(pause)
    await stream.write_eof()
    return stream


def _parse(raw: bytes, content_type: str) -> Any:  # noqa: ANN401 - JSON or XML
    if not raw:
        return None
    try:
        if "json" in content_type:
            return orjson.loads(raw)
        if "xml" in content_type:
            return ET.fromstring(raw)  # noqa: S314 - test server parsing its own clients' XML
    except (orjson.JSONDecodeError, ET.ParseError):
        return None
    return None


def received_body(request: web.Request) -> Any:  # noqa: ANN401 - JSON or XML
    """The parsed body of the request being handled (parsed once, by the recorder)."""
    return request.app[RECEIVED][-1].body


def book(request: web.Request, *, reference: str, tracking_number: str) -> Booking:
    """Store a booking under our reference, with a fresh PDF label."""
    booking = Booking(
        reference=reference,
        tracking_number=tracking_number,
        label=label_pdf(f"Sandbox label {tracking_number}"),
        carrier_id=secrets.token_hex(8),
        request=request.app[RECEIVED][-1],
    )
    request.app[BOOKINGS][reference] = booking
    return booking


def booking_by(request: web.Request, **wanted: str) -> Booking | None:
    """The booking whose attributes (``tracking_number``, ``carrier_id``) match ``wanted``."""
    return next((b for b in request.app[BOOKINGS].values()
                 if all(getattr(b, k) == v for k, v in wanted.items())), None)


def basic_auth(request: web.Request) -> tuple[str, str] | None:
    """(login, password) from an ``Authorization: Basic`` header, or None."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        login, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (login, password) if sep else None


def same(got: str, expected: str) -> bool:
    """Constant-time comparison of two credentials."""
    return hmac.compare_digest(got.encode(), expected.encode())


def digits(count: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(count))


def label_pdf(text: str) -> bytes:
    """A small but valid one-page PDF (A6) showing ``text``; cross-reference offsets are exact."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 20 380 Td ({safe}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 298 420] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
