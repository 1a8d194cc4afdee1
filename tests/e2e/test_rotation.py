"""Key rotation without losing anything: hook secrets, the key-encryption key, the checkpoint
signing key."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

from gateway.operations.signature import HookSecret
from gateway.record.checkpoint import Signer
from gateway.record.verify import verify_sqlite
from tests.cli import arun
from tests.conftest import ROOT, order_event, run_gateway


def setter(**secrets_: Any) -> Any:  # noqa: ANN401
    def change(raw: dict[str, Any]) -> None:
        for key, value in secrets_.items():
            if key == "previous_checkpoint_keys":
                raw["gateway"][key] = value
            else:
                raw["gateway"]["secrets"][key] = value
    return change


class TestHookSecrets:
    async def test_two_secrets_are_valid_during_a_rotation(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """With old and new secrets configured, hooks signed with either are served."""
        new = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        old = tmp_path / "secrets/hook-secret"
        from gateway.keygen import keygen  # noqa: PLC0415

        keygen(tmp_path / "secrets", origin="x")
        (tmp_path / "hooks-rotating").write_text(old.read_text().strip() + "," + new)
        async with run_gateway(tmp_path, setter(hooks={"file": "hooks-rotating"})) as gw:
            for secret in (HookSecret.from_string(old.read_text()), HookSecret.from_string(new)):
                status, _, _ = await gw.post(order_event("posti", "home_delivery"), secret=secret)
                assert status == 201


class TestKeyEncryptionKey:
    async def test_rotating_the_kek_keeps_every_customer_key_readable(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """Disclose under KEK A; run with B current and A previous; rewrap; then run with B
        alone: the first hook's sealed answer still opens."""
        event = order_event("posti", "home_delivery")
        async with run_gateway(tmp_path) as gw:
            first = await gw.post(event, msg_id="msg_kek")
        (tmp_path / "kek-b").write_text(secrets.token_hex(32))
        both = setter(record_kek={"file": "kek-b"},
                      record_kek_previous={"file": "secrets/record-kek"})
        async with run_gateway(tmp_path, both) as gw:
            assert (await gw.post(event, msg_id="msg_kek"))[1] == first[1]
            config_file = tmp_path / "rotating.toml"
            text = (ROOT / "config.toml").read_text().replace(
                'path = "var/record.sqlite"', 'path = "record.sqlite"').replace(
                "var/secrets/", "secrets/").replace(
                'record_kek = { file = "secrets/record-kek" }',
                'record_kek = { file = "kek-b" }\n'
                'record_kek_previous = { file = "secrets/record-kek" }')
            config_file.write_text(text)
            result = await arun("--config", str(config_file), "keys", "rewrap")
            assert result.returncode == 0, result.stderr
            assert result.stdout.startswith("rewrapped 1 ")
        async with run_gateway(tmp_path, setter(record_kek={"file": "kek-b"})) as gw:
            assert (await gw.post(event, msg_id="msg_kek"))[1] == first[1]


class TestCheckpointKey:
    async def test_old_checkpoints_verify_with_the_retired_public_key(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """After the signing key changes, the gateway still opens its record, new checkpoints
        use the new key, and verify passes with both public keys, not with the new one alone."""
        async with run_gateway(tmp_path) as gw:
            await gw.post(order_event("posti", "home_delivery"))
        signer, _ = Signer.generate("jerone.fi/disclosure-record")
        (tmp_path / "new.key").write_text(signer.key_string())
        rotated = setter(checkpoint_signing={"file": "new.key"},
                         previous_checkpoint_keys=["secrets/checkpoint.pub"])
        async with run_gateway(tmp_path, rotated) as gw:
            assert (await gw.post(order_event("posti", "home_delivery")))[0] == 201
            config = gw.config
        report = verify_sqlite(config.record.path, config.verifiers(), origin=config.origin)
        assert report.ok, report.summary()
        assert report.checkpoints == 3  # two checkpoints and the signed head
        alone = verify_sqlite(config.record.path, [signer.verifier()], origin=config.origin)
        assert not alone.ok
