"""The gateway's OpenAPI 3.1 document. Each HTTP feature adds its paths to ``PATHS`` (and its
schemas to ``SCHEMAS``); a test checks every route the application serves is documented here
and schemathesis checks the gateway answers as documented."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.events import HOOK_EVENTS, schemas
from gateway.http.openapi.authority import AUTHORITY_PATHS, AUTHORITY_SCHEMAS
from gateway.http.openapi.review import REVIEW_PATHS, REVIEW_SCHEMAS, SECURITY_SCHEMES

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


_OCTETS = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_TILE_LEVEL = {"name": "level", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": "^[0-9]+$"}}
_TILE_REST = {"name": "rest", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[x0-9/]+(\\.p/[0-9]+)?$"}}


def problems(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": "A problem (RFC 9457)", "content": PROBLEM}
            for code in codes}


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer"}, "detail": {"type": "string"}},
    },
    "CancelAnswer": {
        "type": "object",
        "required": ["disclosure_id", "carrier", "service", "result"],
        "properties": {
            "disclosure_id": {"type": "string"}, "order_id": {"type": "string"},
            "carrier": {"type": "string"}, "service": {"type": "string"},
            "result": {"const": "cancelled"}, "record": {"type": "object"},
        },
    },
    "ShipmentAnswer": {
        "type": "object",
        "required": ["disclosure_id", "carrier", "service", "result", "fields"],
        "properties": {
            "disclosure_id": {"type": "string"}, "order_id": {"type": "string"},
            "carrier": {"type": "string"}, "service": {"type": "string"},
            "result": {"type": "string"}, "tracking_number": {"type": "string"},
            "fields": {"type": "array", "items": {"type": "string"}},
            "label": {"type": "object", "properties": {
                "format": {"enum": ["pdf", "zpl"]}, "data": {"type": "string"}}},
            "record": {"type": "object"},
        },
    },
}

# The hook events' schemas are generated from the types the parser decodes into.
SCHEMAS.update(schemas(*HOOK_EVENTS))

_SIGNATURE_HEADERS = [
    {"name": name, "in": "header", "required": True, "schema": {"type": "string"},
     "description": description}
    for name, description in (
        ("webhook-id", "Standard Webhooks message id; a retry reuses it"),
        ("webhook-timestamp", "Unix seconds; accepted within five minutes"),
        ("webhook-signature", "v1,<base64 HMAC-SHA256> entries, space-separated"),
    )
]

PATHS: dict[str, Any] = {
    "/v1/hooks/orders": {"post": {
        "summary": "Ship an order, book a return label, or cancel a booking",
        "description": "Signed by the order pipeline (Standard Webhooks). Idempotent on "
                       "webhook-id: a retry gets the first answer. order.ready_to_ship books "
                       "the delivery (201); order.return_requested books a return label, the "
                       "customer as sender, minimised by the carrier's return rule (201); "
                       "order.cancelled cancels the booking with the given disclosure_id "
                       "(200; 404 if the record holds no such booking of the order). A "
                       "carrier whose API offers no cancellation or return answers 501.",
        "parameters": _SIGNATURE_HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"oneOf": [{"$ref": "#/components/schemas/OrderEvent"},
                                 {"$ref": "#/components/schemas/ReturnEvent"},
                                 {"$ref": "#/components/schemas/CancelEvent"}]}}}},
        "responses": {
            "200": {"description": "Cancelled", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/CancelAnswer"}}}},
            "201": {"description": "Booked", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ShipmentAnswer"}}}},
            **problems(400, 401, 404, 409, 413, 415, 422, 501, 502, 503, 504),
        },
    }},
    "/healthz": {"get": {"summary": "The process is up", "security": [],
                         "responses": {"200": {"description": "Up"}}}},
    "/readyz": {"get": {"summary": "The record takes writes and checkpoints are fresh",
                        "security": [],
                        "responses": {"200": {"description": "Ready"},
                                      "503": {"description": "Not ready"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics",
                         "responses": {"200": {"description": "Metrics in text format"}}}},
    "/v1/record/checkpoint": {"get": {
        "summary": "The latest signed checkpoint (C2SP signed note)", "security": [],
        "responses": {"200": {"description": "The note", "content": {"text/plain": {
            "schema": {"type": "string"}}}}, **problems(404)},
    }},
    "/checkpoint": {"get": {
        "summary": "The latest (cosigned) checkpoint, as C2SP tlog-tiles serves it",
        "security": [],
        "responses": {"200": {"description": "The note", "content": {"text/plain": {
            "schema": {"type": "string"}}}}, **problems(404)},
    }},
    "/tile/{level}/{rest}": {"get": {
        "summary": "A hash tile (C2SP tlog-tiles): <N>[.p/<W>], N as x001/x234/067",
        "security": [], "parameters": [_TILE_LEVEL, _TILE_REST],
        "responses": {"200": {"description": "The tile's hashes", "content": _OCTETS},
                      **problems(400, 404)},
    }},
    "/tile/entries/{rest}": {"get": {
        "summary": "An entry bundle (C2SP tlog-tiles)", "description": "Roles: auditor.",
        "security": [{"staffSession": []}], "parameters": [_TILE_REST],
        "responses": {"200": {"description": "Length-prefixed entries", "content": _OCTETS},
                      **problems(400, 401, 403, 404, 503)},
    }},
    "/openapi.json": {"get": {"summary": "This document", "security": [],
                              "responses": {"200": {"description": "OpenAPI 3.1"}}}},
}


PATHS.update(REVIEW_PATHS)
PATHS.update(AUTHORITY_PATHS)
SCHEMAS.update(REVIEW_SCHEMAS)
SCHEMAS.update(AUTHORITY_SCHEMAS)


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Disclosure gateway", "version": "0.1.0",
                 "description": "Minimises customer data for carriers and authorities and "
                                "keeps a tamper-evident record of every disclosure."},
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


async def serve(_request: web.Request) -> web.Response:
    return web.json_response(document())
