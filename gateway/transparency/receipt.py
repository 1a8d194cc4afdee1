"""Customer receipts: an entry, its inclusion proof and a (cosigned) checkpoint in the
c2sp.org/tlog-proof format, checkable offline with the log's public key (and the witnesses')::

    c2sp.org/tlog-proof@v1
    extra <base64 of the entry's body, exactly as its leaf commits to it>
    index <the entry's position>
    <base64 proof hash, leaf's sibling first>
    ...
    <blank line>
    <the checkpoint note, with its cosignature lines>

The entry travels in the spec's ``extra`` line. It is not trusted because it is there: the
leaf is recomputed from it (``SHA-256(0x00 || entry)``) and must lead, through the proof, to
the root the checkpoint's signature vouches for; the entry's own ``seq`` must be the index.
A sealed value appears in the entry only as the SHA-256 of its ciphertext, as in the leaf.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Final

import attrs
import orjson
import structlog

from gateway.errors import GatewayError
from gateway.record import Kind, Record
from gateway.record.checkpoint import (
    CheckpointInvalid,
    Verifier,
    parse_and_verify,
    read_checkpoint,
)
from gateway.record.entry import decode
from gateway.record.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from gateway.record.proof import Prover
from gateway.record.reads import Reads
from gateway.record.rows import Row
from gateway.witness.cosignature import note_text
from gateway.witness.policy import WitnessPolicy

log = structlog.get_logger("gateway.record")

__all__ = [
    "HEADER",
    "Receipt",
    "ReceiptInvalid",
    "disclosure_receipts",
    "format_receipt",
    "parse_receipt",
    "receipts_for",
    "verify_receipt",
]

HEADER: Final = "c2sp.org/tlog-proof@v1"
_DECIMAL = re.compile("0|[1-9][0-9]{0,19}")
_SCAN: Final = 32  # cosigned checkpoints looked at for the newest that covers an entry

#: (checkpoint note, its cosignature lines) -> what the witness policy misses, or None.
WitnessCheck = Callable[[str, str], str | None]


class ReceiptInvalid(GatewayError):
    """A receipt that does not prove its entry: malformed, unsigned, or a proof that does not
    lead to the signed root."""

    status = 422
    title = "Receipt refused"


@attrs.frozen
class Receipt:
    entry: bytes
    index: int
    proof: tuple[bytes, ...]
    note: str


def format_receipt(receipt: Receipt) -> str:
    lines = [HEADER, "extra " + base64.b64encode(receipt.entry).decode(),
             f"index {receipt.index}", *(base64.b64encode(p).decode() for p in receipt.proof)]
    return "\n".join(lines) + "\n\n" + receipt.note


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ReceiptInvalid("a receipt line is not base64") from None


def parse_receipt(text: str) -> Receipt:
    """The parts of a receipt, without checking anything but its format. Extra newlines at
    the end (a file saved with `jq -r` has one) are not covered by a signature and are
    dropped."""
    text = text.rstrip("\n") + "\n"
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or len(lines) < 3 or lines[0] != HEADER:  # noqa: PLR2004 - header, extra, index
        raise ReceiptInvalid(f"not a receipt (a {HEADER} proof with its entry)")
    if not lines[1].startswith("extra "):
        raise ReceiptInvalid("the receipt carries no entry (its extra line)")
    index = lines[2].removeprefix("index ")
    if not lines[2].startswith("index ") or not _DECIMAL.fullmatch(index):
        raise ReceiptInvalid("the receipt's index line is malformed")
    proof = tuple(_b64(line) for line in lines[3:])
    if any(len(p) != HASH_SIZE for p in proof):
        raise ReceiptInvalid("a proof line is not a SHA-256 hash")
    return Receipt(_b64(lines[1].removeprefix("extra ")), int(index), proof, note)


def verify_receipt(text: str, verifiers: Sequence[Verifier], *,
                   witnessed: WitnessCheck | None = None) -> Receipt:
    """The receipt in ``text`` once it proves its entry under a checkpoint signed by one of
    ``verifiers`` (and, with ``witnessed``, cosigned as the witness policy asks)."""
    receipt = parse_receipt(text)
    try:
        checkpoint = parse_and_verify(receipt.note, verifiers)
    except CheckpointInvalid as exc:
        raise ReceiptInvalid(f"the receipt's {exc.detail}") from None
    if witnessed is not None and (problem := witnessed(receipt.note, receipt.note)):
        raise ReceiptInvalid(f"the receipt's checkpoint is not witnessed: {problem}")
    try:
        seq = orjson.loads(receipt.entry).get("seq")
    except (orjson.JSONDecodeError, AttributeError):
        raise ReceiptInvalid("the receipt's entry is not a record entry") from None
    if seq != receipt.index:
        raise ReceiptInvalid("the receipt's entry names another position than its index")
    if not verify_inclusion(leaf_hash(receipt.entry), receipt.index, checkpoint.size,
                            receipt.proof, checkpoint.root):
        raise ReceiptInvalid("the inclusion proof does not lead from the entry to the signed "
                             "root")
    return receipt


async def receipts_for(record: Reads, bodies: Mapping[int, bytes], *, prover: Prover,
                       policy: WitnessPolicy | None = None,
                       sign: Callable[[], Awaitable[object]] | None = None,
                       ) -> dict[int, str]:
    """A receipt for each entry (position -> body) in ``bodies``, under the newest checkpoint
    whose cosignatures meet ``policy`` and that covers it; else under the newest checkpoint,
    with what cosignatures it has (``sign``, awaited, signs a fresh one when the newest does
    not cover an entry yet)."""
    if not bodies:
        return {}
    rows = await record.cosigned_checkpoints(_SCAN)
    witnessed = [(r.size, _cosigned(r.note, r.lines, policy)) for r in rows
                 if policy is None or policy.problem(note_text(r.note), r.lines) is None]
    latest = await record.latest_signed()
    if (latest is None or latest[0] <= max(bodies)) and sign is not None:
        await sign()
        latest = await record.latest_signed()
    if latest is None:
        return {}
    lines = next((r.lines for r in rows if r.size == latest[0]), "")
    newest = (latest[0], _cosigned(latest[1], lines, policy))
    out = {}
    for seq, body in bodies.items():
        size, note = next(((s, n) for s, n in witnessed if s > seq), newest)
        if size <= seq:
            continue
        # Checked before it is handed out: a path from a changed stored subtree hash is built
        # again from the leaves; a receipt that still would not verify is not given at all.
        try:
            root = read_checkpoint(note_text(note)).root
        except CheckpointInvalid:
            log.warning("receipt.refused", index=seq, size=size)
            continue
        path, ok = await prover.checked_path(record, leaf_hash(body), seq, size, root)
        if not ok:
            log.warning("receipt.refused", index=seq, size=size)
            continue
        out[seq] = format_receipt(Receipt(body, seq, tuple(path), note))
    return out


def _cosigned(note: str, lines: str, policy: WitnessPolicy | None) -> str:
    """``note`` with the cosignature ``lines`` kept for it (the policy's witnesses' only)."""
    if policy is None:
        return note + lines
    return note + "".join(policy.cosigners(note_text(note), lines).values())


async def disclosure_receipts(record: Record, rows: Iterable[Row], *, prover: Prover,
                              policy: WitnessPolicy | None) -> dict[str, str]:
    """A receipt per disclosure (its id -> receipt) among a customer's entries ``rows``: for a
    carrier the intent entry (what left: the fields, the sealed values' hash), for an
    authority its disclosure entry."""
    chosen: dict[str, tuple[int, bytes]] = {}
    for row in rows:
        entry = decode(row.body)
        if entry.kind in (Kind.INTENT, Kind.AUTHORITY_DISCLOSURE) and entry.disclosure:
            chosen.setdefault(entry.disclosure, (row.seq, row.body))
    made = await receipts_for(record, dict(chosen.values()), prover=prover,
                              policy=policy, sign=record.checkpoint)
    return {d: made[seq] for d, (seq, _) in chosen.items() if seq in made}
