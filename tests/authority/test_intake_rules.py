"""What staff may type into an authority request, over HTTP: dates are ISO date strings and
not already past; texts hold no control or format character. Each refusal is a 422 naming the
field, echoing no value and recording nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.authority.conftest import Clock, form, record_entries
from tests.authority.test_http import BASE, json_call, staff, take_in  # noqa: F401 - fixture
from tests.conftest import Harness

#: Characters that would reach an operator's terminal or reorder a page: ESC (a colour or
#: screen-clearing sequence), NUL, DEL, a C1 control (CSI), bidi overrides and isolates, a
#: zero-width space, the line separator.
CONTROLS = ["\x1b[2J\x1b[31m", "\x00", "\x7f", "\x9b31m", "\u202e", "\u2066", "\u200b",
            "\u2028", "\r"]


async def refused(gateway: Harness, headers: dict[str, str], doc: dict[str, Any],
                  field: str) -> dict[str, Any]:
    before = len(record_entries(gateway.config.record.path))
    status, problem = await json_call(gateway, "POST", BASE, headers, doc)
    assert (status, problem.get("field")) == (422, field), problem
    assert problem["type"].endswith("/invalid-field")
    assert len(record_entries(gateway.config.record.path)) == before
    return problem


class TestDates:
    @pytest.mark.parametrize(("change", "field"), [
        ({"deadline": 20271231}, "deadline"),  # a bare number
        ({"deadline": "20271231"}, "deadline"),  # a number as text, though ISO's basic form
        ({"deadline": "2027-W52-5"}, "deadline"),  # an ISO week date
        ({"defer_until": 20270101}, "defer_until"),
        ({"defer_until": True}, "defer_until"),
    ])
    async def test_a_date_is_an_iso_date_string(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock,
        change: dict[str, Any], field: str,
    ) -> None:
        """A deadline or deferral given as anything but YYYY-MM-DD text is refused."""
        await refused(gateway, staff["olli"], form(clock, **change), field)

    @pytest.mark.parametrize(("field", "offset"), [
        ("deadline", -730), ("deadline", -1), ("defer_until", -1), ("defer_until", -400)])
    async def test_a_date_already_past_is_refused(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock, field: str,
        offset: int,
    ) -> None:
        """A deadline or a deferral end before today (by the gateway's clock) is refused."""
        problem = await refused(gateway, staff["olli"], form(clock, **{field: clock.day(offset)}),
                                field)
        assert "in the past" in problem["detail"]

    async def test_today_is_not_the_past(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A deadline of today, and a deferral ending today, are taken in."""
        view = await take_in(gateway, staff["olli"], form(clock, deadline=clock.day(0),
                                                          defer_until=clock.day(0)))
        assert (view["deadline"], view["days_left"], view["due"]) == (clock.day(0), 0,
                                                                      "due soon")


class TestControlCharacters:
    @pytest.mark.parametrize("control", CONTROLS)
    @pytest.mark.parametrize("field", ["authority", "reference", "legal_basis", "kind"])
    async def test_a_text_field_with_a_control_character_is_refused(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock, field: str,
        control: str,
    ) -> None:
        """A control or format character anywhere in an intake text is refused naming the
        field, and the answer does not echo it."""
        doc = form(clock)
        doc[field] = doc[field][:3] + control + doc[field][3:]
        problem = await refused(gateway, staff["olli"], doc, field)
        assert control not in str(problem)

    @pytest.mark.parametrize("field", ["customers", "orders"])
    async def test_an_id_with_a_control_character_is_refused(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock, field: str,
    ) -> None:
        await refused(gateway, staff["olli"], form(clock, **{field: ["J-1\x1b[8m"]}), field)

    async def test_a_rejection_reason_holds_plain_text_and_line_breaks(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """A reason with an ESC or a bidi override is refused naming the field; one written
        on two lines is taken."""
        rid = (await take_in(gateway, staff["olli"], form(clock)))["id"]
        for reason in ("Not covered \x1b]0;owned\x07 by the act", "Not covered \u202e tca"):
            status, problem = await json_call(gateway, "POST", f"{BASE}/{rid}/reject",
                                              staff["ada"], {"reason": reason})
            assert (status, problem["field"]) == (422, "reason")
        status, view = await json_call(gateway, "POST", f"{BASE}/{rid}/reject", staff["ada"],
                                       {"reason": "Not covered by the act.\r\nAsk again."})
        assert (status, view["state"]) == (200, "rejected")

    async def test_letters_of_any_script_are_plain_text(
        self, gateway: Harness, staff: dict[str, dict[str, str]], clock: Clock
    ) -> None:
        """Finnish, Sámi and Arabic letters are text, not control characters."""
        view = await take_in(gateway, staff["olli"], form(
            clock, officer="Sámi Tullilaitos - جمارك", reference="Ää/Öö-1"))
        assert view["officer"] == "Sámi Tullilaitos - جمارك"
