"""A real gateway with a real witness configured in config.toml: every checkpoint goes to the
witness in the background, the served checkpoint carries its cosignature, and `gateway log
verify --witness-key --quorum` checks it. Then the operator's attack: the tail of the record
rewritten and re-signed with the operator's own key after the witness saw the old tree; the
witness refuses it (422, an alert in the gateway's log, /metrics and /readyz) and verify with
the witness's key fails, though the operator's signatures all hold."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sqlite3
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from structlog.testing import capture_logs

from gateway.http.app import RECORD
from gateway.keygen import keygen
from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer, Verifier
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from gateway.witness import Cosigner, ServerSettings
from tests.cli import Ran, run
from tests.conftest import Harness, order_event, run_gateway
from tests.witness.conftest import Witness, start_witness

ORIGIN = "jerone.fi/disclosure-record"
AUDITOR = "auditor.test.invalid/witness"


def spec_cosigned(note: str, vkey: str) -> list[int]:
    """The times of the valid cosignatures by ``vkey`` in ``note``, checked by the recipe of
    c2sp.org/tlog-cosignature (not by the gateway's code)."""
    name, key_id, encoded = vkey.split("+", 2)
    public = base64.b64decode(encoded)[1:]
    text = note[: note.rfind("\n\n") + 1]
    times = []
    for line in note[note.rfind("\n\n") + 2:].splitlines():
        line_name, blob64 = line.removeprefix("\u2014 ").split(" ")
        blob = base64.b64decode(blob64)
        if line_name != name or blob[:4].hex() != key_id:
            continue
        (when,) = struct.unpack(">Q", blob[4:12])
        message = b"cosignature/v1\ntime " + str(when).encode() + b"\n" + text.encode()
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[12:], message)
        except InvalidSignature:
            continue
        times.append(when)
    return times


def cli(*args: str) -> Ran:
    return run(*args)


@pytest.fixture
async def auditor(tmp_path: Path) -> AsyncIterator[Witness]:
    """The auditor's witness, trusting the gateway's checkpoint key (made here first)."""
    keygen(tmp_path / "secrets", origin=ORIGIN)
    log_key = Verifier.from_key_string((tmp_path / "secrets/checkpoint.pub").read_text().strip())
    cosigner = Cosigner.generate(AUDITOR)
    (tmp_path / "witness.pub").write_text(cosigner.public().vkey() + "\n")
    settings = ServerSettings(cosigner=cosigner, state=tmp_path / "auditor/state.sqlite",
                              host="127.0.0.1", port=0, logs={ORIGIN: (log_key,)})
    async with aiohttp.ClientSession() as http:
        witness = await start_witness(settings, http)
        yield witness
        await witness.runner.cleanup()


def with_witness(witness: Witness) -> Any:  # noqa: ANN401
    def change(raw: dict[str, Any]) -> None:
        raw["witnesses"] = [{"name": "auditor", "url": witness.url,
                             "public_key": witness.cosigner.public().vkey()}]
        raw["witnessing"] = {"quorum": 1, "timeout": 5.0}
        raw["record"]["checkpoint_interval"] = 0.001  # a checkpoint after every batch
    return change


async def served(gw: Harness) -> str:
    async with gw.http.get(gw.url + "/v1/record/checkpoint") as resp:
        assert resp.status == 200
        return await resp.text()


async def until(check: Any, seconds: float = 15.0) -> Any:  # noqa: ANN401
    for _ in range(int(seconds / 0.05)):
        if value := await check():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def readyz(gw: Harness) -> dict[str, Any]:
    async with gw.http.get(gw.url + "/readyz") as resp:
        doc: dict[str, Any] = await resp.json()
        return doc


async def metrics(gw: Harness) -> str:
    async with gw.http.get(gw.url + "/metrics") as resp:
        return await resp.text()


async def book(gw: Harness, n: int) -> None:
    for _ in range(n):
        status, _, _ = await gw.post(order_event("posti", "home_delivery"))
        assert status == 201


