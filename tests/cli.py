"""`gateway` commands run in-process, through ``gateway.cli.main`` as the console script runs
it, with what they print captured (pytest's ``capsys``)."""

from __future__ import annotations

import sys
from pathlib import Path

import attrs
import pytest

from gateway import logs
from gateway.cli import main


@attrs.frozen
class Ran:
    code: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """The one line a refused command prints on stderr."""
        (line,) = self.err.splitlines()
        return line


class Cli:
    """``gateway --config CONFIG ...`` in this process."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys

    def __call__(self, *argv: str) -> Ran:
        try:
            code = main(["--config", str(self.config), *argv])
        except SystemExit as exc:  # argparse refusing the arguments
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            # main() points the process log at the captured stderr; give it the real one back.
            logs.configure(stream=sys.__stderr__)
        out, err = self.capsys.readouterr()
        return Ran(code, out, err)

    def ok(self, *argv: str) -> str:
        """What a command that succeeds prints on stdout."""
        ran = self(*argv)
        assert ran.code == 0, ran.err
        return ran.out
