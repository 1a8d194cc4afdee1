"""The processes a benchmark runs, and what Linux tells about them.

Every server (carrier sandbox, baseline proxy, gateway) and the load generator run in their own
process, so each one's CPU time and memory can be read from ``/proc/<pid>`` on its own.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

import attrs

ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far (``/proc/<pid>/stat`` fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def children_cpu_seconds() -> float:
    """utime + stime of every child process of this one that has ended and been waited for
    (a wrk run, read before and after it)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_seconds() -> float:
    """CPU time every core has spent busy since boot (``/proc/stat``: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICKS


def peak_rss_mb(pid: int) -> float:
    """VmHWM (the resident set's high-water mark) of ``pid``, in MB."""
    match = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


@attrs.define
class Proc:
    """A child process; stopped with SIGTERM (then SIGKILL) by its own pid only."""

    name: str
    popen: subprocess.Popen[str]
    log: IO[str] | None = None

    def log_tail(self, size: int = 3000) -> str:
        if self.log is None:
            return ""
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-size:]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def peak_rss(self) -> float:
        return peak_rss_mb(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self.log is not None:
            self.log.close()


def python(module: str, *args: str, name: str, log: Path | None = None,
           env: dict[str, str] | None = None, stdout_pipe: bool = False) -> Proc:
    """Start ``python -m module args`` from the repository root."""
    out = log.open("w", encoding="utf-8") if log is not None else None
    popen = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if stdout_pipe else (out or subprocess.DEVNULL),
        stderr=out or subprocess.DEVNULL,
        text=True,
    )
    return Proc(name, popen, out)


def start_sandbox(carrier: str, *, untrimmed: bool = False) -> tuple[Proc, str]:
    """The carrier's sandbox (``python -m bench.sandbox CARRIER --port 0``) in its own process;
    returns its base URL."""
    proc = python("bench.sandbox", carrier, "--port", "0",
                  *(["--untrimmed"] if untrimmed else []), name=f"{carrier} sandbox",
                  stdout_pipe=True)
    assert proc.popen.stdout is not None
    line = proc.popen.stdout.readline()
    match = re.search(r"listening at (\S+)", line)
    if match is None:
        proc.stop()
        raise RuntimeError(f"the {carrier} sandbox did not start: {line!r}")
    return proc, match.group(1)


def wait_healthy(proc: Proc, url: str, timeout: float = 20.0) -> None:
    """Poll ``url`` until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n"
                               f"{proc.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not become healthy at {url} within {timeout} s")
