"""While an authority disclosure's notification is deferred, its entries (the request's
steps, the disclosure, the reads of its package) are seen by an admin only, on every review
path: the search API, an entry by position, the search and entry pages. After the deferral
ends they are there for every searcher, with nothing done but time passing."""

from __future__ import annotations

from typing import Any

import orjson

from tests.authority.conftest import Clock, form, record_entries
from tests.authority.test_http import BASE, json_call, staff, take_in  # noqa: F401 - fixture
from tests.conftest import CANARY_CUSTOMER, Harness
from tests.review.conftest import call, cookie_of, ship

SEARCHES = ("/v1/review/entries?limit=500",
            f"/v1/review/entries?limit=500&customer={CANARY_CUSTOMER['id']}",
            "/v1/review/entries?kind=authority.received",
            "/v1/review/entries?kind=authority.disclosure&sort=oldest",
            "/v1/review/entries?kind=review.read&limit=500")


async def deferred_request(gateway: Harness, staff: dict[str, dict[str, str]],
                           clock: Clock) -> tuple[dict[str, Any], list[int]]:
    """A request deferred for 30 days: taken in, approved, disclosed and its package
    downloaded. Its form, and the positions of its entries."""
    await ship(gateway, order_id="J-DEF")
    doc = form(clock, defer_until=clock.day(30), officer="Covert Unit Lead",
               reference="5500/R/777/26")
    rid = (await take_in(gateway, staff["olli"], doc))["id"]
    await json_call(gateway, "POST", f"{BASE}/{rid}/approve", staff["ada"])
    await json_call(gateway, "POST", f"{BASE}/{rid}/disclose", staff["olli"])
    assert (await call(gateway, "GET", f"{BASE}/{rid}/package", headers=staff["olli"]))[0] \
        == 200
    seqs = [e["seq"] for e in record_entries(gateway.config.record.path)
            if (e["disclosure"] or "").startswith(rid) or e["data"].get("request") == rid]
    assert len(seqs) == 5  # received, approved, intent, disclosure, package read
    return doc, seqs


def found(body: bytes) -> set[int]:
    return {e["seq"] for e in orjson.loads(body)["entries"]}


class TestWhileDeferred:
    async def test_searches_and_positions_show_them_to_an_admin_only(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A reviewer and an intake officer find none of the request's entries by any search,
        and opening one by position answers 404 as for a position that does not exist; the
        answers hold neither the authority, the reference, the legal basis nor the date. The
        admin finds and opens every one."""
        doc, seqs = await deferred_request(gateway, staff, clock)
        secrets = [doc["reference"], "Sisä-Suomen poliisilaitos", doc["legal_basis"],
                   doc["defer_until"], doc["officer"]]
        for who in ("rea", "olli"):
            for path in SEARCHES:
                status, body, _ = await call(gateway, "GET", path, headers=staff[who])
                assert status == 200, body
                assert not found(body) & set(seqs), (who, path)
                assert not [s for s in secrets if s.encode() in body], (who, path)
            for seq in seqs:
                status, body, _ = await call(gateway, "GET", f"/v1/review/entries/{seq}",
                                             headers=staff[who])
                assert status == 404
                assert orjson.loads(body)["detail"] == f"no entry at position {seq}"
        everything = set()
        for path in SEARCHES:
            status, body, _ = await call(gateway, "GET", path, headers=staff["dpo"])
            everything |= found(body)
        assert set(seqs) <= everything
        for seq in seqs:
            status, body, _ = await call(gateway, "GET", f"/v1/review/entries/{seq}",
                                         headers=staff["dpo"])
            assert status == 200
            assert orjson.loads(body)["inclusion"]["verified"] is True

    async def test_the_pages_show_them_to_an_admin_only(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """The search page lists none of them for a reviewer and an entry's page is not
        found; the admin's search page lists them."""
        doc, seqs = await deferred_request(gateway, staff, clock)
        search = "/review/search?go=1&kind=authority.received"
        status, page, _ = await call(gateway, "GET", search, headers=cookie_of(staff["rea"]))
        assert status == 200
        assert doc["reference"].encode() not in page
        assert "Sisä-Suomen poliisilaitos".encode() not in page
        assert b"No entry matches." in page
        for seq in seqs:
            status, _, _ = await call(gateway, "GET", f"/review/entries/{seq}",
                                      headers=cookie_of(staff["rea"]))
            assert status == 404
        status, page, _ = await call(gateway, "GET", search, headers=cookie_of(staff["dpo"]))
        assert "Sisä-Suomen poliisilaitos".encode() in page
        assert f'href="/review/entries/{seqs[0]}"'.encode() in page


class TestAfterTheDeferral:
    async def test_every_searcher_sees_them_once_it_ends(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """The day before the deferral ends they are still withheld; on its end date a
        reviewer finds all of them and may open each."""
        _, seqs = await deferred_request(gateway, staff, clock)
        clock.advance(days=29)
        rea = await gateway.login("rea")
        assert not found((await call(gateway, "GET", SEARCHES[0], headers=rea))[1]) & set(seqs)
        clock.advance(days=1)
        rea = await gateway.login("rea")
        assert set(seqs) <= found((await call(gateway, "GET", SEARCHES[0], headers=rea))[1])
        for seq in seqs:
            assert (await call(gateway, "GET", f"/v1/review/entries/{seq}",
                               headers=rea))[0] == 200
