"""`gateway log monitor` against running gateways, as an auditor runs it: it follows a growing
record, and exits non-zero naming the fault when served a rollback, a fork (a second record
signed with the same key) or a tampered entry; the state file keeps the last good checkpoint."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from gateway.http.app import RECORD
from tests.conftest import Harness, order_event, run_gateway
from tests.transparency.conftest import cli, fill

ALARM = 3


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def monitor(gw: Harness, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    return await cli("log", "monitor", gw.url, "--public-key",
                     str(tmp_path / "secrets/checkpoint.pub"),
                     "--state", str(tmp_path / "monitor.json"), *extra)


def kept(tmp_path: Path) -> int:
    size: int = orjson.loads((tmp_path / "monitor.json").read_bytes())["size"]
    return size


@pytest.mark.usefixtures("carrier_env")
class TestMonitor:
    async def test_it_follows_a_growing_record(self, published: Harness,
                                               tmp_path: Path) -> None:
        """First run: the checkpoint verified and every entry checked; after growth the new
        checkpoint is consistent and the state file moves on; nothing new keeps it."""
        auditor = token(await published.as_staff("auditor"))
        code, out, err = await monitor(published, tmp_path, f"--token={auditor}")
        assert code == 0, err
        first = kept(tmp_path)
        assert "first checkpoint verified" in out
        assert f"{first} new entries checked" in out
        await fill(published, 600)
        code, out, err = await monitor(published, tmp_path, f"--token={auditor}")
        assert code == 0, err
        assert kept(tmp_path) >= first + 600
        assert f"consistent: {first} -> {kept(tmp_path)}" in out
        code, out, _ = await monitor(published, tmp_path)
        assert code == 0
        assert "no new entries" in out

    async def test_a_long_catch_up_shows_progress(self, published: Harness,
                                                  tmp_path: Path) -> None:
        """Catching up on more than a thousand entries reports progress on stderr."""
        auditor = token(await published.as_staff("auditor"))
        await fill(published, 1000)
        code, _, err = await monitor(published, tmp_path, f"--token={auditor}")
        assert code == 0, err
        assert f"checked {kept(tmp_path):,} of {kept(tmp_path):,} new entries" in err

    async def test_a_tampered_entry_is_a_bad_entry(self, published: Harness,
                                                   tmp_path: Path) -> None:
        """An entry's body changed in the database (its leaf left alone) is caught from the
        entry bundles; the state file keeps the last good checkpoint."""
        auditor = token(await published.as_staff("auditor"))
        assert (await monitor(published, tmp_path, f"--token={auditor}"))[0] == 0
        before = kept(tmp_path)
        await fill(published, 10)
        db = sqlite3.connect(tmp_path / "record.sqlite", isolation_level=None)
        db.execute("DROP TRIGGER entries_no_update")
        body = bytes(db.execute("SELECT body FROM entries WHERE seq = ?",
                                (before + 3,)).fetchone()[0])
        db.execute("UPDATE entries SET body = ? WHERE seq = ?",
                   (body.replace(b"filler", b"fillet"), before + 3))
        db.close()
        code, _, err = await monitor(published, tmp_path, f"--token={auditor}")
        assert code == ALARM
        assert f"bad entry: the entry at position {before + 3}" in err
        assert kept(tmp_path) == before

    async def test_an_auditor_token_is_needed_for_entries(self, published: Harness,
                                                          tmp_path: Path) -> None:
        """A reviewer's token cannot read entry bundles: the monitor says so and exits 1."""
        reviewer = token(await published.as_staff("reviewer"))
        code, _, err = await monitor(published, tmp_path, f"--token={reviewer}")
        assert code == 1
        assert "auditor" in err
        assert not (tmp_path / "monitor.json").exists()




@pytest.mark.usefixtures("carrier_env")
class TestServedAFork:
    async def _first(self, tmp_path: Path, entries: int) -> int:
        async with run_gateway(tmp_path) as gw:
            await fill(gw, entries)
            code, _, err = await monitor(gw, tmp_path)
            assert code == 0, err
        return kept(tmp_path)

    @pytest.mark.parametrize(("more", "fault"), [
        (-5, "rollback"), (0, "fork: two signed trees"), (40, "fork: the signed tree")])
    async def test_another_tree_under_the_same_key_is_refused(
            self, tmp_path: Path, more: int, fault: str) -> None:
        """The operator serves another record signed with the same key: smaller (a
        rollback), the same size with another root, or larger but not extending the one seen
        (a fork). The monitor exits 3 naming it and keeps its state."""
        size = await self._first(tmp_path, 30)
        where = tmp_path / "forked"
        where.mkdir()
        shutil.copytree(tmp_path / "secrets", where / "secrets")
        async with run_gateway(where) as forged:
            assert (await forged.post(order_event("budbee", "home")))[0] == 201  # noqa: PLR2004
            current, _ = await forged.app[RECORD].head()
            await fill(forged, size + more - current)
            code, _, err = await monitor(forged, tmp_path)
        assert code == ALARM, err
        assert f"ALARM {fault}" in err
        assert kept(tmp_path) == size
