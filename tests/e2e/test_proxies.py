"""Behind a TLS proxy: forwarded headers are believed only from ``[gateway] trusted_proxies``;
a client on HTTPS gets Secure cookies and Strict-Transport-Security, and its own address."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.http.access import public
from gateway.http.proxies import Hop, TrustedProxies, client_address, middleware
from tests.conftest import STAFF_PASSWORD, Harness, run_gateway


def trusting(*networks: str) -> Any:  # noqa: ANN401 - a config change
    def change(raw: dict[str, Any]) -> None:
        raw["gateway"]["trusted_proxies"] = list(networks)

    return change


@pytest.fixture
async def behind_proxy(tmp_path: Path, carrier_env: None) -> AsyncIterator[Harness]:
    """The gateway with its proxy on 127.0.0.1 trusted (the tests connect from there)."""
    async with run_gateway(tmp_path, trusting("127.0.0.1")) as harness:
        yield harness


@pytest.fixture
async def untrusted(tmp_path: Path, carrier_env: None) -> AsyncIterator[Harness]:
    """The gateway trusting only a proxy network the tests do not connect from."""
    async with run_gateway(tmp_path, trusting("10.0.0.0/8", "2001:db8::/32")) as harness:
        yield harness


async def login_cookies(gateway: Harness, headers: Mapping[str, str]) -> tuple[str, str, str]:
    """Through the login form: the form's cookie, the session cookie, and the HSTS header of
    the form's answer."""
    await gateway.add_staff("proxied", "reviewer")
    async with gateway.http.get(gateway.url + "/review/login", headers=headers) as resp:
        form_cookie = resp.headers["Set-Cookie"]
        hsts = resp.headers.get("Strict-Transport-Security", "")
    token = form_cookie.split("gateway_login=")[1].split(";")[0]
    async with gateway.http.post(
        gateway.url + "/review/login", allow_redirects=False,
        data={"csrf": token, "username": "proxied", "password": STAFF_PASSWORD},
        headers={**headers, "Cookie": f"gateway_login={token}"},
    ) as resp:
        assert resp.status == 303
        session = next(c for c in resp.headers.getall("Set-Cookie") if "gateway_session=" in c)
    return form_cookie, session, hsts


class TestTrustedProxy:
    @pytest.mark.parametrize("headers", [
        {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"},
        {"X-Forwarded-Proto": "https"},
        {"Forwarded": 'for="[2001:db8::7]:4711";proto=https'},
    ])
    async def test_https_at_the_proxy_makes_cookies_secure_and_sends_hsts(
        self, behind_proxy: Harness, headers: dict[str, str]
    ) -> None:
        """A trusted proxy saying the client came over HTTPS: the session cookie is Secure,
        and answers carry Strict-Transport-Security."""
        form, session, hsts = await login_cookies(behind_proxy, headers)
        assert "Secure" in form
        assert "Secure" in session
        assert hsts == "max-age=31536000"

    async def test_plain_http_at_the_proxy_stays_plain(self, behind_proxy: Harness) -> None:
        form, session, hsts = await login_cookies(behind_proxy, {"X-Forwarded-Proto": "http"})
        assert "Secure" not in form
        assert "Secure" not in session
        assert not hsts

    async def test_a_problem_answer_over_https_carries_hsts(self, behind_proxy: Harness) -> None:
        async with behind_proxy.http.get(behind_proxy.url + "/v1/review/entries",
                                         headers={"X-Forwarded-Proto": "https"}) as resp:
            assert resp.status == 401
            assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"


class TestUntrustedPeer:
    async def test_forwarded_headers_from_anyone_else_are_ignored(self, untrusted: Harness,
                                                                  ) -> None:
        """A peer not in trusted_proxies cannot claim HTTPS: no Secure, no HSTS."""
        for headers in ({"X-Forwarded-Proto": "https"},
                        {"Forwarded": "for=10.1.1.1;proto=https"}):
            async with untrusted.http.get(untrusted.url + "/review/login",
                                          headers=headers) as resp:
                assert "Secure" not in resp.headers["Set-Cookie"]
                assert "Strict-Transport-Security" not in resp.headers


@pytest.fixture
async def echo() -> AsyncIterator[str]:
    """A real server behind the gateway's client middleware (trusting 127.0.0.1 and
    10.0.0.0/8) whose one route answers what ``client_address`` and ``request.secure`` say."""

    @public
    async def who(request: web.Request) -> web.Response:
        return web.json_response({"address": client_address(request),
                                  "remote": request.remote, "secure": request.secure})

    proxies = TrustedProxies((ipaddress.ip_network("127.0.0.1/32"),
                              ipaddress.ip_network("10.0.0.0/8")))
    app = web.Application(middlewares=[middleware(proxies)])
    app.router.add_get("/who", who)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/who"
    await runner.cleanup()


class TestClientAddress:
    @pytest.mark.parametrize(("headers", "address", "secure"), [
        ({}, "127.0.0.1", False),
        ({"X-Forwarded-For": "198.51.100.9"}, "198.51.100.9", False),
        ({"X-Forwarded-For": "198.51.100.9, 10.0.0.2", "X-Forwarded-Proto": "https"},
         "198.51.100.9", True),
        # a client's own claim left of the address the proxy wrote is not believed
        ({"X-Forwarded-For": "10.9.9.9, 198.51.100.9"}, "198.51.100.9", False),
        ({"X-Forwarded-For": "unknown"}, "127.0.0.1", False),
        ({"Forwarded": "for=192.0.2.60;proto=https, for=10.0.0.3"}, "192.0.2.60", True),
        ({"Forwarded": 'for="[2001:db8:cafe::17]:4711"'}, "2001:db8:cafe::17", False),
    ])
    async def test_the_client_is_the_first_hop_that_is_not_a_trusted_proxy(
        self, echo: str, headers: dict[str, str], address: str, secure: bool,  # noqa: FBT001 - a parametrized value
    ) -> None:
        async with aiohttp.ClientSession() as http, http.get(echo, headers=headers) as resp:
            doc = await resp.json()
        assert doc == {"address": address, "remote": address, "secure": secure}


class TestTrustedProxiesUnit:
    def test_an_untrusted_peer_is_the_client_whatever_it_forwards(self) -> None:
        proxies = TrustedProxies((ipaddress.ip_network("10.0.0.0/8"),))
        client = proxies.client(peer="192.0.2.1", https=False,
                                forwarded=[Hop(address="198.51.100.1", proto="https")])
        assert (client.address, client.https) == ("192.0.2.1", False)

    def test_a_chain_of_trusted_proxies_is_walked_to_the_client(self) -> None:
        proxies = TrustedProxies((ipaddress.ip_network("10.0.0.0/8"),))
        client = proxies.client(peer="10.0.0.1", https=False, forwarded=[
            Hop(address="198.51.100.1", proto="https"), Hop(address="10.0.0.2", proto="http")])
        assert (client.address, client.https) == ("198.51.100.1", True)
