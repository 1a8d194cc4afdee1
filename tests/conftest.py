"""The gateway as a user runs it: the shipped config.toml, real secrets files, the bundled
carrier sandboxes over HTTP, a real aiohttp server on 127.0.0.1:0 and a real SQLite record."""

from __future__ import annotations

import copy
import io
import re
import time
import tomllib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
import pytest
from aiohttp import web

from carriers.sandbox import BOOKINGS, RECEIVED, Received, run_sandbox
from gateway import logs
from gateway.authority.settings import AuthoritySettings
from gateway.config import Config
from gateway.demo import sandbox_credentials
from gateway.http.app import create_app
from gateway.keygen import keygen
from gateway.operations.signature import HookSecret, sign_headers

ROOT = Path(__file__).resolve().parent.parent

#: The record store fixtures (SQLite and PostgreSQL), for every test directory.
pytest_plugins = ["tests.stores"]

#: The authorities the shipped config.toml lists, for tests that take requests in directly.
AUTHORITIES = AuthoritySettings.from_mapping(
    tomllib.loads((Path(__file__).parent.parent / "config.toml").read_text())["authorities"])

#: Customer values distinctive enough to search for in anything that left the gateway.
CANARY_CUSTOMER: Mapping[str, Any] = {
    "id": "CUST-CANARY-1",
    "first_name": "Kanariina",
    "last_name": "Lintunen-Q9",
    "street": "Kanariakuja 17 C 99",
    "postal_code": "33100",
    "town": "Kanarianlahti",
    "country": "FI",
    "phone": "+358409876543",
    "email": "kanariina.q9@example.invalid",
    "marketing_consent": True,
}
#: The canary values as they would appear once disclosed, by policy field name.
CANARY_FIELDS: Mapping[str, str] = {
    "name": "Kanariina Lintunen-Q9",
    "street": "Kanariakuja 17 C 99",
    "town": "Kanarianlahti",
    "phone": "+358409876543",
    "email": "kanariina.q9@example.invalid",
}

#: The password of staff accounts the tests create.
STAFF_PASSWORD = "correct horse battery staple"


def order_event(carrier: str, service: str, *, order_id: str | None = None,
                **delivery: Any) -> dict[str, Any]:  # noqa: ANN401
    """A pipeline order event for the canary customer."""
    customer = dict(CANARY_CUSTOMER)
    for key in ("phone", "email", "street"):
        if key in delivery:
            customer[key] = delivery.pop(key)
    return {
        "type": "order.ready_to_ship",
        "timestamp": "2026-11-22T10:00:00Z",
        "data": {
            "order_id": order_id or f"O-{uuid.uuid4().hex[:8]}",
            "customer": customer,
            "delivery": {"carrier": carrier, "service": service, **delivery},
            "parcels": [{"weight_kg": 2.5, "length_cm": 30, "width_cm": 20, "height_cm": 10}],
        },
    }


