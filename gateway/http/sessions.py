"""The API session: ``POST /v1/session`` exchanges a username and password for a bearer token
(``gateway.staff.accounts.Staff.login``), ``GET`` says whom it belongs to, ``DELETE`` ends it.
The web session's login form lives with the pages (``gateway.http.pages.review``)."""

from __future__ import annotations

import msgspec
import structlog
from aiohttp import web
from msgspec import Struct

from gateway.errors import BadRequest
from gateway.http.access import STAFF, api, bearer_token, public
from gateway.http.proxies import client_address
from gateway.http.request_keys import MEMBER
from gateway.staff.accounts import STAFF_ROLES, Role
from gateway.wire import explain, top_field

__all__ = ["Login", "routes"]

log = structlog.get_logger("gateway.access")
routes = web.RouteTableDef()


_SEND = 'send {"username": ..., "password": ...} as JSON'


class Login(Struct, kw_only=True):
    """A staff member's username and password, exchanged for a bearer token."""

    username: str
    password: str


def _login_body(raw: bytes) -> Login:
    """The body as ``Login``: a wrong or missing member is named by its JSON path, never its
    value (nor the password's)."""
    try:
        return msgspec.json.decode(raw, type=Login)
    except msgspec.ValidationError as exc:
        path, message = explain(exc)
        raise BadRequest(_SEND if top_field(path) is None else message) from None
    except msgspec.DecodeError:
        raise BadRequest(_SEND) from None


@routes.post("/v1/session")
@public
async def _login(request: web.Request) -> web.Response:
    """Exchange a username and password for a bearer token."""
    login = _login_body(await request.read())
    session = await request.app[STAFF].login(login.username, login.password,
                                             client=client_address(request))
    log.info("session.started", username=session.member.username, via="api")
    return web.json_response(
        {"token": session.token, "token_type": "Bearer", "expires": session.expires,
         **_who(session.member.username, session.member.roles)},
        status=201, headers={"Cache-Control": "no-store"})


@routes.get("/v1/session")
@api(*STAFF_ROLES)
async def _whoami(request: web.Request) -> web.Response:
    member = request[MEMBER]
    return web.json_response(_who(member.username, member.roles))


@routes.delete("/v1/session")
@api(*STAFF_ROLES)
async def _logout(request: web.Request) -> web.Response:
    await request.app[STAFF].logout(bearer_token(request))
    return web.Response(status=204)


def _who(username: str, roles: frozenset[Role]) -> dict[str, object]:
    return {"username": username, "roles": sorted(r.value for r in roles)}
