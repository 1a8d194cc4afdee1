"""One exception tree for the gateway, translated to RFC 9457 problem+json at the HTTP edge.

Messages never carry personal data: they name fields, codes and references, never values.
"""

from __future__ import annotations

from typing import Any

#: Where the problem types are named (RFC 9457 ``type``): this base and the error's slug.
TYPE_BASE = "https://disclosure-gateway.invalid/problems/"


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    status: int = 500
    title: str = "Internal error"
    type_slug: str = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def members(self) -> dict[str, str]:
        """Extension members of the problem (RFC 9457 section 3.2); never personal values."""
        return {}


class ConfigError(GatewayError):
    """config.toml, or a secret it names, is missing or wrong."""

    title = "Configuration error"
    type_slug = "config"


class ListenError(GatewayError):
    """``gateway serve`` cannot listen on the configured address (in use, not permitted)."""

    title = "Cannot listen"
    type_slug = "listen"


class BadRequest(GatewayError):
    """The request cannot be understood (not JSON, missing or malformed fields)."""

    status = 400
    title = "Bad request"
    type_slug = "bad-request"


class Unprocessable(BadRequest):
    """A readable request with a missing or invalid field; the problem names the field."""

    status = 422
    title = "Invalid field"
    type_slug = "invalid-field"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail)
        self.field = field

    def members(self) -> dict[str, str]:
        return {"field": self.field}


class Unauthorized(GatewayError):
    """Authentication failed. One message whatever the cause; detail goes to the log only."""

    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Forbidden(GatewayError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class NotFound(GatewayError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(GatewayError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class TooManyRequests(GatewayError):
    """Refused for now; ``retry_after`` seconds until it may be tried again."""

    status = 429
    title = "Too many requests"
    type_slug = "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class AlreadyDisclosed(Conflict):
    """An authority request's package is produced once; the problem names its SHA-256."""

    title = "Package already produced"
    type_slug = "already-disclosed"

    def __init__(self, detail: str, *, package_sha256: str) -> None:
        super().__init__(detail)
        self.package_sha256 = package_sha256

    def members(self) -> dict[str, str]:
        return {"package_sha256": self.package_sha256}


class BeingProduced(Conflict):
    """An authority request's package is being produced by another caller; its hash is not
    known yet."""

    title = "Package being produced"
    type_slug = "being-produced"


class PolicyError(GatewayError):
    """The policy refuses the disclosure (unknown recipient or service, missing required data)."""

    status = 422
    title = "Disclosure refused by policy"
    type_slug = "policy-refused"


class RecordError(GatewayError):
    """The disclosure record cannot be written or read. Nothing leaves without a durable intent."""

    status = 503
    title = "Disclosure record unavailable"
    type_slug = "record-unavailable"


class RecordCorrupt(GatewayError):
    """The record failed verification."""

    title = "Disclosure record failed verification"
    type_slug = "record-corrupt"


class CarrierError(GatewayError):
    """A carrier call failed. Subclasses say whether the shipment may have been booked."""

    status = 502
    title = "Carrier error"
    type_slug = "carrier-error"


class CarrierRejected(CarrierError):
    """The carrier answered and refused: nothing was booked."""

    title = "Carrier refused the shipment"
    type_slug = "carrier-rejected"


class CarrierUnavailable(CarrierError):
    """The carrier could not be reached, or answered 5xx before booking: nothing was booked."""

    status = 503
    title = "Carrier unavailable"
    type_slug = "carrier-unavailable"


class CarrierOutcomeUnknown(CarrierError):
    """The request may have reached the carrier but no answer came back (timeout, reset)."""

    status = 504
    title = "Carrier outcome unknown"
    type_slug = "carrier-outcome-unknown"


class CarrierUnreachable(CarrierUnavailable):
    """The connection to the carrier could not be made: the request never left, so a retry
    cannot book twice."""

    title = "Carrier unreachable"
    type_slug = "carrier-unreachable"


class CarrierHeldBack(CarrierUnavailable):
    """The gateway did not call the carrier: its circuit breaker is open, or too many calls to
    it are in flight. Nothing was sent."""

    title = "Carrier calls held back"
    type_slug = "carrier-held-back"


class HookTaken(Conflict):
    """Another attempt holds this hook id (another instance is answering it, or answered it)."""

    title = "Hook already being answered"
    type_slug = "hook-taken"

    def __init__(self, detail: str = "another attempt of this hook is being answered or was "
                                     "answered; retry it later for its answer") -> None:
        super().__init__(detail)


class KeyTaken(RecordError):
    """Another writer stored a different first key for the customer meanwhile; nothing sealed
    under the lost key is kept, and a retry uses the stored key."""

    title = "Customer key created concurrently"
    type_slug = "key-taken"

    def __init__(self, detail: str = "the customer's key was created concurrently by another "
                                     "writer; nothing was sent, retry") -> None:
        super().__init__(detail)


class PolicyRecorded(RecordError):
    """Another gateway recorded a policy version meanwhile; read it before recording one."""

    title = "Policy version recorded concurrently"
    type_slug = "policy-recorded"

    def __init__(self, detail: str = "another gateway recorded a policy version meanwhile"
                 ) -> None:
        super().__init__(detail)


class SideOpRefused(RecordError):
    """A store refused one draft's side operation and kept nothing of the batch; the writer
    fails that draft with ``error`` and commits the others again."""

    def __init__(self, index: int, error: GatewayError) -> None:
        super().__init__(error.detail)
        self.index = index
        self.error = error


class OperationUnsupported(GatewayError):
    """The carrier's API offers no such operation (a cancellation, a return label): nothing was
    sent, and nothing will be until the carrier offers it."""

    status = 501
    title = "The carrier offers no such operation"
    type_slug = "carrier-operation-unsupported"


class BadParameter(BadRequest):
    """A query parameter that is unknown, repeated or malformed; the problem names the
    parameter, never its value."""

    type_slug = "bad-parameter"

    def __init__(self, detail: str, *, parameter: str) -> None:
        super().__init__(detail)
        self.parameter = parameter

    def members(self) -> dict[str, str]:
        return {"parameter": self.parameter}


def problem_body(exc: GatewayError, **extra: Any) -> dict[str, Any]:  # noqa: ANN401
    """The RFC 9457 problem document of ``exc`` (the HTTP edge serves it; recorded answers keep
    it for a hook's retries)."""
    return {"type": TYPE_BASE + exc.type_slug, "title": exc.title, "status": exc.status,
            "detail": exc.detail, **exc.members(), **extra}
