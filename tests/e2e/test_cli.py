"""The `gateway` command as a user runs it: `log verify` on sound and tampered records, its
errors, and `gateway demo` end to end as a separate process (the demo group's smoke test)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tomllib
from pathlib import Path

import pytest

from gateway.record import Draft, Kind, Record
from gateway.record.checkpoint import Signer
from gateway.record.stores.sqlite.store import SqliteStore
from gateway.record.stores.sqlite.threaded import ThreadedStore
from tests.cli import ROOT, run, spawn

ORIGIN = "test.invalid/record"



@pytest.fixture
async def recorded(tmp_path: Path) -> tuple[Path, Path]:
    """A record of 25 entries with checkpoints at 10 and 20 and a final one, and its public key."""
    signer, verifier = Signer.generate(ORIGIN)
    record = Record(store=ThreadedStore(SqliteStore(tmp_path / "r.sqlite")), kek=os.urandom(32),
        signer=signer,
                    origin=ORIGIN, checkpoint_every=10)
    await record.open()
    for i in range(25):
        await record.append(Draft(kind=Kind.INTENT, disclosure=f"d_{i}", recipient="posti",
                                  sealed=os.urandom(40)))
    await record.close()
    pub = tmp_path / "checkpoint.pub"
    pub.write_text(verifier + "\n")
    return tmp_path / "r.sqlite", pub


def tamper(db: Path, *sql: str) -> None:
    conn = sqlite3.connect(db)
    for name in ("entries_no_update", "entries_no_delete", "entries_in_order",
                 "entries_only_drop_sealed", "checkpoints_no_delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()


class TestLogVerify:
    def test_a_sound_record_verifies_with_only_the_public_key(
        self, recorded: tuple[Path, Path]
    ) -> None:
        """verify exits 0 and reports the entries and checkpoints it checked."""
        db, pub = recorded
        result = run("log", "verify", "--db", str(db), "--public-key", str(pub))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("OK: 25 entries")

    @pytest.mark.parametrize(
        ("sql", "position"),
        [
            ([("UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), 'posti', 'postX') "
              "AS BLOB) WHERE seq = 7")], 7),
            (["UPDATE entries SET sealed = x'00' || substr(sealed, 2) WHERE seq = 3"], 3),
            (["DELETE FROM entries WHERE seq = 12"], 12),
            (["UPDATE entries SET seq = 100 WHERE seq = 5", ("UPDATE entries SET seq = 5 WHERE "
              "seq = 6"), "UPDATE entries SET seq = 6 WHERE seq = 100"], 5),
            (["DELETE FROM entries WHERE seq >= 22"], 22),
            (["UPDATE entries SET leaf = x'00' || substr(leaf, 2) WHERE seq = 9"], 9),
            ([("INSERT INTO entries SELECT 25, body, leaf, sealed, kind, time, subject, order_ref, "
              "recipient, disclosure, tally FROM entries WHERE seq = 24")], 25),
        ],
        ids=["flipped-body", "flipped-ciphertext", "deleted", "reordered", "truncated",
             "flipped-leaf", "appended"],
    )
    def test_tampering_is_named_at_its_position(
        self, recorded: tuple[Path, Path], sql: list[str], position: int
    ) -> None:
        """A changed, deleted, reordered or truncated entry fails verify at its position."""
        db, pub = recorded
        tamper(db, *sql)
        result = run("log", "verify", "--db", str(db), "--public-key", str(pub))
        assert result.returncode == 1
        assert f"FAILED at position {position}" in result.stdout

    def test_a_rolled_back_record_fails_against_a_kept_checkpoint(
        self, recorded: tuple[Path, Path], tmp_path: Path
    ) -> None:
        """A record cut back to an older checkpoint fails against a newer checkpoint kept
        elsewhere."""
        db, pub = recorded
        kept = tmp_path / "kept.note"
        kept.write_text(sqlite3.connect(db).execute(
            "SELECT note FROM checkpoints ORDER BY size DESC").fetchone()[0])
        tamper(db, "DELETE FROM entries WHERE seq >= 20", "DELETE FROM checkpoints WHERE size > 20",
               "UPDATE head SET size = 20, note = (SELECT note FROM checkpoints WHERE size = 20)")
        assert run("log", "verify", "--db", str(db), "--public-key", str(pub)).returncode == 0
        result = run("log", "verify", "--db", str(db), "--public-key", str(pub),
                         "--checkpoint", str(kept))
        assert result.returncode == 1
        assert "truncated" in result.stdout

    def test_a_flipped_checkpoint_fails(self, recorded: tuple[Path, Path]) -> None:
        """A checkpoint whose root was changed no longer verifies."""
        db, pub = recorded
        tamper(db, "DROP TRIGGER IF EXISTS checkpoints_no_update",
               "UPDATE checkpoints SET note = substr(note, 1, 40) || "
               "(CASE substr(note, 41, 1) WHEN 'A' THEN 'B' ELSE 'A' END) || substr(note, 42) "
               "WHERE size = 10")
        result = run("log", "verify", "--db", str(db), "--public-key", str(pub))
        assert result.returncode == 1
        assert "not validly signed" in result.stdout

    def test_another_key_fails(self, recorded: tuple[Path, Path], tmp_path: Path) -> None:
        """Checkpoints do not verify under a key that did not sign them."""
        db, _ = recorded
        other = tmp_path / "other.pub"
        other.write_text(Signer.generate(ORIGIN)[1])
        result = run("log", "verify", "--db", str(db), "--public-key", str(other))
        assert result.returncode == 1
        assert "not validly signed" in result.stdout


class TestErrors:
    def test_a_bad_config_stops_with_one_line(self, tmp_path: Path) -> None:
        """serve with a broken config exits non-zero with a one-line message."""
        config = tmp_path / "config.toml"
        config.write_text("[gateway]\norigin = 'x'\n")
        result = run("--config", str(config), "serve")
        assert result.returncode == 1
        assert result.stderr.startswith("gateway: ")
        assert len(result.stderr.strip().splitlines()) == 1

    def test_verify_of_a_missing_record_fails_clearly(self, tmp_path: Path) -> None:
        """verify on a path with no record says so."""
        pub = tmp_path / "k.pub"
        pub.write_text(Signer.generate(ORIGIN)[1])
        result = run("log", "verify", "--db", str(tmp_path / "none.sqlite"),
                         "--public-key", str(pub))
        assert result.returncode == 1
        assert "no record" in result.stdout


class TestDemo:
    def test_the_demo_runs_and_ends_verified(self, tmp_path: Path) -> None:
        """`gateway demo` books a sample order with every carrier service at the sandboxes,
        cancels one and books a return label, and ends with the record verified and one
        customer's receipt checked; its process log holds none of the sample customers'
        values."""
        shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
        result = spawn("--config", "config.toml", "demo", "--dir", "var/demo", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "verify: OK" in result.stdout
        assert re.search(r"receipt \S+receipt\.tlog-proof \(customer C-1, position \d+\): OK$",
                         result.stdout.rstrip())
        assert (tmp_path / "var/demo/receipt.tlog-proof").read_text().startswith(
            "c2sp.org/tlog-proof@v1\n")
        assert "same answer: True, new carrier requests: 0" in result.stdout
        assert "cancel J-1000 at posti: 200 cancelled" in result.stdout
        assert "return label for J-1001 with posti: 201 " in result.stdout
        log = (tmp_path / "var/demo/gateway.log").read_text()
        assert "disclosure.intent" in log
        from gateway.demo import sample_orders  # noqa: PLC0415

        lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()
                 if line.startswith("J-")}
        booked = {tuple(lines[e["data"]["order_id"]][1].split("/")) for e in sample_orders()
                  if lines[e["data"]["order_id"]][2] == "201"}
        policy = tomllib.loads((ROOT / "config.toml").read_text())["policy"]
        # Return labels come with their own event (order.return_requested), not as orders.
        assert booked == {(c, s) for c, services in policy.items() for s in services
                          if s != "return"}
        for event in sample_orders():
            customer = event["data"]["customer"]
            for key in ("last_name", "street", "phone", "email"):
                if customer[key]:
                    assert customer[key] not in log
