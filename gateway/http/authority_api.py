"""The authority-request API (roles in ``gateway.authority.desk``):

- ``POST /v1/authority/requests``: take a request in (JSON, see ``gateway.authority.intake``);
- ``GET /v1/authority/requests?state=&due_within=&deferrals_ending_within=``: requests by
  deadline (or those whose customer notification is deferred to a day soon);
- ``GET /v1/authority/requests/{id}``;
- ``POST .../approve``, ``POST .../reject`` (``{"reason": ...}``);
- ``POST .../disclose``: produce the one package (a second call: 409 naming its hash);
- ``GET .../package``: the package file, its read recorded;
- ``POST .../close``;
- ``POST .../extend`` (``{"deadline", "reason"}``; a preservation: ``{"reason"}``);
- ``POST .../object`` (``{"reason"}``), ``POST .../resolve-objection``
  (``{"resolution": "withdrawn" | "upheld" | "overruled", "note"}``);
- ``POST .../notify`` (``{"status": "notified", "means", "on"}``, ``{"status": "deferred",
  "until", "reason"}`` or ``{"status": "prohibited", "prohibited_by", "basis"}``);
- ``POST .../resume``: give back a production stuck in ``disclosing`` after a crash.

Bodies are decoded into the structures of ``gateway.authority.intake`` and
``gateway.authority.bodies``. Bad input answers RFC 9457 problems naming the field (422) and
the JSON path, never the value.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, Final

import orjson
from aiohttp import web

from gateway.authority.bodies import Extension, Notification, Reason, Resolution, step_body
from gateway.authority.desk import (
    CLOSERS,
    DECIDERS,
    HANDLERS,
    INTAKE,
    READERS,
    STEPPERS,
    Desk,
    parse_days,
    parse_states,
)
from gateway.http.access import api
from gateway.http.request_keys import MEMBER

#: A request id in a path: what ``Authority.intake`` hands out.
ID: Final = r"{id:ar_[0-9a-f]{16}}"
BASE: Final = "/v1/authority/requests"
#: The application's desk: the API and the pages act through it.
DESK: Final = web.AppKey("authority_desk", Desk)
routes = web.RouteTableDef()


def _json(doc: Mapping[str, Any], *, status: int = 200,
          headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store", **(headers or {})})


@routes.post(BASE)
@api(*INTAKE)
async def _intake(request: web.Request) -> web.Response:
    view = await request.app[DESK].intake(request[MEMBER], await request.read(),
                                          channel="api")
    return _json(view, status=201, headers={"Location": f"{BASE}/{view['id']}"})


@routes.get(BASE)
@api(*READERS)
async def _list(request: web.Request) -> web.Response:
    states = parse_states(request.query.get("state"))
    within = parse_days(request.query.get("due_within"), "due_within")
    deferrals = parse_days(request.query.get("deferrals_ending_within"),
                           "deferrals_ending_within")
    return _json(await request.app[DESK].list(request[MEMBER], states=states,
                                              due_within=within,
                                              deferrals_ending_within=deferrals))


@routes.get(f"{BASE}/{ID}")
@api(*READERS)
async def _show(request: web.Request) -> web.Response:
    return _json(await request.app[DESK].show(request[MEMBER], request.match_info["id"]))


@routes.post(f"{BASE}/{ID}/approve")
@api(*DECIDERS)
async def _approve(request: web.Request) -> web.Response:
    return _json(await request.app[DESK].approve(request[MEMBER], request.match_info["id"],
                                                 channel="api"))


@routes.post(f"{BASE}/{ID}/reject")
@api(*DECIDERS)
async def _reject(request: web.Request) -> web.Response:
    reason = step_body(await request.read(), Reason)["reason"]
    return _json(await request.app[DESK].reject(request[MEMBER], request.match_info["id"],
                                                reason, channel="api"))


@routes.post(f"{BASE}/{ID}/disclose")
@api(*HANDLERS)
async def _disclose(request: web.Request) -> web.Response:
    answer, _ = await request.app[DESK].disclose(request[MEMBER], request.match_info["id"],
                                                 channel="api")
    return _json(answer, status=201,
                 headers={"Location": f"{BASE}/{answer['id']}/package"})


@routes.get(f"{BASE}/{ID}/package")
@api(*HANDLERS)
async def _package(request: web.Request) -> web.Response:
    request_id = request.match_info["id"]
    content = await request.app[DESK].package(request[MEMBER], request_id, via="api")
    return web.Response(body=content, content_type="application/json", headers=package_headers(
        request_id, content))


@routes.post(f"{BASE}/{ID}/close")
@api(*CLOSERS)
async def _close(request: web.Request) -> web.Response:
    return _json(await request.app[DESK].close(request[MEMBER], request.match_info["id"],
                                               channel="api"))


@routes.post(f"{BASE}/{ID}/extend")
@api(*STEPPERS)
async def _extend(request: web.Request) -> web.Response:
    return _json(await request.app[DESK].extend(request[MEMBER], request.match_info["id"],
                                                step_body(await request.read(), Extension),
                                                channel="api"))


@routes.post(f"{BASE}/{ID}/object")
@api(*DECIDERS)
async def _object(request: web.Request) -> web.Response:
    reason = step_body(await request.read(), Reason)["reason"]
    return _json(await request.app[DESK].object_to(request[MEMBER], request.match_info["id"],
                                                reason, channel="api"))


@routes.post(f"{BASE}/{ID}/resolve-objection")
@api(*DECIDERS)
async def _resolve(request: web.Request) -> web.Response:
    return _json(await request.app[DESK].resolve(request[MEMBER], request.match_info["id"],
                                                 step_body(await request.read(), Resolution),
                                                 channel="api"))


@routes.post(f"{BASE}/{ID}/notify")
@api(*STEPPERS)
async def _notify(request: web.Request) -> web.Response:
    return _json(await request.app[DESK].notify(request[MEMBER], request.match_info["id"],
                                                step_body(await request.read(), Notification),
                                                channel="api"))


@routes.post(f"{BASE}/{ID}/resume")
@api(*HANDLERS)
async def _resume(request: web.Request) -> web.Response:
    return _json(await request.app[DESK].resume(request[MEMBER], request.match_info["id"],
                                                channel="api"))


def package_headers(request_id: str, content: bytes) -> dict[str, str]:
    """A download, never cached, with its SHA-256 (RFC 9530 Repr-Digest)."""
    digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
    return {"Content-Disposition": f'attachment; filename="{request_id}.json"',
            "Cache-Control": "no-store", "Repr-Digest": f"sha-256=:{digest}:",
            "X-Content-Type-Options": "nosniff"}
