"""Checkpoints as C2SP signed notes with Ed25519.

Reference vectors from outside this project:

- golang.org/x/mod ``sumdb/note/note_test.go`` (github.com/golang/mod): the PeterNeumann and
  EnochRoot keys, the note Go's ``Sign`` writes, and the notes ``Open`` accepts and refuses.
- sum.golang.org's checkpoint of 2024-09-23 (size 30055305), as kept in sigsum-go's
  ``pkg/checkpoint/checkpoint_test.go``, and the sum.golang.org verifier key from Go's
  ``src/cmd/go/internal/modfetch/key.go``: a real checkpoint signed by Go's production log.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.errors import ConfigError, RecordCorrupt
from gateway.record.checkpoint import (
    Checkpoint,
    CheckpointInvalid,
    Signer,
    Verifier,
    format_checkpoint,
    open_note,
    parse_and_verify,
    sign_checkpoint,
    sign_note,
)

# -- golang.org/x/mod/sumdb/note/note_test.go ------------------------------------------------------

PETER_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VERIFIER = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZ"
    "b6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33W"
    "Wd1RvMc+QQ=\n"
)

# -- sum.golang.org (sigsum-go pkg/checkpoint/checkpoint_test.go; Go modfetch/key.go) -------------

SUMDB_VERIFIER = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "30055305\n"
    "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n"
    "\n"
    "— sum.golang.org Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYl"
    "e3EJlDCrQ+y3A8=\n"
)

ORIGIN = "gateway.example/disclosures"
ROOT = hashlib.sha256(b"a root").digest()


@pytest.fixture(name="signer")
def fixture_signer() -> Signer:
    return Signer.from_private_key(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture(name="verifier")
def fixture_verifier(signer: Signer) -> Verifier:
    return signer.verifier()


@pytest.fixture(name="checkpoint")
def fixture_checkpoint() -> Checkpoint:
    return Checkpoint(ORIGIN, 42, ROOT)


@pytest.fixture(name="note")
def fixture_note(checkpoint: Checkpoint, signer: Signer) -> str:
    return sign_checkpoint(checkpoint, signer)


def mangled(key: str) -> list[str]:
    """Every proper substring of ``key`` and every copy with one character incremented, as
    note_test.go's TestNewVerifier and TestNewSigner try."""
    cuts = [key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1)]
    bumps = [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
    return [k for k in cuts + bumps if k != key]


class TestCheckpoint:
    @pytest.mark.parametrize(
        ("origin", "size", "root"),
        [
            ("", 1, ROOT),
            ("two\nlines", 1, ROOT),
            ("tab\there", 1, ROOT),
            (ORIGIN, -1, ROOT),
            (ORIGIN, 2**64, ROOT),
            (ORIGIN, True, ROOT),
            (ORIGIN, 1, ROOT[:31]),
        ],
        ids=["empty origin", "newline", "control", "negative", "too large", "bool", "short root"],
    )
    def test_invalid_values(self, origin: str, size: int, root: bytes) -> None:
        """A checkpoint that no note could state cannot be made."""
        with pytest.raises(ValueError, match="must"):
            Checkpoint(origin, size, root)

    def test_empty_extension_line(self) -> None:
        """An extension line must not be empty."""
        with pytest.raises(ValueError, match="must"):
            Checkpoint(ORIGIN, 1, ROOT, ("",))


class TestFormatCheckpoint:
    def test_three_lines(self, checkpoint: Checkpoint) -> None:
        """The note text is origin, decimal size and base64 root, each ending in a newline."""
        root = base64.b64encode(ROOT).decode()
        assert format_checkpoint(checkpoint) == f"{ORIGIN}\n42\n{root}\n"

    def test_empty_tree(self) -> None:
        """An empty tree's size is written as 0."""
        text = format_checkpoint(Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest()))
        assert text.splitlines()[1] == "0"

    def test_extension_lines(self) -> None:
        """Extension lines follow the root, one per line."""
        text = format_checkpoint(Checkpoint(ORIGIN, 1, ROOT, ("x", "y")))
        assert text.endswith("=\nx\ny\n")


