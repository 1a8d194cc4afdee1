"""Who may call what: every endpoint against every role and an anonymous caller, over HTTP
against a running gateway; default deny for an endpoint that declares nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
import aiohttp
from aiohttp import web

from gateway.http.access import access_middleware, access_of
from gateway.actor import Actor
from gateway.http.app import RECORD, create_app
from gateway.authority.intake import Intake
from gateway.http.authority_api import DESK
from gateway.authority.package import claim, disclose
from gateway.http.problems import problem_middleware
from gateway.staff.accounts import Role, csrf_token
from gateway.operations.signature import sign_headers
from tests.conftest import AUTHORITIES, STAFF_PASSWORD, Harness, load_config, order_event
from tests.review.conftest import call, cookie_of, get_json, ship

STAFF = (Role.REVIEWER, Role.INTAKE_OFFICER, Role.APPROVER, Role.ADMIN, Role.AUDITOR)
EVERYONE = frozenset(Role)
CALLERS = ("anonymous", *Role)


@attrs.frozen
class Endpoint:
    method: str
    path: str
    allowed: frozenset[str]
    ok: int = 200
    kind: str = "api"  # api | page | public | hook
    state: str | None = None  # a fresh authority request in this state fills in {id}
    body: Any = None  # JSON for the API; a list of form fields for a page
    event: str = "order.ready_to_ship"  # a hook's event type

    @property
    def route(self) -> str:
        if self.path.startswith("/tile/"):
            return "/tile/entries/{rest}" if "entries" in self.path else "/tile/{level}/{rest}"
        return self.path.split("?")[0].replace("/0", "/{seq}") if "entries/0" in self.path \
            else self.path.split("?")[0]


def _e(method: str, path: str, roles: tuple[str, ...] | frozenset[str], ok: int = 200,
       kind: str = "api", state: str | None = None, body: Any = None,  # noqa: ANN401
       event: str = "order.ready_to_ship") -> Endpoint:
    return Endpoint(method, path, frozenset(roles), ok, kind, state, body, event)


REPORT = ("reviewer", "admin")
ALL_STAFF = tuple(r.value for r in STAFF if r is not Role.AUDITOR)
#: Every staff account, the auditor's included: its session and the home page.
SESSION = tuple(r.value for r in STAFF)
INTAKE = ("intake_officer", "admin")
READERS = ("intake_officer", "approver", "admin")
HANDLERS = ("intake_officer", "approver")
FORM = {"authority": "Tulli", "reference": "T-1/26", "legal_basis": "Customs Act 304/2016 s. 1",
        "kind": "production", "officer": "Tulliylitarkastaja", "rank": "ylitarkastaja",
        "received_via": "portal", "customers": ["CUST-CANARY-1"], "categories": ["name"],
        "deadline": "2030-01-01"}
FORM_FIELDS = [(k, v) for k, v in FORM.items() if k not in ("customers", "categories")] + [
    ("customers", "CUST-CANARY-1"), ("categories", "name")]
REQUEST = "/v1/authority/requests"
#: The steps after intake: (path, roles, the request's state, body).
STEPS = (
    ("extend", READERS, "received", {"deadline": "2030-02-01", "reason": "agreed by phone"}),
    ("object", ("approver",), "received", {"reason": "outside the cited section"}),
    ("resolve-objection", ("approver",), "objected",
     {"resolution": "upheld", "note": "the court agreed"}),
    ("notify", READERS, "disclosed", {"status": "notified", "means": "letter"}),
    ("resume", HANDLERS, "disclosing", {}),
)
PAGE = "/review/authority"
AUTHORITY_ENDPOINTS = [
    _e("POST", REQUEST, INTAKE, 201, body=FORM),
    _e("GET", REQUEST + "?due_within=3", READERS),
    _e("GET", REQUEST + "/{id}", READERS, state="received"),
    _e("POST", REQUEST + "/{id}/approve", ("approver",), state="received"),
    _e("POST", REQUEST + "/{id}/reject", ("approver",), state="received",
       body={"reason": "outside the cited section"}),
    _e("POST", REQUEST + "/{id}/disclose", HANDLERS, 201, state="approved"),
    _e("GET", REQUEST + "/{id}/package", HANDLERS, state="disclosed"),
    _e("POST", REQUEST + "/{id}/close", READERS, state="disclosed"),
    _e("GET", PAGE, READERS, kind="page"),
    _e("GET", PAGE + "/new", INTAKE, kind="page"),
    _e("POST", PAGE + "/new", INTAKE, 303, kind="page", body=FORM_FIELDS),
    _e("GET", PAGE + "/{id}", READERS, kind="page", state="received"),
    _e("POST", PAGE + "/{id}/approve", ("approver",), 303, kind="page", state="received"),
    _e("POST", PAGE + "/{id}/reject", ("approver",), 303, kind="page", state="received",
       body=[("reason", "outside the cited section")]),
    _e("POST", PAGE + "/{id}/disclose", HANDLERS, 303, kind="page", state="approved"),
    _e("GET", PAGE + "/{id}/package", HANDLERS, kind="page", state="disclosed"),
    _e("POST", PAGE + "/{id}/close", READERS, 303, kind="page", state="disclosed"),
    _e("GET", REQUEST + "?deferrals_ending_within=7", READERS),
    *[e for kind, ok in (("api", 200), ("page", 303)) for e in (
        _e("POST", (REQUEST if kind == "api" else PAGE) + "/{id}/" + step, roles, ok,
           kind=kind, state=state, body=body if kind == "api" else list(body.items()))
        for step, roles, state, body in STEPS)],
]
ENDPOINTS = [
    _e("GET", "/healthz", EVERYONE | {"anonymous"}, kind="public"),
    _e("GET", "/readyz", EVERYONE | {"anonymous"}, kind="public"),
    _e("GET", "/metrics", EVERYONE | {"anonymous"}, kind="public"),
    _e("GET", "/openapi.json", EVERYONE | {"anonymous"}, kind="public"),
    _e("GET", "/v1/record/checkpoint", EVERYONE | {"anonymous"}, kind="public"),
    _e("GET", "/checkpoint", EVERYONE | {"anonymous"}, kind="public"),
    _e("GET", "/tile/0/000.p/1", EVERYONE | {"anonymous"}, kind="public"),
    _e("GET", "/tile/entries/000.p/1", ("auditor",)),
    _e("POST", "/v1/hooks/orders", ("pipeline",), 201, kind="hook"),
    _e("POST", "/v1/hooks/orders", ("pipeline",), 201, kind="hook",
       event="order.return_requested"),
    _e("POST", "/v1/hooks/orders", ("pipeline",), 200, kind="hook", event="order.cancelled"),
    _e("POST", "/v1/session", EVERYONE | {"anonymous"}, 201, kind="public"),
    _e("GET", "/v1/session", SESSION),
    _e("DELETE", "/v1/session", SESSION, 204),
    _e("GET", "/v1/review/entries?customer=CUST-CANARY-1", ALL_STAFF),
    _e("GET", "/v1/review/entries/0", ALL_STAFF),
    _e("GET", "/v1/review/checkpoint", ALL_STAFF),
    _e("GET", "/v1/reports/access?customer=CUST-CANARY-1", REPORT),
    _e("GET", "/v1/reports/transparency", ("reviewer", "approver", "admin")),
    _e("GET", "/review/login", EVERYONE | {"anonymous"}, kind="public"),
    _e("POST", "/review/login", EVERYONE | {"anonymous"}, 303, kind="public"),
    _e("POST", "/review/logout", SESSION, 303, kind="page"),
    _e("GET", "/review", SESSION, kind="page"),
    _e("GET", "/review/search?customer=CUST-CANARY-1", ALL_STAFF, kind="page"),
    _e("GET", "/review/entries/0", ALL_STAFF, kind="page"),
    _e("GET", "/review/access?customer=CUST-CANARY-1", REPORT, kind="page"),
    _e("GET", "/review/transparency", ("reviewer", "approver", "admin"), kind="page"),
    _e("GET", "/review/checkpoint", ALL_STAFF, kind="page"),
    *AUTHORITY_ENDPOINTS,
]


async def _request(gateway: Harness, endpoint: Endpoint, caller: str,
                   sessions: Mapping[str, Mapping[str, str]]) -> int:
    """Call ``endpoint`` as ``caller`` the way that kind of endpoint is called."""
    headers: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    path = endpoint.path
    if endpoint.state is not None:
        # Staff callers are on the case (they decided it): the role is what is tested here.
        who = None
        if caller not in ("anonymous", "pipeline"):
            who = (await get_json(gateway, "/v1/session", sessions[caller]))["username"]
        path = path.replace("{id}", await _authority_request(gateway, endpoint.state, who))
    if endpoint.kind == "api" and endpoint.body is not None:
        kwargs["json"] = endpoint.body
    if endpoint.kind == "hook":  # the same event for everyone; only the pipeline signs it
        kwargs["data"] = orjson.dumps(await _event(gateway, endpoint.event))
        headers["content-type"] = "application/json"
    if caller == "pipeline":
        headers.update(sign_headers(gateway.secret, f"msg_{uuid.uuid4().hex}", kwargs["data"])
                       if endpoint.kind == "hook" else {})
    elif caller != "anonymous":
        bearer = sessions[caller]
        headers.update(cookie_of(bearer) if endpoint.kind == "page" else bearer)
        if endpoint.kind == "page" and endpoint.method == "POST":
            kwargs["data"] = aiohttp.FormData([("csrf", csrf_token(bearer["Authorization"][7:])),
                                               *(endpoint.body or [])])
    if endpoint.path == "/v1/session" and endpoint.method == "POST":
        name = f"login-{uuid.uuid4().hex[:8]}"
        await gateway.add_staff(name, "reviewer")
        kwargs = {"json": {"username": name, "password": STAFF_PASSWORD}}
    if endpoint.path == "/review/login" and endpoint.method == "POST":
        status, _, answer = await call(gateway, "GET", "/review/login")
        token = answer["Set-Cookie"].split("gateway_login=")[1].split(";")[0]
        name = f"form-{uuid.uuid4().hex[:8]}"
        await gateway.add_staff(name, "approver")
        headers = {**headers, "Cookie": f"gateway_login={token}"}
        kwargs = {"data": {"csrf": token, "username": name, "password": STAFF_PASSWORD}}
    status, _, _ = await call(gateway, endpoint.method, path, headers=headers, **kwargs)
    return status


async def _authority_request(gateway: Harness, state: str, decider: str | None) -> str:
    """A new authority request, taken in by someone outside the matrix and decided by
    ``decider`` (else by someone outside it too)."""
    desk = gateway.app[DESK]
    now = datetime.now(UTC)
    request = await desk.authority.intake(Intake.from_json(FORM, settings=AUTHORITIES), actor=Actor("matrix-in", "api"),
                                          now=now)
    if state in ("approved", "disclosed"):
        await desk.authority.approve(request.id, actor=Actor(decider or "matrix-ok", "api"),
                                     now=now)
    if state == "disclosed":
        await disclose(desk.authority, request.id, actor=Actor("matrix-ok", "api"), now=now,
                       out_dir=desk.packages)
    if state == "disclosing":  # claimed, and the process died: no outcome
        await desk.authority.approve(request.id, actor=Actor("matrix-ok", "api"), now=now)
        await claim(desk.authority, request.id, actor=Actor(decider or "matrix-ok", "api"),
                    now=now - timedelta(minutes=20))
    if state == "objected":
        await desk.steps.object_to(request, reason="outside the cited section",
                                   actor=Actor("matrix-ok", "api"), now=now)
    return request.id


async def _event(gateway: Harness, kind: str) -> dict[str, Any]:
    """A hook event of ``kind``; a cancellation names a fresh booking."""
    if kind == "order.cancelled":
        booked = await ship(gateway, order_id=f"J-ROLE-{uuid.uuid4().hex[:6]}")
        return {"type": kind, "data": {"order_id": booked["order_id"],
                                       "disclosure_id": booked["disclosure_id"]}}
    event = order_event("posti", "home_delivery")
    if kind == "order.return_requested":
        data = event["data"]
        del data["delivery"]
        return {"type": kind, "data": {**data, "return": {"carrier": "posti"}}}
    return event


def _denied(endpoint: Endpoint, caller: str) -> int:
    """What a caller the endpoint does not allow gets."""
    staff = caller not in ("anonymous", "pipeline")
    if endpoint.kind == "hook":
        return 401  # no valid signature
    if endpoint.kind == "page":
        return 403 if staff else 303  # the login form
    return 403 if staff else 401


@pytest.fixture
async def sessions(gateway: Harness) -> AsyncIterator[Callable[[], Any]]:
    async def fresh() -> dict[str, Mapping[str, str]]:
        return {role.value: await gateway.as_staff(role.value) for role in STAFF}

    await ship(gateway, order_id="J-ROLE-1")
    await gateway.app[RECORD].checkpoint()
    yield fresh


class TestRoleMatrix:
    @pytest.mark.parametrize("endpoint", ENDPOINTS,
                             ids=lambda e: f"{e.method} {e.path}" + (
                                 f" {e.event}" if e.kind == "hook" else ""))
    async def test_exactly_the_allowed_callers_succeed(
        self, gateway: Harness, sessions: Callable[[], Any], endpoint: Endpoint
    ) -> None:
        """Each allowed role succeeds; every other role, the pipeline and an anonymous caller
        are refused (401 without staff credentials, 403 with the wrong role; a page sends a
        caller without a session to the login form)."""
        logged_in = await sessions()
        outcome = {caller: await _request(gateway, endpoint, caller, logged_in)
                   for caller in CALLERS}
        expected = {caller: endpoint.ok if caller in endpoint.allowed
                    else _denied(endpoint, caller) for caller in CALLERS}
        assert outcome == expected

    def test_the_matrix_covers_every_route(self, tmp_path: Path, carrier_env: None) -> None:
        """Every route the application serves is in the matrix above."""
        app = create_app(load_config(tmp_path, {}))
        served = {(r.method, r.resource.canonical) for r in app.router.routes()
                  if r.method != "HEAD" and r.resource is not None}
        covered = {(e.method, e.route) for e in ENDPOINTS}
        assert served == covered

    def test_every_route_declares_its_roles(self, tmp_path: Path, carrier_env: None) -> None:
        """No handler is left without a declaration."""
        app = create_app(load_config(tmp_path, {}))
        undeclared = [r.resource.canonical for r in app.router.routes()
                      if r.method != "HEAD" and r.resource is not None
                      and access_of(r.handler) is None]
        assert undeclared == []


class TestDefaultDeny:
    async def test_an_endpoint_without_a_declaration_is_refused(self) -> None:
        """A handler with no declaration answers 403 problem+json and never runs."""
        ran = []

        async def undeclared(_request: web.Request) -> web.Response:
            ran.append(True)
            return web.Response(text="secret")

        app = web.Application(middlewares=[problem_middleware, access_middleware])
        app.router.add_get("/undeclared", undeclared)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            import aiohttp  # noqa: PLC0415

            port = runner.addresses[0][1]
            async with aiohttp.ClientSession() as http, http.get(
                    f"http://127.0.0.1:{port}/undeclared") as resp:
                assert resp.status == 403
                assert resp.headers["content-type"] == "application/problem+json"
                assert b"secret" not in await resp.read()
        finally:
            await runner.cleanup()
        assert ran == []


class TestSessions:
    async def test_a_bad_password_and_an_unknown_user_get_the_same_401(
        self, gateway: Harness
    ) -> None:
        """Login failures answer one problem whatever the cause."""
        await gateway.add_staff("rita", "reviewer")
        answers = []
        for body in ({"username": "rita", "password": "wrong password here"},
                     {"username": "nobody", "password": STAFF_PASSWORD}):
            status, text, headers = await call(gateway, "POST", "/v1/session", json=body)
            assert status == 401
            assert headers["content-type"] == "application/problem+json"
            answers.append(orjson.loads(text)["detail"])
        assert answers[0] == answers[1]

    async def test_repeated_failed_logins_answer_429_with_retry_after(
        self, gateway: Harness
    ) -> None:
        """Past five failed logins of an account, the API refuses its logins with a 429 problem
        naming when to retry, the right password included."""
        await gateway.add_staff("rita", "reviewer")
        wrong = {"username": "rita", "password": "wrong password here"}
        for _ in range(5):
            assert (await call(gateway, "POST", "/v1/session", json=wrong))[0] == 401
        status, text, headers = await call(
            gateway, "POST", "/v1/session",
            json={"username": "rita", "password": STAFF_PASSWORD})
        assert status == 429
        assert headers["content-type"] == "application/problem+json"
        assert orjson.loads(text)["status"] == 429
        assert 0 < int(headers["Retry-After"]) <= 15 * 60

    async def test_a_disabled_account_loses_its_sessions(self, gateway: Harness) -> None:
        """Disabling an account ends its sessions and refuses new logins."""
        from gateway.actor import Actor  # noqa: PLC0415
        from gateway.http.app import RECORD  # noqa: PLC0415
        from gateway.staff.accounts import Staff  # noqa: PLC0415

        await gateway.add_staff("dora", "reviewer")
        bearer = await gateway.login("dora")
        assert (await call(gateway, "GET", "/v1/session", headers=bearer))[0] == 200
        await Staff(record=gateway.app[RECORD]).disable("dora", actor=Actor.on_cli(None))
        assert (await call(gateway, "GET", "/v1/session", headers=bearer))[0] == 401
        status, _, _ = await call(gateway, "POST", "/v1/session",
                                  json={"username": "dora", "password": STAFF_PASSWORD})
        assert status == 401

    async def test_logout_ends_the_session(self, gateway: Harness) -> None:
        """After DELETE /v1/session the token no longer works."""
        bearer = await gateway.as_staff("admin")
        assert (await call(gateway, "DELETE", "/v1/session", headers=bearer))[0] == 204
        assert (await call(gateway, "GET", "/v1/session", headers=bearer))[0] == 401

    async def test_the_form_login_sets_a_strict_httponly_cookie(self, gateway: Harness) -> None:
        """The web session cookie is HttpOnly and SameSite=Strict; a login form posted
        without its anti-forgery token is refused."""
        await gateway.add_staff("webby", "reviewer")
        _, _, form = await call(gateway, "GET", "/review/login")
        token = form["Set-Cookie"].split("gateway_login=")[1].split(";")[0]
        creds = {"username": "webby", "password": STAFF_PASSWORD}
        status, _, _ = await call(gateway, "POST", "/review/login", data=creds,
                                  headers={"Cookie": f"gateway_login={token}"})
        assert status == 403
        status, _, answer = await call(gateway, "POST", "/review/login",
                                       data={**creds, "csrf": token, "next": "/review/search"},
                                       headers={"Cookie": f"gateway_login={token}"})
        assert status == 303
        assert answer["Location"] == "/review/search"
        cookie = next(c for c in answer.getall("Set-Cookie") if "gateway_session=" in c)
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie

    async def test_a_page_post_without_the_csrf_token_is_refused(self, gateway: Harness) -> None:
        """Logging out from another site (no CSRF token) fails; the session stays."""
        bearer = await gateway.as_staff("reviewer")
        status, _, _ = await call(gateway, "POST", "/review/logout", headers=cookie_of(bearer),
                                  data={"csrf": "0" * 64})
        assert status == 403
        assert (await call(gateway, "GET", "/v1/session", headers=bearer))[0] == 200
