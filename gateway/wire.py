"""msgspec's validation errors, told without the value: the JSON path of the offending member
(``$.customers[1]``) and the rule it broke, in the gateway's words. Every JSON body the gateway
decodes into typed wire structures (the hook events, the authority requests and their steps,
the login) reports its errors through here, so no message ever quotes what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import msgspec

from gateway.errors import BadRequest, Unprocessable

__all__ = ["explain", "field_problem", "top_field"]

_AT: Final = re.compile(r"^(?P<what>.*?)(?: - at `(?P<path>[^`]*)`(?: in `(?P<parent>[^`]*)`)?)?$",
                        re.DOTALL)
_KINDS: Final = {"str": "a string", "object": "a JSON object", "array": "a list",
                 "bool": "a boolean", "int": "a whole number", "float": "a number",
                 "null": "null"}
_BOUND: Final = re.compile(r"Expected `(?:int|float)` (?P<op>[<>]=?) (?P<n>[0-9.e+-]+)")
_OPS: Final = {">": "above", ">=": "of at least", "<": "below", "<=": "of at most"}
_TOP: Final = re.compile(r"^\$\.([A-Za-z_][A-Za-z0-9_]*)")


def explain(error: msgspec.ValidationError | str,
            patterns: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Where a validation error is (a JSON path from ``$``) and a message naming that path
    and the rule, never the value. ``patterns`` names the rule of each regex pattern, keyed by
    the pattern as msgspec quotes it (its ``repr``); anything not recognised is named by its
    path alone."""
    text = str(error)
    found = _AT.match(text)
    what = found["what"] if found else ""
    path = (found["parent"] or found["path"]) if found and found["path"] else "$"
    if (field := re.fullmatch(r"Object missing required field `([A-Za-z0-9_]+)`", what)):
        return f"{path}.{field[1]}", f"{path}.{field[1]} is required"
    if path.endswith("[...]"):  # a member of a free-form object (an add-on's parameter)
        return path, f"{path.removesuffix('[...]')}: parameters are strings or numbers"
    if found and found["parent"]:  # a member's name in a free-form object
        return path, f"{path}: parameter names are lower-case identifiers"
    return path, f"{path} {_rule(what, patterns or {})}"


def _rule(what: str, patterns: Mapping[str, str]) -> str:
    if what == "Expected `str` of length >= 1":
        return "is required"
    if (length := re.fullmatch(r"Expected `(str|array)` of length ([<>]=) ([0-9]+)", what)):
        unit = "characters" if length[1] == "str" else "entries" if length[3] != "1" else "entry"
        most = "at most" if length[2] == "<=" else "at least"
        return f"must have {most} {length[3]} {unit}"
    if (pattern := re.fullmatch(r"Expected `str` matching regex (.*)", what)):
        return f"must be {patterns.get(pattern[1], 'in the documented form')}"
    if (bound := _BOUND.fullmatch(what)) is not None:
        return f"must be a number {_OPS[bound['op']]} {bound['n']}"
    if re.fullmatch(r"Expected `[a-z |]+`, got `null`", what):
        return "is required"
    if (kind := re.fullmatch(r"Expected `([a-z |]+)`(?:, got `[a-z]+`)?", what)):
        kinds = [_KINDS.get(k, k) for k in kind[1].split(" | ") if k != "null"]
        return f"must be {' or '.join(kinds)}"
    if what.startswith("Invalid enum value"):
        return "is not one of the values the document lists"
    if what == "Number out of range":
        return "must be a number in the documented range"
    return "is malformed"


def top_field(path: str) -> str | None:
    """The body's member a path is in (``customers`` for ``$.customers[1]``); None for the
    body itself."""
    found = _TOP.match(path)
    return found[1] if found else None


def field_problem(error: msgspec.ValidationError, *, whole: str,
                  messages: Mapping[str, str] | None = None) -> BadRequest:
    """A request body's validation error as the problem to answer: 422 naming the body's
    member it is in (``field``) with a message naming the path, or the message ``messages``
    keeps for that exact path (``$.reason``: the rule as staff read it elsewhere) or for any
    item of that list (``$.orders[]``, its ``{path}`` filled in); 400 with ``whole`` when the
    body itself is not the object asked for."""
    path, message = explain(error)
    field = top_field(path)
    if field is None:
        return BadRequest(whole)
    kept = messages or {}
    item = re.sub(r"\[[0-9]+\]$", "[]", path)
    if path in kept:
        message = kept[path]
    elif item in kept:
        message = kept[item].format(path=path)
    return Unprocessable(message, field=field)
