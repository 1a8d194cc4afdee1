"""Cosignatures against the text of c2sp.org/tlog-cosignature, built and checked here with the
spec's own recipe (not the gateway's code): the signed message is ``cosignature/v1``, ``time
<t>`` and the checkpoint's note text; the line is ``— <name> base64(key id || u64 timestamp ||
Ed25519 signature)``; the key id is ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.errors import ConfigError
from gateway.witness import Cosigner, CosignerKey, WitnessPolicy, WitnessRef
from gateway.witness.cosignature import valid_cosignatures
from tests.witness.conftest import WITNESS_NAME, key_id

TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
TIME = 1679315147


def spec_message(text: str, timestamp: int) -> bytes:
    return b"cosignature/v1\n" + b"time " + str(timestamp).encode() + b"\n" + text.encode()


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def spec_line(name: str, key: Ed25519PrivateKey, text: str, timestamp: int) -> str:
    signature = key.sign(spec_message(text, timestamp))
    blob = key_id(name, 0x04, raw_public(key)) + struct.pack(">Q", timestamp) + signature
    return f"\u2014 {name} {base64.b64encode(blob).decode()}\n"


def spec_vkey(name: str, key: Ed25519PrivateKey) -> str:
    encoded = base64.b64encode(b"\x04" + raw_public(key)).decode()
    return f"{name}+{key_id(name, 0x04, raw_public(key)).hex()}+{encoded}"


class TestTheWitnessSigns:
    def test_the_line_verifies_by_the_spec(self) -> None:
        """The witness's line decodes to key id, big-endian time and an Ed25519 signature over
        the spec's message, by the public key its vkey names."""
        cosigner = Cosigner.generate(WITNESS_NAME)
        line = cosigner.cosign(TEXT, TIME)
        assert line.startswith(f"\u2014 {WITNESS_NAME} ")
        assert line.endswith("\n")
        blob = base64.b64decode(line.split(" ")[2])
        vkey_name, vkey_id, vkey_key = cosigner.public().vkey().split("+", 2)
        public = base64.b64decode(vkey_key)
        assert vkey_name == WITNESS_NAME
        assert public[0] == 0x04
        assert bytes.fromhex(vkey_id) == key_id(WITNESS_NAME, 0x04, public[1:])
        assert blob[:4] == key_id(WITNESS_NAME, 0x04, public[1:])
        assert struct.unpack(">Q", blob[4:12])[0] == TIME
        assert len(blob) == 4 + 8 + 64
        Ed25519PublicKey.from_public_bytes(public[1:]).verify(blob[12:],
                                                             spec_message(TEXT, TIME))

    def test_the_key_id_is_not_the_checkpoint_keys(self) -> None:
        """Type 0x04, not the note signature type 0x01: a cosigner key cannot pass for a log
        key of the same name."""
        cosigner = Cosigner.generate(WITNESS_NAME)
        public = cosigner.public().public_key
        assert cosigner.key_id == key_id(WITNESS_NAME, 0x04, public)
        assert cosigner.key_id != key_id(WITNESS_NAME, 0x01, public)

    def test_the_private_key_string_round_trips(self) -> None:
        cosigner = Cosigner.generate(WITNESS_NAME)
        again = Cosigner.from_key_string(cosigner.key_string())
        assert again.public() == cosigner.public()
        assert "PRIVATE" not in repr(again)


