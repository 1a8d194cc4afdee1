"""The baseline: a bare aiohttp pass-through proxy in front of the same carrier sandbox.

    python -m bench.baseline_proxy --posti-url http://127.0.0.1:PORT --port 0

It takes the same order hook on the same path, parses it with the gateway's own parser, and books
the shipment through the same ``carriers.posti`` adapter on the same kind of aiohttp client
session the gateway uses, so the sandbox receives the same two requests (create-shipment, then
the label) with the same XML document. It then answers, like the gateway, with the tracking
number and the base64 label. What it leaves out is exactly what the gateway adds: no signature
check, no idempotency look-up, no policy (it forwards the fields the Posti service needs), no
customer key, no sealing, no durable record, no process log.

Forwarding the raw bytes instead would compare the gateway with a proxy that does half the
carrier work (one request, no XML, no label), and charge the adapter to the gateway's record.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from typing import TYPE_CHECKING

import aiohttp
import orjson
from aiohttp import web

from carriers.posti import Posti
from gateway.errors import GatewayError
from gateway.models import Party, Receiver, Shipment
from gateway.operations.disclose import new_disclosure_id
from gateway.payload import parse_order_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

POSTI = web.AppKey("posti", Posti)
SENDER = Party(name="Jerone Group Oy", street="Sulapuronkatu 1", postal_code="33700",
               town="Tampere", country="FI", phone="+358408280202",
               email="asiakaspalvelu@jerone.fi", business_id="2381931-8")


def create_app(posti_url: str, credentials: dict[str, str]) -> web.Application:
    app = web.Application(client_max_size=65536)

    async def session(app: web.Application) -> AsyncIterator[None]:
        http = aiohttp.ClientSession(raise_for_status=False)
        app[POSTI] = Posti(session=http, base_url=posti_url, credentials=credentials,
                           timeout=10.0)
        yield
        await http.close()

    app.cleanup_ctx.append(session)
    app.router.add_post("/v1/hooks/orders", _forward)
    app.router.add_get("/healthz", _healthz)
    return app


async def _forward(request: web.Request) -> web.Response:
    try:
        order = parse_order_event(await request.read())
        c = order.customer
        shipment = Shipment(
            reference=new_disclosure_id(), carrier="posti", service=order.delivery.service,
            sender=SENDER,
            receiver=Receiver(name=c.name, postal_code=c.address.postal_code,
                              town=c.address.town, country=c.address.country, phone=c.phone),
            parcels=order.parcels, pickup_point_id=order.delivery.pickup_point_id,
            notice=order.delivery.notice,
        )
        result = await request.app[POSTI].create_shipment(shipment)
    except GatewayError as exc:
        return web.json_response({"title": type(exc).__name__}, status=502)
    body = {"disclosure_id": shipment.reference, "order_id": order.id, "result": "booked",
            "tracking_number": result.tracking_number,
            "label": {"format": result.label_format,
                      "data": base64.b64encode(result.label).decode()}}
    return web.Response(status=201, body=orjson.dumps(body), content_type="application/json")


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.baseline_proxy")
    p.add_argument("--posti-url", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--api-key", default="sandbox-client")
    p.add_argument("--api-secret", default="sandbox-secret")
    args = p.parse_args(argv)
    app = create_app(args.posti_url, {"api_key": args.api_key, "secret": args.api_secret})
    # The same event loop as `gateway serve` (gateway.cli.serve): uvloop's where it is
    # installed, else asyncio's. On asyncio's default loop the baseline would pay a slower
    # loop than the gateway and flatter the gateway's ratio.
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, loop=_new_loop())


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # noqa: PLC0415 - optional, as in `gateway serve`
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


if __name__ == "__main__":
    main()
