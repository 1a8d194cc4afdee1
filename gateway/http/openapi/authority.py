"""The OpenAPI paths of authority requests: the API and the pages under /review/authority
(merged into ``gateway.http.openapi.document``). Roles are named in each operation's description."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from gateway.authority.bodies import STEP_BODIES, Extension, Notification, Reason, Resolution
from gateway.authority.desk import STATES
from gateway.authority.intake import AuthorityIntake
from gateway.events import schemas

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_BEARER: list[dict[str, list[str]]] = [{"staffSession": []}]
_REQUEST = {"application/json": {"schema": {"$ref": "#/components/schemas/AuthorityRequest"}}}
_ID = [{"name": "id", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": "^ar_[0-9a-f]{16}$"}}]


def _problems(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "A problem (RFC 9457)", "content": _PROBLEM} for c in codes}


def _op(summary: str, roles: str, *, ok: str = "200", ok_content: Any = None,  # noqa: ANN401
        codes: tuple[int, ...] = (401, 403, 404, 409, 503), params: list[Any] | None = None,
        body: dict[str, Any] | None = None, note: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "description": f"Roles: {roles}.{note}", "security": _BEARER,
        "parameters": params if params is not None else _ID,
        "responses": {ok: {"description": "OK", "content": ok_content or _REQUEST},
                      **_problems(*codes)},
    }
    if body is not None:
        op["requestBody"] = body
    return op


def _page(summary: str, roles: str, *, method: str = "get",
          params: list[Any] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "The page", "content": _HTML},
        "303": {"description": "Done (to the request's page), or to the login form without a "
                              "session"}}
    responses.update({str(c): {"description": "An error page", "content": _HTML}
                      for c in (400, 401, 403, 404, 409, 422, 503)})
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Roles: {roles}, by the web session cookie; a POST carries the "
                       "session's CSRF token.",
        "parameters": params if params is not None else _ID,
        "responses": responses,
    }
    if method == "post":
        op["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": {"csrf": {"type": "string"},
                                             "reason": {"type": "string"}}}}}}
    return {method: op}


#: The request bodies' schemas are generated from the structures the API decodes them into.
AUTHORITY_SCHEMAS: dict[str, Any] = {
    **schemas(AuthorityIntake, *STEP_BODIES),
    "AuthorityRequest": {
        "type": "object",
        "required": ["id", "state", "authority", "reference", "legal_basis", "deadline"],
        "properties": {
            "id": {"type": "string"}, "state": {"enum": list(STATES)},
            "authority": {"type": "string"}, "reference": {"type": "string"},
            "legal_basis": {"type": "string"}, "kind": {"type": "string"},
            "categories": {"type": "array", "items": {"type": "string"}},
            "deadline": {"type": "string"}, "defer_until": {"type": ["string", "null"]},
            "customers": {"type": "integer", "description": "How many customers it names"},
            "days_left": {"type": ["integer", "null"]},
            "due": {"enum": ["overdue", "due soon", "open", None]},
            "received_by": {"type": "string"}, "received_at": {"type": "string"},
            "decided_by": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
            "package_sha256": {"type": ["string", "null"]},
            "disclosed_by": {"type": ["string", "null"],
                             "description": "Who produced the package"},
            "package": {"type": "object"},
            "due_at": {"type": ["string", "null"], "description": "An emergency's deadline"},
            "hours_left": {"type": ["number", "null"]},
            "outcome": {"type": ["object", "null"],
                        "description": "full, partial, no data, rejected or objected"},
            "notification": {"type": ["object", "null"]},
            "preservation": {"type": ["object", "null"]},
            "deferral_ends": {"type": ["string", "null"]},
            "deferral_days_left": {"type": ["integer", "null"]},
        },
    },
}


def _body(struct: type[Struct]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{struct.__name__}"}}}}


_STEP_CODES = (400, 401, 403, 404, 409, 413, 422, 503)

_LIST_PARAMS = [
    {"name": "state", "in": "query", "required": False, "schema": {"type": "string"},
     "description": f"Comma-separated: {', '.join(STATES)}"},
    {"name": "due_within", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": "^[0-9]{1,4}$"},
     "description": "Only open requests due within this many days (overdue included)"},
    {"name": "deferrals_ending_within", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": "^[0-9]{1,4}$"},
     "description": "Only requests whose customer notification is deferred to a day within "
                    "this many days (or past, the customer not told yet)"},
]
_LIST = {"application/json": {"schema": {"type": "object", "properties": {
    "today": {"type": "string"}, "soon_days": {"type": "integer"},
    "requests": {"type": "array",
                 "items": {"$ref": "#/components/schemas/AuthorityRequest"}}}}}}

AUTHORITY_PATHS: dict[str, Any] = {
    "/v1/authority/requests": {
        "post": _op("Take in an authority request (recorded)", "intake_officer, admin",
                    ok="201", params=[], codes=(400, 401, 403, 413, 422, 503),
                    body=_body(AuthorityIntake),
                    note=" A missing or invalid field answers 422 naming it in `field` (and "
                         "its JSON path in `detail`)."),
        "get": _op("Authority requests by deadline", "intake_officer, approver, admin",
                   params=_LIST_PARAMS, ok_content=_LIST, codes=(400, 401, 403, 503)),
    },
    "/v1/authority/requests/{id}": {
        "get": _op("One authority request", "intake_officer, approver, admin",
                   codes=(401, 403, 404, 503)),
    },
    "/v1/authority/requests/{id}/approve": {
        "post": _op("Approve a request", "approver",
                    note=" Never the person who took it in (403)."),
    },
    "/v1/authority/requests/{id}/reject": {
        "post": _op("Reject a request, with its reason", "approver",
                    codes=(400, 401, 403, 404, 409, 413, 422, 503),
                    body=_body(Reason),
                    note=" Never the person who took it in (403)."),
    },
    "/v1/authority/requests/{id}/disclose": {
        "post": _op("Produce the request's one package (minimised, hashed into the record)",
                    "intake_officer, approver", ok="201",
                    note=" Only the people on the case (who took it in or decided it; else "
                         "403). A second call, from this or any other instance, answers 409 "
                         "with the package's `package_sha256`, or (type `being-produced`) "
                         "while another caller is still producing it."),
    },
    "/v1/authority/requests/{id}/package": {
        "get": _op("Download the package (the read is recorded)", "intake_officer, approver",
                   ok_content={"application/json": {"schema": {"type": "object"}}},
                   note=" Only the people on the case (who took the request in, decided it or "
                        "produced the package; else 403)."),
    },
    "/v1/authority/requests/{id}/close": {
        "post": _op("Close a disclosed or rejected request", "intake_officer, approver, admin"),
    },
    "/v1/authority/requests/{id}/extend": {
        "post": _op("Extend the deadline (or a running preservation, once), with the reason",
                    "intake_officer, approver, admin", codes=_STEP_CODES,
                    body=_body(Extension)),
    },
    "/v1/authority/requests/{id}/object": {
        "post": _op("Object to a request, with the reason", "approver", codes=_STEP_CODES,
                    body=_body(Reason)),
    },
    "/v1/authority/requests/{id}/resolve-objection": {
        "post": _op("How the objection ended", "approver", codes=_STEP_CODES,
                    body=_body(Resolution)),
    },
    "/v1/authority/requests/{id}/notify": {
        "post": _op("Telling the customer: notified, deferred or prohibited",
                    "intake_officer, approver, admin", codes=_STEP_CODES,
                    body=_body(Notification)),
    },
    "/v1/authority/requests/{id}/resume": {
        "post": _op("Give back a production stuck in disclosing after a crash",
                    "intake_officer, approver", note=" Only the people on the case."),
    },
    "/review/authority/{id}/extend": _page("Extend", "intake_officer, approver, admin",
                                           method="post"),
    "/review/authority/{id}/object": _page("Object", "approver", method="post"),
    "/review/authority/{id}/resolve-objection": _page("How the objection ended", "approver",
                                                      method="post"),
    "/review/authority/{id}/notify": _page("Telling the customer",
                                           "intake_officer, approver, admin", method="post"),
    "/review/authority/{id}/resume": _page("Resume a stuck production",
                                           "intake_officer, approver", method="post"),
    "/review/authority": _page("Authority requests with deadlines",
                               "intake_officer, approver, admin",
                               params=[{**p, "schema": {"type": "string"}}
                                       for p in _LIST_PARAMS]),
    "/review/authority/new": {
        **_page("The intake form", "intake_officer, admin", params=[]),
        **_page("Take in a request from the form", "intake_officer, admin", method="post",
                params=[]),
    },
    "/review/authority/{id}": _page("A request, with its approve, reject, disclose and close "
                                    "buttons", "intake_officer, approver, admin"),
    "/review/authority/{id}/approve": _page("Approve", "approver", method="post"),
    "/review/authority/{id}/reject": _page("Reject with a reason", "approver", method="post"),
    "/review/authority/{id}/disclose": _page("Produce the package", "intake_officer, approver",
                                             method="post"),
    "/review/authority/{id}/package": {"get": {
        **_page("Download the package (recorded)", "intake_officer, approver")["get"],
        "responses": {
            "200": {"description": "The package (or the login form, after the redirect)",
                    "content": {"application/json": {"schema": {"type": "object"}},
                                **_HTML}},
            "303": {"description": "To the login form"},
            **{str(c): {"description": "An error page", "content": _HTML}
               for c in (401, 403, 404, 409, 503)}},
    }},
    "/review/authority/{id}/close": _page("Close", "intake_officer, approver, admin",
                                          method="post"),
}
