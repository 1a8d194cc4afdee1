"""The review pages, rendered on the server (jinja2, no scripts): login, search, an entry with
its inclusion proof checked, a customer's access report, the transparency report and the
latest checkpoint's status. Each page declares its roles like the API does; reads are recorded
by the same Reviewer, with ``via="web"``.

The login form is protected against cross-site submission by a double-submit token (a random
cookie echoed in the form); every form after login carries the session's CSRF token, which the
access middleware checks.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, Final
from urllib.parse import urlencode

import structlog
from aiohttp import web

from gateway.authority.desk import READERS as AUTHORITY_READERS
from gateway.errors import BadRequest, GatewayError, TooManyRequests, Unauthorized
from gateway.http.access import COOKIE, STAFF, page, public
from gateway.http.pages import render
from gateway.http.proxies import client_address
from gateway.http.request_keys import MEMBER, SESSION_TOKEN
from gateway.http.review_api import REVIEWER
from gateway.review.params import ACCESS_PARAMS, parameters
from gateway.review.search import CHECKPOINT, REPORTERS, SEARCHERS, TRANSPARENCY
from gateway.staff.accounts import SESSION_SECONDS, STAFF_ROLES, Member

log = structlog.get_logger("gateway.pages")
routes = web.RouteTableDef()
LOGIN_COOKIE: Final = "gateway_login"
_FILTERS = ("customer", "order", "recipient", "kind", "from", "to")


def _can(member: Member | None) -> dict[str, bool]:
    if member is None:
        return {}
    return {"search": member.holds_any(SEARCHERS), "access": member.holds_any(REPORTERS),
            "transparency": member.holds_any(TRANSPARENCY),
            "checkpoint": member.holds_any(CHECKPOINT),
            "authority": member.holds_any(AUTHORITY_READERS)}


def render_page(request: web.Request, template: str, *, status: int = 200,
                **context: Any) -> web.Response:  # noqa: ANN401
    """A review page with the navigation the member's roles open."""
    return render(request, template, status=status, can=_can(request.get(MEMBER)), **context)


_page = render_page


def _next(target: str | None) -> str:
    """Where to go after login: a review page of this gateway, nothing else."""
    if target and target.startswith("/review") and "//" not in target and "\\" not in target:
        return target
    return "/review"


@routes.get("/review/login")
@public
async def _login_form(request: web.Request) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = _page(request, "login.html", login_csrf=token, error=None,
                     next=_next(request.query.get("next")))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict",
                        secure=request.secure, path="/review/login", max_age=3600)
    return response


@routes.post("/review/login")
@public
async def _login(request: web.Request) -> web.Response:
    form = await request.post()
    target = _next(str(form.get("next", "")))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    given = str(form.get("csrf", ""))
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return _page(request, "error.html", status=403, title="Forbidden",
                     detail="The login form expired or came from elsewhere; open it again.")
    try:
        session = await request.app[STAFF].login(str(form.get("username", "")),
                                                 str(form.get("password", "")),
                                                 client=client_address(request))
    except Unauthorized:
        return _page(request, "login.html", status=401, login_csrf=expected, next=target,
                     error="Unknown user or wrong password.")
    except TooManyRequests as exc:
        page = _page(request, "login.html", status=429, login_csrf=expected, next=target,
                     error=f"{exc.detail[:1].upper()}{exc.detail[1:]}.")
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    log.info("session.started", username=session.member.username, via="web")
    response = web.HTTPSeeOther(target)
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict",
                        secure=request.secure, path="/", max_age=SESSION_SECONDS)
    response.del_cookie(LOGIN_COOKIE, path="/review/login")
    raise response


@routes.post("/review/logout")
@page(*STAFF_ROLES)
async def _logout(request: web.Request) -> web.Response:
    await request.app[STAFF].logout(request[SESSION_TOKEN])
    response = web.HTTPSeeOther("/review/login")
    response.del_cookie(COOKIE, path="/")
    raise response


@routes.get("/review")
@page(*STAFF_ROLES)
async def _home(request: web.Request) -> web.Response:
    return _page(request, "home.html")


@routes.get("/review/search")
@page(*SEARCHERS)
async def _search(request: web.Request) -> web.Response:
    params = {k: request.query.get(k, "") for k in (*_FILTERS, "sort", "limit")}
    result = None
    error = None
    if "go" in request.query or any(params[k] for k in _FILTERS):
        reviewer = request.app[REVIEWER]
        try:
            result = await reviewer.search(
                request[MEMBER], reviewer.search_of(request.query, also=("go",)),
                via="web")
        except BadRequest as exc:
            error = exc.detail
    more = None
    if result and result["next_cursor"] is not None:
        kept = {k: v for k, v in request.query.items() if k != "cursor"}
        more = "/review/search?" + urlencode({**kept, "cursor": result["next_cursor"]})
    return _page(request, "search.html", params=params, result=result, error=error, more=more,
                 status=400 if error else 200)


@routes.get(r"/review/entries/{seq:\d{1,18}}")
@page(*SEARCHERS)
async def _entry(request: web.Request) -> web.Response:
    parameters(request.query, ())
    shown = await request.app[REVIEWER].entry(request[MEMBER], int(request.match_info["seq"]),
                                              via="web")
    return _page(request, "entry.html", **shown)


@routes.get("/review/access")
@page(*REPORTERS)
async def _access(request: web.Request) -> web.Response:
    given = parameters(request.query, ACCESS_PARAMS)
    customer = given.get("customer", "")
    if not customer:
        return _page(request, "access.html", report=None, customer="")
    reviewer = request.app[REVIEWER]
    report = await reviewer.access_report(
        request[MEMBER], customer, via="web", view=given.get("view") or None,
        lang=given.get("lang") or None)
    return _page(request, "access.html", report=report, customer=customer,
                 controller=reviewer.controller, t=reviewer.text(report["language"]),
                 page_lang=report["language"])


@routes.get("/review/transparency")
@page(*TRANSPARENCY)
async def _transparency(request: web.Request) -> web.Response:
    params = {k: request.query.get(k, "") for k in ("from", "to", "period", "view")}
    try:
        report = await request.app[REVIEWER].transparency_report(request[MEMBER], request.query,
                                                                 via="web")
    except GatewayError as exc:
        return _page(request, "transparency.html", report=None, params=params,
                     error=exc.detail, status=exc.status)
    return _page(request, "transparency.html", report=report, params=params, error=None)


@routes.get("/review/checkpoint")
@page(*CHECKPOINT)
async def _checkpoint(request: web.Request) -> web.Response:
    return _page(request, "checkpoint.html", status_=await request.app[REVIEWER].checkpoint())
