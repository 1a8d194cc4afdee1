"""An entry's tally: what the transparency report counts it by, stored as a column beside the
body (``tally``) so a year's counts read a few columns instead of parsing every body.

Only carrier outcomes and authority disclosures have one: the canonical JSON list
``[result, legal_basis, request, fields]``, where result is the data's ``result`` or, failing
that, its ``status``. Every other entry's tally is NULL. Verify checks each stored tally against
the signed body (``verify_range``), so a count never differs from what verify proved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
import orjson

__all__ = ["COUNTED", "Tally", "read_tally", "tally_of", "tally_of_body", "tally_of_stored"]

#: The kinds the transparency report counts (``entry.Kind`` values).
COUNTED: Final = frozenset({"disclosure.outcome", "authority.disclosure"})
_SORTED: Final = orjson.OPT_SORT_KEYS
_dumps: Final = orjson.dumps


def tally_of(kind: object, data: object, fields: Sequence[str]) -> str | None:
    """The tally of an entry of ``kind`` with ``data`` and ``fields`` (None if not counted)."""
    if kind not in COUNTED:
        return None
    if type(data) is not dict:  # verify's one-pass read gives a dict; a Draft any Mapping
        data = dict(data) if isinstance(data, Mapping) else {}
    result = data.get("result")
    if result is None:
        result = data.get("status")
    return _dumps([result, data.get("legal_basis"), data.get("request"), tuple(fields)],
                  option=_SORTED).decode()


def tally_of_body(body: Mapping[str, Any]) -> str | None:
    """The tally of a decoded body (a mapping as stored)."""
    fields = body.get("fields")
    return tally_of(body.get("kind"), body.get("data"),
                    fields if isinstance(fields, list) else [])


def tally_of_stored(body: bytes) -> str | None:
    """The tally of a stored body (None for one that is no JSON object: verify names it)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return tally_of_body(doc) if isinstance(doc, dict) else None


@attrs.frozen
class Tally:
    result: str | None
    legal_basis: str | None
    request: str | None
    fields: tuple[str, ...]


def read_tally(text: str | None) -> Tally:
    """A stored tally read back (a NULL one: nothing known)."""
    if text is None:
        return Tally(None, None, None, ())
    result, legal_basis, request, fields = orjson.loads(text)
    return Tally(result, legal_basis, request, tuple(fields))
