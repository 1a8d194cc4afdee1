"""Who the client is, and whether its connection is HTTPS, when the gateway runs behind proxies.

The direct peer is the client unless it is one of ``[gateway] trusted_proxies``. Only then are
forwarded headers believed: RFC 7239 ``Forwarded`` if present, else ``X-Forwarded-For`` and
``X-Forwarded-Proto``. The hops are walked from the nearest one back, past every trusted proxy;
the first hop that is not one is the client, and the protocol is the one that hop used. A
forwarded header from any other peer is ignored, so nobody can claim an address or HTTPS.

One middleware decides this once per request and hands the handlers a request whose
``remote`` and ``secure`` say the client's (aiohttp's ``clone``), so cookies get ``Secure``
from ``request.secure`` as before; every answer on an HTTPS connection carries
Strict-Transport-Security. Other modules ask :func:`client_address`, e.g. to throttle logins
per client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import attrs
from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.config import Network

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: One year; sent only on HTTPS (RFC 6797 section 7.2).
HSTS: Final = "max-age=31536000"


@attrs.frozen
class Client:
    """The client of one request: its address and whether it reached us over HTTPS."""

    address: str
    https: bool


CLIENT: Final = web.RequestKey("client", Client)


@attrs.frozen
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    def trust(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.networks)

    def client(self, *, peer: str, https: bool, forwarded: Sequence[Hop]) -> Client:
        """The client, from the direct peer and the hops its forwarded headers name (oldest
        first). Pure: the middleware reads the request, this decides."""
        if not self.trust(peer) or not forwarded:
            return Client(address=peer, https=https)
        address, scheme = peer, "https" if https else "http"
        for hop in reversed(forwarded):
            scheme = hop.proto or scheme
            if hop.address is None:  # "unknown", obfuscated or garbled: stop at the proxy
                break
            address = hop.address
            if not self.trust(address):
                break
        return Client(address=address, https=scheme == "https")


@attrs.frozen
class Hop:
    """One hop a proxy reports: the address it was reached from and over which protocol."""

    address: str | None
    proto: str | None


def client_address(request: web.Request) -> str:
    """The client's IP address (behind trusted proxies, the one they report)."""
    return _client(request).address


def client_is_https(request: web.Request) -> bool:
    return _client(request).https


def middleware(proxies: TrustedProxies) -> Middleware:
    """The first middleware: the request the handlers see says the client's address and
    scheme."""

    @web.middleware
    async def client_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = _resolve(request, proxies)
        request[CLIENT] = client
        peer = request.remote or ""
        if client.address == peer and client.https == request.secure:
            return await handler(request)
        return await handler(request.clone(remote=client.address,
                                           scheme="https" if client.https else "http"))

    return client_middleware


async def strict_transport(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: HSTS on every answer to a client over HTTPS."""
    if client_is_https(request):
        response.headers["Strict-Transport-Security"] = HSTS


def _client(request: web.Request) -> Client:
    if CLIENT in request:
        return request[CLIENT]
    return Client(address=request.remote or "", https=request.secure)


def _resolve(request: web.Request, proxies: TrustedProxies) -> Client:
    peer = request.remote or ""
    if not proxies.trust(peer):  # read no forwarded header from anyone else
        return Client(address=peer, https=request.secure)
    return proxies.client(peer=peer, https=request.secure, forwarded=_hops(request))


def _hops(request: web.Request) -> list[Hop]:
    if "Forwarded" in request.headers:
        return [Hop(address=_address(element.get("for")), proto=_proto(element.get("proto")))
                for element in request.forwarded]
    addresses = _list(request.headers.getall("X-Forwarded-For", []))
    protos = _list(request.headers.getall("X-Forwarded-Proto", []))
    if not addresses:
        return [Hop(address=None, proto=_proto(protos[-1]))] if protos else []
    hops = [Hop(address=_address(a), proto=None) for a in addresses]
    if len(protos) == len(hops):
        return [attrs.evolve(hop, proto=_proto(p)) for hop, p in zip(hops, protos, strict=True)]
    if protos:  # one protocol for the chain: the one the nearest proxy wrote
        return [attrs.evolve(hop, proto=_proto(protos[-1])) for hop in hops]
    return hops


def _list(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _address(value: str | None) -> str | None:
    """An address as a proxy writes it (``192.0.2.1``, ``192.0.2.1:4711``,
    ``[2001:db8::1]:4711``), normalised; None when it is not an IP address."""
    if not value:
        return None
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    ip = _ip(value)
    return None if ip is None else str(ip)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _proto(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value if value in ("http", "https") else None
