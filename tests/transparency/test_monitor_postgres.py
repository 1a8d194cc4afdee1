"""`gateway log monitor` and customer receipts against a gateway whose record lives in the real
PostgreSQL (a fresh schema), with a witness cosigning its checkpoints, as an auditor runs them
from outside: the monitor follows the growing record through the tiles and entry bundles and
accepts only a witnessed checkpoint whose root is that of the rows in the database; a body
changed in the database past the triggers is a bad entry; a receipt from the access report
verifies offline (with the witness's key too), and a forged one is refused."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
import pytest

from gateway.http.app import RECORD
from gateway.keygen import keygen
from gateway.record.checkpoint import Verifier
from gateway.witness import Cosigner, ServerSettings
from tests.conftest import Harness, order_event, run_gateway
from tests.stores import PG_URL, pg_sql
from tests.transparency.conftest import cli, fill, leaf, mth
from tests.transparency.test_receipts import readme_check, receipts
from tests.witness.conftest import Witness, start_witness

ORIGIN = "jerone.fi/disclosure-record"
ALARM = 3


@attrs.frozen
class Published:
    gateway: Harness
    schema: str
    tmp: Path

    def keys(self) -> list[str]:
        return ["--public-key", str(self.tmp / "secrets/checkpoint.pub"),
                "--witness-key", str(self.tmp / "witness.pub")]

    async def monitor(self, *extra: str) -> tuple[int, str, str]:
        return await cli("log", "monitor", self.gateway.url, *self.keys(),
                         "--state", str(self.tmp / "monitor.json"), *extra)

    def kept(self) -> dict[str, Any]:
        state: dict[str, Any] = orjson.loads((self.tmp / "monitor.json").read_bytes())
        return state

    async def witnessed(self) -> int:
        """Wait until the served checkpoint is the record's newest, cosigned; its size."""
        newest = await self.gateway.app[RECORD].latest_checkpoint()
        assert newest is not None
        size = int(newest.split("\n")[1])
        for _ in range(300):
            async with self.gateway.http.get(self.gateway.url + "/checkpoint") as resp:
                note = await resp.text()
            if resp.status == 200 and int(note.split("\n")[1]) == size:
                return size
            await asyncio.sleep(0.05)
        raise AssertionError(f"the checkpoint of size {size} was not witnessed in time")


@pytest.fixture
async def published(tmp_path: Path, pg_schema: str, carrier_env: None,
                    ) -> AsyncIterator[Published]:
    """A gateway on PostgreSQL schema ``pg_schema`` whose checkpoints a witness cosigns; its
    record holds one booking of the canary customer and 300 more entries."""
    keygen(tmp_path / "secrets", origin=ORIGIN)
    log_key = Verifier.from_key_string((tmp_path / "secrets/checkpoint.pub").read_text().strip())
    cosigner = Cosigner.generate("auditor.test.invalid/witness")
    (tmp_path / "witness.pub").write_text(cosigner.public().vkey() + "\n")
    settings = ServerSettings(cosigner=cosigner, state=tmp_path / "witness/state.sqlite",
                              host="127.0.0.1", port=0, logs={ORIGIN: (log_key,)})
    (tmp_path / "witness").mkdir()
    async with aiohttp.ClientSession() as http:
        witness: Witness = await start_witness(settings, http)

        def change(raw: dict[str, Any]) -> None:
            raw["record"].update({"store": "postgres", "url": PG_URL, "schema": pg_schema,
                                  "path": "record-postgres"})
            raw["witnesses"] = [{"name": "auditor", "url": witness.url,
                                 "public_key": cosigner.public().vkey()}]
            raw["witnessing"] = {"quorum": 1, "timeout": 5.0}

        try:
            async with run_gateway(tmp_path, change) as gw:
                status, _, _ = await gw.post(order_event("posti", "home_delivery"))
                assert status == 201
                await fill(gw, 300)
                yield Published(gateway=gw, schema=pg_schema, tmp=tmp_path)
        finally:
            await witness.runner.cleanup()


async def leaves(schema: str, size: int) -> list[bytes]:
    """The leaf hashes of the first ``size`` entries, from their bodies in the database."""
    rows = await pg_sql(schema, "SELECT body FROM entries WHERE seq < $1 ORDER BY seq", size)
    return [leaf(bytes(r["body"])) for r in rows]


