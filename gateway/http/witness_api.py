"""A standalone witness speaking the c2sp.org/tlog-witness HTTP API.

``POST /add-checkpoint`` takes ``old <size>``, up to 63 consistency proof lines (base64), an
empty line and a checkpoint (a signed note), and answers, in the spec's order:

- 400 a malformed request, or an old size above the checkpoint's;
- 404 a checkpoint for an origin this witness does not witness;
- 403 no signature by a key it trusts for that origin verifies;
- 409 ``text/x.tlog.size``: the old size is not the size of the latest checkpoint cosigned for
  that log (the body is that size and a newline), or the same size with another root;
- 422 the consistency proof does not verify (logged as an alert, kept as evidence);
- 200 the cosignature line (c2sp.org/tlog-cosignature), once the new state is durable.

Other refusals answer RFC 9457 problem+json, those of the HTTP layer too (a body over 64 KiB
413, an unknown path 404, another method 405). The witness keeps only one checkpoint per log.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import structlog
from aiohttp import web

from gateway.http.problems import problem
from gateway.record.checkpoint import Checkpoint, CheckpointInvalid, parse_and_verify
from gateway.witness.cosignature import note_text
from gateway.witness.settings import ServerSettings
from gateway.witness.state import Accepted, Inconsistent, WitnessState

__all__ = ["SIZE_TYPE", "create_witness_app"]

SIZE_TYPE: Final = "text/x.tlog.size"
MAX_PROOF: Final = 63
MAX_BODY: Final = 64 * 1024
_OLD = re.compile("old (0|[1-9][0-9]{0,19})")
_HASH = re.compile("[A-Za-z0-9+/]{43}=")
log = structlog.get_logger("gateway.witness")

SETTINGS = web.AppKey("witness_settings", ServerSettings)
STATE = web.AppKey("witness_state", WitnessState)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("witness_clock")


class _Malformed(Exception):
    pass


def parse_submission(body: bytes) -> tuple[int, list[bytes], str]:
    """(old size, consistency proof, checkpoint note) of an add-checkpoint body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed("the body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise _Malformed("no empty line before the checkpoint")
    lines = head.split("\n")
    if not _OLD.fullmatch(lines[0]):
        raise _Malformed("the first line must be: old <size>")
    if len(lines) - 1 > MAX_PROOF or not all(_HASH.fullmatch(p) for p in lines[1:]):
        raise _Malformed(f"the proof is up to {MAX_PROOF} lines of one base64 hash each")
    proof = [base64.b64decode(p, validate=True) for p in lines[1:]]
    body_lines = note_text(note).split("\n")
    if (len(body_lines) < 4 or not note.endswith("\n") or "\n\n" not in note  # noqa: PLR2004
            or not body_lines[0] or not re.fullmatch("0|[1-9][0-9]{0,19}", body_lines[1])
            or not _HASH.fullmatch(body_lines[2])):
        raise _Malformed("the checkpoint is not a signed note of origin, size and root")
    return int(lines[0][4:]), proof, note


def _size(size: int, status: int = 409) -> web.Response:
    return web.Response(status=status, text=f"{size}\n", content_type=SIZE_TYPE)


async def _add_checkpoint(request: web.Request) -> web.Response:
    settings, state = request.app[SETTINGS], request.app[STATE]
    try:
        old, proof, note = parse_submission(await request.read())
    except _Malformed as exc:
        return problem(400, "Bad request", str(exc), slug="bad-request")
    origin = note.split("\n", 1)[0]
    verifiers = settings.logs.get(origin)
    if verifiers is None:
        log.info("witness.unknown_log", status=404)
        return problem(404, "Unknown log", "this witness does not witness that origin",
                       slug="unknown-log")
    try:
        checkpoint: Checkpoint = parse_and_verify(note, verifiers, origin=origin)
    except CheckpointInvalid:
        log.warning("witness.bad_signature", origin=origin, status=403)
        return problem(403, "Forbidden", "no signature by a key trusted for this log verifies",
                       slug="bad-signature")
    if old > checkpoint.size:
        return problem(400, "Bad request", "the old size is larger than the checkpoint's",
                       slug="bad-request")
    if old == 0 and proof:
        return problem(400, "Bad request", "the proof from size 0 must be empty",
                       slug="bad-request")
    now = int(request.app[CLOCK]())
    outcome = await asyncio.to_thread(state.advance, checkpoint, note, old, proof, now)
    if isinstance(outcome, Accepted):
        line = settings.cosigner.cosign(note_text(note), now)
        log.info("witness.cosigned", origin=origin, size=checkpoint.size)
        return web.Response(text=line, content_type="text/plain")
    if isinstance(outcome, Inconsistent):
        log.critical("witness.inconsistent", alert=True, origin=origin, held_size=outcome.size,
                     submitted_size=checkpoint.size, submitted_root=checkpoint.root.hex(),
                     status=422)
        return problem(422, "Inconsistent tree", "the consistency proof does not lead from "
                       "the checkpoint this witness holds to the one submitted",
                       slug="inconsistent")
    if outcome.size == checkpoint.size == old:
        log.critical("witness.fork", alert=True, origin=origin, size=outcome.size,
                     submitted_root=checkpoint.root.hex(), status=409)
    else:
        log.info("witness.stale", origin=origin, held_size=outcome.size, old_size=old,
                 status=409)
    return _size(outcome.size)


@web.middleware
async def _problems(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                    ) -> web.StreamResponse:
    """Refusals of the HTTP layer (body too large, no such route, method) as problem+json."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # noqa: PLR2004 - redirects pass through
            raise
        log.info("witness.http_refused", status=exc.status)
        return problem(exc.status, exc.reason, exc.reason, slug=f"http-{exc.status}")


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_witness_app(settings: ServerSettings, *,
                       clock: Callable[[], float] = time.time) -> web.Application:
    """The witness's application; its state file is opened and closed with it."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_problems])
    app[SETTINGS] = settings
    app[CLOCK] = clock

    async def state(app: web.Application) -> AsyncIterator[None]:
        held = WitnessState(settings.state)
        await asyncio.to_thread(held.open)
        app[STATE] = held
        log.info("witness.started", witness=settings.cosigner.name, logs=sorted(settings.logs))
        yield
        await asyncio.to_thread(held.close)

    app.cleanup_ctx.append(state)
    app.router.add_post("/add-checkpoint", _add_checkpoint)
    app.router.add_get("/healthz", _healthz)
    return app
