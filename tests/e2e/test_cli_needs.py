"""Each `gateway` command asks only for what it uses: with none of the carriers' credential
variables set, the staff, record, key, review, authority and erasure commands run; `serve`,
which reaches the carriers, names every missing variable in one line. `serve` says where it
listens and, when stopped, the checkpoint it ended on."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import tomllib
from pathlib import Path

import orjson
import pytest

from gateway.demo import sandbox_credentials
from tests.cli import Cli, command, environ
from tests.conftest import CANARY_CUSTOMER, ROOT, unreachable_carriers, write_config
from tests.review.test_review_cli import config  # noqa: F401 - the fixture

PASSWORD = "a long enough passphrase"


@pytest.fixture
def cli(tmp_path: Path, no_carrier_env: list[str],
        monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The shipped config with fresh secrets and no carrier credential in the environment,
    and staff account dpo (admin, reviewer, intake officer) added through the CLI."""
    monkeypatch.setenv("GATEWAY_STAFF_PASSWORD", PASSWORD)
    run = Cli(write_config(tmp_path, unreachable_carriers()))
    run.ok("staff", "add", "dpo", "--role", "admin", "--role", "reviewer",
           "--role", "intake_officer")
    return run


@pytest.fixture
def shipped(config: Path,
            monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A record the gateway disclosed the canary customer's orders into (staff rea, a
    reviewer, and dpo, an admin); then no carrier credential in the environment."""
    monkeypatch.setenv("GATEWAY_STAFF_PASSWORD", PASSWORD)
    for env in sandbox_credentials(tomllib.loads((ROOT / "config.toml").read_text())):
        monkeypatch.delenv(env)
    run = Cli(config)
    run.ok("staff", "add", "dpo", "--role", "admin")
    return run


class TestWithoutCarrierCredentials:
    def test_staff_commands_run(self, cli: Cli, tmp_path: Path) -> None:
        """Adding, listing, changing roles, disabling, enabling and resetting a password need
        the record and its keys, not the carriers."""
        (tmp_path / "pw").write_text("another long passphrase\n")
        assert "dpo" in cli.ok("staff", "list")
        assert "now holds admin, reviewer" in cli.ok("staff", "roles", "dpo",
                                                      "--set", "admin,reviewer")
        assert cli.ok("staff", "disable", "dpo").startswith("disabled dpo")
        assert cli.ok("staff", "enable", "dpo").startswith("enabled dpo")
        assert cli.ok("staff", "password", "dpo", "--password-file",
                      str(tmp_path / "pw")).startswith("new password set for dpo")

    def test_record_and_key_commands_run(self, cli: Cli) -> None:
        """Listing and verifying the record, rewrapping keys and keygen."""
        assert "staff.changed" in cli.ok("log", "show")
        assert cli.ok("log", "verify", "--quiet").startswith("OK: 1 entries")
        assert cli.ok("keys", "rewrap").startswith("rewrapped 0 customer key(s)")
        assert "already exists" in cli.ok("keygen", "--dir", str(cli.config.parent / "secrets"))

    def test_review_commands_run(self, cli: Cli) -> None:
        """Recorded reads: a search, the access and transparency reports, and the record of
        processing (which names the carriers, not their credentials)."""
        assert "staff.changed" in cli.ok("log", "show", "--kind", "staff.changed", "--as", "dpo")
        report = orjson.loads(cli.ok("report", "access", "--customer", "C-1", "--as", "dpo"))
        assert report["disclosures"] == []
        assert "read_recorded_at" in orjson.loads(cli.ok("report", "transparency", "--as",
                                                         "dpo"))
        assert "posti" in cli.ok("report", "processing")

    def test_authority_commands_run(self, cli: Cli, tmp_path: Path) -> None:
        """An intake and the list of requests."""
        form = tmp_path / "request.json"
        form.write_bytes(orjson.dumps({
            "authority": "krp", "officer": "Anna Virtanen", "rank": "rikoskomisario",
            "received_via": "letter", "reference": "R-1", "legal_basis": "Poliisilaki 4:3",
            "kind": "production", "customers": ["C-1"], "categories": ["name"],
            "deadline": "2099-01-01"}))
        taken = orjson.loads(cli.ok("authority", "intake", str(form), "--as", "dpo"))
        assert taken["state"] == "received"
        assert taken["id"] in cli.ok("authority", "list", "--as", "dpo")

    def test_erasure_commands_run(self, shipped: Cli) -> None:
        """An erasure, a legal hold, the list of holds and erasures, and a run."""
        customer = CANARY_CUSTOMER["id"]
        assert shipped.ok("erasure", "hold", "--customer", customer, "--until", "2099-01-01",
                          "--basis", "Kirjanpitolaki 2:10", "--as", "dpo").startswith(
                              "hold placed")
        assert "hold until   2099-01-01" in shipped.ok("erasure", "list", "--as", "rea")
        assert shipped.ok("erase", "--customer", customer, "--as", "rea").startswith(
            "deferred until 2099-01-01")
        assert shipped.ok("erasure", "run").startswith("erased 0 customer(s)")

    @pytest.mark.parametrize("workers", ["1", "2"])
    def test_serve_names_every_missing_credential_at_once(
        self, cli: Cli, no_carrier_env: list[str], workers: str
    ) -> None:
        """serve stops before it starts (before any worker), in one line naming every
        missing variable in the config's order."""
        ran = cli("serve", "--workers", workers)
        assert ran.returncode == 1
        assert ran.line == f"gateway: missing carrier credentials: {', '.join(no_carrier_env)}"
        assert len(no_carrier_env) == 12


def read_lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


class TestServeSays:
    def test_where_it_listens_and_the_checkpoint_it_ends_on(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """On stdout: one line with the URL and the record when it listens; when stopped, the
        final checkpoint's size and root, the same `log verify` then reports."""
        config = write_config(tmp_path, unreachable_carriers())
        env = environ(GATEWAY_STAFF_PASSWORD=PASSWORD)
        gateway = command("--config", str(config))
        subprocess.run([*gateway, "staff", "add", "dpo", "--role", "admin"], env=env,  # noqa: S603
                       check=True, capture_output=True, timeout=120)
        errors = (tmp_path / "serve.err").open("w")
        proc = subprocess.Popen([*gateway, "serve"], env=env, text=True,  # noqa: S603
                                stdout=subprocess.PIPE, stderr=errors)
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True)
        reader.start()
        try:
            listening = lines.get(timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
            reader.join(10)
            assert proc.stdout is not None
            proc.stdout.close()
        errors.close()
        assert code == 0
        assert listening.startswith("listening on http://127.0.0.1:")
        assert listening.endswith(f" (record: {tmp_path / 'record.sqlite'})\n")
        # The shipped config gives Budbee no privacy contact, and PostNord and DHL web pages:
        # their erasure notices (GDPR Art. 19) would have no address to go to. Said once it
        # listens, so a config that stops serve is its only line.
        warning = lines.get(timeout=10)
        assert warning.startswith("warning: no address for erasure notices")
        assert "to budbee, dhl_express, postnord: " in warning
        assert "posti" not in warning.replace("postnord", "")
        stopped = lines.get(timeout=10)
        verified = subprocess.run([*gateway, "log", "verify", "--quiet"], env=env,  # noqa: S603
                                  capture_output=True, text=True, check=True, timeout=120)
        root = verified.stdout.split("root ")[1].split()[0].rstrip(";")
        size = int(verified.stdout.split("OK: ")[1].split()[0])
        assert size == 2  # the policy version the gateway started with, and the staff account
        assert stopped == f"stopped; final checkpoint: {size} entries, root {root}\n"
