"""The aiohttp application: typed app state, resources opened and closed in cleanup contexts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from carriers import Guarded
from gateway.authority import preservation
from gateway.authority.desk import Desk, package_dir
from gateway.config import Config
from gateway.erasure.requests import run_periodically
from gateway.errors import RecordError
from gateway.http import authority_api, hooks_api, review_api, sessions, tiles
from gateway.http.access import STAFF, access_middleware, public
from gateway.http.authority_api import DESK
from gateway.http.hooks_api import HOOKS
from gateway.http.metrics import CONTENT_TYPE, METRICS, Metrics
from gateway.http.openapi import document as openapi
from gateway.http.pages import authority as authority_pages
from gateway.http.pages import review as pages
from gateway.http.problems import problem_middleware
from gateway.http.proxies import TrustedProxies, strict_transport
from gateway.http.proxies import middleware as client_middleware
from gateway.operations.cancel import Canceller
from gateway.operations.disclose import Discloser
from gateway.operations.order_hook import OrderHooks
from gateway.operations.policy_versions import record_policy
from gateway.operations.recovery import recover, recover_periodically, stale_after
from gateway.record import Record
from gateway.review.search import Reviewer
from gateway.staff.accounts import Staff
from gateway.staff.logins import PasswordPool
from gateway.transparency.publish import Tiler
from gateway.wiring import build_carriers, build_record
from gateway.witness import WitnessSubmitter, witnessing

CONFIG = web.AppKey("config", Config)
RECORD = web.AppKey("record", Record)
CARRIERS = web.AppKey("carriers", dict[str, Guarded])
WITNESSING = web.AppKey("witnessing", WitnessSubmitter)


def create_app(config: Config, *, clock: Callable[[], float] = time.time) -> web.Application:
    credentials = config.carrier_credentials()  # every missing one named at once, up front
    proxies = TrustedProxies(config.trusted_proxies)
    app = web.Application(
        middlewares=[client_middleware(proxies), problem_middleware, access_middleware],
        client_max_size=config.max_body_bytes)
    app.on_response_prepare.append(strict_transport)
    app[CONFIG] = config
    app[METRICS] = Metrics()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        record = build_record(config, app[METRICS], now=clock)
        app[METRICS].checkpoint_age_from(record.checkpoint_age)
        await record.open()
        # No pool-wide connection limit: each carrier's own max_concurrent bounds its share, so
        # a slow carrier cannot take connections another one needs.
        session = aiohttp.ClientSession(raise_for_status=False,
                                        connector=aiohttp.TCPConnector(limit=0))
        carriers = build_carriers(config, credentials, session, app[METRICS])
        canceller = Canceller(record=record, carriers=carriers)
        try:
            discloser = Discloser(
                policy=config.policy, record=record, carriers=carriers, sender=config.sender,
                subject_key=config.keys.subject_hmac,
                # Recorded before any hook is taken; each intent names it.
                policy_version=await record_policy(record, config.policy),
            )
            await recover(discloser=discloser, canceller=canceller, record=record)
        except BaseException:
            await session.close()
            with contextlib.suppress(RecordError):  # the error being raised says more
                await record.close()
            raise
        app[RECORD] = record
        app[CARRIERS] = carriers
        app[STAFF] = Staff(record=record, clock=clock, pool=PasswordPool(config.logins))
        app[review_api.REVIEWER] = Reviewer(record=record, config=config, clock=clock)
        app[DESK] = Desk.for_config(config, reviewer=app[review_api.REVIEWER], clock=clock)
        app[tiles.TILES] = Tiler(record=record, reviewer=app[review_api.REVIEWER])
        app[HOOKS] = OrderHooks(
            discloser=discloser, canceller=canceller, record=record, secrets=config.keys.hooks,
            max_body=config.max_body_bytes, clock=clock,
        )
        tasks = [asyncio.create_task(recover_periodically(
            discloser=discloser, canceller=canceller, record=record, clock=time.time,
            after=config.record.recover_after or stale_after(config)))]  # the record's clock
        tasks.append(asyncio.create_task(preservation.expire_periodically(
            app[DESK].authority, every=config.authorities.preservation_check_minutes * 60,
            clock=clock)))
        if config.erasure.run_every_hours:
            tasks.append(asyncio.create_task(run_periodically(
                record, config.erasure, package_dir(config))))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app[STAFF].pool.close()
        await session.close()
        await record.close()

    app.cleanup_ctx.append(resources)

    async def witnesses(app: web.Application) -> AsyncIterator[None]:
        async with witnessing(config.witnessing, record=app[RECORD],
                              registry=app[METRICS].registry) as submitter:
            if submitter is not None:
                app[WITNESSING] = submitter
            yield

    app.cleanup_ctx.append(witnesses)
    _routes(app)
    return app


def _routes(app: web.Application) -> None:
    app.add_routes(hooks_api.routes)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/openapi.json", public(openapi.serve))
    app.router.add_get("/v1/record/checkpoint", _checkpoint)
    app.add_routes([*sessions.routes, *review_api.routes, *pages.routes, *tiles.routes,
                    web.get("/checkpoint", _checkpoint)])  # c2sp.org/tlog-tiles
    app.add_routes([*authority_api.routes, *authority_pages.routes])


@public
async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@public
async def _readyz(request: web.Request) -> web.Response:
    """Ready when the record takes writes, no entry has waited long for a checkpoint (an idle
    record with every entry signed is fresh however old its last checkpoint), and at least one
    carrier's breaker lets calls through. One carrier's open breaker does not make the instance
    unready: every instance shares the carrier, and the other carriers still ship."""
    record = request.app[RECORD]
    breakers = {name: c.breaker.state.value for name, c in request.app[CARRIERS].items()}
    checks = {
        "record_writable": record.writing,
        "checkpoint_fresh": record.checkpoint_age() <= 3 * record.checkpoint_interval + 60,
        "a_carrier_available": not breakers or any(
            not c.breaker.rejecting() for c in request.app[CARRIERS].values()),
    }
    ready = all(checks.values())
    witnesses = request.app.get(WITNESSING)
    return web.json_response({"status": "ready" if ready else "not ready", "checks": checks,
                              "carrier_breakers": breakers,
                              **({"witnessing": witnesses.status()} if witnesses else {})},
                             status=200 if ready else 503)


@public
async def _metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


@public
async def _checkpoint(request: web.Request) -> web.Response:
    """The latest signed checkpoint, as a C2SP signed note (public: it holds no personal data);
    with witnesses, the newest one they cosigned, their cosignature lines appended."""
    witnesses = request.app.get(WITNESSING)
    latest = await (witnesses.served() if witnesses else request.app[RECORD].latest_checkpoint())
    if latest is None:
        raise web.HTTPNotFound(reason="No checkpoint has been signed yet")
    return web.Response(text=latest, content_type="text/plain",
                        headers={"Cache-Control": "no-cache"})
