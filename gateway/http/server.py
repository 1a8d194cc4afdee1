"""The HTTP server `gateway serve` runs the application under: plain HTTP or TLS, one listening
address, an access log of routes (never paths or queries), and answers to malformed HTTP.

aiohttp answers what its HTTP parser cannot read (a request line past 8190 bytes, a header line
that is no header, a bad method) before any middleware runs, with a text/plain 400 that echoes
the offending bytes, and logs a traceback holding them. There is no public hook for that answer
(aio-libs/aiohttp#3287), so the server's connections are a subclass of aiohttp's public
``web.RequestHandler`` that answers problem+json naming nothing that was sent, and logs only the
error's class.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
from collections.abc import Callable
from http import HTTPStatus

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from gateway.config import Config, TlsConfig
from gateway.errors import ConfigError, ListenError
from gateway.http.problems import problem

log = structlog.get_logger("gateway.server")


class ProblemRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, answering requests it could not parse (and failures that
    escaped every middleware) with an RFC 9457 problem that echoes nothing."""

    __slots__ = ()

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        del message  # aiohttp's text quotes the request's bytes
        error = type(exc).__name__ if exc is not None else None
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            log.error("http.internal_error", status=status, error=error)
        else:
            log.info("http.malformed_request", status=status, error=error)
        if request.writer.output_size > 0:  # an answer is half sent: only closing is left
            raise ConnectionError("the response had started when the request failed")
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            response = problem(status, "Internal error", "The gateway failed to handle the "
                               "request.", slug="internal")
        else:
            response = problem(status, _phrase(status), "The request is not well-formed HTTP, "
                               "or its request line or a header is too long.",
                               slug="malformed-request")
        response.force_close()
        return response


class _ProblemServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """``web.AppRunner`` whose connections are :class:`ProblemRequestHandler` and whose access
    log is :class:`AccessLog`."""

    __slots__ = ()

    def __init__(self, app: web.Application) -> None:
        super().__init__(app, access_log_class=AccessLog)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _ProblemServer  # the same server; only its connection factory differs
        return server


class AccessLog(AbstractAccessLogger):
    """One JSON line per answer: method, the route's pattern (``/v1/customers/{customer}``, not
    the path), status and duration. No path, query, header or address: they carry ids and
    values."""

    __slots__ = ()

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        resource = None
        # A request aiohttp could not parse was never routed: its match_info asserts.
        with contextlib.suppress(AssertionError):
            match_info = request.match_info if isinstance(request, web.Request) else None
            resource = match_info.route.resource if match_info is not None else None
        log.info("http.access", method=request.method if request.method in _METHODS else "other",
                 route=resource.canonical if resource else None, status=response.status,
                 ms=round(time * 1000, 1))


#: Methods the access log names; any other token a client sends is logged as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """A server context for the configured certificate chain and key; ConfigError naming the
    setting when they cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert, tls.key)
    except (OSError, ssl.SSLError):
        raise ConfigError(f"[gateway] tls_cert, tls_key: {tls.cert} and {tls.key} are not a "
                          "PEM certificate chain and its private key") from None
    return context


async def serve(app: web.Application, config: Config, *, reuse_port: bool = False,
                listening: Callable[[str], None] | None = None) -> None:
    """Run ``app`` on the configured address until SIGTERM or SIGINT, then drain and clean up
    (the application's cleanup signs a final checkpoint). The address is taken before the
    application starts, so a port in use stops nothing half-opened. ``listening`` is called
    with the URL once the gateway answers there."""
    context = tls_context(config.tls) if config.tls is not None else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # a signal during start-up stops after it
        loop.add_signal_handler(signum, stop.set)
    sock = listen(config.host, config.port, reuse_port=reuse_port)
    runner = GatewayRunner(app)
    try:
        await runner.setup()
        await web.SockSite(runner, sock, ssl_context=context).start()
        host, port, *_ = sock.getsockname()
        scheme = "https" if context else "http"
        log.info("serve.listening", host=host, port=port, scheme=scheme)
        if listening is not None:
            listening(f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}")
        await stop.wait()
        log.info("serve.stopping")
    finally:
        await runner.cleanup()
        sock.close()


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket on ``host``:``port``; ListenError naming the address if it cannot
    be had (in use, not this machine's, not permitted)."""
    try:
        return socket.create_server((host, port), backlog=128, reuse_port=reuse_port)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Bad request"
