"""The HTTP edge of the exception tree: every error answers RFC 9457 problem+json."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web

from gateway.errors import TYPE_BASE, GatewayError, problem_body
from gateway.http.metrics import METRICS

PROBLEM_TYPE = "application/problem+json"
log = structlog.get_logger("gateway.http")

__all__ = ["PROBLEM_TYPE", "from_error", "problem", "problem_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(
    status: int, title: str, detail: str, *, slug: str, **extra: Any  # noqa: ANN401
) -> web.Response:
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extra}
    return web.Response(status=status, body=orjson.dumps(body), content_type=PROBLEM_TYPE)


def from_error(exc: GatewayError, **extra: Any) -> web.Response:  # noqa: ANN401
    retry_after = getattr(exc, "retry_after", None)
    return web.Response(status=exc.status, body=orjson.dumps(problem_body(exc, **extra)),
                        content_type=PROBLEM_TYPE,
                        headers=None if retry_after is None else {"Retry-After": str(retry_after)})


def _count(request: web.Request, reason: str) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.rejections.labels(reason).inc()


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as exc:
        log.info("http.refused", path=request.path, status=exc.status, problem=exc.type_slug,
                 reason=getattr(exc, "reason", None))
        _count(request, exc.type_slug)
        return from_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:  # noqa: PLR2004 - redirects pass through
            raise
        _count(request, f"http-{exc.status}")
        return problem(exc.status, exc.reason, exc.reason, slug=f"http-{exc.status}")
    except Exception as exc:  # noqa: BLE001 - the edge answers every failure as a problem
        log.error("http.internal_error", path=request.path, error=type(exc).__name__)
        return problem(500, "Internal error", "The gateway failed to handle the request.",
                       slug="internal")