class TestVerifier:
    def test_go_key(self) -> None:
        """Go's PeterNeumann verifier key reads back as the same string."""
        verifier = Verifier.from_key_string(PETER_VERIFIER)
        assert (verifier.name, verifier.key_id.hex()) == ("PeterNeumann", "c74f20a3")
        assert verifier.key_string() == PETER_VERIFIER

    def test_go_manglings(self) -> None:
        """Every substring and one-character change of Go's verifier key is refused."""
        for key in mangled(PETER_VERIFIER):
            with pytest.raises(ConfigError):
                Verifier.from_key_string(key)

    @pytest.mark.parametrize(
        "key",
        [
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ],
        ids=["wrong key length", "unknown algorithm"],
    )
    def test_go_bad_keys(self, key: str) -> None:
        """Go's wrong-length and unknown-algorithm keys, with adjusted key ids, are refused."""
        with pytest.raises(ConfigError):
            Verifier.from_key_string(key)

    def test_key_id(self, signer: Signer) -> None:
        """The key id is the first four bytes of SHA-256(name, newline, 0x01, public key)."""
        verifier = signer.verifier()
        expected = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + verifier.public_key).digest()[:4]
        assert verifier.key_id == expected

    @pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b"])
    def test_invalid_name(self, name: str, verifier: Verifier) -> None:
        """A key name that is empty or holds a space or plus sign is refused."""
        with pytest.raises(ConfigError):
            Verifier.from_public_key(name, verifier.public_key)

    def test_verify(self, signer: Signer, verifier: Verifier) -> None:
        """A verifier accepts its signer's signature and nothing else."""
        line = signer.signature_line("hi\n")
        signature = base64.b64decode(line.split(" ")[-1])[4:]
        assert verifier.verify(b"hi\n", signature)
        assert not verifier.verify(b"ho\n", signature)
        assert not verifier.verify(b"hi\n", signature[:-1])


class TestSigner:
    def test_go_key(self) -> None:
        """Go's PeterNeumann signer key gives Go's PeterNeumann verifier key."""
        signer = Signer.from_key_string(PETER_SIGNER)
        assert signer.verifier().key_string() == PETER_VERIFIER
        assert signer.key_string() == PETER_SIGNER

    def test_go_manglings(self) -> None:
        """Every substring and one-character change of Go's signer key is refused."""
        for key in mangled(PETER_SIGNER):
            with pytest.raises(ConfigError):
                Signer.from_key_string(key)

    def test_generate(self) -> None:
        """generate gives a signer and the verifier key string that checks it."""
        signer, verifier_key = Signer.generate(ORIGIN)
        verifier = Verifier.from_key_string(verifier_key)
        assert verifier == signer.verifier()
        assert verifier.name == ORIGIN

    def test_key_string_round_trip(self, signer: Signer) -> None:
        """A signer's key string reads back as the same key."""
        again = Signer.from_key_string(signer.key_string())
        assert again.verifier() == signer.verifier()

    def test_repr_hides_the_key(self, signer: Signer) -> None:
        """A signer's repr shows its name and key id, never the private key."""
        secret = signer.key_string().split("+", 4)[4]  # PRIVATE+KEY+name+id+base64 (may hold +)
        assert secret
        assert secret not in repr(signer)
        assert signer.key_id.hex() in repr(signer)

    def test_invalid_name(self) -> None:
        """A signer cannot take a key name with a space."""
        with pytest.raises(ConfigError):
            Signer.generate("two words")


