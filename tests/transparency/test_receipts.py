"""Customer receipts (c2sp.org/tlog-proof) in the access report, checked offline by `gateway
receipt verify` and by the README's hashlib recipe; forged ones refused."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from gateway.record.checkpoint import Signer
from tests.conftest import CANARY_CUSTOMER, Harness
from tests.review.conftest import get_json
from tests.transparency.conftest import cli


def readme_check(receipt: str) -> bool:
    """The README's recipe, with hashlib only: the entry's leaf, up the proof, to the
    checkpoint's root (the signature is checked apart)."""
    head, _, note = receipt.partition("\n\n")
    lines = head.split("\n")
    entry = base64.b64decode(lines[1].removeprefix("extra "))
    index = int(lines[2].removeprefix("index "))
    proof = [base64.b64decode(line) for line in lines[3:]]
    size, root = int(note.split("\n")[1]), base64.b64decode(note.split("\n")[2])
    h = hashlib.sha256(b"\x00" + entry).digest()
    fn, sn = index, size - 1
    for p in proof:
        if fn & 1 or fn == sn:
            h = hashlib.sha256(b"\x01" + p + h).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            h = hashlib.sha256(b"\x01" + h + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and h == root


async def receipts(gw: Harness) -> list[str]:
    reviewer = await gw.as_staff("reviewer")
    report = await get_json(gw, f"/v1/reports/access?customer={CANARY_CUSTOMER['id']}",
                            reviewer)
    return [d["receipt"] for d in report["disclosures"]]


async def verify(tmp_path: Path, text: str, *keys: str) -> tuple[int, str, str]:
    path = tmp_path / "receipt.tlog-proof"
    path.write_text(text, encoding="utf-8")
    return await cli("receipt", "verify", str(path), "--public-key",
                     *(keys or (str(tmp_path / "secrets/checkpoint.pub"),)))


class TestReceipts:
    async def test_each_disclosure_carries_a_receipt_that_verifies(
            self, published: Harness, tmp_path: Path) -> None:
        """The access report's disclosure has a tlog-proof receipt: `gateway receipt verify`
        says OK, and so does the README's recipe without our code."""
        (receipt,) = await receipts(published)
        assert receipt.startswith("c2sp.org/tlog-proof@v1\nextra ")
        assert readme_check(receipt)
        code, out, err = await verify(tmp_path, receipt)
        assert code == 0, err
        assert out.startswith("OK")
        assert "witness" not in out  # no witness key given, none claimed

    async def test_a_receipt_saved_with_jq_verifies(self, published: Harness,
                                                    tmp_path: Path) -> None:
        """Saved with `jq -r .disclosures[0].receipt` (a newline more at the end, outside
        anything signed or hashed), the receipt still verifies."""
        (receipt,) = await receipts(published)
        code, out, err = await verify(tmp_path, receipt + "\n")
        assert code == 0, err
        assert out.startswith("OK")

    async def test_the_html_report_embeds_the_receipt(self, published: Harness) -> None:
        """The printable page carries the receipt in a <details> block."""
        reviewer = await published.as_staff("reviewer")
        cookie = {"Cookie": f"gateway_session={reviewer['Authorization'][7:]}"}
        async with published.http.get(
                published.url + f"/review/access?customer={CANARY_CUSTOMER['id']}",
                headers=cookie) as resp:
            page = await resp.text()
        assert "<details" in page
        assert "c2sp.org/tlog-proof@v1" in page

    @pytest.mark.parametrize("forgery", ["entry", "proof", "index"])
    async def test_a_forged_receipt_is_refused(self, published: Harness, tmp_path: Path,
                                               forgery: str) -> None:
        """One byte of the entry changed, a proof hash changed, or another index: refused,
        naming why, exit non-zero."""
        (receipt,) = await receipts(published)
        lines = receipt.split("\n")
        if forgery == "entry":
            entry = bytearray(base64.b64decode(lines[1][6:]))
            entry[entry.index(b"posti")] = ord("P")
            lines[1] = "extra " + base64.b64encode(bytes(entry)).decode()
        elif forgery == "proof":
            lines[3] = base64.b64encode(hashlib.sha256(lines[3].encode()).digest()).decode()
        else:
            lines[2] = f"index {int(lines[2][6:]) + 1}"
        forged = "\n".join(lines)
        assert not readme_check(forged)
        code, _, err = await verify(tmp_path, forged)
        assert code == 1
        assert "gateway: " in err
        assert "Traceback" not in err

    async def test_a_receipt_signed_by_another_key_is_refused(
            self, published: Harness, tmp_path: Path) -> None:
        """Checked with a key that did not sign its checkpoint, a receipt is refused."""
        (receipt,) = await receipts(published)
        _, other = Signer.generate("jerone.fi/disclosure-record")
        (tmp_path / "other.pub").write_text(other)
        code, _, err = await verify(tmp_path, receipt, str(tmp_path / "other.pub"))
        assert code == 1
        assert "no signature by a known key" in err
