"""The `gateway` command as the tests run it.

In this process, through ``gateway.cli.main`` as the console script calls it (`run`, `Cli`),
with what it prints captured and the environment, working directory and OS login it is given
set for the call; or, for the one smoke test per command group, as a separate process
(`spawn`, `command`, `environ`). Both answer alike: the exit code, stdout and stderr, under the
names `subprocess.CompletedProcess` uses.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import attrs
import structlog

from gateway.cli import main

ROOT = Path(__file__).resolve().parent.parent

#: How long a command run as a process may take before the test fails.
TIMEOUT = 120


@attrs.frozen
class Ran:
    returncode: int
    stdout: str
    stderr: str

    @property
    def line(self) -> str:
        """The one line a refused command prints on stderr."""
        (line,) = self.stderr.splitlines()
        return line


@contextlib.contextmanager
def _as_given(env: Mapping[str, str] | None, cwd: Path | None) -> Iterator[None]:
    """``env`` added to the environment and ``cwd`` the working directory, for one call."""
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    os.environ.update(env or {})
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run(*argv: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Ran:
    """``gateway ARGV`` in this process; stdin reads nothing, as with ``</dev/null``. Called
    from a running event loop (an async test), the command, which runs a loop of its own, runs
    in a thread while the caller waits: nothing else runs meanwhile, as when a user waits at
    the prompt."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(argv, env, cwd)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_run, argv, env, cwd).result()


def _run(argv: Sequence[str], env: Mapping[str, str] | None, cwd: Path | None) -> Ran:
    out, err = io.StringIO(), io.StringIO()
    stdin, log = sys.stdin, structlog.get_config()
    with (_as_given(env, cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err),
          Path(os.devnull).open(encoding="utf-8") as devnull):
        sys.stdin = devnull
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse refusing the arguments
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdin = stdin
            # main() points the process log at the captured stderr; give the caller's back.
            structlog.configure(**log)
    return Ran(code, out.getvalue(), err.getvalue())


async def arun(*argv: str, env: Mapping[str, str] | None = None,
               cwd: Path | None = None) -> Ran:
    """`run` from an async test whose event loop must go on meanwhile (a gateway or server
    the command talks to runs in it)."""
    return await asyncio.to_thread(_run, argv, env, cwd)


def command(*argv: str) -> list[str]:
    """``gateway ARGV`` as a separate process's command line."""
    return [sys.executable, "-m", "gateway.cli", *argv]


def environ(**env: str) -> dict[str, str]:
    """This environment with ``env`` added, for a separate process that imports the checkout."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **env}


def spawn(*argv: str, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``gateway ARGV`` as a separate process, as a user types it; stdin reads nothing."""
    return subprocess.run(command(*argv), capture_output=True, text=True,  # noqa: S603
                          cwd=cwd, env=environ(**(env or {})), timeout=TIMEOUT, check=False,
                          stdin=subprocess.DEVNULL)


class Cli:
    """``gateway --config CONFIG ...`` in this process."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def __call__(self, *argv: str) -> Ran:
        return run("--config", str(self.config), *argv)

    def ok(self, *argv: str) -> str:
        """What a command that succeeds prints on stdout."""
        ran = self(*argv)
        assert ran.returncode == 0, ran.stderr
        return ran.stdout