class TestSignNote:
    def test_go_vector(self) -> None:
        """Signing Go's text with Go's key writes exactly the note Go's Sign writes."""
        note = sign_note(GO_TEXT, Signer.from_key_string(PETER_SIGNER))
        assert note == GO_TEXT + "\n" + PETER_SIG

    def test_cosigners(self, signer: Signer) -> None:
        """Each cosigner adds one signature line, in order."""
        peter = Signer.from_key_string(PETER_SIGNER)
        note = sign_note(GO_TEXT, peter, signer)
        assert note == GO_TEXT + "\n" + PETER_SIG + signer.signature_line(GO_TEXT)

    @pytest.mark.parametrize("text", ["", "abc", "a\x01b\n", "\udcff\n"])
    def test_malformed_text(self, text: str, signer: Signer) -> None:
        """Text that is empty, lacks its final newline, or holds a control character or a lone
        surrogate cannot be signed."""
        with pytest.raises(ValueError, match="note text"):
            sign_note(text, signer)


class TestOpenNote:
    def test_known_and_unknown_signatures(self) -> None:
        """A note signed by a known and an unknown key opens, the unknown one ignored."""
        note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
        assert open_note(note, [Verifier.from_key_string(PETER_VERIFIER)]) == GO_TEXT

    def test_both_known(self) -> None:
        """A note signed by two known keys opens."""
        note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
        verifiers = [Verifier.from_key_string(k) for k in (PETER_VERIFIER, ENOCH_VERIFIER)]
        assert open_note(note, verifiers) == GO_TEXT

    def test_no_known_key(self) -> None:
        """A note with no signature by a known key is refused."""
        with pytest.raises(CheckpointInvalid, match="no signature by a known key"):
            open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])

    def test_duplicates_and_unknown_garbage(self) -> None:
        """Repeated valid lines and an unknown key's bad signature do not refuse the note."""
        bad_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
        note = GO_TEXT + "\n" + PETER_SIG * 2 + ENOCH_SIG * 2 + bad_enoch
        assert open_note(note, [Verifier.from_key_string(PETER_VERIFIER)]) == GO_TEXT

    def test_invalid_signature_by_a_known_key(self) -> None:
        """A known key's signature that does not verify refuses the whole note."""
        note = GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
        with pytest.raises(CheckpointInvalid, match="does not verify"):
            open_note(note, [Verifier.from_key_string(PETER_VERIFIER)])

    def test_known_bad_beside_known_good(self) -> None:
        """A valid signature does not save a note that also bears a bad one by a known key."""
        note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
        verifiers = [Verifier.from_key_string(k) for k in (PETER_VERIFIER, ENOCH_VERIFIER)]
        with pytest.raises(CheckpointInvalid, match="does not verify"):
            open_note(note, verifiers)

    @pytest.mark.parametrize(
        "sig",
        [PETER_SIG.replace("PeterNeumann", "CarmenSandiego"), PETER_SIG.replace("x08g", "xxxx")],
        ids=["other name", "other key id"],
    )
    def test_same_name_or_id_is_another_key(self, sig: str) -> None:
        """A signature matching a known key's name or id but not both is an unknown key's."""
        with pytest.raises(CheckpointInvalid, match="no signature by a known key"):
            open_note(GO_TEXT + "\n" + sig, [Verifier.from_key_string(PETER_VERIFIER)])

    @pytest.mark.parametrize(
        "note",
        [
            GO_TEXT,
            GO_TEXT + "\n",
            GO_TEXT + "\n" + PETER_SIG[:-1],
            "\x01" + GO_TEXT + "\n" + PETER_SIG,
            "\udcff" + GO_TEXT + "\n" + PETER_SIG,
            GO_TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FF"
            "YC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
            GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
            GO_TEXT + "\n" + "— PeterNeumann AAAA\n",
            GO_TEXT + "\n" + "— PeterNeumann \n",
            GO_TEXT + "\n" + "— PeterNeumann not*base64\n",
            GO_TEXT + "\n" + PETER_SIG * 101,
        ],
        ids=[
            "no signatures",
            "blank line only",
            "no final newline",
            "control character",
            "not UTF-8",
            "bad key name",
            "unexpected line",
            "signature too short",
            "empty signature",
            "not base64",
            "over 100 signatures",
        ],
    )
    def test_malformed(self, note: str) -> None:
        """Notes note_test.go calls malformed, and their like, are refused."""
        with pytest.raises(CheckpointInvalid, match="malformed note"):
            open_note(note, [Verifier.from_key_string(PETER_VERIFIER)])

    def test_non_canonical_base64(self) -> None:
        """A signature whose base64 sets the padding bits is refused: a note has one spelling."""
        sig = PETER_SIG.replace("AM=\n", "AN=\n")
        with pytest.raises(CheckpointInvalid, match="malformed note"):
            open_note(GO_TEXT + "\n" + sig, [Verifier.from_key_string(PETER_VERIFIER)])

    def test_sixteen_signatures(self, signer: Signer) -> None:
        """A note with 16 signatures, as the spec requires verifiers to accept, opens."""
        others = [Signer.generate(f"witness{i}.example")[0] for i in range(15)]
        note = sign_note(GO_TEXT, signer, *others)
        assert open_note(note, [signer.verifier()]) == GO_TEXT

    def test_ambiguous_verifiers(self, verifier: Verifier) -> None:
        """Two different verifier keys under one name and key id are refused."""
        twin = Verifier(verifier.name, verifier.key_id, bytes(32))
        note = sign_note(GO_TEXT, Signer.from_key_string(PETER_SIGNER))
        with pytest.raises(CheckpointInvalid, match="share a name and key id"):
            open_note(note, [verifier, twin])


