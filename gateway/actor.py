"""Who made a recorded step, and through which door.

Every step the record vouches for (authority steps, erasures, holds, staff changes) names its
actor in the entry's data: ``by`` (the staff account, or None when no person decided it, as
for a scheduled erasure run), ``channel`` (``api``, ``page``, ``cli`` or ``schedule``) and, on
the CLI, ``os_user``, the login that ran the command. A CLI step is made ``--as`` a staff
account without a password, so the OS login is what says who really acted.
"""

from __future__ import annotations

import getpass
from typing import Any, Literal

import attrs

Channel = Literal["api", "page", "cli", "schedule"]


@attrs.frozen
class Actor:
    username: str | None
    channel: Channel
    os_user: str | None = None

    @classmethod
    def on_cli(cls, username: str | None) -> Actor:
        """A step run from the command line by this process's OS login."""
        return cls(username=username, channel="cli", os_user=getpass.getuser())

    def to_json(self) -> dict[str, Any]:
        """The fields every recorded step carries."""
        return {"by": self.username, "channel": self.channel, "os_user": self.os_user}

    def same_login_other_name(self, data: dict[str, Any]) -> bool:
        """Whether the step recorded in ``data`` was made on the CLI from this actor's OS login
        under another staff name: one person acting as two."""
        return (self.channel == "cli" and data.get("channel") == "cli"
                and data.get("os_user") == self.os_user
                and data.get("by") not in (None, self.username))


#: The gateway's own periodic erasure run: nobody decided it at that moment.
SCHEDULE = Actor(username=None, channel="schedule")
