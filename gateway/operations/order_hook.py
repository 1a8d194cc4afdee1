"""The order hook: verify the signature, answer retries from the first answer, disclose.

Three events arrive here, signed alike: ``order.ready_to_ship`` (book the delivery),
``order.return_requested`` (book a return label) and ``order.cancelled`` (cancel a booking).

A hook id is served once. A retry while the first is in flight waits for its answer; a retry
after it gets the stored answer; only an attempt that provably sent nothing may be tried again.

This is plain code over the headers and the body; the HTTP edge (``gateway.http.hooks_api``)
reads the request and writes the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import attrs
import orjson
import structlog

from gateway.errors import Conflict
from gateway.operations.answer import Answer, recorded_answer
from gateway.operations.cancel import Canceller
from gateway.operations.disclose import Discloser
from gateway.operations.opened import operation
from gateway.operations.signature import HookKey, verify
from gateway.payload import CancelRequest, parse_event
from gateway.record import Kind, Record
from gateway.record.rows import HookRow
from gateway.record.sealing import hook_context

log = structlog.get_logger("gateway.hooks")


@attrs.define
class OrderHooks:
    discloser: Discloser
    canceller: Canceller
    record: Record
    #: Shared secrets (v1) and public keys (v1a) accepted for a hook's signature.
    secrets: tuple[HookKey, ...]
    max_body: int
    clock: Callable[[], float] = time.time
    _inflight: dict[str, asyncio.Future[Answer]] = attrs.field(factory=dict)

    async def handle(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """The answer to the hook ``headers`` sign over ``body``: verified, then served once
        per hook id."""
        hook = verify(headers, body, self.secrets, now=self.clock())
        return await self._once(hook.msg_id, body)

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
            settled = await self._settled(previous)
            if settled is not None:
                return settled
            raise Conflict(
                f"disclosure {previous.disclosure} for this hook has no recorded outcome yet; "
                "it is resolved by recovery (at the latest once it is older than any carrier "
                "call can take); retry later"
            )
        if previous is not None and previous.answer is not None:
            if previous.subject:
                stored = await self.record.unseal(previous.subject, hook_context(msg_id),
                                                  previous.answer)
            else:  # an answer holding no personal value, kept in the clear
                stored = orjson.loads(previous.answer)
            if stored is None and previous.status != 503:  # noqa: PLR2004
                raise Conflict("this hook was answered before; the customer's data is erased")
            # A 503 answer sent nothing, whatever it said: the hook may be tried again (its
            # sealed copy is unreadable once the customer was erased).
            answer = (Answer(status=stored["status"], body=stored["body"]) if stored is not None
                      else Answer(status=503, body={"result": "not_sent"}))
            if not answer.retryable:
                log.info("hook.replayed", webhook_id=msg_id, status=answer.status)
                return answer
        event = parse_event(body)
        if isinstance(event, CancelRequest):
            return await self.canceller.cancel(event, webhook_id=msg_id)
        minimised = self.discloser.minimise(event)
        return await self.discloser.ship(event, minimised, webhook_id=msg_id)

    async def _settled(self, hook: HookRow) -> Answer | None:
        """The answer of an open hook whose outcome is recorded nonetheless (a gateway before
        this one left it open when the customer was erased in between): metadata only."""
        found = await operation(self.record, hook)
        if found is None:
            return None
        _, intent, outcome = found
        if intent.kind != Kind.INTENT or outcome is None:
            return None
        log.info("hook.settled_from_record", webhook_id=hook.webhook_id)
        return recorded_answer(intent, outcome)

