"""Standard Webhooks v1a (Ed25519) beside v1 (HMAC) through POST /v1/hooks/orders, configured
the way an operator does it: `gateway keygen --hook-signing`, key files named in the `hooks`
secret. The pipeline's signatures are made with cryptography directly, as the spec writes them."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.errors import ConfigError
from gateway.keygen import keygen
from tests.cli import Ran, run
from tests.conftest import Harness, load_config, order_event, run_gateway

ORIGIN = "jerone.fi/disclosure-record"


def hooks_file(name: str) -> Any:  # noqa: ANN401
    """A config change: the `hooks` secret read from ``name`` (relative to the config)."""
    def change(raw: dict[str, Any]) -> None:
        raw["gateway"]["secrets"]["hooks"] = {"file": name}
    return change


def pipeline_key(tmp_path: Path) -> Ed25519PrivateKey:
    """The whsk_ signing key keygen wrote, loaded as the pipeline would: base64 of the 32-byte
    Ed25519 private key."""
    text = (tmp_path / "secrets/hook-signing.key").read_text().strip()
    assert text.startswith("whsk_")
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text.removeprefix("whsk_")))


def v1a_headers(private: Ed25519PrivateKey, body: bytes) -> dict[str, str]:
    msg_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    signature = private.sign(f"{msg_id}.{timestamp}.".encode() + body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1a," + base64.b64encode(signature).decode()}


async def post(gateway: Harness, body: bytes, headers: Mapping[str, str],
               ) -> tuple[int, bytes, str]:
    async with gateway.http.post(gateway.url + "/v1/hooks/orders", data=body,
                                 headers={**headers, "content-type": "application/json"},
                                 ) as resp:
        return resp.status, await resp.read(), resp.content_type


def order() -> bytes:
    return orjson.dumps(order_event("posti", "home_delivery"))


class TestV1a:
    async def test_an_order_signed_with_ed25519_is_served(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """With only the whpk_ public key configured, an order signed v1a is booked, and one
        signed with the HMAC secret (no longer configured) is refused."""
        keygen(tmp_path / "secrets", origin=ORIGIN, hook_signing=True)
        async with run_gateway(tmp_path, hooks_file("secrets/hook-signing.pub")) as gw:
            body = order()
            status, answer, _ = await post(gw, body, v1a_headers(pipeline_key(tmp_path), body))
            assert status == 201, answer
            assert orjson.loads(answer)["tracking_number"]
            assert len(gw.bookings("posti")) == 1
            status, _, _ = await gw.post(order_event("posti", "home_delivery"))
            assert status == 401

    async def test_secret_and_public_key_are_valid_together(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """The two key files concatenated into one `hooks` secret: a v1 and a v1a order are
        both served (a move from HMAC to Ed25519 without downtime)."""
        secrets = tmp_path / "secrets"
        keygen(secrets, origin=ORIGIN, hook_signing=True)
        (tmp_path / "hooks").write_text(
            (secrets / "hook-secret").read_text() + (secrets / "hook-signing.pub").read_text())
        async with run_gateway(tmp_path, hooks_file("hooks")) as gw:
            body = order()
            assert (await post(gw, body, v1a_headers(pipeline_key(tmp_path), body)))[0] == 201
            assert (await gw.post(order_event("posti", "home_delivery")))[0] == 201
            assert len(gw.bookings("posti")) == 2

    async def test_every_failure_answers_the_same_401(
        self, tmp_path: Path, carrier_env: None
    ) -> None:
        """A wrong key, a tampered body, and a v1a signature sent to a gateway holding only
        HMAC secrets get byte-identical 401 problems; nothing is recorded or sent; the log
        tells the causes apart without any key or customer value."""
        body = order()
        answers = []
        keygen(tmp_path / "v1a/secrets", origin=ORIGIN, hook_signing=True)
        run = run_gateway(tmp_path / "v1a", hooks_file("secrets/hook-signing.pub"))
        async with run as gw:
            good = v1a_headers(pipeline_key(tmp_path / "v1a"), body)
            answers.append(await post(gw, body, v1a_headers(Ed25519PrivateKey.generate(), body)))
            answers.append(await post(gw, body.replace(b"home_delivery", b"pickup_point"), good))
            assert not gw.received()
        v1a_log = run.log.getvalue()
        (tmp_path / "hmac").mkdir()
        run = run_gateway(tmp_path / "hmac")
        async with run as gw:
            answers.append(await post(gw, body, good))
            assert not gw.received()
        statuses = {status for status, _, _ in answers}
        bodies = {text for _, text, _ in answers}
        assert statuses == {401}
        assert len(bodies) == 1
        assert {kind for _, _, kind in answers} == {"application/problem+json"}
        problem = orjson.loads(bodies.pop())
        assert problem["detail"] == "The hook's signature could not be verified."
        reasons = [orjson.loads(line).get("reason") for line in
                   (v1a_log + run.log.getvalue()).splitlines() if "http.refused" in line]
        assert len(reasons) == 3
        assert "keys held: v1)" in reasons[2]
        assert "keys held: v1a)" in reasons[0]
        key = (tmp_path / "v1a/secrets/hook-signing.pub").read_text().strip()
        assert key.removeprefix("whpk_") not in v1a_log

    def test_the_signing_key_is_refused_in_the_hooks_secret(self, tmp_path: Path,
                                                            carrier_env: None) -> None:
        """Configuring the pipeline's whsk_ key by mistake stops the start with a message that
        names the public key to use instead, and not the key."""
        keygen(tmp_path / "secrets", origin=ORIGIN, hook_signing=True)
        with pytest.raises(ConfigError, match="whpk_") as info:
            load_config(tmp_path, {}, hooks_file("secrets/hook-signing.key"))
        signing = (tmp_path / "secrets/hook-signing.key").read_text().strip()
        assert signing.removeprefix("whsk_") not in str(info.value)


def cli(*args: str) -> Ran:
    return run(*args)


class TestKeygen:
    def test_keygen_writes_the_pair_once_and_keeps_the_public_key(self, tmp_path: Path) -> None:
        """`gateway keygen --hook-signing` writes the whsk_/whpk_ pair with a note on where
        each goes; run again it writes nothing; once the signing key has moved to the pipeline,
        the public key is not replaced."""
        first = cli("keygen", "--dir", str(tmp_path), "--hook-signing")
        assert first.returncode == 0, first.stderr
        assert "hook-signing.key" in first.stdout
        assert "move hook-signing.key to the order pipeline" in first.stdout
        assert (tmp_path / "hook-signing.key").stat().st_mode & 0o077 == 0
        public = (tmp_path / "hook-signing.pub").read_text()
        assert public.startswith("whpk_")
        again = cli("keygen", "--dir", str(tmp_path), "--hook-signing")
        assert again.returncode == 0, again.stderr
        assert "hook-signing" not in again.stdout
        (tmp_path / "hook-signing.key").unlink()
        moved = cli("keygen", "--dir", str(tmp_path), "--hook-signing")
        assert moved.returncode == 0, moved.stderr
        assert (tmp_path / "hook-signing.pub").read_text() == public
        assert not (tmp_path / "hook-signing.key").exists()

    def test_keygen_without_the_flag_writes_no_pair(self, tmp_path: Path) -> None:
        """Without --hook-signing, keygen writes only the gateway's own secrets."""
        assert cli("keygen", "--dir", str(tmp_path)).returncode == 0
        assert not list(tmp_path.glob("hook-signing.*"))
