"""``POST /v1/hooks/orders``: the order pipeline's signed hook at the HTTP edge.

The body is read (JSON in UTF-8, at most ``max_body_bytes``) and handed with the headers to
``gateway.operations.order_hook``, which verifies, deduplicates and answers; the answer is
served as JSON, or as problem+json when it is a failure.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.errors import BadRequest
from gateway.http.access import signed_hook
from gateway.http.problems import PROBLEM_TYPE
from gateway.operations.answer import Answer
from gateway.operations.order_hook import OrderHooks

HOOKS = web.AppKey("hooks", OrderHooks)

routes = web.RouteTableDef()


@routes.post("/v1/hooks/orders")
@signed_hook
async def _order_hook(request: web.Request) -> web.StreamResponse:
    hooks = request.app[HOOKS]
    if request.content_type != "application/json" or (
        request.charset not in (None, "utf-8")
    ):
        raise web.HTTPUnsupportedMediaType(
            reason="Send the order event as application/json in UTF-8")
    body = await _read(request, hooks.max_body)
    return _respond(await hooks.handle(request.headers, body))


async def _read(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    body = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        body += chunk
        if len(body) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    if not body:
        raise BadRequest("the body is empty")
    return bytes(body)


def _respond(answer: Answer) -> web.Response:
    content_type = "application/json" if answer.status < 400 else PROBLEM_TYPE  # noqa: PLR2004
    return web.Response(status=answer.status, body=orjson.dumps(answer.body),
                        content_type=content_type)
