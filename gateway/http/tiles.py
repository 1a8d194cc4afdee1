"""The tiles API (c2sp.org/tlog-tiles): hash tiles to anyone, entry bundles to auditors, made by
``gateway.transparency.publish.Tiler``. Full tiles never change and are cached for a year; a
partial one is replaced as the tree grows."""

from __future__ import annotations

from typing import Final

import structlog
from aiohttp import web

from gateway.errors import BadRequest
from gateway.http.access import api, public
from gateway.http.request_keys import MEMBER
from gateway.transparency.publish import AUDITORS, Tiler
from gateway.transparency.tiles import Tile, TilePathInvalid

__all__ = ["TILES", "routes"]

log = structlog.get_logger("gateway.tiles")

TILES: Final = web.AppKey("tiles", Tiler)
FULL: Final = {"Cache-Control": "public, max-age=31536000, immutable"}
PARTIAL: Final = {"Cache-Control": "public, max-age=5"}
FULL_BUNDLE: Final = {"Cache-Control": "private, max-age=31536000, immutable"}
PARTIAL_BUNDLE: Final = {"Cache-Control": "private, no-cache"}
routes = web.RouteTableDef()


def _tile(level: str, rest: str) -> Tile:
    try:
        return Tile.parse(level, rest)
    except TilePathInvalid as exc:
        raise BadRequest(str(exc)) from None


@routes.get(r"/tile/{level:[0-9]+}/{rest:[x0-9/]+(\.p/[0-9]+)?}")
@public
async def _hash_tile(request: web.Request) -> web.Response:
    """A hash tile: public, hashes only."""
    tile = _tile(request.match_info["level"], request.match_info["rest"])
    data = await request.app[TILES].hashes(tile)
    return web.Response(body=data, content_type="application/octet-stream",
                        headers=FULL if tile.full else PARTIAL)


@routes.get(r"/tile/entries/{rest:[x0-9/]+(\.p/[0-9]+)?}")
@api(*AUDITORS)
async def _entry_bundle(request: web.Request) -> web.Response:
    """An entry bundle: auditors only (pseudonymous metadata); the read is recorded."""
    tile = _tile("0", request.match_info["rest"])
    data = await request.app[TILES].bundle(tile, request[MEMBER])
    log.info("tiles.bundle_read", username=request[MEMBER].username, index=tile.index,
             width=tile.width)
    response = web.Response(body=data, content_type="application/octet-stream",
                            headers=FULL_BUNDLE if tile.full else PARTIAL_BUNDLE)
    response.enable_compression()
    return response
