"""The authority intake, its steps' bodies and the login decode into the same msgspec
structures that write their OpenAPI schemas: a wrong type anywhere is refused naming its JSON
path, never its value, and the document's request schemas are the generated ones."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest

from gateway.authority.bodies import STEP_BODIES, Notification, Reason, step_body
from gateway.authority.intake import AuthorityIntake, Intake
from gateway.errors import BadRequest, Unprocessable
from gateway.events import schemas
from gateway.http.openapi.document import document
from gateway.http.sessions import Login
from tests.authority.test_workflow import FORM
from tests.conftest import AUTHORITIES

#: A value no message may carry.
SECRET = "Matti Meikäläinen 040-1234567"

#: Each JSON body of the review and authority APIs, and the structure it decodes into.
BODIES: list[tuple[str, type[msgspec.Struct]]] = [
    ("/v1/session", Login),
    ("/v1/authority/requests", AuthorityIntake),
    ("/v1/authority/requests/{id}/reject", Reason),
    ("/v1/authority/requests/{id}/object", Reason),
    *[(f"/v1/authority/requests/{{id}}/{step}", struct) for step, struct in
      zip(("extend", "resolve-objection", "notify"), STEP_BODIES[1:], strict=True)],
]


def refusal(change: dict[str, Any], *, as_bytes: bool) -> Unprocessable:
    doc = {**FORM, **change}
    with pytest.raises(Unprocessable) as caught:
        Intake.from_json(orjson.dumps(doc) if as_bytes else doc, settings=AUTHORITIES)
    assert SECRET not in str(caught.value.detail)
    return caught.value


class TestIntakePaths:
    @pytest.mark.parametrize("as_bytes", [True, False])
    @pytest.mark.parametrize(("change", "field", "path"), [
        ({"customers": ["J-1", {"name": SECRET}]}, "customers", "$.customers[1]"),
        ({"orders": ["J-1", "J-2", [SECRET]]}, "orders", "$.orders[2]"),
        ({"categories": ["name", SECRET]}, "categories", "$.categories[1]"),
        ({"customers": ["J-1", "x" * 201]}, "customers", "$.customers[1]"),
    ])
    def test_a_wrong_member_of_a_list_is_named_by_its_path(
        self, change: dict[str, Any], field: str, path: str, *, as_bytes: bool,
    ) -> None:
        """Whether the API's bytes or the form's object, a wrong entry deep in the body is
        refused naming the field and the entry's JSON path, never the value."""
        problem = refusal(change, as_bytes=as_bytes)
        assert (problem.status, problem.field) == (422, field)
        assert problem.detail.startswith(f"{path} ")

    def test_a_blank_id_is_named_by_its_path(self) -> None:
        problem = refusal({"customers": ["J-1", "   "]}, as_bytes=True)
        assert (problem.field, problem.detail.split()[0]) == ("customers", "$.customers[1]")

    @pytest.mark.parametrize(("change", "message"), [
        ({"legal_basis": 5}, "legal_basis is required (text of 5 to 500 characters)"),
        ({"kind": SECRET}, "kind must be one of production, preservation, emergency"),
        ({"deadline": {"day": SECRET}}, "deadline must be a date (YYYY-MM-DD)"),
    ])
    def test_a_wrong_member_keeps_the_rule_staff_read(
        self, change: dict[str, Any], message: str,
    ) -> None:
        """A member of the wrong type is told with the same rule as a wrong value of it."""
        assert refusal(change, as_bytes=True).detail == message

    @pytest.mark.parametrize("body", [b"[1, 2]", b"\"text\"", b"{nope", b"null"])
    def test_a_body_that_is_not_an_object_is_a_bad_request(self, body: bytes) -> None:
        with pytest.raises(BadRequest) as caught:
            Intake.from_json(body, settings=AUTHORITIES)
        assert (caught.value.status, caught.value.detail) == (
            400, "send the request as a JSON object")

    def test_bytes_and_object_give_the_same_intake(self) -> None:
        assert Intake.from_json(orjson.dumps(FORM), settings=AUTHORITIES) == Intake.from_json(
            FORM, settings=AUTHORITIES)


class TestStepBodies:
    def test_a_wrong_type_names_the_field_and_the_rule(self) -> None:
        with pytest.raises(Unprocessable) as caught:
            step_body(orjson.dumps({"reason": [SECRET]}), Reason)
        assert (caught.value.field, caught.value.detail) == (
            "reason", "reason is required (5 to 1000 characters)")

    def test_an_unlisted_member_is_named_by_its_path(self) -> None:
        with pytest.raises(Unprocessable) as caught:
            step_body(orjson.dumps({"status": "prohibited", "means": [SECRET]}), Notification)
        assert caught.value.field == "means"
        assert caught.value.detail == "$.means must be a string"

    def test_an_empty_body_is_an_empty_object_and_members_not_given_stay_out(self) -> None:
        with pytest.raises(Unprocessable) as caught:
            step_body(b"", Reason)
        assert (caught.value.field, caught.value.detail) == (
            "reason", "reason is required (5 to 1000 characters)")
        assert step_body(b'{"status": "notified", "means": "e-mail"}', Notification) == {
            "status": "notified", "means": "e-mail"}


class TestOneSource:
    @pytest.mark.parametrize(("path", "struct"), BODIES)
    def test_the_documented_request_schema_is_the_generated_one(
        self, path: str, struct: type[msgspec.Struct],
    ) -> None:
        """The document's request body for each JSON operation is the structure the API
        decodes it into, and the component is the schema msgspec writes for it."""
        doc = document()
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        ref = body["schema"]["$ref"]
        assert ref == f"#/components/schemas/{struct.__name__}"
        assert doc["components"]["schemas"][struct.__name__] == schemas(struct)[
            struct.__name__]
