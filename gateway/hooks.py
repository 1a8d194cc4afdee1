"""The order hook: verify the signature, answer retries from the first answer, disclose.

A hook id is served once. A retry while the first is in flight waits for its answer; a retry
after it gets the stored answer; only an attempt that provably sent nothing may be tried again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import attrs
import orjson
import structlog
from aiohttp import web

from gateway.disclosures import Answer, Discloser
from gateway.errors import BadRequest, Conflict, GatewayError
from gateway.payload import parse_order_event
from gateway.problems import PROBLEM_TYPE
from gateway.record import Record
from gateway.webhooks import HookSecret, verify

log = structlog.get_logger("gateway.hooks")


@attrs.define
class OrderHooks:
    discloser: Discloser
    record: Record
    secrets: tuple[HookSecret, ...]
    max_body: int
    clock: Callable[[], float] = time.time
    _inflight: dict[str, asyncio.Future[Answer]] = attrs.field(factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json" or (
            request.charset not in (None, "utf-8")
        ):
            raise web.HTTPUnsupportedMediaType(
                reason="Send the order event as application/json in UTF-8")
        body = await _read(request, self.max_body)
        hook = verify(request.headers, body, self.secrets, now=self.clock())
        answer = await self._once(hook.msg_id, body)
        return _respond(answer)

    async def _once(self, msg_id: str, body: bytes) -> Answer:
        running = self._inflight.get(msg_id)
        if running is not None:
            log.info("hook.retry_in_flight", webhook_id=msg_id)
            return await asyncio.shield(running)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._inflight[msg_id] = future
        try:
            answer = await self._first(msg_id, body)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(answer)
            return answer
        finally:
            del self._inflight[msg_id]

    async def _first(self, msg_id: str, body: bytes) -> Answer:
        previous = await self.record.hook(msg_id)
        if previous is not None and previous.status is None:
            raise Conflict(
                f"disclosure {previous.disclosure} for this hook has no recorded outcome yet; "
                "it is resolved when the gateway restarts"
            )
        if previous is not None and previous.answer is not None and previous.subject:
            stored = await self.record.unseal(previous.subject, f"hook:{msg_id}", previous.answer)
            if stored is None:
                raise Conflict("this hook was answered before; the customer's data is erased")
            answer = Answer(status=stored["status"], body=stored["body"])
            if not answer.retryable:
                log.info("hook.replayed", webhook_id=msg_id, status=answer.status)
                return answer
        order = parse_order_event(body)
        minimised = self.discloser.minimise(order)
        return await self.discloser.ship(order, minimised, webhook_id=msg_id)


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


__all__ = ["GatewayError", "OrderHooks"]
