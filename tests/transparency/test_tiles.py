"""The published tiles (c2sp.org/tlog-tiles) of a running gateway, recomputed in the test from
the record file's entries with hashlib alone: hash tiles for anyone, entry bundles for auditors
only."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import orjson
import pytest

from gateway.http.app import RECORD
from gateway.transparency.tiles import Tile, encode_index
from tests.conftest import CANARY_FIELDS, Harness
from tests.transparency.conftest import bodies, cli, leaf, mth

HASH = 32


async def get(gw: Harness, path: str, headers: dict[str, str] | None = None,
              ) -> tuple[int, bytes, dict[str, str]]:
    async with gw.http.get(gw.url + path, headers=headers or {}) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


def split(data: bytes) -> list[bytes]:
    return [data[i:i + HASH] for i in range(0, len(data), HASH)]


def entries_of(bundle: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(bundle):
        n = int.from_bytes(bundle[at:at + 2], "big")
        out.append(bundle[at + 2:at + 2 + n])
        at += 2 + n
    return out


class TestTilePaths:
    @pytest.mark.parametrize(("index", "path"), [
        (0, "000"), (67, "067"), (1000, "x001/000"), (1234067, "x001/x234/067")])
    def test_an_index_is_written_in_3_digit_groups(self, index: int, path: str) -> None:
        """Index 1234067 is x001/x234/067, as the spec's example; parsing reads it back."""
        assert encode_index(index) == path
        assert Tile.parse("0", path).index == index

    def test_a_partial_tile_names_its_width(self) -> None:
        """A partial tile's path ends in .p/<width>."""
        assert Tile(1, 3, 17).path() == "tile/1/003.p/17"
        assert Tile(0, 1000, 5).path(entries=True) == "tile/entries/x001/000.p/5"


class TestHashTiles:
    async def test_tiles_served_match_the_tree(self, published: Harness, tmp_path: Path) -> None:
        """Level 0 holds the leaf hashes (256 a full tile, the rest a partial one of the
        remaining width); level 1 the root of the full level-0 tile; together they hash to the
        signed root. Nobody logs in."""
        leaves = [leaf(b) for b in bodies(tmp_path / "record.sqlite")]
        size = len(leaves)
        assert size > 256  # noqa: PLR2004
        status, full, headers = await get(published, "/tile/0/000")
        assert status == 200  # noqa: PLR2004
        assert headers["Content-Type"] == "application/octet-stream"
        assert "immutable" in headers["Cache-Control"]
        assert split(full) == leaves[:256]
        status, partial, headers = await get(published, f"/tile/0/001.p/{size - 256}")
        assert status == 200  # noqa: PLR2004
        assert "immutable" not in headers["Cache-Control"]
        assert split(partial) == leaves[256:]
        status, upper, _ = await get(published, "/tile/1/000.p/1")
        assert status == 200  # noqa: PLR2004
        assert split(upper) == [mth(leaves[:256])]
        status, note, headers = await get(published, "/checkpoint")
        assert status == 200  # noqa: PLR2004
        assert headers["Content-Type"].startswith("text/plain")
        assert note.decode().split("\n")[1] == str(size)

    async def test_a_narrower_partial_tile_of_an_older_tree_is_served(
            self, published: Harness, tmp_path: Path) -> None:
        """A partial tile of any width the record has covered is served (an older checkpoint
        needs it), a wider one than the record holds is not."""
        leaves = [leaf(b) for b in bodies(tmp_path / "record.sqlite")]
        status, data, _ = await get(published, "/tile/0/001.p/3")
        assert (status, split(data)) == (200, leaves[256:259])
        status, _, headers = await get(published, f"/tile/0/001.p/{len(leaves) - 256 + 1}")
        assert status == 404  # noqa: PLR2004
        assert headers["Content-Type"] == "application/problem+json"
        assert (await get(published, "/tile/0/002"))[0] == 404  # noqa: PLR2004
        assert (await get(published, "/tile/1/000"))[0] == 404  # noqa: PLR2004

    @pytest.mark.parametrize("path", ["/tile/0/0000", "/tile/01/000", "/tile/0/000.p/0",
                                      "/tile/0/000.p/256", "/tile/0/x000/001", "/tile/64/000",
                                      "/tile/0/1"])
    async def test_a_malformed_tile_path_is_refused(self, published: Harness,
                                                    path: str) -> None:
        """Paths the spec does not allow (leading zeros, a 4-digit group, width 0 or 256, a
        zero upper group, level 64) answer a problem, never a tile."""
        status, _, headers = await get(published, path)
        assert status in (400, 404)
        assert headers["Content-Type"] == "application/problem+json"


