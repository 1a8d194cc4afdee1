"""Who may call what. Every handler declares the roles it allows, and one middleware checks the
declaration before the handler runs. A handler that declares nothing is refused: default deny.

Declarations:

- ``@public``: anyone (health checks, the public checkpoint, the login endpoints of
  ``gateway.http.sessions`` and the login page).
- ``@signed_hook``: the order pipeline, whose Standard Webhooks signature the handler verifies.
- ``@api(*roles)``: staff with one of ``roles``, by ``Authorization: Bearer <token>`` from
  ``POST /v1/session``; problems are RFC 9457 JSON (401 without a valid session, 403 for a
  role that is not allowed).
- ``@page(*roles)``: staff with one of ``roles``, by the web session cookie (HttpOnly,
  SameSite=Strict); a browser without a session is sent to the login form, and every POST must
  carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Final, Literal
from urllib.parse import quote

import attrs
import structlog
from aiohttp import web

from gateway.errors import Forbidden, GatewayError, Unauthorized
from gateway.http.pages import render
from gateway.http.request_keys import MEMBER, SESSION_TOKEN
from gateway.staff.accounts import STAFF_ROLES, Role, Staff, csrf_token

log = structlog.get_logger("gateway.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Via = Literal["public", "signature", "bearer", "cookie"]

STAFF: Final = web.AppKey("staff", Staff)
#: The member a request was authenticated as, and the web session's token (pages only).
COOKIE: Final = "gateway_session"
LOGIN_PAGE: Final = "/review/login"
_ATTR: Final = "__gateway_access__"


@attrs.frozen
class Access:
    roles: frozenset[Role]
    via: Via


def _declare(handler: Handler, access: Access) -> Handler:
    setattr(handler, _ATTR, access)
    return handler


def public(handler: Handler) -> Handler:
    return _declare(handler, Access(frozenset(), "public"))


def signed_hook(handler: Handler) -> Handler:
    return _declare(handler, Access(frozenset({Role.PIPELINE}), "signature"))


def api(*roles: Role) -> Callable[[Handler], Handler]:
    return lambda handler: _declare(handler, Access(_staff_roles(roles), "bearer"))


def page(*roles: Role) -> Callable[[Handler], Handler]:
    return lambda handler: _declare(handler, Access(_staff_roles(roles), "cookie"))


def _staff_roles(roles: tuple[Role, ...]) -> frozenset[Role]:
    if not roles or not set(roles) <= STAFF_ROLES:
        raise ValueError("a staff endpoint names one or more staff roles")
    return frozenset(roles)


def access_of(handler: object) -> Access | None:
    """The declaration of a handler, or None if it has none."""
    access = getattr(handler, _ATTR, None)
    return access if isinstance(access, Access) else None


def bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token> from POST /v1/session")
    return token.strip()


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:  # no such route or method: 404/405
        return await handler(request)
    access = access_of(request.match_info.handler)
    if access is None:
        log.warning("access.undeclared", route=request.match_info.route.resource.canonical
                    if request.match_info.route.resource else None)
        raise Forbidden("this endpoint declares no roles, so nobody may call it")
    if access.via in ("public", "signature"):
        return await handler(request)
    staff = request.app[STAFF]
    if access.via == "bearer":
        member = await staff.resolve(bearer_token(request))
        if not member.holds_any(access.roles):
            log.info("access.forbidden", username=member.username, path=request.path)
            raise Forbidden("your roles do not allow this endpoint")
        request[MEMBER] = member
        return await handler(request)
    return await _page(request, handler, access, staff)


async def _page(request: web.Request, handler: Handler, access: Access,
                staff: Staff) -> web.StreamResponse:
    token = request.cookies.get(COOKIE, "")
    try:
        member = await staff.resolve(token)
    except Unauthorized:
        raise web.HTTPSeeOther(f"{LOGIN_PAGE}?next={quote(request.path_qs, safe='')}") from None
    request[MEMBER] = member
    request[SESSION_TOKEN] = token
    try:
        if not member.holds_any(access.roles):
            log.info("access.forbidden", username=member.username, path=request.path)
            raise Forbidden("your roles do not allow this page")
        if request.method == "POST":
            form = await request.post()
            given = str(form.get("csrf", ""))
            if not hmac.compare_digest(given.encode(), csrf_token(token).encode()):
                raise Forbidden("the form's anti-forgery token is missing or wrong; reload it")
        return await handler(request)
    except GatewayError as exc:
        return render(request, "error.html", status=exc.status, title=exc.title,
                      detail=exc.detail)
