"""The OpenAPI paths of staff sessions, the review API, the reports and the review pages
(merged into ``gateway.http.openapi.document``). Roles are named in each operation's description."""

from __future__ import annotations

from typing import Any

from gateway.events import schemas
from gateway.http.sessions import Login

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_JSON = {"application/json": {"schema": {"type": "object"}}}
BEARER: list[dict[str, list[str]]] = [{"staffSession": []}]

#: The login body's schema, generated from the structure the API decodes it into.
REVIEW_SCHEMAS: dict[str, Any] = schemas(Login)

SECURITY_SCHEMES: dict[str, Any] = {
    "staffSession": {"type": "http", "scheme": "bearer",
                     "description": "A token from POST /v1/session"},
}


def _problems(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "A problem (RFC 9457)", "content": _PROBLEM} for c in codes}


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
            for n in names]


def _api(summary: str, roles: str, params: list[dict[str, Any]] | None = None,
         codes: tuple[int, ...] = (400, 401, 403, 503)) -> dict[str, Any]:
    return {"get": {
        "summary": summary, "description": f"Roles: {roles}. The read is recorded.",
        "security": BEARER, "parameters": params or [],
        "responses": {"200": {"description": "OK", "content": _JSON}, **_problems(*codes)},
    }}


def _page(summary: str, roles: str, params: list[dict[str, Any]] | None = None,
          method: str = "get") -> dict[str, Any]:
    return {method: {
        "summary": summary,
        "description": f"Roles: {roles}, by the web session cookie. Without a session the "
                       "browser is sent to the login form (303).",
        "parameters": params or [],
        "responses": {"200": {"description": "The page", "content": _HTML},
                      "303": {"description": "To the login form"},
                      **{str(c): {"description": "An error page", "content": _HTML}
                         for c in (400, 401, 403, 404, 503)}},
    }}


_SEQ = [{"name": "seq", "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}}]
_SEARCH = _query("customer", "order", "recipient", "kind", "from", "to", "cursor", "limit",
                 "sort")
_LOGIN_FORM = {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "properties": {k: {"type": "string"} for k in
                                     ("username", "password", "csrf", "next")}}}}

REVIEW_PATHS: dict[str, Any] = {
    "/v1/session": {
        "post": {
            "summary": "Log in: exchange a username and password for a bearer token",
            "security": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Login"}}}},
            "description": "Five failed logins of an account within fifteen minutes refuse its "
                           "logins (429, Retry-After) until the oldest is fifteen minutes old.",
            "responses": {"201": {"description": "A session", "content": _JSON},
                          **_problems(400, 401, 429, 503)},
        },
        "get": {"summary": "Who the token belongs to", "security": BEARER,
                "description": "Roles: any staff role.",
                "responses": {"200": {"description": "OK", "content": _JSON},
                              **_problems(401, 403)}},
        "delete": {"summary": "Log out (end the session)", "security": BEARER,
                   "description": "Roles: any staff role.",
                   "responses": {"204": {"description": "Ended"}, **_problems(401, 403)}},
    },
    "/v1/review/entries": _api("Search the record (keyset pages on position)",
                               "any staff role; values for reviewer and admin", _SEARCH),
    "/v1/review/entries/{seq}": _api(
        "One entry with its RFC 9162 inclusion proof against the latest checkpoint, checked",
        "any staff role; values for reviewer and admin", _SEQ, (400, 401, 403, 404, 503)),
    "/v1/review/checkpoint": _api(
        "The latest checkpoint: signature verified, size, age, and whether the record matches",
        "reviewer, intake_officer, approver, admin", codes=(400, 401, 403)),
    "/v1/reports/access": _api(
        "A customer's access report (GDPR Art. 15(1)(c)); view=full for admins",
        "reviewer, admin", _query("customer", "view")),
    "/v1/reports/transparency": _api(
        "Disclosures counted per recipient, authority, legal basis and month",
        "reviewer, approver, admin", _query("from", "to")),
    "/review/login": {
        **_page("The login form", "public"),
        "post": {"summary": "Log in from the form (sets the session cookie)",
                 "requestBody": {"content": _LOGIN_FORM},
                 "responses": {"200": {"description": "A page", "content": _HTML},
                               "303": {"description": "Logged in"},
                               **{str(c): {"description": "The form again or an error page",
                                           "content": _HTML} for c in (400, 401, 403, 429)}}},
    },
    "/review/logout": _page("Log out", "any staff role", method="post"),
    "/review": _page("Start page", "any staff role"),
    "/review/search": _page("Search page", "any staff role", [*_SEARCH, *_query("go")]),
    "/review/entries/{seq}": _page("An entry and its inclusion proof", "any staff role", _SEQ),
    "/review/access": _page("Access report page (printable)", "reviewer, admin",
                            _query("customer", "view")),
    "/review/transparency": _page("Transparency report page with charts",
                                  "reviewer, approver, admin", _query("from", "to")),
    "/review/checkpoint": _page("Latest checkpoint status", "any staff role"),
}
