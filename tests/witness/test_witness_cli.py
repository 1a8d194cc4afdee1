"""`gateway witness keygen` and `gateway witness serve` as an auditor runs them, in a
subprocess: killed (SIGKILL) in the middle of a stream of submissions and started again, the
witness holds a checkpoint it durably took, never less than one it cosigned, and carries on
from it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from gateway.cli import main
from gateway.record.checkpoint import Signer
from gateway.witness import CosignerKey
from gateway.witness.cosignature import note_text, valid_cosignatures
from tests.conftest import ROOT
from tests.witness.conftest import ORIGIN, Log, body


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=60, check=False)


async def serve(tmp_path: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "witness", "serve", "--config", "witness.toml",
        "--port", "0", cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert " listening on http://" in line, line
    return proc, line.rsplit(" ", 1)[1].strip()


def setup_witness(tmp_path: Path, log: Log) -> CosignerKey:
    made = cli("witness", "keygen", "keys", "--name", "auditor.test.invalid/w", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert oct((tmp_path / "keys/witness.key").stat().st_mode)[-3:] == "600"
    (tmp_path / "log.pub").write_text(log.signer.verifier().key_string() + "\n")
    (tmp_path / "witness.toml").write_text(
        '[witness]\nkey = "keys/witness.key"\nstate = "state/witness.sqlite"\n'
        f'[[logs]]\norigin = "{ORIGIN}"\npublic_key_file = "log.pub"\n')
    return CosignerKey.from_vkey((tmp_path / "keys/witness.pub").read_text())


async def test_keygen_refuses_to_replace_a_key(tmp_path: Path) -> None:
    assert cli("witness", "keygen", "k", "--name", "a.invalid/w", cwd=tmp_path).returncode == 0
    again = cli("witness", "keygen", "k", "--name", "a.invalid/w", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("gateway: ")
    assert "Traceback" not in again.stderr


async def test_a_bad_settings_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "witness.toml").write_text("[witness]\nkey = 'missing.key'\n")
    result = cli("witness", "serve", "--config", "witness.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


async def test_killed_mid_update_it_restarts_on_a_checkpoint_it_took(tmp_path: Path,
                                                                     log: Log) -> None:
    key = setup_witness(tmp_path, log)
    proc, url = await serve(tmp_path)
    cosigned: list[int] = []
    held = 0
    async with aiohttp.ClientSession() as http:

        async def submit_until_killed() -> None:
            nonlocal held
            while True:
                log.grow(3)
                note = log.note()
                try:
                    async with http.post(url + "/add-checkpoint",
                                         data=body(held, log.proof(held), note)) as resp:
                        text = await resp.text()
                except aiohttp.ClientError:
                    return
                assert resp.status == 200, text
                assert key in valid_cosignatures(note_text(note), text, [key])
                held = len(log.leaves)
                cosigned.append(held)

        task = asyncio.create_task(submit_until_killed())
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await asyncio.wait_for(task, 10)
        assert len(cosigned) > 5

        db = sqlite3.connect(tmp_path / "state/witness.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        proc, url = await serve(tmp_path)
        try:
            async with http.post(url + "/add-checkpoint", data=body(0, [], log.note())) as resp:
                assert resp.status == 409
                size = int(await resp.text())
            # Every cosignature it answered was durable first; at most the one in flight when
            # it died was taken without an answer.
            assert size in (cosigned[-1], cosigned[-1] + 3)
            log.grow(5)
            async with http.post(url + "/add-checkpoint",
                                 data=body(size, log.proof(size), log.note())) as resp:
                assert resp.status == 200
        finally:
            proc.terminate()
            await proc.wait()


@pytest.mark.parametrize("command", [
    ["log", "verify", "--db", "record.sqlite", "--public-key", "log.pub"],
    ["receipt", "verify", "receipt.tlog-proof", "--public-key", "log.pub"],
    ["log", "monitor", "http://127.0.0.1:9", "--public-key", "log.pub"],
])
def test_a_log_key_given_as_a_witness_key_is_refused_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: list[str]) -> None:
    """A log's checkpoint key passed as --witness-key is refused in one line that names the
    file and says what it holds."""
    monkeypatch.chdir(tmp_path)
    _, log_key = Signer.generate(ORIGIN)
    (tmp_path / "log.pub").write_text(log_key + "\n")
    (tmp_path / "checkpoint.pub").write_text(log_key + "\n")
    (tmp_path / "receipt.tlog-proof").write_text("c2sp.org/tlog-proof@v1\n")
    code = main([*command, "--witness-key", "checkpoint.pub"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [
        "gateway: checkpoint.pub: not a valid witness key (a cosignature/v1 Ed25519 vkey) "
        "(it holds a log's checkpoint key: give that as --public-key)"]