class TestEntryBundles:
    async def test_an_auditor_gets_each_entry_as_its_leaf_commits_to_it(
            self, published: Harness, tmp_path: Path) -> None:
        """Each entry in a bundle hashes to its level-0 tile hash; a sealed value is there by
        its hash only, and no customer value is in any bundle."""
        stored = bodies(tmp_path / "record.sqlite")
        auditor = await published.as_staff("auditor")
        status, full, headers = await get(published, "/tile/entries/000", auditor)
        assert status == 200  # noqa: PLR2004
        assert headers["Content-Type"] == "application/octet-stream"
        assert "private" in headers["Cache-Control"]
        status, partial, _ = await get(published, f"/tile/entries/001.p/{len(stored) - 256}",
                                       auditor)
        assert status == 200  # noqa: PLR2004
        entries = entries_of(full) + entries_of(partial)
        assert entries == stored
        _, tile, _ = await get(published, "/tile/0/000")
        assert [leaf(e) for e in entries[:256]] == split(tile)
        intent = next(orjson.loads(e) for e in entries
                      if orjson.loads(e)["kind"] == "disclosure.intent")
        assert re.fullmatch("[0-9a-f]{64}", intent["sealed"])
        for value in CANARY_FIELDS.values():
            assert value.encode() not in full + partial

    @pytest.mark.parametrize("role", [None, "reviewer", "admin", "approver"])
    async def test_nobody_but_an_auditor_gets_entry_bundles(
            self, published: Harness, role: str | None) -> None:
        """Without a session 401, with another role 403 (problem+json either way)."""
        headers = await published.as_staff(role) if role else {}
        status, body, answer = await get(published, "/tile/entries/000", headers)
        assert status == (403 if role else 401)
        assert answer["Content-Type"] == "application/problem+json"
        assert b"disclosure.intent" not in body


class TestBundleReadsAreRecorded:
    async def test_an_auditors_bundle_read_is_a_review_entry_naming_them_and_the_range(
            self, published: Harness, tmp_path: Path) -> None:
        """Each entry bundle read appends a review.read entry naming the auditor and the
        positions read; hash tiles (public) add none; the record still verifies and audits."""
        db = tmp_path / "record.sqlite"
        await published.add_staff("auditor-ann", "auditor")
        auditor = await published.login("auditor-ann")
        before = len(bodies(db))
        assert (await get(published, "/tile/0/000"))[0] == 200  # noqa: PLR2004
        assert len(bodies(db)) == before
        status, _, _ = await get(published, "/tile/entries/001.p/20", auditor)
        assert status == 200  # noqa: PLR2004
        stored = bodies(db)
        assert len(stored) == before + 1
        read = orjson.loads(stored[-1])
        assert read["kind"] == "review.read"
        assert read["data"]["by"] == "auditor-ann"
        assert read["data"]["roles"] == ["auditor"]
        assert read["data"]["via"] == "api"
        assert read["data"]["what"] == "entry_bundle"
        assert (read["data"]["first"], read["data"]["count"]) == (256, 20)
        await published.app[RECORD].checkpoint()
        pub = str(tmp_path / "secrets" / "checkpoint.pub")
        code, out, err = await cli("log", "verify", "--db", str(db), "--public-key", pub,
                                   "--quiet")
        assert code == 0, out + err
        code, out, err = await cli("log", "audit", "--db", str(db), "--quiet")
        assert code == 0, out + err

    @pytest.mark.parametrize("role", [None, "reviewer"])
    async def test_a_refused_or_absent_bundle_adds_nothing_to_the_record(
            self, published: Harness, tmp_path: Path, role: str | None) -> None:
        """Nobody but an auditor can grow the record by asking for bundles: a request without
        a session, with another role, or for a bundle the record does not hold writes no
        entry."""
        db = tmp_path / "record.sqlite"
        before = len(bodies(db))
        headers = await published.as_staff(role) if role else {}
        for _ in range(3):
            status, _, _ = await get(published, "/tile/entries/000", headers)
            assert status == (403 if role else 401)
        auditor = await published.as_staff("auditor")
        status, _, _ = await get(published, "/tile/entries/009", auditor)
        assert status == 404  # noqa: PLR2004
        assert len(bodies(db)) == before + (2 if role else 1)  # the staff accounts added

    async def test_no_bundle_is_answered_when_its_read_cannot_be_recorded(
            self, published: Harness, tmp_path: Path) -> None:
        """If the record cannot take the read's entry, the bundle answers 503 and holds no
        entry."""
        auditor = await published.as_staff("auditor")
        db = sqlite3.connect(tmp_path / "record.sqlite")
        db.execute("CREATE TRIGGER broken BEFORE INSERT ON entries "
                   "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
        db.commit()
        db.close()
        status, body, _ = await get(published, "/tile/entries/000", auditor)
        assert status == 503  # noqa: PLR2004
        assert b"disclosure.intent" not in body
