"""Standard Webhooks verification."""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest
import standardwebhooks
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.operations.signature import (
    MAX_SIGNATURES,
    TOLERANCE_SECONDS,
    HookPublicKey,
    HookSecret,
    InvalidSignature,
    hook_key,
    new_signing_pair,
    sign_headers,
    verify,
)

NOW = 1_790_000_000
BODY = b'{"type":"order.ready_to_ship"}'


@pytest.fixture
def secret() -> HookSecret:
    return HookSecret.from_string("whsec_" + base64.b64encode(b"k" * 32).decode())


class TestVerify:
    def test_accepts_a_hook_signed_now(self, secret: HookSecret) -> None:
        """A hook signed with the secret inside the window is accepted and its id returned."""
        headers = sign_headers(secret, "msg_1", BODY, timestamp=NOW)
        assert verify(headers, BODY, [secret], now=NOW).msg_id == "msg_1"

    def test_matches_the_standard_webhooks_reference_vector(self) -> None:
        """The signature equals the one the Standard Webhooks reference libraries compute."""
        # Vector from the Standard Webhooks specification's reference implementations.
        secret = HookSecret.from_string("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        body = b'{"test": 2432232314}'
        signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    @pytest.mark.parametrize("skew", [TOLERANCE_SECONDS + 1, -(TOLERANCE_SECONDS + 1)])
    def test_refuses_a_hook_outside_the_replay_window(self, secret: HookSecret, skew: int) -> None:
        """A hook older or newer than five minutes is refused, however well signed."""
        headers = sign_headers(secret, "msg_1", BODY, timestamp=NOW + skew)
        with pytest.raises(InvalidSignature):
            verify(headers, BODY, [secret], now=NOW)

    def test_refuses_a_changed_body(self, secret: HookSecret) -> None:
        """A body changed after signing is refused."""
        headers = sign_headers(secret, "msg_1", BODY, timestamp=NOW)
        with pytest.raises(InvalidSignature):
            verify(headers, BODY + b" ", [secret], now=NOW)

    def test_refuses_a_re_signed_id(self, secret: HookSecret) -> None:
        """A signature made for another webhook id does not carry over."""
        headers = sign_headers(secret, "msg_1", BODY, timestamp=NOW)
        headers["webhook-id"] = "msg_2"
        with pytest.raises(InvalidSignature):
            verify(headers, BODY, [secret], now=NOW)

    def test_refuses_another_secret(self, secret: HookSecret) -> None:
        """A hook signed with a secret the gateway does not hold is refused."""
        other = HookSecret(b"o" * 32)
        headers = sign_headers(other, "msg_1", BODY, timestamp=NOW)
        with pytest.raises(InvalidSignature):
            verify(headers, BODY, [secret], now=NOW)

    def test_accepts_either_secret_during_rotation(self, secret: HookSecret) -> None:
        """With two secrets configured, a hook signed by either is accepted."""
        new = HookSecret(b"n" * 32)
        headers = sign_headers(new, "msg_1", BODY, timestamp=NOW)
        assert verify(headers, BODY, [secret, new], now=NOW).timestamp == NOW

    def test_accepts_one_good_signature_among_several(self, secret: HookSecret) -> None:
        """A header listing a stale signature before the valid one is accepted."""
        headers = sign_headers(secret, "msg_1", BODY, timestamp=NOW)
        headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
        assert verify(headers, BODY, [secret], now=NOW).msg_id == "msg_1"

    @pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    def test_refuses_missing_headers(self, secret: HookSecret, missing: str) -> None:
        """A hook without one of the three headers is refused."""
        headers = sign_headers(secret, "msg_1", BODY, timestamp=NOW)
        del headers[missing]
        with pytest.raises(InvalidSignature):
            verify(headers, BODY, [secret], now=NOW)

    @pytest.mark.parametrize("written", [f"+{NOW}", f" {NOW}", f"{NOW:_}", f"{NOW}.0"])
    def test_refuses_a_timestamp_that_is_not_plain_digits(
        self, secret: HookSecret, written: str
    ) -> None:
        """The timestamp is signed as digits; another spelling of the same number is refused."""
        headers = sign_headers(secret, "msg_1", BODY, timestamp=NOW)
        headers["webhook-timestamp"] = written
        with pytest.raises(InvalidSignature, match="signature") as info:
            verify(headers, BODY, [secret], now=NOW)
        assert info.value.reason == "malformed webhook-timestamp"

    def test_gives_one_message_for_every_cause(self, secret: HookSecret) -> None:
        """The caller-facing message is the same whatever failed; the reason differs."""
        stale = sign_headers(secret, "msg_1", BODY, timestamp=NOW - 10_000)
        wrong = sign_headers(HookSecret(b"o" * 32), "msg_1", BODY, timestamp=NOW)
        errors = []
        for headers in (stale, wrong):
            with pytest.raises(InvalidSignature) as info:
                verify(headers, BODY, [secret], now=NOW)
            errors.append(info.value)
        assert errors[0].detail == errors[1].detail
        assert errors[0].reason != errors[1].reason


class TestHookSecret:
    @pytest.mark.parametrize("text", ["whsec_short", "not base64!", "whsec_" + "A" * 8])
    def test_refuses_weak_or_malformed_secrets(self, text: str) -> None:
        """Secrets that are not base64 or shorter than 24 bytes are refused."""
        with pytest.raises(ValueError, match="hook secret"):
            HookSecret.from_string(text)

    def test_repr_hides_the_key(self) -> None:
        """The secret's repr never shows its bytes."""
        assert "k" not in repr(HookSecret(b"k" * 32)).replace("HookSecret", "")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def public_key_text(private: Ed25519PrivateKey) -> str:
    """The spec's public key serialisation: ``whpk_`` and the base64 of the raw key."""
    return "whpk_" + b64(private.public_key().public_bytes_raw())


def v1a_headers(private: Ed25519PrivateKey, msg_id: str, body: bytes, *,
                timestamp: int = NOW) -> dict[str, str]:
    """Headers signed as the spec writes it, with cryptography directly: Ed25519 over
    ``{msg_id}.{timestamp}.{payload}``, sent as ``v1a,<base64>``."""
    signature = private.sign(f"{msg_id}.{timestamp}.".encode() + body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1a," + b64(signature)}


@pytest.fixture
def private() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def public(private: Ed25519PrivateKey) -> HookPublicKey:
    return HookPublicKey.from_string(public_key_text(private))


class TestV1a:
    def test_accepts_an_ed25519_signature_made_from_the_spec(
        self, private: Ed25519PrivateKey, public: HookPublicKey
    ) -> None:
        """A v1a signature over id, timestamp and body verifies with the whpk_ public key."""
        headers = v1a_headers(private, "msg_1", BODY)
        assert verify(headers, BODY, [public], now=NOW).msg_id == "msg_1"

    def test_refuses_a_changed_body(self, private: Ed25519PrivateKey,
                                    public: HookPublicKey) -> None:
        """A body changed after signing is refused."""
        headers = v1a_headers(private, "msg_1", BODY)
        with pytest.raises(InvalidSignature):
            verify(headers, BODY.replace(b"ready", b"READY"), [public], now=NOW)

    def test_refuses_a_re_signed_id_or_timestamp(self, private: Ed25519PrivateKey,
                                                 public: HookPublicKey) -> None:
        """The id and the timestamp are signed: changing either breaks the signature."""
        for header, value in (("webhook-id", "msg_2"), ("webhook-timestamp", str(NOW + 1))):
            headers = v1a_headers(private, "msg_1", BODY)
            headers[header] = value
            with pytest.raises(InvalidSignature):
                verify(headers, BODY, [public], now=NOW)

    def test_refuses_another_key(self, public: HookPublicKey) -> None:
        """A v1a signature by a key whose public half is not configured is refused."""
        headers = v1a_headers(Ed25519PrivateKey.generate(), "msg_1", BODY)
        with pytest.raises(InvalidSignature):
            verify(headers, BODY, [public], now=NOW)

    def test_refuses_v1a_against_shared_secrets_only(self, private: Ed25519PrivateKey,
                                                     secret: HookSecret) -> None:
        """With only HMAC secrets configured, no Ed25519 signature is accepted."""
        with pytest.raises(InvalidSignature) as info:
            verify(v1a_headers(private, "msg_1", BODY), BODY, [secret], now=NOW)
        assert "v1a x1" in info.value.reason
        assert "keys held: v1)" in info.value.reason

    def test_refuses_v1_against_public_keys_only(self, secret: HookSecret,
                                                 public: HookPublicKey) -> None:
        """With only public keys configured, an HMAC signature is not enough."""
        with pytest.raises(InvalidSignature):
            verify(sign_headers(secret, "msg_1", BODY, timestamp=NOW), BODY, [public], now=NOW)

    def test_refuses_a_v1a_signature_labelled_v1(self, private: Ed25519PrivateKey,
                                                public: HookPublicKey) -> None:
        """A signature counts only under its own scheme's label."""
        headers = v1a_headers(private, "msg_1", BODY)
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1a,", "v1,")
        with pytest.raises(InvalidSignature):
            verify(headers, BODY, [public], now=NOW)

    @pytest.mark.parametrize("skew", [TOLERANCE_SECONDS + 1, -(TOLERANCE_SECONDS + 1)])
    def test_refuses_a_hook_outside_the_replay_window(
        self, private: Ed25519PrivateKey, public: HookPublicKey, skew: int
    ) -> None:
        """The replay window holds for v1a as for v1."""
        headers = v1a_headers(private, "msg_1", BODY, timestamp=NOW + skew)
        with pytest.raises(InvalidSignature):
            verify(headers, BODY, [public], now=NOW)

    def test_accepts_any_configured_key_during_rotation(
        self, private: Ed25519PrivateKey, public: HookPublicKey, secret: HookSecret
    ) -> None:
        """With a secret and two public keys configured, a hook signed by any one of them is
        accepted."""
        new = Ed25519PrivateKey.generate()
        keys: list[HookSecret | HookPublicKey] = [
            secret, public, HookPublicKey.from_string(public_key_text(new))]
        for headers in (v1a_headers(private, "msg_1", BODY), v1a_headers(new, "msg_1", BODY),
                        sign_headers(secret, "msg_1", BODY, timestamp=NOW)):
            assert verify(headers, BODY, keys, now=NOW).msg_id == "msg_1"

    def test_accepts_the_spec_header_of_v1_and_v1a_entries(
        self, private: Ed25519PrivateKey, public: HookPublicKey, secret: HookSecret
    ) -> None:
        """A header listing a v1 and a v1a signature (the spec's example form) verifies with
        either kind of key, and bad or unknown entries before them are skipped."""
        v1 = sign_headers(secret, "msg_1", BODY, timestamp=NOW)["webhook-signature"]
        v1a = v1a_headers(private, "msg_1", BODY)["webhook-signature"]
        headers = v1a_headers(private, "msg_1", BODY)
        headers["webhook-signature"] = f"v2,AAAA v1a,not*base64 v1a,AAAA {v1} {v1a}"
        assert verify(headers, BODY, [public], now=NOW).msg_id == "msg_1"
        assert verify(headers, BODY, [secret], now=NOW).msg_id == "msg_1"

    def test_refuses_a_header_of_too_many_signatures(
        self, private: Ed25519PrivateKey, public: HookPublicKey
    ) -> None:
        """A header stuffed with signatures is refused before any is checked, even with a
        good one among them."""
        headers = v1a_headers(private, "msg_1", BODY)
        headers["webhook-signature"] = " ".join(
            ["v1a," + b64(bytes(64))] * MAX_SIGNATURES + [headers["webhook-signature"]])
        with pytest.raises(InvalidSignature) as info:
            verify(headers, BODY, [public], now=NOW)
        assert "more than" in info.value.reason

    def test_gives_one_message_for_every_cause(
        self, private: Ed25519PrivateKey, public: HookPublicKey, secret: HookSecret
    ) -> None:
        """Wrong key, changed body and a v1a signature against HMAC secrets give one message."""
        good = v1a_headers(private, "msg_1", BODY)
        cases: list[tuple[dict[str, str], bytes, list[HookSecret | HookPublicKey]]] = [
                 (v1a_headers(Ed25519PrivateKey.generate(), "msg_1", BODY), BODY, [public]),
                 (good, BODY + b" ", [public]),
                 (good, BODY, [secret])]
        errors = []
        for headers, body, keys in cases:
            with pytest.raises(InvalidSignature) as info:
                verify(headers, body, keys, now=NOW)
            errors.append(info.value)
        assert len({e.detail for e in errors}) == 1
        assert len({e.reason for e in errors}) == 2


class TestHookKey:
    def test_tells_the_kinds_apart_by_prefix(self, private: Ed25519PrivateKey) -> None:
        """whpk_ is a public key; whsec_ or no prefix is a shared secret."""
        raw = b64(b"k" * 32)
        assert isinstance(hook_key(public_key_text(private)), HookPublicKey)
        assert isinstance(hook_key("whsec_" + raw), HookSecret)
        assert isinstance(hook_key(raw), HookSecret)

    def test_refuses_a_signing_key_without_showing_it(self) -> None:
        """A whsk_ signing key is refused with a pointer to its public half, its value never
        repeated."""
        signing, _ = new_signing_pair()
        with pytest.raises(ValueError, match="whpk_") as info:
            hook_key(signing)
        assert signing.removeprefix("whsk_") not in str(info.value)

    @pytest.mark.parametrize("text", ["whpk_" + b64(bytes(31)), "whpk_" + b64(bytes(33)),
                                      "whpk_not*base64", "whpk_"])
    def test_refuses_malformed_public_keys(self, text: str) -> None:
        """A public key must be base64 of exactly 32 bytes."""
        with pytest.raises(ValueError, match="public key"):
            hook_key(text)

    def test_a_new_pair_is_the_spec_s_serialisation(self) -> None:
        """new_signing_pair writes whsk_ (32-byte private key) and its whpk_ public key: a
        signature made with the first verifies with the second."""
        signing, public = new_signing_pair()
        raw = base64.b64decode(signing.removeprefix("whsk_"), validate=True)
        headers = v1a_headers(Ed25519PrivateKey.from_private_bytes(raw), "msg_1", BODY)
        assert verify(headers, BODY, [hook_key(public)], now=NOW).msg_id == "msg_1"


class TestReferenceLibraryInterop:
    """v1 against the Standard Webhooks reference library (``standardwebhooks`` on PyPI),
    which verifies against the real clock."""

    SECRET = "whsec_" + b64(bytes(range(32)))

    def test_the_gateway_verifies_what_the_reference_library_signs(self) -> None:
        """A v1 signature made by the reference library verifies here."""
        now = int(time.time())
        signature = standardwebhooks.Webhook(self.SECRET).sign(
            "msg_ref", dt.datetime.fromtimestamp(now, tz=dt.UTC), BODY.decode())
        headers = {"webhook-id": "msg_ref", "webhook-timestamp": str(now),
                   "webhook-signature": signature}
        secret = HookSecret.from_string(self.SECRET)
        assert verify(headers, BODY, [secret], now=now).msg_id == "msg_ref"

    def test_the_reference_library_verifies_what_the_gateway_signs(self) -> None:
        """The headers sign_headers makes (as the demo and tests send) pass the reference
        library's verify, a v1a entry beside them included."""
        headers = sign_headers(HookSecret.from_string(self.SECRET), "msg_gw", BODY)
        standardwebhooks.Webhook(self.SECRET).verify(BODY, headers)
        headers["webhook-signature"] += " " + v1a_headers(
            Ed25519PrivateKey.generate(), "msg_gw", BODY)["webhook-signature"]
        standardwebhooks.Webhook(self.SECRET).verify(BODY, headers)

    def test_both_refuse_a_changed_body(self) -> None:
        """A changed body fails in the reference library and here alike."""
        headers = sign_headers(HookSecret.from_string(self.SECRET), "msg_gw", BODY)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(self.SECRET).verify(BODY + b" ", headers)
        with pytest.raises(InvalidSignature):
            verify(headers, BODY + b" ", [HookSecret.from_string(self.SECRET)],
                   now=time.time())
