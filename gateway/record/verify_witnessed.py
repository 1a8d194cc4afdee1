"""The last step of a verify given witness keys: the newest stored checkpoint must carry
cosignatures (c2sp.org/tlog-cosignature) that meet the witness quorum. A record rewritten and
re-signed with the operator's own key fails here: its new checkpoints carry no valid
cosignature, and a witness that saw the old tree refuses to cosign them.

The check itself (which keys, which quorum) is the caller's ``Check``; this module only reads
the cosignature lines each store keeps for that checkpoint."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    import asyncpg

    from gateway.record.verify_range import Report

__all__ = ["Check", "witnessed", "witnessed_postgres", "witnessed_sqlite"]

#: (the checkpoint's signed note, the cosignature lines kept for it) -> what is missing, or None.
Check = Callable[[str, str], str | None]


def witnessed(report: Report, newest: tuple[int, str] | None, lines: str,
              check: Check) -> Report:
    """``report``, failed if the ``newest`` checkpoint's cosignature ``lines`` miss the quorum."""
    if not report.ok:
        return report
    if newest is None:
        return attrs.evolve(report, ok=False, problem="the record holds no checkpoint for "
                                                      "witnesses to have cosigned")
    problem = check(newest[1], lines)
    if problem is None:
        return report
    return attrs.evolve(report, ok=False, first_bad=None,
                        problem=f"the newest checkpoint (size {newest[0]}) is not witnessed: "
                                f"{problem}")


def witnessed_sqlite(report: Report, db: sqlite3.Connection,
                     notes: Sequence[tuple[int, str]], check: Check) -> Report:
    newest = notes[-1] if notes else None
    lines = ""
    if newest is not None:
        try:
            lines = "".join(_text(r[0]) for r in db.execute(
                "SELECT line FROM cosignatures WHERE size = ?", (newest[0],)))
        except sqlite3.OperationalError:  # a record from before witnesses: none kept
            lines = ""
    return witnessed(report, newest, lines, check)


def _text(value: object) -> str:
    """A stored cosignature line, read as text whatever the connection's text factory."""
    if isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else ""


async def witnessed_postgres(report: Report, conn: asyncpg.Connection,
                             notes: Sequence[tuple[int, str]], check: Check) -> Report:
    newest = notes[-1] if notes else None
    lines = ""
    if newest is not None:
        rows = await conn.fetch("SELECT line FROM cosignatures WHERE size = $1", newest[0])
        lines = "".join(r[0] for r in rows)
    return witnessed(report, newest, lines, check)
