"""The served OpenAPI document and the hook's parser share one source: the wire structs of
gateway.events. What the document allows, the parser takes (but for the rules a schema cannot
state, which the document names); a field the structs lose leaves the document too."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import msgspec.inspect
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from gateway.errors import BadRequest
from gateway.events import HOOK_EVENTS, OrderData, schemas
from gateway.http.openapi.document import document
from gateway.models import Order
from gateway.payload import CancelRequest, parse_event

#: What the parser refuses beyond the schema, each named in the schema's descriptions.
#: (JSON Schema's integer takes 2.0; the parser wants a whole number written as one.)
AFTER_SCHEMA = re.compile(r"printable text|is required$|is named twice|in one currency|"
                          r"must be a whole number$")
HOOK = schemathesis.openapi.from_dict(document())["/v1/hooks/orders"]["POST"]


def struct_fields(struct: type[msgspec.Struct]) -> set[str]:
    return {f.encode_name for f in msgspec.structs.fields(struct)}


class TestOneSource:
    def test_the_document_holds_the_generated_schemas(self) -> None:
        """Every schema of the hook events in the served document is the one msgspec
        generates from the parser's structs, byte for byte."""
        served = document()["components"]["schemas"]
        for name, schema in schemas(*HOOK_EVENTS).items():
            assert served[name] == schema, name

    @pytest.mark.parametrize("event", HOOK_EVENTS, ids=lambda e: e.__name__)
    def test_every_struct_field_is_documented(self, event: type[msgspec.Struct]) -> None:
        """Each event's and its data's fields are the properties the document lists."""
        served = document()["components"]["schemas"]
        tag = msgspec.inspect.type_info(event).tag_field  # type: ignore[attr-defined]
        assert set(served[event.__name__]["properties"]) == struct_fields(event) | {tag}
        data = msgspec.structs.fields(event)[0].type
        assert set(served[data.__name__]["properties"]) == struct_fields(data)

    def test_add_ons_and_line_items_are_documented(self) -> None:
        """The parts the hand-kept document had missed are in it now."""
        data = document()["components"]["schemas"]["OrderData"]["properties"]
        assert {"addons", "items"} <= set(data)
        assert "LineItem" in document()["components"]["schemas"]

    def test_a_field_dropped_from_the_struct_leaves_the_document(self) -> None:
        """The schema follows the struct: a copy of the order data without ``items`` is
        documented without it."""
        fields = [(f.name, f.type, f.default) if f.default is not msgspec.NODEFAULT
                  else (f.name, f.type) for f in msgspec.structs.fields(OrderData)
                  if f.name != "items"]
        smaller = msgspec.defstruct("OrderData", fields, kw_only=True)
        assert "items" not in schemas(smaller)["OrderData"]["properties"]
        assert "items" in schemas(OrderData)["OrderData"]["properties"]


class TestWhatTheDocumentAllows:
    @settings(max_examples=100, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])
    @given(case=HOOK.as_strategy())
    def test_a_body_the_document_allows_parses(self, case: Any) -> None:  # noqa: ANN401
        """A body generated from the served document parses into an order or a cancellation,
        unless it breaks one of the rules the document states in words (printable, not blank
        text; an add-on named once; one currency)."""
        body = json.dumps(case.body).encode()
        try:
            parsed = parse_event(body)
        except BadRequest as exc:
            assert AFTER_SCHEMA.search(exc.detail), exc.detail  # noqa: PT017 - parsed or refused, both checked
        else:
            assert isinstance(parsed, Order | CancelRequest)
