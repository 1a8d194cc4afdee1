"""The authority-request pages under ``/review/authority``: the list with deadlines, the
intake form, and a request's page with the approve, reject, disclose and close buttons (each a
form carrying the session's CSRF token, checked by the access middleware). Roles as in
``gateway.authority_desk``; a refused action renders the error page with its problem's status.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.access import page
from gateway.authority import CATEGORIES
from gateway.authority_api import ID, package_headers
from gateway.authority_desk import (
    CLOSERS,
    DECIDERS,
    DESK,
    HANDLERS,
    INTAKE,
    READERS,
    parse_days,
    parse_states,
)
from gateway.errors import Unprocessable
from gateway.pages import render_page
from gateway.staff import MEMBER, Member

routes = web.RouteTableDef()
BASE = "/review/authority"
_TEXT_FIELDS = ("authority", "reference", "legal_basis", "kind", "deadline", "defer_until")


def _may(member: Member) -> dict[str, bool]:
    return {"intake": member.holds_any(INTAKE), "decide": member.holds_any(DECIDERS),
            "handle": member.holds_any(HANDLERS), "close": member.holds_any(CLOSERS)}


def _see_other(request_id: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{BASE}/{request_id}")


@routes.get(BASE)
@page(*READERS)
async def _list(request: web.Request) -> web.Response:
    member = request[MEMBER]
    states = parse_states(request.query.get("state"))
    within = parse_days(request.query.get("due_within"), "due_within")
    listing = await request.app[DESK].list(member, states=states, due_within=within)
    return render_page(request, "authority_list.html", listing=listing, may=_may(member),
                       params={"state": request.query.get("state", ""),
                               "due_within": request.query.get("due_within", "")})


@routes.get(f"{BASE}/new")
@page(*INTAKE)
async def _form(request: web.Request) -> web.Response:
    return _intake_form(request, {}, error=None)


def _intake_form(request: web.Request, given: dict[str, Any], *, error: str | None,
                 field: str | None = None, status: int = 200) -> web.Response:
    return render_page(request, "authority_new.html", status=status, given=given, error=error,
                       field=field, categories=list(CATEGORIES),
                       may=_may(request[MEMBER]))


@routes.post(f"{BASE}/new")
@page(*INTAKE)
async def _intake(request: web.Request) -> web.Response:
    form = await request.post()
    given: dict[str, Any] = {k: str(form.get(k, "")) for k in _TEXT_FIELDS}
    for key in ("customers", "orders"):
        given[key] = [v.strip() for v in str(form.get(key, "")).replace(",", "\n").splitlines()
                      if v.strip()]
    given["categories"] = [str(v) for v in form.getall("categories", [])]
    try:
        view = await request.app[DESK].intake(request[MEMBER], given, channel="page")
    except Unprocessable as exc:
        return _intake_form(request, given, error=exc.detail, field=exc.field, status=422)
    raise _see_other(view["id"])


@routes.get(f"{BASE}/{ID}")
@page(*READERS)
async def _detail(request: web.Request) -> web.Response:
    member = request[MEMBER]
    view = await request.app[DESK].show(member, request.match_info["id"])
    on_case = member.username in (view["received_by"], view["decided_by"],
                                  view["disclosed_by"])
    return render_page(request, "authority_detail.html", r=view,
                       may={**_may(member), "on_case": on_case})


@routes.post(f"{BASE}/{ID}/approve")
@page(*DECIDERS)
async def _approve(request: web.Request) -> web.Response:
    view = await request.app[DESK].approve(request[MEMBER], request.match_info["id"],
                                           channel="page")
    raise _see_other(view["id"])


@routes.post(f"{BASE}/{ID}/reject")
@page(*DECIDERS)
async def _reject(request: web.Request) -> web.Response:
    form = await request.post()
    view = await request.app[DESK].reject(request[MEMBER], request.match_info["id"],
                                          str(form.get("reason", "")), channel="page")
    raise _see_other(view["id"])


@routes.post(f"{BASE}/{ID}/disclose")
@page(*HANDLERS)
async def _disclose(request: web.Request) -> web.Response:
    view, _ = await request.app[DESK].disclose(request[MEMBER], request.match_info["id"],
                                               channel="page")
    raise _see_other(view["id"])


@routes.get(f"{BASE}/{ID}/package")
@page(*HANDLERS)
async def _package(request: web.Request) -> web.Response:
    request_id = request.match_info["id"]
    content = await request.app[DESK].package(request[MEMBER], request_id, via="web")
    return web.Response(body=content, content_type="application/json",
                        headers=package_headers(request_id, content))


@routes.post(f"{BASE}/{ID}/close")
@page(*CLOSERS)
async def _close(request: web.Request) -> web.Response:
    view = await request.app[DESK].close(request[MEMBER], request.match_info["id"],
                                         channel="page")
    raise _see_other(view["id"])