@attrs.define
class Harness:
    url: str
    http: aiohttp.ClientSession
    config: Config
    secret: HookSecret
    sandboxes: dict[str, web.Application]
    app: web.Application

    async def post(self, event: Any, *, msg_id: str | None = None,  # noqa: ANN401
                   secret: HookSecret | None = None, timestamp: int | None = None,
                   body: bytes | None = None, content_type: str = "application/json",
                   ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        raw = body if body is not None else orjson.dumps(event)
        headers = sign_headers(secret or self.secret, msg_id or f"msg_{uuid.uuid4().hex}", raw,
                               timestamp=timestamp)
        headers["content-type"] = content_type
        async with self.http.post(self.url + "/v1/hooks/orders", data=raw,
                                  headers=headers) as resp:
            text = await resp.read()
            if resp.status >= 400:
                leaked = [v for v in CANARY_FIELDS.values() if v.encode() in text]
                assert not leaked, f"personal data in an error answer: {leaked}"
            doc = orjson.loads(text) if text else {}
            return resp.status, doc, resp.headers

    async def add_staff(self, username: str, *roles: str, password: str = STAFF_PASSWORD,
                        ) -> None:
        """A staff account, hashed with a cheap scrypt cost to keep tests fast."""
        from gateway.actor import Actor  # noqa: PLC0415
        from gateway.http.app import RECORD  # noqa: PLC0415
        from gateway.staff.accounts import Staff  # noqa: PLC0415

        await Staff(record=self.app[RECORD], log_n=10).add(username, password, roles,
                                                           actor=Actor.on_cli(None))

    async def login(self, username: str, password: str = STAFF_PASSWORD) -> dict[str, str]:
        """Log in over HTTP; the Authorization header of the new session."""
        async with self.http.post(self.url + "/v1/session",
                                  json={"username": username, "password": password}) as resp:
            assert resp.status == 201, await resp.text()
            return {"Authorization": f"Bearer {(await resp.json())['token']}"}

    async def as_staff(self, *roles: str) -> dict[str, str]:
        """Headers of a new staff member holding ``roles`` (named after them)."""
        username = "-".join(sorted(roles)).replace("_", "") + f"-{uuid.uuid4().hex[:6]}"
        await self.add_staff(username, *roles)
        return await self.login(username)

    def bookings(self, carrier: str) -> list[str]:
        """The references the carrier's sandbox booked."""
        return list(self.sandboxes[carrier][BOOKINGS].keys())

    def received(self, carrier: str | None = None) -> list[Received]:
        names = [carrier] if carrier else list(self.sandboxes)
        return [r for n in names for r in self.sandboxes[n][RECEIVED]]


def load_config(tmp_path: Path, urls: Mapping[str, str],
                change: Any = None) -> Config:  # noqa: ANN401
    """The shipped config.toml with sandbox URLs, a fresh record and fresh secret files."""
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw = copy.deepcopy(raw)
    secrets = tmp_path / "secrets"
    keygen(secrets, origin=raw["gateway"]["origin"])
    raw["gateway"]["secrets"] = {
        "hooks": {"file": "secrets/hook-secret"},
        "record_kek": {"file": "secrets/record-kek"},
        "subject_hmac": {"file": "secrets/subject-hmac"},
        "checkpoint_signing": {"file": "secrets/checkpoint.key"},
    }
    raw["record"]["path"] = "record.sqlite"
    for name, url in urls.items():
        raw["carriers"][name]["base_url"] = url
    if change is not None:
        change(raw)
    return Config.from_mapping(raw, path=tmp_path / "config.toml")


def unreachable_carriers() -> dict[str, str]:
    """Every carrier config.toml lists, at an address nothing answers on: for commands that
    never reach a carrier."""
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    return dict.fromkeys(raw["carriers"], "http://127.0.0.1:1")


def write_config(tmp_path: Path, urls: Mapping[str, str], *, port: int = 0) -> Path:
    """Write the shipped config.toml under ``tmp_path`` for a gateway process: sandbox URLs,
    its own port, a fresh record and fresh secret files. Returns the file's path."""
    text = (ROOT / "config.toml").read_text()
    keygen(tmp_path / "secrets", origin="jerone.fi/disclosure-record")
    text = text.replace('path = "var/record.sqlite"', 'path = "record.sqlite"')
    text = text.replace("var/secrets/", "secrets/")
    text = re.sub(r"(?m)^port = \d+$", f"port = {port}", text, count=1)
    for name, url in urls.items():
        text = re.sub(rf'(\[carriers\.{name}\][^\[]*?base_url = )"[^"]*"', rf'\g<1>"{url}"', text)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


@pytest.fixture
def carrier_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment variables config.toml names for carrier credentials, set to the values
    the sandboxes accept."""
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    for env, value in sandbox_credentials(raw).items():
        monkeypatch.setenv(env, value)


@pytest.fixture
def no_carrier_env(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """None of the environment variables config.toml names for carrier credentials is set;
    their names, in the file's order."""
    raw = tomllib.loads((ROOT / "config.toml").read_text())
    names = list(sandbox_credentials(raw))
    for env in names:
        monkeypatch.delenv(env, raising=False)
    return names


@pytest.fixture
async def gateway(tmp_path: Path, carrier_env: None) -> AsyncIterator[Harness]:
    async with run_gateway(tmp_path) as harness:
        yield harness


def run_gateway(tmp_path: Path, change: Any = None,  # noqa: ANN401
                clock: Callable[[], float] = time.time) -> Any:  # noqa: ANN401
    """Start sandboxes for every configured carrier and the gateway in front of them; the
    gateway reads the time from ``clock`` (the application's clock seam)."""

    class _Run:
        async def __aenter__(self) -> Harness:
            self.stack = AsyncExitStack()
            self.log = io.StringIO()
            logs.configure(stream=self.log)
            raw = tomllib.loads((ROOT / "config.toml").read_text())
            urls, apps = {}, {}
            for name in raw["carriers"]:
                url, app = await self.stack.enter_async_context(run_sandbox(name))
                urls[name], apps[name] = url, app
            config = load_config(tmp_path, urls, change)
            app = create_app(config, clock=clock)
            runner = web.AppRunner(app)
            await runner.setup()
            self.stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            http = aiohttp.ClientSession()
            self.stack.push_async_callback(http.close)
            return Harness(url=f"http://127.0.0.1:{port}", http=http, config=config,
                           secret=HookSecret.from_string(
                               (tmp_path / "secrets/hook-secret").read_text()),
                           sandboxes=apps, app=app)

        async def __aexit__(self, *exc: object) -> None:
            await self.stack.aclose()
            text = self.log.getvalue()
            leaked = [v for v in (*CANARY_FIELDS.values(), CANARY_CUSTOMER["id"]) if v in text]
            assert not leaked, f"personal data in the process log: {leaked}"

    return _Run()
