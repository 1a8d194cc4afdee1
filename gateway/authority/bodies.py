"""The JSON bodies of an authority request's steps over the API (reject, object, extend,
resolve an objection, record how the customer is told) as typed wire structures: the one
source of the API's decoding and of their OpenAPI request schemas.

A body is decoded into its structure, so a wrong type is refused naming its JSON path, never
its value (``gateway.wire``); what a schema cannot say (text not blank once trimmed, no
control character, a channel that is configured, a day not past) stays with the step
(``gateway.authority.steps``), which the pages and the CLI reach with the same values.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeVar, get_args

import msgspec
from msgspec import Meta, Struct

from gateway.authority.steps import RESOLUTIONS, TELLING
from gateway.errors import BadRequest
from gateway.wire import field_problem

__all__ = ["STEP_BODIES", "Extension", "Notification", "Reason", "Resolution", "step_body"]

_S = TypeVar("_S", bound=Struct)
_WHOLE: Final = "send a JSON object"

Outcome = Literal["withdrawn", "upheld", "overruled"]
Telling = Literal["notified", "deferred", "prohibited"]
if get_args(Outcome) != RESOLUTIONS or get_args(Telling) != TELLING:
    raise RuntimeError("the step bodies' values must be RESOLUTIONS and TELLING")

_PLAIN = "Trimmed; no control or format character but line breaks."
Text = Annotated[str, Meta(min_length=5, max_length=1000, description=_PLAIN)]
Day = Annotated[str, Meta(pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$",
                          description="YYYY-MM-DD")]


class Reason(Struct, kw_only=True):
    """Reject or object to a request, with the reason."""

    reason: Text


class Extension(Struct, kw_only=True):
    """A later deadline with the reason; a running preservation takes the reason alone (its
    one extension)."""

    reason: Text
    deadline: Annotated[str, Meta(
        max_length=40,
        description="YYYY-MM-DD after the current deadline; for an emergency also a time "
                    "(YYYY-MM-DDTHH:MM, UTC or with an offset)")] | None = None


class Resolution(Struct, kw_only=True):
    """How an objection ended: withdrawn by the authority, upheld (the request falls) or
    overruled (it stands)."""

    resolution: Outcome
    note: Text


class Notification(Struct, kw_only=True):
    """Telling the customer: ``notified`` (``means``, one of the configured channels, and
    ``on``, today if empty), ``deferred`` (``until`` a day after today, and ``reason``) or
    ``prohibited`` (``prohibited_by``, ``basis``)."""

    status: Telling
    means: Annotated[str, Meta(max_length=100)] | None = None
    on: Day | None = None
    until: Day | None = None
    reason: Text | None = None
    prohibited_by: Annotated[str, Meta(min_length=2, max_length=500,
                                       description=_PLAIN)] | None = None
    basis: Annotated[str, Meta(min_length=5, max_length=500, description=_PLAIN)] | None = None


STEP_BODIES: Final = (Reason, Extension, Resolution, Notification)

#: The rule as the step states it, for an error at one of the body's members itself.
_MESSAGES: Final = {
    **{f"$.{key}": f"{key} is required ({low} to {high} characters)" for key, low, high in (
        ("reason", 5, 1000), ("note", 5, 1000), ("prohibited_by", 2, 500),
        ("basis", 5, 500))},
    "$.resolution": f"resolution must be one of {', '.join(RESOLUTIONS)}",
    "$.status": f"status must be one of {', '.join(TELLING)}",
    **{f"$.{key}": f"{key} must be a date (YYYY-MM-DD)" for key in ("on", "until")},
    "$.deadline": "deadline must be a date or, for an emergency, a time (YYYY-MM-DDTHH:MM)",
}


def step_body(raw: bytes, kind: type[_S]) -> dict[str, Any]:
    """A step's body decoded into ``kind`` (an empty body is an empty object), as the
    members given: 400 unless it is a JSON object, 422 naming the member (and the path) that
    does not fit."""
    try:
        body = msgspec.json.decode(raw or b"{}", type=kind)
    except msgspec.ValidationError as exc:
        raise field_problem(exc, whole=_WHOLE, messages=_MESSAGES) from None
    except msgspec.DecodeError:
        raise BadRequest("the body is not JSON") from None
    return {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