def auditor_token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.mark.usefixtures("carrier_env")
class TestMonitorOnPostgres:
    async def test_it_follows_the_record_in_the_database(self, published: Published) -> None:
        """Two runs, the second incremental from the state file: each accepts a witnessed
        checkpoint whose root is the Merkle root of the entries stored in PostgreSQL, and
        checks every new entry from the bundles."""
        token = auditor_token(await published.gateway.as_staff("auditor"))
        size = await published.witnessed()
        code, out, err = await published.monitor(f"--token={token}")
        assert code == 0, err
        assert f"first checkpoint verified: {size} entries" in out
        assert f"{size} new entries checked" in out
        kept = published.kept()
        assert kept["size"] == size
        assert base64.b64decode(kept["root"]) == mth(await leaves(published.schema, size))

        await fill(published.gateway, 40)
        grown = await published.witnessed()
        code, out, err = await published.monitor(f"--token={token}")
        assert code == 0, err
        assert f"consistent: {size} -> {grown} entries" in out
        assert f"{grown - size} new entries checked" in out
        assert base64.b64decode(published.kept()["root"]) == mth(
            await leaves(published.schema, grown))

    async def test_a_body_changed_in_the_database_is_a_bad_entry(
            self, published: Published) -> None:
        """The database's owner disables the triggers and edits an entry's body, its stored
        leaf left alone: the tiles still agree, the entry bundle does not; exit 3 naming the
        position, and the state file keeps the last good checkpoint."""
        token = auditor_token(await published.gateway.as_staff("auditor"))
        await published.witnessed()
        code, _, err = await published.monitor(f"--token={token}")
        assert code == 0, err
        before = published.kept()
        await fill(published.gateway, 10)
        await published.witnessed()
        target = before["size"] + 3
        await pg_sql(published.schema, "ALTER TABLE entries DISABLE TRIGGER USER")
        await pg_sql(published.schema,
                     "UPDATE entries SET body = convert_to(replace(convert_from(body, 'UTF8'), "
                     "'filler', 'fillet'), 'UTF8') WHERE seq = $1", target)
        await pg_sql(published.schema, "ALTER TABLE entries ENABLE TRIGGER USER")
        code, _, err = await published.monitor(f"--token={token}")
        assert code == ALARM, err
        assert f"ALARM bad entry: the entry at position {target}" in err
        assert published.kept() == before


@pytest.mark.usefixtures("carrier_env")
class TestReceiptsOnPostgres:
    async def test_a_receipt_verifies_with_the_witness_key(self, published: Published) -> None:
        """The access report's receipt names the canary's disclosure; `gateway receipt
        verify` with the log's and the witness's keys says OK, and so does the README's
        hashlib recipe; the entry it carries is the row stored at its index."""
        await published.witnessed()
        (receipt,) = await receipts(published.gateway)
        path = published.tmp / "receipt.tlog-proof"
        path.write_text(receipt, encoding="utf-8")
        code, out, err = await cli("receipt", "verify", str(path), *published.keys())
        assert code == 0, err
        assert out.startswith("OK")
        assert out.rstrip().endswith("; witnessed by 1 of 1 witness (quorum 1)")
        assert readme_check(receipt)
        lines = receipt.split("\n")
        entry, index = base64.b64decode(lines[1][6:]), int(lines[2][6:])
        assert orjson.loads(entry)["kind"] == "disclosure.intent"
        (row,) = await pg_sql(published.schema, "SELECT leaf FROM entries WHERE seq = $1",
                              index)
        assert bytes(row["leaf"]) == leaf(entry)

    async def test_a_forged_receipt_is_refused(self, published: Published) -> None:
        """The entry edited to name another recipient: the proof no longer leads to the
        signed root; exit 1, named, and the README's recipe says FORGED too."""
        await published.witnessed()
        (receipt,) = await receipts(published.gateway)
        lines = receipt.split("\n")
        entry = base64.b64decode(lines[1][6:]).replace(b'"posti"', b'"budbee"')
        lines[1] = "extra " + base64.b64encode(entry).decode()
        forged = "\n".join(lines)
        path = published.tmp / "forged.tlog-proof"
        path.write_text(forged, encoding="utf-8")
        code, _, err = await cli("receipt", "verify", str(path), *published.keys())
        assert code == 1
        assert "the inclusion proof does not lead from the entry to the signed root" in err
        assert not readme_check(forged)
