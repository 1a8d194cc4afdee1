"""The OpenAPI document is true: every route is in it, and the gateway answers as it says
(schemathesis, with the hook's cases signed as the pipeline signs them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from gateway.http.app import create_app
from gateway.http.openapi.document import document
from gateway.operations.signature import sign_headers
from tests.conftest import load_config
from tests.e2e.conftest import LiveGateway

SCHEMA = schemathesis.openapi.from_dict(document())
OPERATIONS = [(path, method.upper()) for path, methods in document()["paths"].items()
              for method in methods]


class TestDocument:
    def test_every_route_is_documented(self, tmp_path: Path, carrier_env: None) -> None:
        """Each method and path the application serves appears in the document."""
        app = create_app(load_config(tmp_path, {}))
        served = {(r.resource.canonical, r.method) for r in app.router.routes()
                  if r.method != "HEAD" and r.resource is not None}
        missing = served - set(OPERATIONS)
        assert not missing, (
            f"document these routes in gateway/http/openapi/document.py: {sorted(missing)}")

    async def test_the_gateway_serves_it(self, gateway: Any) -> None:  # noqa: ANN401
        """GET /openapi.json answers the document."""
        async with gateway.http.get(gateway.url + "/openapi.json") as resp:
            assert resp.status == 200
            assert (await resp.json())["openapi"] == "3.1.0"


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_answers_as_documented(live: LiveGateway, path: str, method: str) -> None:
    """Generated requests for each operation never get a 5xx (but 503 from /readyz, which it
    documents), and every answer matches the document; an order is booked only from a valid
    signed event."""
    operation = SCHEMA[path][method]
    assert live.harness is not None
    harness = live.harness

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:  # noqa: ANN401
        kwargs = case.as_transport_kwargs(base_url=harness.url)
        headers = dict(kwargs["headers"])
        body = None
        if "json" in kwargs:
            body = json.dumps(kwargs["json"]).encode()
            if path == "/v1/hooks/orders":
                headers.update(sign_headers(harness.secret, headers.get("webhook-id") or "msg_x",
                                            body))
        response = requests.request(kwargs["method"], kwargs["url"], headers=headers,
                                    data=body, params=kwargs.get("params"), timeout=10)
        assert response.status_code < 500 or (path == "/readyz" and response.status_code == 503)
        # A schema-valid order may still be refused by the disclosure policy (422): that is the
        # policy's job, not a deviation from the document.
        case.validate_response(response, excluded_checks=[positive_data_acceptance])

    run()
