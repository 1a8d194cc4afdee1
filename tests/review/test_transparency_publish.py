"""The transparency report as the DPO publishes it: half-year periods, the published view's
"fewer than N" and folded rows, JSON and CSV of the same figures, the admin-only page, and
`gateway report transparency --publish` writing the files, with the operator's statement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from gateway.actor import Actor
from gateway.authority import preservation as authority_preservation
from gateway.authority.intake import Intake
from gateway.authority.steps import Steps
from gateway.authority.workflow import Authority
from gateway.http.app import RECORD
from gateway.review.transparency_publish import guarded
from tests.authority.test_authority_cli import CUSTOMER, config, ok, refused, take_in
from tests.conftest import AUTHORITIES, CANARY_FIELDS, Harness
from tests.review.conftest import call, cookie_of, get_json, ship
from tests.review.test_reports import FORM, NOW, authority_disclosure

__all__ = ["config"]  # a fixture, used by name
HALF = f"{NOW.year}H{1 if NOW.month <= 6 else 2}"
OTHER_HALF = f"{NOW.year}H{2 if NOW.month <= 6 else 1}"
#: The police department FORM names (by its id), as config.toml lists it.
POLICE = AUTHORITIES.find(FORM["authority"]).name


async def three_requests(gateway: Harness, tmp_path: Path) -> None:
    """Two answered (data produced) by the police, one rejected for Tulli (customs)."""
    await ship(gateway, order_id="J-T-1")
    await authority_disclosure(gateway, tmp_path)
    await authority_disclosure(gateway, tmp_path, reference="5500/R/2/26")
    authority = Authority(record=gateway.app[RECORD], hmac_key=gateway.config.keys.subject_hmac)
    rejected = await authority.intake(Intake.from_json({**FORM, "authority": "Tulli"},
                                                       settings=AUTHORITIES),
                                      actor=Actor("ilona", "api"), now=NOW)
    await authority.reject(rejected.id, actor=Actor("aapo", "api"), reason="outside the law",
                           now=NOW)


class TestPeriodsAndViews:
    async def test_the_internal_view_counts_exactly(self, gateway: Harness,
                                                    tmp_path: Path) -> None:
        """Outcomes derived from the record: produced twice (full), rejected once; customers
        specified and produced; share and median days of the answered requests."""
        await three_requests(gateway, tmp_path)
        headers = await gateway.as_staff("reviewer")
        report = await get_json(gateway, f"/v1/reports/transparency?period={HALF}", headers)
        assert report["period"]["label"] == HALF
        requests = report["requests"]
        assert {k: requests[k] for k in ("received", "full", "partial", "none", "rejected",
                                         "objected", "open", "customers_specified",
                                         "customers_produced", "emergency",
                                         "preservation")} == {
            "received": 3, "full": 2, "partial": 0, "none": 0, "rejected": 1, "objected": 0,
            "open": 0, "customers_specified": 3, "customers_produced": 2, "emergency": 0,
            "preservation": 0}
        assert requests["produced_share"] == round(2 / 3, 4)
        assert requests["median_days_to_answer"] == 0.0
        assert [(r["name"], r["received"]) for r in report["by_authority"]] == [
            (POLICE, 2), ("Tulli", 1)]
        assert [(r["name"], r["received"]) for r in report["by_kind"]] == [("production", 3)]
        assert [r["name"] for r in report["by_authority_type"]] == ["customs", "police"]

    async def test_preservations_and_objections_are_counted(self, gateway: Harness) -> None:
        """A preservation order being complied with counts as a preservation that produced
        nothing; a request objected to counts as objected."""
        await ship(gateway, order_id="J-T-2")
        authority = Authority(record=gateway.app[RECORD],
                              hmac_key=gateway.config.keys.subject_hmac)
        preserved = await authority.intake(Intake.from_json(
            {**FORM, "kind": "preservation"}, settings=AUTHORITIES),
            actor=Actor("ilona", "api"), now=NOW)
        await authority_preservation.approve(authority, preserved.id, settings=AUTHORITIES,
                                             actor=Actor("aapo", "api"), now=NOW)
        objected = await authority.intake(Intake.from_json(FORM, settings=AUTHORITIES),
                                          actor=Actor("ilona", "api"), now=NOW)
        await Steps(authority=authority).object_to(
            objected, reason="outside the cited section", actor=Actor("aapo", "api"), now=NOW)
        headers = await gateway.as_staff("reviewer")
        report = await get_json(gateway, f"/v1/reports/transparency?period={HALF}", headers)
        requests = report["requests"]
        assert {k: requests[k] for k in ("received", "none", "objected", "open",
                                         "preservation")} == {
            "received": 2, "none": 1, "objected": 1, "open": 0, "preservation": 1}

    async def test_the_other_half_year_counts_nothing_and_bad_periods_are_refused(
        self, gateway: Harness, tmp_path: Path
    ) -> None:
        await three_requests(gateway, tmp_path)
        headers = await gateway.as_staff("admin")
        other = await get_json(gateway, f"/v1/reports/transparency?period={OTHER_HALF}",
                               headers)
        assert other["requests"]["received"] == 0
        for query, problem in (("period=2026H3", "period must be a half-year"),
                               (f"period={HALF}&from=2026", "not both")):
            status, body, got = await call(gateway, "GET", f"/v1/reports/transparency?{query}",
                                           headers=headers)
            assert status == 400
            assert got["Content-Type"].startswith("application/problem+json")
            assert problem in orjson.loads(body)["detail"]

    async def test_the_published_view_shows_fewer_than_the_threshold(
        self, gateway: Harness, tmp_path: Path
    ) -> None:
        """Threshold 5 (the default): every count below reads fewer than 5, both authorities
        fold into one 'others' row, no share or median of fewer than 5 answers; no staff
        name or reference anywhere."""
        await three_requests(gateway, tmp_path)
        headers = await gateway.as_staff("admin")
        report = await get_json(
            gateway, f"/v1/reports/transparency?period={HALF}&view=published", headers)
        few = {"fewer_than": 5}
        assert report["view"] == "published"
        assert report["requests"]["received"] == few
        assert report["requests"]["rejected"] == few
        assert report["requests"]["produced_share"] is None
        assert report["requests"]["median_days_to_answer"] is None
        assert [r["name"] for r in report["by_authority"]] == [
            "others (each fewer than 5 requests)"]
        text = orjson.dumps({k: v for k, v in report.items() if k != "read_recorded_at"})
        for absent in (b"ilona", b"aapo", b"5500/R", b"Tulli", POLICE.encode()):
            assert absent not in text

        status, body, got = await call(
            gateway, "GET", f"/v1/reports/transparency?period={HALF}&view=published"
            "&format=csv", headers=headers)
        assert status == 200
        assert got["Content-Type"].startswith("text/csv")
        lines = body.decode().splitlines()
        assert lines[0] == "section,name,measure,value"
        assert "requests,all,received,fewer than 5" in lines
        assert f"period,,label,{HALF}" in lines

    async def test_only_an_admin_sees_the_published_view(self, gateway: Harness,
                                                         tmp_path: Path) -> None:
        await three_requests(gateway, tmp_path)
        reviewer = await gateway.as_staff("reviewer")
        status, _, _ = await call(gateway, "GET", "/v1/reports/transparency?view=published",
                                  headers=reviewer)
        assert status == 403
        status, _, _ = await call(gateway, "GET", "/review/transparency?view=published",
                                  headers=cookie_of(reviewer))
        assert status == 403
        admin = cookie_of(await gateway.as_staff("admin"))
        status, body, _ = await call(
            gateway, "GET", f"/review/transparency?view=published&period={HALF}",
            headers=admin)
        assert status == 200
        page = body.decode()
        assert 'id="published-view"' in page
        assert '<dd id="req-received">fewer than 5</dd>' in page


class TestPublishOnTheCli:
    def test_publish_writes_html_json_and_csv_with_the_statement(
        self, config: Path
    ) -> None:
        """Threshold 2: two requests received are shown, the one rejected reads fewer than
        2; the statement is printed with its date; nothing personal in the files."""
        config.write_text(config.read_text().replace(
            "\n[reports]\n", '\n[reports]\npublish_threshold = 2\n'
            'statement = "Jerone has never received a national security '
            'letter or a gag order."\nstatement_date = 2026-06-30\n', 1))
        first = take_in(config, "olli")
        ok(config, "authority", "approve", first, "--as", "ada")
        ok(config, "authority", "disclose", first, "--out", str(config.parent / "p.json"),
           "--as", "olli")
        second = take_in(config, "olli", reference="TULLI-78/26")
        ok(config, "authority", "reject", second, "--reason", "no legal basis given",
           "--as", "ada")
        html, js, cs = (config.parent / n for n in ("t.html", "t.json", "t.csv"))
        out = ok(config, "report", "transparency", "--period", HALF, "--publish", "--html",
                 str(html), "--json", str(js), "--csv", str(cs), "--as", "dpo")
        assert f"wrote {js}" in out
        doc: dict[str, Any] = orjson.loads(js.read_bytes())
        assert doc["requests"]["received"] == 2
        assert doc["requests"]["rejected"] == {"fewer_than": 2}
        assert doc["statement"] == {"text": "Jerone has never received a national security "
                                            "letter or a gag order.", "as_of": "2026-06-30"}
        assert "read_recorded_at" not in doc
        page = html.read_text()
        assert "As of 2026-06-30:</strong> Jerone has never received" in page
        assert "recorded at position" not in page
        assert "requests,all,rejected,fewer than 2" in cs.read_text().splitlines()
        for path in (html, js, cs):
            text = path.read_text()
            for absent in (*CANARY_FIELDS.values(), CUSTOMER, "olli", "ada", "TULLI-7"):
                assert absent not in text

    def test_a_reviewer_cannot_publish(self, config: Path) -> None:
        line = refused(config, "report", "transparency", "--publish", "--as", "rea")
        assert "only an admin" in line



def hidden_counts(total: int, cells: list[Any], threshold: int) -> list[int]:
    """The hidden cells ("fewer than") of a sum whose total is published exactly that can
    only be one count above zero, given the cells shown and the bounds of the rest."""
    rest = total - sum(c for c in cells if isinstance(c, int))
    bounds = [(0, threshold - 1) if "fewer_than" in c else (0, total)
              for c in cells if isinstance(c, dict)]
    pinned = []
    for i, (low, high) in enumerate(bounds):
        others = bounds[:i] + bounds[i + 1:]
        least = max(low, rest - sum(h for _, h in others))
        most = min(high, rest - sum(lo for lo, _ in others))
        if least == most > 0 and high < threshold:
            pinned.append(least)
    return pinned


class TestNothingSuppressedCanBeWorkedOut:
    def test_shares_and_others_rows_do_not_give_away_a_hidden_count(
        self, config: Path
    ) -> None:
        """Threshold 3: Tulli's three requests rejected, two by the KRP produced. The share
        0.4 beside 5 received would give the 2 produced, and 'others' (the KRP) would be 5
        minus Tulli's 3: the share is left out, and Tulli is folded into 'others' too."""
        config.write_text(config.read_text().replace(
            "\n[reports]\n", "\n[reports]\npublish_threshold = 3\n", 1))
        for n in range(3):
            rejected = take_in(config, "olli", reference=f"TULLI-{n}/26")
            ok(config, "authority", "reject", rejected, "--reason", "no legal basis given",
               "--as", "ada")
        for n in range(2):
            produced = take_in(config, "olli", authority="krp", reference=f"KRP-{n}/26",
                               legal_basis="Police Act 872/2011, chapter 4, section 3",
                               rank="rikoskomisario")
            ok(config, "authority", "approve", produced, "--as", "ada")
            ok(config, "authority", "disclose", produced, "--out",
               str(config.parent / f"p{n}.json"), "--as", "olli")
        js, cs = config.parent / "t.json", config.parent / "t.csv"
        internal = ok(config, "report", "transparency", "--period", HALF, "--as", "dpo")
        assert internal["requests"]["produced_share"] == 0.4
        ok(config, "report", "transparency", "--period", HALF, "--publish", "--json", str(js),
           "--csv", str(cs), "--as", "dpo")
        doc: dict[str, Any] = orjson.loads(js.read_bytes())
        requests = doc["requests"]
        assert requests["received"] == 5
        assert requests["full"] == {"fewer_than": 3}
        assert requests["produced_share"] is None
        outcomes = ("full", "partial", "none", "rejected", "objected", "open")
        assert hidden_counts(5, [requests[o] for o in outcomes], 3) == []
        for section in ("by_authority", "by_authority_type", "by_legal_basis", "by_kind"):
            cells = [row["received"] for row in doc[section]]
            assert hidden_counts(5, cells, 3) == [], section
            assert all(set(row) == {"name", "received"} for row in doc[section])
        assert [r["name"] for r in doc["by_authority"]] == ["others"]
        lines = cs.read_text().splitlines()
        assert "requests,all,produced_share," in lines
        assert "authority,others,received,5" in lines
        assert not any(line.startswith("authority,Tulli") for line in lines)
        assert not any(",customers_produced," in line and not line.startswith("requests,")
                       for line in lines)


class TestGuardedParts:
    """gateway.review.transparency_publish.guarded, the rule the outcomes and kinds follow."""

    def test_a_single_hidden_part_is_joined_by_the_smallest_shown(self) -> None:
        parts = guarded(10, {"full": 6, "partial": 1, "rejected": 3}, 3)
        assert parts == {"full": 6, "partial": {"fewer_than": 3},
                         "rejected": {"withheld": True}}
        assert hidden_counts(10, list(parts.values()), 3) == []

    def test_hidden_parts_that_can_only_be_the_largest_below_are_withheld(self) -> None:
        """Two hidden parts summing to 4 under threshold 3 could only be 2 and 2."""
        before = [{"fewer_than": 3}, {"fewer_than": 3}]
        assert hidden_counts(4, before, 3) == [2, 2]
        parts = guarded(4, {"emergency": 2, "preservation": 2}, 3)
        assert hidden_counts(4, list(parts.values()), 3) == []

    def test_hidden_zeros_may_show_as_none(self) -> None:
        """A total all shown leaves the hidden parts at zero: nothing is withheld."""
        assert guarded(5, {"full": 5, "partial": 0}, 3) == {
            "full": 5, "partial": {"fewer_than": 3}}