class TestSignCheckpoint:
    def test_note_shape(self, checkpoint: Checkpoint, signer: Signer, note: str) -> None:
        """The note is the checkpoint text, a blank line, and one em-dash signature line."""
        text, signatures = note.split("\n\n")
        assert text + "\n" == format_checkpoint(checkpoint)
        name, encoded = signatures.removeprefix("\u2014 ").removesuffix("\n").split(" ")
        signature = base64.b64decode(encoded)
        assert (name, signature[:4], len(signature)) == (ORIGIN, signer.key_id, 68)

    def test_deterministic(self, checkpoint: Checkpoint, signer: Signer, note: str) -> None:
        """Signing the same checkpoint with the same key gives the same note (Ed25519 is
        deterministic; no clock is read)."""
        assert sign_checkpoint(checkpoint, signer) == note

    def test_go_key_signs_a_checkpoint_go_would_accept(self, checkpoint: Checkpoint) -> None:
        """A checkpoint signed with Go's PeterNeumann key opens with Go's verifier key."""
        note = sign_checkpoint(checkpoint, Signer.from_key_string(PETER_SIGNER))
        assert parse_and_verify(note, [Verifier.from_key_string(PETER_VERIFIER)]) == checkpoint


class TestParseAndVerify:
    def test_round_trip(self, checkpoint: Checkpoint, verifier: Verifier, note: str) -> None:
        """A signed checkpoint verifies back to the same checkpoint."""
        assert parse_and_verify(note, [verifier]) == checkpoint

    def test_go_sumdb_checkpoint(self) -> None:
        """sum.golang.org's real checkpoint verifies with the key Go ships."""
        checkpoint = parse_and_verify(
            SUMDB_CHECKPOINT,
            [Verifier.from_key_string(SUMDB_VERIFIER)],
            origin="go.sum database tree",
        )
        root = base64.b64decode("mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=")
        assert checkpoint == Checkpoint("go.sum database tree", 30055305, root)

    def test_go_sumdb_checkpoint_altered(self) -> None:
        """sum.golang.org's checkpoint with its size changed is refused."""
        with pytest.raises(CheckpointInvalid):
            parse_and_verify(
                SUMDB_CHECKPOINT.replace("30055305", "30055306"),
                [Verifier.from_key_string(SUMDB_VERIFIER)],
            )

    def test_every_changed_character(self, verifier: Verifier, note: str) -> None:
        """Changing any one character of the note, body or signature, refuses it."""
        for i, char in enumerate(note):
            changed = note[:i] + chr(ord(char) ^ 1) + note[i + 1 :]
            with pytest.raises(CheckpointInvalid):
                parse_and_verify(changed, [verifier])

    def test_wrong_key(self, note: str) -> None:
        """A note is refused by a verifier for another key under the same name."""
        other = Signer.generate(ORIGIN)[0].verifier()
        with pytest.raises(CheckpointInvalid, match="no signature by a known key"):
            parse_and_verify(note, [other])

    def test_no_verifiers(self, note: str) -> None:
        """With no verifiers every note is refused."""
        with pytest.raises(CheckpointInvalid):
            parse_and_verify(note, [])

    def test_expected_origin(self, checkpoint: Checkpoint, verifier: Verifier, note: str) -> None:
        """A note for the expected origin is accepted."""
        assert parse_and_verify(note, [verifier], origin=ORIGIN) == checkpoint

    def test_other_origin(self, signer: Signer, verifier: Verifier) -> None:
        """A validly signed note for another origin is refused when an origin is expected."""
        note = sign_checkpoint(Checkpoint("other.example/log", 42, ROOT), signer)
        with pytest.raises(CheckpointInvalid, match="another log"):
            parse_and_verify(note, [verifier], origin=ORIGIN)

    def test_cosigned(self, checkpoint: Checkpoint, signer: Signer, verifier: Verifier) -> None:
        """A note cosigned by a witness opens with either key alone, or both."""
        witness = Signer.generate("witness.example")[0]
        note = sign_checkpoint(checkpoint, witness, signer)
        for verifiers in ([verifier], [witness.verifier()], [verifier, witness.verifier()]):
            assert parse_and_verify(note, verifiers) == checkpoint

    def test_extension_lines(self, signer: Signer, verifier: Verifier) -> None:
        """Extension lines are kept in the checkpoint they came with."""
        checkpoint = Checkpoint(ORIGIN, 7, ROOT, ("ext one", "ext two"))
        assert parse_and_verify(sign_checkpoint(checkpoint, signer), [verifier]) == checkpoint

    @pytest.mark.parametrize(
        "text",
        [
            f"{ORIGIN}\n42\n",
            f"\n42\n{base64.b64encode(ROOT).decode()}\n",
            f"{ORIGIN}\n042\n{base64.b64encode(ROOT).decode()}\n",
            f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n",
            f"{ORIGIN}\n+1\n{base64.b64encode(ROOT).decode()}\n",
            f"{ORIGIN}\n\uff14\uff12\n{base64.b64encode(ROOT).decode()}\n",
            f"{ORIGIN}\n{2**64}\n{base64.b64encode(ROOT).decode()}\n",
            f"{ORIGIN}\n42\n{base64.b64encode(ROOT[:31]).decode()}\n",
            f"{ORIGIN}\n42\n{base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode()}\n",
            f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",
            f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n\nextension\n",
        ],
        ids=[
            "no root",
            "empty origin",
            "leading zero",
            "negative",
            "plus sign",
            "non-ASCII digits",
            "too large",
            "short root",
            "url-safe base64",
            "unpadded root",
            "empty line",
        ],
    )
    def test_malformed_checkpoint(self, text: str, signer: Signer, verifier: Verifier) -> None:
        """A validly signed note whose text is no checkpoint is refused."""
        with pytest.raises(CheckpointInvalid, match="malformed checkpoint"):
            parse_and_verify(sign_note(text, signer), [verifier])

    def test_one_exception_class(self) -> None:
        """Every refusal is a CheckpointInvalid, which is a RecordCorrupt."""
        assert issubclass(CheckpointInvalid, RecordCorrupt)

    def test_reason_holds_no_key_material(self, signer: Signer, verifier: Verifier) -> None:
        """The refusal reason is short and names no key or signature."""
        note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), signer)
        forged = note[:-10] + ("A" if note[-10] != "A" else "B") + note[-9:]
        with pytest.raises(CheckpointInvalid) as refused:
            parse_and_verify(forged, [verifier])
        reason = str(refused.value)
        assert len(reason) < 80
        key_material = (signer.key_string().split("+", 4)[4],  # PRIVATE+KEY+name+id+key
                        verifier.key_string().split("+", 2)[2],  # name+id+key
                        note.split(" ")[-1].strip())  # the signature
        for secret in key_material:
            assert secret not in reason
