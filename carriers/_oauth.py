"""OAuth 2.0 client-credentials tokens for carrier adapters (RFC 6749 section 4.4).

Posti documents its APIs' authentication this way (api.posti.fi, "Authentication API"):
``POST <token_url>?grant_type=client_credentials`` with ``Authorization: Basic
base64(client_id:client_secret)`` and ``Accept: application/json``, answered
``{"token_type": "bearer", "access_token": "...", "expires_in": 3599}``.

Why a provider and not a request per booking: a token lives for an hour, and a burst of
bookings must not become a burst of token requests. One token is cached and shared; it is
replaced a little before ``expires_in`` runs out (by the injected clock), and only one
request for a new one is ever in flight (an asyncio.Lock: the others wait for its answer).
When the carrier refuses a token anyway (revoked, or its clock disagrees with ours), the
adapter calls ``invalidate(token)`` with the token it was refused; only that token is
dropped, so fifty bookings refused at once still cause one new token request.

The client secret and the tokens are secrets: no log line, exception message or repr holds
them. Failures map onto the CarrierError family: not connected -> CarrierUnreachable, no
answer or an answer that is no token -> CarrierUnavailable (a token request books nothing),
401/403 -> CarrierRejected (the client credentials are wrong; retrying cannot help).
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import TYPE_CHECKING

import attrs

from carriers._core import exchange, refused
from gateway.errors import CarrierUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    import aiohttp

#: Statuses from the token endpoint that mean "these client credentials are not accepted".
_REFUSED = frozenset({401, 403})
#: How long before expiry a token is replaced at most (seconds), and as a share of its life:
#: a request sent with a token about to expire must not arrive with an expired one.
REFRESH_MARGIN = 60.0
REFRESH_SHARE = 0.1


@attrs.frozen(repr=False)
class Token:
    """An access token and the clock reading after which it is no longer used."""

    value: str
    refresh_at: float

    def __repr__(self) -> str:
        return f"Token(<secret>, refresh_at={self.refresh_at})"


@attrs.frozen(repr=False)
class ClientCredentials:
    """The OAuth client's identity; the secret never shows in a repr."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return "ClientCredentials(<secret>)"

    def basic(self) -> str:
        pair = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


class TokenProvider:
    """One client's current access token, fetched when needed and shared by every request."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        token_url: str,
        credentials: ClientCredentials,
        carrier: str,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._token_url = token_url
        self._credentials = credentials
        self._carrier = carrier
        self._timeout = timeout
        self._clock = clock
        self._lock = asyncio.Lock()
        self._current: Token | None = None
        #: How many token requests were answered with a token (for metrics and tests).
        self.fetched = 0

    def __repr__(self) -> str:
        return f"TokenProvider({self._carrier}, fetched={self.fetched})"

    async def token(self) -> str:
        """A token valid for a while yet; fetches one (once, under the lock) when needed."""
        current = self._current
        if current is not None and self._clock() < current.refresh_at:
            return current.value
        async with self._lock:
            # Another request may have fetched one while this one waited for the lock.
            current = self._current
            if current is not None and self._clock() < current.refresh_at:
                return current.value
            self._current = await self._fetch()
            return self._current.value

    def invalidate(self, token: str) -> None:
        """Forget ``token`` because the carrier refused it; a newer token is kept."""
        if self._current is not None and self._current.value == token:
            self._current = None

    async def _fetch(self) -> Token:
        # The token's life counts from before the request left: its answer may come late.
        asked = self._clock()
        reply = await exchange(
            self._session,
            "POST",
            self._token_url,
            carrier=self._carrier,
            timeout=self._timeout,
            may_book=False,
            params={"grant_type": "client_credentials"},
            headers={"Authorization": self._credentials.basic(), "Accept": "application/json"},
        )
        if reply.status in _REFUSED:
            raise refused(
                self._carrier,
                reply.status,
                [],
                what="the client credentials",
                after="no token; nothing was booked",
            )
        answer = reply.json()
        if reply.status >= 300 or not isinstance(answer, dict):  # noqa: PLR2004
            raise CarrierUnavailable(
                f"{self._carrier}: token request answered HTTP {reply.status} without a token; "
                "nothing was booked"
            )
        value, lifetime = answer.get("access_token"), answer.get("expires_in")
        kind = str(answer.get("token_type", "bearer")).lower()
        if (
            not isinstance(value, str)
            or not value
            or kind != "bearer"
            or isinstance(lifetime, bool)
            or not isinstance(lifetime, int | float)
            or lifetime <= 0
        ):
            raise CarrierUnavailable(
                f"{self._carrier}: token answer malformed (HTTP {reply.status}); nothing was booked"
            )
        self.fetched += 1
        margin = min(REFRESH_MARGIN, lifetime * REFRESH_SHARE)
        return Token(value=value, refresh_at=asked + lifetime - margin)
