"""What the access middleware puts on a request for the handlers after it: the staff member
the request acts for, and the session token it came with."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from gateway.staff.accounts import Member

MEMBER: Final = web.RequestKey("member", Member)
SESSION_TOKEN: Final = web.RequestKey("session_token", str)
