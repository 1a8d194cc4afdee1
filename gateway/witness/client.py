"""One add-checkpoint call to a witness (c2sp.org/tlog-witness), its answer sorted into what the
submitter acts on. The cosignature a witness answers is checked against the witness's key
before it counts; lines by other keys are ignored, as the spec asks."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

import aiohttp
import attrs

from gateway.witness.cosignature import note_text, valid_cosignatures
from gateway.witness.policy import WitnessRef

__all__ = ["Answer", "BadAnswer", "Cosigned", "Inconsistent", "Refused", "Stale",
           "Unreachable", "add_checkpoint", "request_body"]

SIZE_TYPE = "text/x.tlog.size"
_SIZE = re.compile("(0|[1-9][0-9]{0,19})\n")
_MAX_ANSWER = 64 * 1024


@attrs.frozen
class Cosigned:
    """The witness cosigned: its line (newline included), checked against its key."""

    line: str


@attrs.frozen
class Stale:
    """409: the witness holds another size (``size``), or the same size with another root."""

    size: int


@attrs.frozen
class Refused:
    """400, 403 or 404: the witness refuses the checkpoint as sent (unknown log, our key not
    trusted, a request it cannot read)."""

    status: int


@attrs.frozen
class Inconsistent:
    """422: the witness found the checkpoint inconsistent with the one it holds."""


@attrs.frozen
class Unreachable:
    """No answer (connection, timeout) or a server error."""

    reason: str


@attrs.frozen
class BadAnswer:
    """An answer that is not what the protocol allows (a 200 without a valid cosignature by
    the witness's key, a 409 without a size)."""

    reason: str


Answer = Cosigned | Stale | Refused | Inconsistent | Unreachable | BadAnswer


def request_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """``old <size>``, one base64 proof hash per line, an empty line, the checkpoint."""
    lines = [f"old {old_size}", *(base64.b64encode(p).decode() for p in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode()


async def add_checkpoint(session: aiohttp.ClientSession, witness: WitnessRef, *,
                         old_size: int, proof: Sequence[bytes], note: str,
                         timeout: float) -> Answer:  # noqa: ASYNC109 - a per-call budget
    """Submit ``note`` to ``witness`` with the consistency proof from ``old_size``."""
    assert witness.url is not None
    try:
        async with session.post(
                witness.url + "/add-checkpoint", data=request_body(old_size, proof, note),
                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            status = resp.status
            content_type = resp.content_type
            text = (await resp.content.read(_MAX_ANSWER)).decode("utf-8", "replace")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Unreachable(type(exc).__name__)
    if status == 200:  # noqa: PLR2004
        found = valid_cosignatures(note_text(note), text, [witness.key])
        if witness.key not in found:
            return BadAnswer("no valid cosignature by the witness's key")
        return Cosigned(found[witness.key])
    if status == 409:  # noqa: PLR2004
        if content_type != SIZE_TYPE or not _SIZE.fullmatch(text):
            return BadAnswer("a 409 without its size")
        return Stale(int(text))
    if status == 422:  # noqa: PLR2004
        return Inconsistent()
    if status in (400, 403, 404):
        return Refused(status)
    return Unreachable(f"HTTP {status}")
