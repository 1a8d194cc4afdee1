"""Values for the record's read side: what a review search asks for, and the rows the staff,
checkpoint and statistics methods of a store answer with.

Every store (SQLite, PostgreSQL) takes and returns these, so the review code does not care which
one it runs on.
"""

from __future__ import annotations

from typing import Final

import attrs

MAX_LIMIT: Final = 500


@attrs.frozen
class Search:
    """A review search: every filter given must hold. ``since`` is inclusive and ``until``
    exclusive, both in the record's time format (``2026-11-22T10:00:00.000Z``). ``cursor`` is the
    position a previous page ended at (keyset pagination on ``seq``)."""

    subject: str | None = None
    order: str | None = None
    recipient: str | None = None
    kind: str | None = None
    since: str | None = None
    until: str | None = None
    cursor: int | None = None
    limit: int = 50
    newest_first: bool = True

    @property
    def order_by(self) -> str:
        return "seq DESC" if self.newest_first else "seq ASC"


@attrs.frozen(repr=False)
class StaffRow:
    """A staff account as stored: ``password`` is the KDF string, never a password."""

    username: str
    password: str
    roles: tuple[str, ...]
    disabled: bool
    created: str

    def __repr__(self) -> str:
        return f"StaffRow({self.username!r}, roles={self.roles!r}, disabled={self.disabled})"


@attrs.frozen
class CheckpointRow:
    """The latest stored checkpoint: its tree size, when it was signed, and the signed note."""

    size: int
    time: str
    note: str


@attrs.frozen
class CosignedRow:
    """A stored checkpoint and the witnesses' cosignature lines kept for it (each ends in a
    newline; append them to the note to get the cosigned checkpoint)."""

    size: int
    note: str
    lines: str


@attrs.frozen
class CountRow:
    """Disclosures counted for the transparency report, grouped by these columns.

    ``kind`` is an outcome or an authority disclosure; ``month`` is ``YYYY-MM``; ``result`` the
    carrier outcome, or an authority disclosure's status (held, erased, not held);
    ``legal_basis`` and ``request`` are an authority disclosure's (None for carriers);
    ``fields`` the fields the disclosures carried (names, never values), so the report can
    count per data category."""

    kind: str
    recipient: str
    month: str
    result: str | None
    legal_basis: str | None
    request: str | None
    count: int
    fields: tuple[str, ...] = ()
