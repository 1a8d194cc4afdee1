"""The SQL both stores run, written once.

Statements use ``?`` placeholders, in argument order, as SQLite takes them; the PostgreSQL store
renders them as ``$1, $2, …`` (``numbered``). Only portable SQL stands here: what one database
says differently (bulk inserts through ``unnest``, JSON functions, advisory locks, ``IN`` lists
of any length) stays in that store's own package.
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "ADD_CHECKPOINT",
    "ADD_KEY",
    "ADD_SESSION",
    "CATCH_UP",
    "CHECKPOINT_ROW",
    "CLOSE_OPEN_HOOK",
    "DISCLOSURE_ROWS",
    "DUE_ERASURES",
    "END_SESSION",
    "ENTRY",
    "ERASE_KEY",
    "ERASE_PENDING",
    "EXPIRE_SESSIONS",
    "GET_REQUEST",
    "HOLD_UNTIL",
    "HOOK",
    "LAST_DISCLOSURE",
    "LATEST_CHECKPOINT",
    "LEAVES",
    "LEAVES_BELOW",
    "LEGAL_HOLDS",
    "LIST_STAFF",
    "OPEN_HOOKS",
    "PENDING_ERASURES",
    "PUT_HEAD",
    "REWRAP_KEY",
    "SESSION_USER",
    "STAFF_MEMBER",
    "STALE_SUBJECTS",
    "SUBJECT_OF_ORDER",
    "SUBJECT_ROWS",
    "WRAPPED_KEY",
    "WRAPPED_KEYS",
    "numbered",
]

_ROW = "SELECT seq, body, leaf, sealed FROM entries"
_HOOK = "SELECT webhook_id, disclosure, subject, status, answer FROM hooks"
_STAFF = "SELECT username, password, roles, disabled, created FROM staff"

# -- the record ----------------------------------------------------------------------------
CATCH_UP = "SELECT seq, leaf FROM entries WHERE seq >= ? ORDER BY seq"
LEAVES_BELOW = "SELECT leaf FROM entries WHERE seq < ? ORDER BY seq"
LEAVES = "SELECT leaf FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq"
ENTRY = f"{_ROW} WHERE seq = ?"
SUBJECT_ROWS = f"{_ROW} WHERE subject = ? ORDER BY seq"
DISCLOSURE_ROWS = f"{_ROW} WHERE disclosure = ? ORDER BY seq"
SUBJECT_OF_ORDER = "SELECT subject FROM entries WHERE order_ref = ? AND subject IS NOT NULL LIMIT 1"
#: The signed tree head (one row), replaced in every batch transaction: (size, note).
PUT_HEAD = ("INSERT INTO head VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET size = excluded.size, note = excluded.note")
ADD_CHECKPOINT = "INSERT INTO checkpoints VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
LATEST_CHECKPOINT = "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1"
CHECKPOINT_ROW = "SELECT size, time, note FROM checkpoints ORDER BY size DESC LIMIT 1"

# -- subject keys --------------------------------------------------------------------------
WRAPPED_KEY = "SELECT wrapped FROM subject_keys WHERE subject = ?"
WRAPPED_KEYS = "SELECT subject, wrapped FROM subject_keys"
ADD_KEY = "INSERT INTO subject_keys VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
#: (wrapped, subject)
REWRAP_KEY = "UPDATE subject_keys SET wrapped = ? WHERE subject = ?"
ERASE_KEY = "DELETE FROM subject_keys WHERE subject = ?"
ERASE_PENDING = "DELETE FROM pending_erasures WHERE subject = ?"

# -- hooks ---------------------------------------------------------------------------------
HOOK = f"{_HOOK} WHERE webhook_id = ?"
#: Through the partial index of open hooks.
OPEN_HOOKS = f"{_HOOK} WHERE status IS NULL ORDER BY webhook_id"
#: (status, answer, subject, webhook_id): close a hook only if it is still open.
CLOSE_OPEN_HOOK = ("UPDATE hooks SET status = ?, answer = ?, subject = ? "
                   "WHERE webhook_id = ? AND status IS NULL")

# -- cases: authority requests, erasures, holds --------------------------------------------
GET_REQUEST = "SELECT state, doc FROM authority_requests WHERE id = ?"
LAST_DISCLOSURE = "SELECT MAX(time) FROM entries WHERE subject = ? AND kind LIKE '%disclosure%'"
HOLD_UNTIL = ("SELECT until, basis FROM legal_holds WHERE subject = ? AND until > ? "
              "ORDER BY until DESC LIMIT 1")
STALE_SUBJECTS = (
    "SELECT k.subject FROM subject_keys k WHERE NOT EXISTS (SELECT 1 FROM entries e "
    "WHERE e.subject = k.subject AND e.time >= ? AND e.kind <> 'review.read')")
DUE_ERASURES = "SELECT subject FROM pending_erasures WHERE due <= ? ORDER BY due"
PENDING_ERASURES = ("SELECT subject, requested, due, basis FROM pending_erasures "
                    "ORDER BY due, subject")
LEGAL_HOLDS = ("SELECT subject, until, basis, created FROM legal_holds WHERE until > ? "
               "ORDER BY until, subject")

# -- staff ---------------------------------------------------------------------------------
STAFF_MEMBER = f"{_STAFF} WHERE username = ?"
LIST_STAFF = f"{_STAFF} ORDER BY username"
#: (created): sessions expired by the time a new one is stored.
EXPIRE_SESSIONS = "DELETE FROM staff_sessions WHERE expires <= ?"
ADD_SESSION = "INSERT INTO staff_sessions VALUES (?, ?, ?, ?)"
SESSION_USER = "SELECT username FROM staff_sessions WHERE token_hash = ? AND expires > ?"
END_SESSION = "DELETE FROM staff_sessions WHERE token_hash = ?"

_MARK = re.compile(r"\?")


@functools.cache
def numbered(sql: str) -> str:
    """``sql`` with its ``?`` placeholders numbered ``$1, $2, …`` (PostgreSQL's style)."""
    count = iter(range(1, sql.count("?") + 1))
    return _MARK.sub(lambda _: f"${next(count)}", sql)