@pytest.mark.usefixtures("carrier_env")
class TestWitnessedGateway:
    async def test_the_served_checkpoint_carries_the_witness_cosignature(
            self, tmp_path: Path, auditor: Witness) -> None:
        vkey = auditor.cosigner.public().vkey()
        async with run_gateway(tmp_path, with_witness(auditor)) as gw:
            await book(gw, 3)
            async def cosigned_latest() -> str | None:
                note = await served(gw)
                newest = await gw.app[RECORD].latest_checkpoint()
                same = newest is not None and note.startswith(newest.split("\n\n")[0])
                return note if same and spec_cosigned(note, vkey) else None

            note = await until(cosigned_latest)
            signed_size = int(note.split("\n")[1])
            assert signed_size >= 6  # three disclosures: an intent and an outcome each
            doc = await readyz(gw)
            assert doc["witnessing"]["witnesses"]["auditor"]["state"] == "ok"
            assert doc["witnessing"]["witnesses"]["auditor"]["cosigned_size"] >= signed_size
            text = await metrics(gw)
            assert 'gateway_witness_state{gateway_witness_state="ok",witness="auditor"} 1.0' in text
            assert 'gateway_witness_lag_entries{witness="auditor"}' in text
        result = cli("log", "verify", "--db", str(tmp_path / "record.sqlite"), "--public-key",
                     str(tmp_path / "secrets/checkpoint.pub"), "--witness-key",
                     str(tmp_path / "witness.pub"), "--quorum", "1", "--quiet")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("OK")
        assert result.stdout.rstrip().endswith("; witnessed by 1 of 1 witness (quorum 1)")

    async def test_a_checkpoint_another_process_signs_is_witnessed(
            self, tmp_path: Path, auditor: Witness) -> None:
        """A second process on the record file (as `gateway staff add` is) appends and signs a
        checkpoint at close; with no hook to the gateway, its checkpoint still reaches the
        witness and /readyz counts it."""
        vkey = auditor.cosigner.public().vkey()
        async with run_gateway(tmp_path, with_witness(auditor)) as gw:
            await book(gw, 1)
            secrets = tmp_path / "secrets"
            other = Record(store=ThreadedStore(SqliteStore(tmp_path / "record.sqlite")),
                           kek=bytes.fromhex((secrets / "record-kek").read_text().strip()),
                           signer=Signer.from_key_string(
                               (secrets / "checkpoint.key").read_text().strip()),
                           origin=ORIGIN)
            await other.open()
            await other.append(Draft(kind=Kind.REVIEW, data={"by": "another process"}))
            await other.close()
            size, _ = await gw.app[RECORD].head()

            async def witnessed() -> bool:
                note = await served(gw)
                return int(note.split("\n")[1]) == size and bool(spec_cosigned(note, vkey))

            await until(witnessed)
            doc = await readyz(gw)
            assert doc["witnessing"]["latest_checkpoint"] == size
            assert doc["witnessing"]["witnesses"]["auditor"]["cosigned_size"] == size

    async def test_a_rewritten_tail_re_signed_by_the_operator_is_refused(
            self, tmp_path: Path, auditor: Witness) -> None:
        async with run_gateway(tmp_path, with_witness(auditor)) as gw:
            await book(gw, 4)
            await until(lambda: _witness_caught_up(gw))
        db_path = tmp_path / "record.sqlite"
        seen = _newest_checkpoint_size(db_path)
        assert seen >= 8

        # The operator rewrites the last three entries and re-signs with its own key.
        await rewrite_tail(tmp_path, keep=seen - 3, forged=4)
        (tmp_path / "record.sqlite.checkpoint").unlink()
        plain = cli("log", "verify", "--db", str(db_path), "--public-key",
                    str(tmp_path / "secrets/checkpoint.pub"), "--quiet")
        assert plain.returncode == 0, plain.stdout  # the operator's signatures all hold
        assert "witness" not in plain.stdout  # no witness was asked about
        witnessed = cli("log", "verify", "--db", str(db_path), "--public-key",
                        str(tmp_path / "secrets/checkpoint.pub"), "--witness-key",
                        str(tmp_path / "witness.pub"), "--quorum", "1", "--quiet")
        assert witnessed.returncode == 1
        assert "is not witnessed" in witnessed.stdout

        # The gateway, run on the rewritten record, submits it: the witness says 422.
        async with run_gateway(tmp_path, with_witness(auditor)) as gw:
            with capture_logs() as events:  # the submitter retries: the alert comes again
                state = await until(lambda: _state(gw, "inconsistent"))
                assert state["lag"] > 0
                text = await metrics(gw)
                assert ('gateway_witness_state{gateway_witness_state="inconsistent",'
                        'witness="auditor"} 1.0') in text
                assert 'result="inconsistent",witness="auditor"' in text
                # What is served is the newest checkpoint the witness did cosign: one within
                # the untouched prefix, never the rewritten tail.
                note = await served(gw)
                assert int(note.split("\n")[1]) <= seen - 3

                async def alerted() -> list[dict[str, Any]]:
                    return [dict(e) for e in events if e["event"] == "witness.inconsistent"]

                alert = (await until(alerted))[0]
        assert alert["log_level"] == "critical"
        assert alert["alert"] is True
        refused = sqlite3.connect(auditor.settings.state)
        assert refused.execute("SELECT count(*) FROM evidence").fetchone()[0] >= 1
        assert refused.execute("SELECT size FROM logs").fetchone()[0] == seen
        refused.close()


