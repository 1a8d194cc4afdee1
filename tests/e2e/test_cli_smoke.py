"""Each `gateway` command group once as a separate process, as the console script runs it: the
module entry point, the exit code, what reaches stdout and stderr, the environment read for a
password. Every other CLI test calls ``main`` in this process; `serve` (tests/e2e/test_serve.py,
test_cli_needs.py), `demo` (test_cli.py), `witness serve` (tests/witness/test_witness_cli.py)
and a closed pipe under `log show` and `report` (tests/review/test_log_show_cli.py) run as
processes where they are tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import spawn
from tests.conftest import unreachable_carriers, write_config

PASSWORD = "a long enough passphrase"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh record (unreachable carriers, no carrier credential needed) with staff account
    dpo (admin, approver, reviewer), added by `gateway staff add` as a process reading the
    password from the environment."""
    path = write_config(tmp_path_factory.mktemp("smoke"), unreachable_carriers())
    added = spawn("--config", str(path), "staff", "add", "dpo", "--role", "admin", "--role",
                  "approver", "--role", "reviewer", env={"GATEWAY_STAFF_PASSWORD": PASSWORD})
    assert added.returncode == 0, added.stderr
    return path


def refused_in_one_line(stderr: str) -> str:
    (line,) = stderr.splitlines()
    assert line.startswith("gateway: ")
    return line


def test_staff(config: Path) -> None:
    listed = spawn("--config", str(config), "staff", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:4] == ["USER", "STATE", "ROLES", "CREATED"]
    assert "admin,approver,reviewer" in listed.stdout


def test_log(config: Path) -> None:
    verified = spawn("--config", str(config), "log", "verify", "--quiet")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("OK: ")


def test_keygen(tmp_path: Path) -> None:
    made = spawn("keygen", "--dir", str(tmp_path / "secrets"))
    assert made.returncode == 0, made.stderr
    assert f"wrote {tmp_path / 'secrets' / 'record-kek'}" in made.stdout.splitlines()


def test_keys(config: Path) -> None:
    rewrapped = spawn("--config", str(config), "keys", "rewrap")
    assert rewrapped.returncode == 0, rewrapped.stderr
    assert rewrapped.stdout == "rewrapped 0 customer key(s) with the current key-encryption key\n"


def test_policy(config: Path) -> None:
    history = spawn("--config", str(config), "policy", "history")
    assert history.returncode == 0, history.stderr
    assert history.stdout


def test_report(config: Path) -> None:
    report = spawn("--config", str(config), "report", "processing")
    assert report.returncode == 0, report.stderr
    assert "posti" in report.stdout


def test_authority(config: Path) -> None:
    listed = spawn("--config", str(config), "authority", "list", "--as", "dpo")
    assert listed.returncode == 0, listed.stderr


def test_erase(config: Path) -> None:
    erased = spawn("--config", str(config), "erase", "--customer", "C-NEVER-SEEN", "--as", "dpo")
    assert erased.returncode == 1, erased.stdout
    assert "holds nothing for that customer id" in refused_in_one_line(erased.stderr)


def test_erasure(config: Path) -> None:
    listed = spawn("--config", str(config), "erasure", "list", "--as", "dpo")
    assert listed.returncode == 0, listed.stderr


def test_receipt(tmp_path: Path) -> None:
    key = tmp_path / "checkpoint.pub"
    key.write_text("not a key\n")
    checked = spawn("receipt", "verify", str(tmp_path / "none.tlog-proof"), "--public-key",
                    str(key))
    assert checked.returncode == 1, checked.stdout
    refused_in_one_line(checked.stderr)


def test_witness(tmp_path: Path) -> None:
    made = spawn("witness", "keygen", "keys", "--name", "auditor.test.invalid/w", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "keys/witness.pub").exists()
