"""The review API: search the record, open one entry with its inclusion proof, the latest
checkpoint's status, a customer's access report and the transparency report. The answers are
``gateway.review.search.Reviewer``'s, which records every read; they are never cached."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
from aiohttp import web

from gateway.http.access import api
from gateway.http.request_keys import MEMBER
from gateway.review.params import ACCESS_PARAMS, parameters
from gateway.review.search import (
    CHECKPOINT,
    REPORTERS,
    SEARCHERS,
    TRANSPARENCY,
    Reviewer,
)
from gateway.review.transparency_report import to_csv

__all__ = ["REVIEWER", "routes"]

REVIEWER: Final = web.AppKey("reviewer", Reviewer)
routes = web.RouteTableDef()


@routes.get("/v1/review/entries")
@api(*SEARCHERS)
async def _search(request: web.Request) -> web.Response:
    reviewer = request.app[REVIEWER]
    query = reviewer.search_of(request.query)
    return _json(await reviewer.search(request[MEMBER], query, via="api"))


@routes.get(r"/v1/review/entries/{seq:\d{1,18}}")
@api(*SEARCHERS)
async def _entry(request: web.Request) -> web.Response:
    parameters(request.query, ())
    seq = int(request.match_info["seq"])
    return _json(await request.app[REVIEWER].entry(request[MEMBER], seq, via="api"))


@routes.get("/v1/review/checkpoint")
@api(*CHECKPOINT)
async def _checkpoint(request: web.Request) -> web.Response:
    parameters(request.query, ())
    return _json(await request.app[REVIEWER].checkpoint())


@routes.get("/v1/reports/access")
@api(*REPORTERS)
async def _access(request: web.Request) -> web.Response:
    given = parameters(request.query, ACCESS_PARAMS)
    return _json(await request.app[REVIEWER].access_report(
        request[MEMBER], given.get("customer", ""), via="api", view=given.get("view"),
        lang=given.get("lang")))


@routes.get("/v1/reports/transparency")
@api(*TRANSPARENCY)
async def _transparency(request: web.Request) -> web.Response:
    doc = await request.app[REVIEWER].transparency_report(request[MEMBER], request.query,
                                                          via="api")
    if request.query.get("format", "").strip() == "csv":
        return web.Response(text=to_csv(doc), content_type="text/csv", charset="utf-8",
                            headers={"Cache-Control": "no-store"})
    return _json(doc)


def _json(doc: Mapping[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(doc), content_type="application/json",
                        headers={"Cache-Control": "no-store"})