async def _witness_caught_up(gw: Harness) -> bool:
    doc = await readyz(gw)
    witness = doc["witnessing"]["witnesses"]["auditor"]
    return bool(witness["state"] == "ok" and witness["lag"] == 0
                and witness["cosigned_size"] > 0)


async def _state(gw: Harness, state: str) -> dict[str, Any] | None:
    witness: dict[str, Any] = (await readyz(gw))["witnessing"]["witnesses"]["auditor"]
    return witness if witness["state"] == state else None


def _newest_checkpoint_size(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        size: int = db.execute("SELECT max(size) FROM checkpoints").fetchone()[0]
        return size
    finally:
        db.close()


async def rewrite_tail(tmp_path: Path, *, keep: int, forged: int) -> None:
    """What an operator holding the file and the signing key can do: drop the entries from
    ``keep`` on (past the database's own guards), append ``forged`` others and sign new
    checkpoints over them with the gateway's key."""
    path = tmp_path / "record.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    for trigger in ("entries_no_delete", "checkpoints_no_delete"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("DELETE FROM entries WHERE seq >= ?", (keep,))
    db.execute("DELETE FROM checkpoints WHERE size > ?", (keep,))
    db.execute("DELETE FROM head")
    # The forged disclosures name the recorded policy version and one of its rules, as the
    # gateway's own do.
    ((body,),) = db.execute("SELECT body FROM entries WHERE kind = ?", (Kind.POLICY,))
    rule = orjson.loads(body)["data"]["document"]["rules"][0]
    digest = hashlib.sha256(orjson.dumps(rule, option=orjson.OPT_SORT_KEYS)).hexdigest()
    db.close()
    secrets = tmp_path / "secrets"
    record = Record(store=ThreadedStore(SqliteStore(path)),
                    kek=bytes.fromhex((secrets / "record-kek").read_text().strip()),
                    signer=Signer.from_key_string((secrets / "checkpoint.key").read_text().strip()),
                    origin=ORIGIN)
    await record.open()
    for i in range(forged):
        await record.append(Draft(kind=Kind.INTENT, disclosure=f"d_forged_{i}",
                                  recipient="posti", policy=digest,
                                  data={"policy_version": 0, "note": hashlib.sha256(
                                      str(i).encode()).hexdigest()}))
    await record.close()