class TestTheGatewayChecks:
    def test_a_cosignature_made_by_the_spec(self) -> None:
        key = Ed25519PrivateKey.generate()
        line = spec_line(WITNESS_NAME, key, TEXT, TIME)
        witness = CosignerKey.from_vkey(spec_vkey(WITNESS_NAME, key))
        assert valid_cosignatures(TEXT, line, [witness]) == {witness: line}

    @pytest.mark.parametrize("spoil", ["time", "text", "name", "key_id"])
    def test_a_spoiled_cosignature_is_not_counted(self, spoil: str) -> None:
        key = Ed25519PrivateKey.generate()
        witness = CosignerKey.from_vkey(spec_vkey(WITNESS_NAME, key))
        line = spec_line(WITNESS_NAME, key, TEXT, TIME)
        if spoil == "time":  # the signature covers the time: another time does not verify
            blob = bytearray(base64.b64decode(line.split(" ")[2]))
            blob[4:12] = struct.pack(">Q", TIME + 1)
            line = f"\u2014 {WITNESS_NAME} {base64.b64encode(bytes(blob)).decode()}\n"
        elif spoil == "text":
            line = spec_line(WITNESS_NAME, key, TEXT.replace("20852163", "20852164"), TIME)
        elif spoil == "name":
            line = line.replace(WITNESS_NAME, "other.invalid/w")
        else:
            blob = bytearray(base64.b64decode(line.split(" ")[2]))
            blob[0] ^= 1
            line = f"\u2014 {WITNESS_NAME} {base64.b64encode(bytes(blob)).decode()}\n"
        assert valid_cosignatures(TEXT, line, [witness]) == {}

    def test_a_log_signature_is_not_a_cosignature(self) -> None:
        """A plain Ed25519 note signature (type 0x01) by the same key does not count."""
        key = Ed25519PrivateKey.generate()
        witness = CosignerKey.from_vkey(spec_vkey(WITNESS_NAME, key))
        blob = key_id(WITNESS_NAME, 0x01, raw_public(key)) + key.sign(TEXT.encode())
        line = f"\u2014 {WITNESS_NAME} {base64.b64encode(blob).decode()}\n"
        assert valid_cosignatures(TEXT, line, [witness]) == {}

    @pytest.mark.parametrize("vkey", [
        "", "name+00000000+AAAA", "a b+12345678+" + base64.b64encode(b"\x04" + bytes(32)).decode(),
    ])
    def test_malformed_vkeys_are_refused(self, vkey: str) -> None:
        with pytest.raises(ConfigError):
            CosignerKey.from_vkey(vkey)

    def test_a_type_1_vkey_is_not_a_witness_key(self) -> None:
        key = Ed25519PrivateKey.generate()
        encoded = base64.b64encode(b"\x01" + raw_public(key)).decode()
        with pytest.raises(ConfigError):
            CosignerKey.from_vkey(
                f"{WITNESS_NAME}+{key_id(WITNESS_NAME, 0x01, raw_public(key)).hex()}+{encoded}")


class TestPolicy:
    def keys(self, n: int) -> tuple[list[Ed25519PrivateKey], list[WitnessRef]]:
        private = [Ed25519PrivateKey.generate() for _ in range(n)]
        refs = [WitnessRef(f"w{i}", CosignerKey.from_vkey(spec_vkey(f"w{i}.invalid/w", k)))
                for i, k in enumerate(private)]
        return private, refs

    def test_k_of_n(self) -> None:
        private, refs = self.keys(3)
        policy = WitnessPolicy.k_of_n(refs, 2)
        one = spec_line("w0.invalid/w", private[0], TEXT, TIME)
        two = one + spec_line("w2.invalid/w", private[2], TEXT, TIME)
        assert policy.problem(TEXT, one) is not None
        assert policy.problem(TEXT, two) is None
        assert policy.problem(TEXT, one + one) is not None  # one witness counts once

    def test_the_specs_two_level_example(self) -> None:
        """tlog-policy's example: two of the X witnesses and one of the Y witnesses."""
        private, _refs = self.keys(6)
        vkeys = [spec_vkey(f"w{i}.invalid/w", k) for i, k in enumerate(private)]
        text = "\n".join([
            "# the spec's example", "log " + "example.com/log+00000000+AQ==",
            *(f"witness X{i + 1} {vkeys[i]}" for i in range(3)),
            "group X-witnesses 2 X1 X2 X3",
            *(f"witness Y{i + 1} {vkeys[i + 3]}" for i in range(3)),
            "group Y-witnesses any Y1 Y2 Y3",
            "group X-and-Y all X-witnesses Y-witnesses", "quorum X-and-Y", ""])
        policy = WitnessPolicy.parse(text)

        def lines(*which: int) -> str:
            return "".join(spec_line(f"w{i}.invalid/w", private[i], TEXT, TIME) for i in which)

        assert policy.problem(TEXT, lines(0, 1, 3)) is None
        assert policy.problem(TEXT, lines(0, 1)) is not None
        assert policy.problem(TEXT, lines(0, 3, 4, 5)) is not None

    @pytest.mark.parametrize("text", [
        "witness a {k}\n", "witness a {k}\nquorum b\n", "witness a {k}\ngroup g 2 a\nquorum g\n",
        "witness a {k}\nwitness a {k}\nquorum a\n", "quorum none\nquorum none\n",
        "witness none {k}\nquorum none\n",
    ])
    def test_invalid_policies_are_refused(self, text: str) -> None:
        _, refs = self.keys(1)
        with pytest.raises(ConfigError):
            WitnessPolicy.parse(text.format(k=refs[0].key.vkey()))
