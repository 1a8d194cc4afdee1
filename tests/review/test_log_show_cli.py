"""`gateway log show` and `gateway report …` as an operator runs them: a
closed pipe ends the command quietly, --limit takes a positive count, the listing says when
more follow, a period or customer id is read by the same rule as over HTTP, and staff-entered
text reaches the terminal escaped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli import command, environ
from tests.review.test_review_cli import config  # noqa: F401 - the fixture
from tests.review.test_review_cli import gateway as run

#: The fixture's record: the gateway's policy version, two staff accounts added, two orders
#: shipped (an intent and an outcome each).
ENTRIES = 7


def positions(stdout: str) -> list[int]:
    return [int(line.split()[0]) for line in stdout.splitlines()]


class TestClosedPipe:
    @pytest.mark.parametrize("args", [("log", "show"), ("log", "show", "--db", "record.sqlite"),
                                      ("log", "show", "--kind", "disclosure.intent", "--as",
                                       "rea"),
                                      ("report", "transparency", "--as", "rea")])
    def test_a_reader_that_goes_away_ends_the_command_quietly(
        self, config: Path, args: tuple[str, ...]
    ) -> None:
        """As in `gateway log show | head -1`: the reader closes the pipe before the command
        writes; it exits 141 (as a command killed by SIGPIPE) with no traceback."""
        args = tuple(str(config.parent / a) if a == "record.sqlite" else a for a in args)
        with subprocess.Popen(  # noqa: S603
                command("--config", str(config), *args), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=environ()) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            proc.stdout.close()
            stderr = proc.stderr.read().decode()
            assert proc.wait(timeout=120) == 141, stderr
        assert "Traceback" not in stderr
        assert "BrokenPipe" not in stderr


class TestLimit:
    @pytest.mark.parametrize("limit", ["-3", "0", "x", "501"])
    def test_a_limit_is_a_positive_count(self, config: Path, limit: str) -> None:
        """--limit -3 does not list everything but three: it is refused, in one message."""
        result = run(config, "log", "show", "--limit", limit)
        assert result.returncode == 2, result.stdout
        assert result.stdout == ""
        assert "--limit: must be a whole number from 1 to 500" in result.stderr
        assert "Traceback" not in result.stderr

    def test_a_start_is_a_position(self, config: Path) -> None:
        result = run(config, "log", "show", "--start", "-1")
        assert result.returncode == 2
        assert "--start: must be a position" in result.stderr

    def test_the_listing_says_when_more_follow(self, config: Path) -> None:
        """A listing that stops before the record's end says how many more there are and how
        to see them; following it lists the rest, and then nothing more is promised."""
        first = run(config, "log", "show", "--limit", "3")
        assert first.returncode == 0, first.stderr
        assert positions(first.stdout) == [0, 1, 2]
        assert first.stderr.strip() == (f"listed positions 0 to 2 of {ENTRIES} entries; "
                                        f"{ENTRIES - 3} more: use --start 3")
        rest = run(config, "log", "show", "--start", "3")
        assert positions(rest.stdout) == list(range(3, ENTRIES))
        assert rest.stderr == ""
        beyond = run(config, "log", "show", "--start", "99")
        assert (beyond.stdout, beyond.stderr.strip()) == (
            "", f"no entries from position 99; the record holds {ENTRIES}")


class TestOneRuleWithTheApi:
    def test_a_backwards_period_is_refused_by_report_and_search_alike(
        self, config: Path
    ) -> None:
        for args in (("report", "transparency", "--from", "2027", "--to", "2026"),
                     ("log", "show", "--from", "2027", "--to", "2026")):
            result = run(config, *args, "--as", "rea")
            assert (result.returncode, result.stderr) == (1, ("gateway: from must come before "
                                                             "to\n"))

    def test_an_over_long_customer_id_is_too_long_not_missing(self, config: Path) -> None:
        result = run(config, "report", "access", "--customer", "C" + "9" * 200, "--as", "rea")
        assert (result.returncode, result.stderr) == (
            1, "gateway: customer is longer than 200 characters\n")

    def test_an_unknown_kind_is_refused(self, config: Path) -> None:
        result = run(config, "log", "show", "--kind", "bogus", "--as", "rea")
        assert result.returncode == 1
        assert result.stderr.startswith("gateway: kind must be a kind of entry the record holds")


class TestStaffText:
    @pytest.mark.parametrize("args", [
        ("erasure", "hold", "--customer", "C-1", "--until", "2099-01-01", "--basis",
         "Court order \x1b[2J 12/2026"),
        ("erasure", "hold", "--customer", "C-1", "--until", "2099-01-01", "--basis",
         "Court order \u202e6202/21"),
        ("erase", "--customer", "C-1", "--reason", "asked \x9b31m by phone"),
    ])
    def test_a_basis_or_reason_with_a_control_character_is_refused(
        self, config: Path, args: tuple[str, ...]
    ) -> None:
        """Nothing is recorded; the message names the option and does not echo the text."""
        before = run(config, "log", "show").stdout
        result = run(config, *args)
        assert result.returncode == 2
        option = next(a for a in args if a in ("--basis", "--reason"))
        assert f"argument {option}: holds a control or format character" in result.stderr
        assert args[-1] not in result.stderr
        assert run(config, "log", "show").stdout == before
