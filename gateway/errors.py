"""One exception tree for the gateway, translated to RFC 9457 problem+json at the HTTP edge.

Messages never carry personal data: they name fields, codes and references, never values.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    status: int = 500
    title: str = "Internal error"
    type_slug: str = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigError(GatewayError):
    """config.toml, or a secret it names, is missing or wrong."""

    title = "Configuration error"
    type_slug = "config"


class BadRequest(GatewayError):
    """The request cannot be understood (not JSON, missing or malformed fields)."""

    status = 400
    title = "Bad request"
    type_slug = "bad-request"


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


class OperationUnsupported(GatewayError):
    """The carrier's API offers no such operation (a cancellation, a return label): nothing was
    sent, and nothing will be until the carrier offers it."""

    status = 501
    title = "The carrier offers no such operation"
    type_slug = "carrier-operation-unsupported"
