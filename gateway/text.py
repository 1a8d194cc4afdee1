"""Text people type into the gateway, and text the gateway prints on a terminal.

Staff-entered text (an authority request's fields, a rejection's reason, a hold's basis, an
erasure's reason, a review search's terms) may hold no control or format character: Unicode
categories Cc (ESC, NUL, DEL, the C1 controls), Cf (bidi overrides and isolates, zero-width
characters), Cs, and the line and paragraph separators Zl and Zp. Such a character would reach an
operator's terminal raw, or reorder what a page shows. Multi-line text (a reason) may hold line
breaks, nothing else.

Records written before this rule may hold such text, so the command line prints every text
through ``printable``, which spells each of these characters as an escape.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from gateway.errors import Unprocessable

__all__ = ["REFUSED", "clean", "printable", "staff_text"]

#: The Unicode categories refused in staff-entered text and escaped on a terminal.
REFUSED: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_LINE_BREAKS: Final = frozenset("\r\n")


def clean(text: str, *, multiline: bool = False) -> bool:
    """Whether ``text`` holds no refused character (line breaks allowed when ``multiline``)."""
    return all(unicodedata.category(c) not in REFUSED or (multiline and c in _LINE_BREAKS)
               for c in text)


def staff_text(text: str, field: str, *, multiline: bool = False) -> str:
    """``text`` as given, or 422 naming ``field`` (never the value) when it holds a control or
    format character."""
    if not clean(text, multiline=multiline):
        allowed = " other than a line break" if multiline else ""
        raise Unprocessable(f"{field} holds a control or format character{allowed} (such as "
                            "ESC, NUL or a bidi override); type it as plain text", field=field)
    return text


def _escape(c: str) -> str:
    """A JSON string escape (so JSON output stays JSON): ``\\u001b``; a surrogate pair
    beyond the Basic Multilingual Plane."""
    code = ord(c)
    if code < 0x10000:  # noqa: PLR2004
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def printable(text: str, *, keep: str = "") -> str:
    """``text`` safe for a terminal: each refused character, except those in ``keep``, spelled
    as a JSON escape (``\\u001b``, ``\\u202e``), so JSON printed through it stays JSON."""
    if clean(text):
        return text
    return "".join(_escape(c) if unicodedata.category(c) in REFUSED and c not in keep else c
                   for c in text)
