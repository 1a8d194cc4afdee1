"""Standard Webhooks verification."""

from __future__ import annotations

import base64

import pytest

from gateway.webhooks import TOLERANCE_SECONDS, HookSecret, InvalidSignature, sign_headers, verify

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
