"""The authority-request pages under ``/review/authority``: the list with deadlines, the
intake form, and a request's page with the approve, reject, disclose and close buttons and the
extend, object, objection-resolved, notify and resume forms (each a form carrying the
session's CSRF token, checked by the access middleware). The list shows, in a section of its
own, the requests whose customer notification is deferred to a day within
``DEFERRALS_DAYS``. Roles as in
``gateway.authority.desk``; a refused action renders the error page with its problem's status.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.authority.desk import (
    CLOSERS,
    DECIDERS,
    HANDLERS,
    INTAKE,
    READERS,
    STEPPERS,
    parse_days,
    parse_states,
    time_left,
)
from gateway.authority.intake import CATEGORIES
from gateway.authority.settings import KINDS
from gateway.authority.steps import RESOLUTIONS
from gateway.errors import Unprocessable
from gateway.http.access import page
from gateway.http.authority_api import DESK, ID, package_headers
from gateway.http.pages.review import render_page
from gateway.http.request_keys import MEMBER
from gateway.staff.accounts import Member

routes = web.RouteTableDef()
BASE = "/review/authority"
_TEXT_FIELDS = ("authority", "reference", "legal_basis", "kind", "deadline", "defer_until",
                "officer", "rank", "received_via", "follows")
#: The list page's section of deferrals ending soon looks this many days ahead.
DEFERRALS_DAYS = 14


def _may(member: Member) -> dict[str, bool]:
    return {"intake": member.holds_any(INTAKE), "decide": member.holds_any(DECIDERS),
            "handle": member.holds_any(HANDLERS), "close": member.holds_any(CLOSERS),
            "step": member.holds_any(STEPPERS)}


def _see_other(request_id: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{BASE}/{request_id}")


@routes.get(BASE)
@page(*READERS)
async def _list(request: web.Request) -> web.Response:
    member = request[MEMBER]
    states = parse_states(request.query.get("state"))
    within = parse_days(request.query.get("due_within"), "due_within")
    listing = await request.app[DESK].list(member, states=states, due_within=within)
    deferrals = await request.app[DESK].list(member, deferrals_ending_within=DEFERRALS_DAYS)
    return render_page(request, "authority_list.html", listing=listing, may=_may(member),
                       time_left=time_left,
                       deferrals=deferrals["requests"], deferrals_days=DEFERRALS_DAYS,
                       params={"state": request.query.get("state", ""),
                               "due_within": request.query.get("due_within", "")})


@routes.get(f"{BASE}/new")
@page(*INTAKE)
async def _form(request: web.Request) -> web.Response:
    return _intake_form(request, {}, error=None)


def _intake_form(request: web.Request, given: dict[str, Any], *, error: str | None,
                 field: str | None = None, status: int = 200) -> web.Response:
    settings = request.app[DESK].settings
    return render_page(request, "authority_new.html", status=status, given=given, error=error,
                       field=field, categories=list(CATEGORIES), kinds=KINDS,
                       authorities=settings.known, channels=settings.channels,
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
    return render_page(request, "authority_detail.html", r=view, resolutions=RESOLUTIONS,
                       channels=request.app[DESK].settings.channels,
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


async def _fields(request: web.Request, *keys: str) -> dict[str, str]:
    form = await request.post()
    return {k: str(form[k]) for k in keys if str(form.get(k, "")).strip()}


@routes.post(f"{BASE}/{ID}/extend")
@page(*STEPPERS)
async def _extend(request: web.Request) -> web.Response:
    view = await request.app[DESK].extend(request[MEMBER], request.match_info["id"],
                                          await _fields(request, "deadline", "reason"),
                                          channel="page")
    raise _see_other(view["id"])


@routes.post(f"{BASE}/{ID}/object")
@page(*DECIDERS)
async def _object(request: web.Request) -> web.Response:
    form = await _fields(request, "reason")
    view = await request.app[DESK].object_to(request[MEMBER], request.match_info["id"],
                                          form.get("reason", ""), channel="page")
    raise _see_other(view["id"])


@routes.post(f"{BASE}/{ID}/resolve-objection")
@page(*DECIDERS)
async def _resolve(request: web.Request) -> web.Response:
    view = await request.app[DESK].resolve(request[MEMBER], request.match_info["id"],
                                           await _fields(request, "resolution", "note"),
                                           channel="page")
    raise _see_other(view["id"])


@routes.post(f"{BASE}/{ID}/notify")
@page(*STEPPERS)
async def _notify(request: web.Request) -> web.Response:
    view = await request.app[DESK].notify(
        request[MEMBER], request.match_info["id"],
        await _fields(request, "status", "means", "on", "until", "reason", "prohibited_by",
                    "basis"), channel="page")
    raise _see_other(view["id"])


@routes.post(f"{BASE}/{ID}/resume")
@page(*HANDLERS)
async def _resume(request: web.Request) -> web.Response:
    view = await request.app[DESK].resume(request[MEMBER], request.match_info["id"],
                                          channel="page")
    raise _see_other(view["id"])
