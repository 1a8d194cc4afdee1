"""The JSON bodies over HTTP: a wrong type deep in a body is refused naming its JSON path and
never echoing the value, and the document the gateway serves describes each body with the
schema generated from the structure it is decoded into."""

from __future__ import annotations

import orjson

from gateway.authority.bodies import Reason
from gateway.authority.intake import AuthorityIntake
from gateway.events import schemas
from gateway.http.sessions import Login
from tests.authority.conftest import Clock, form, record_entries
from tests.authority.test_http import BASE, json_call, staff  # noqa: F401 - fixture
from tests.conftest import Harness
from tests.review.conftest import call

SECRET = "Matti Meikäläinen"


async def test_a_wrong_entry_in_a_list_is_named_by_its_path(
    gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock,
) -> None:
    """customers[1] an object: 422 on customers, the detail naming $.customers[1], the value
    not echoed, nothing recorded."""
    before = len(record_entries(gateway.config.record.path))
    status, problem = await json_call(gateway, "POST", BASE, staff["olli"],
                                      form(clock, customers=["J-1", {"name": SECRET}]))
    assert (status, problem["field"]) == (422, "customers")
    assert problem["detail"] == "$.customers[1] must be an id: text of 1 to 200 characters"
    assert SECRET not in orjson.dumps(problem).decode()
    assert len(record_entries(gateway.config.record.path)) == before


async def test_a_login_member_of_the_wrong_type_is_named_by_its_path(
    gateway: Harness,
) -> None:
    status, text, _ = await call(gateway, "POST", "/v1/session", data=orjson.dumps(
        {"username": "olli", "password": [SECRET]}),
        headers={"Content-Type": "application/json"})
    assert status == 400
    assert orjson.loads(text)["detail"] == "$.password must be a string"
    assert SECRET.encode() not in text


async def test_the_served_request_schemas_are_the_generated_ones(gateway: Harness) -> None:
    """GET /openapi.json: the intake, the rejection and the login bodies are the schemas
    msgspec writes for the structures the API decodes them into."""
    status, text, _ = await call(gateway, "GET", "/openapi.json")
    assert status == 200
    served = orjson.loads(text)
    for path, struct in (("/v1/session", Login), (BASE, AuthorityIntake),
                         (f"{BASE}/{{id}}/reject", Reason)):
        body = served["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{struct.__name__}"}
        assert served["components"]["schemas"][struct.__name__] == schemas(struct)[
            struct.__name__]
